// `keyless keyserver` as a child process, as an operator runs it: its JSON log lines are read
// from stdout so that a test can wait for "key server ready", a reload, or a rejected reload.
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import path from 'node:path';
import type { Readable } from 'node:stream';

const REPO = path.resolve(import.meta.dirname, '../../..');

export interface LogLine {
  readonly msg?: string;
  readonly level?: number;
  readonly [field: string]: unknown;
}

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `keyless <args>` to completion. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 60_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/keyless.js', ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`keyless ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export class KeyServerProcess {
  readonly lines: LogLine[] = [];
  stderr = '';
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: Array<() => void> = [];

  private constructor(private readonly child: ChildProcessByStdio<null, Readable, Readable>) {
    let buffered = '';
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const text = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(text) as LogLine);
        } catch {
          this.lines.push({ msg: text });
        }
      }
      for (const w of this.waiters.splice(0)) w();
    });
    child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => {
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Starts `keyless keyserver --config FILE` and waits for its "key server ready" line. */
  static async start(configFile: string, env: NodeJS.ProcessEnv = process.env): Promise<{ process: KeyServerProcess; port: number }> {
    const child = spawn(process.execPath, ['bin/keyless.js', 'keyserver', '--config', configFile], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const ks = new KeyServerProcess(child);
    try {
      const ready = await ks.waitForLog((l) => l.msg === 'key server ready', 60_000);
      const port = Number(/:(\d+)$/.exec(String(ready.listen))?.[1]);
      if (!Number.isInteger(port) || port <= 0) throw new Error(`no port in ${JSON.stringify(ready)}`);
      return { process: ks, port };
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** The first log line from index `from` on that matches. */
  async waitForLog(match: (line: LogLine) => boolean, timeoutMs = 20_000, from = 0): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      const found = this.lines.slice(from).find(match);
      if (found) return found;
      if (exited) throw new Error(`the key server exited before the awaited log line\n${this.describe()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching log line within ${timeoutMs} ms\n${this.describe()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** SIGTERM, then the exit status (SIGKILL after `timeoutMs`). */
  async stop(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  private describe(): string {
    return `stdout:\n${this.lines.map((l) => JSON.stringify(l)).join('\n')}\nstderr:\n${this.stderr}`;
  }
}

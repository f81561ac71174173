// A `keyless` subcommand run as a child process, as it runs in production: its own process, its
// own event loop. Used by `keyless demo` (one child per component) and by the benchmarks (the key
// server must not share a CPU thread with the load generator). The child says it is ready with a
// pino JSON log line; that line's fields (the ports it actually bound, say) are handed back.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** bin/keyless.js of this checkout. */
export const KEYLESS_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'keyless.js');

export type KeylessProcessErrorCode = 'PROCESS_EXITED_BEFORE_READY' | 'PROCESS_READY_TIMEOUT';

export class KeylessProcessError extends Error {
  constructor(
    readonly code: KeylessProcessErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'KeylessProcessError';
  }
}

export interface KeylessProcessOptions {
  /** Arguments after `keyless`, e.g. ['keyserver', '--config', file]. */
  readonly args: readonly string[];
  /** Options for node itself, e.g. ['--cpu-prof', '--cpu-prof-dir', dir]. */
  readonly nodeArgs?: readonly string[];
  /** The `msg` of the JSON log line that means "ready". */
  readonly readyMessage: string;
  /** Default 30 s: a cold start transpiles the sources, and a 2-core machine may be busy. */
  readonly readyTimeoutMs?: number;
  /** Every line the child writes, for showing or keeping its log. */
  readonly onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Lines of the child's output kept for the error when it fails to start. */
const TAIL_LINES = 20;

export class KeylessProcess {
  /** Resolves when the child exits, for whatever reason. */
  readonly exited: Promise<ProcessExit>;
  private exit: ProcessExit | undefined;

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Starts the child and resolves once it logged `readyMessage`, with that line's fields. */
  static async start(options: KeylessProcessOptions): Promise<{ process: KeylessProcess; ready: Record<string, unknown> }> {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), KEYLESS_BIN, ...options.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      cwd: options.cwd ?? process.cwd(),
    });
    const proc = new KeylessProcess(child);
    const tail: string[] = [];
    let onReady: ((fields: Record<string, unknown>) => void) | undefined;
    const keep = (line: string, stream: 'stdout' | 'stderr'): void => {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      options.onLine?.(line, stream);
      if (stream === 'stdout' && onReady && line.startsWith('{')) {
        try {
          const fields = JSON.parse(line) as Record<string, unknown>;
          if (fields.msg === options.readyMessage) onReady(fields);
        } catch {
          // Not a log line.
        }
      }
    };
    createInterface({ input: child.stdout! }).on('line', (line) => keep(line, 'stdout'));
    createInterface({ input: child.stderr! }).on('line', (line) => keep(line, 'stderr'));

    const timeoutMs = options.readyTimeoutMs ?? 30_000;
    const what = `keyless ${options.args[0] ?? ''}`.trim();
    let timer: NodeJS.Timeout | undefined;
    try {
      const ready = await Promise.race([
        new Promise<Record<string, unknown>>((resolve) => (onReady = resolve)),
        proc.exited.then((exit) => {
          throw new KeylessProcessError('PROCESS_EXITED_BEFORE_READY', `${what} exited (${describeExit(exit)}) before it was ready:\n${tail.join('\n')}`);
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new KeylessProcessError('PROCESS_READY_TIMEOUT', `${what} was not ready within ${timeoutMs} ms:\n${tail.join('\n')}`)), timeoutMs);
        }),
      ]);
      onReady = undefined;
      return { process: proc, ready };
    } catch (err) {
      await proc.stop();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Asks the child to stop (SIGTERM by default) and waits; SIGKILL when it has not exited after `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<ProcessExit> {
    if (this.exit) return this.exit;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

export function describeExit(exit: ProcessExit): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}

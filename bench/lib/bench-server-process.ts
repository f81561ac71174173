// Starts a benchmark helper script (bench/lib/*.ts) as its own process and waits for its ready
// line, {"msg":"ready","port":N}.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

export interface BenchServerProcess {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

export async function startBenchScript(script: string, args: readonly string[]): Promise<BenchServerProcess> {
  const file = path.resolve(import.meta.dirname, script);
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', file, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} not ready within 30 s`)), 30_000);
    child.once('exit', (code) => reject(new Error(`${script} exited (${code})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const fields = JSON.parse(line) as { msg?: string; port?: number };
        if (fields.msg === 'ready' && fields.port) {
          clearTimeout(timer);
          resolve(fields.port);
        }
      } catch {
        // not the ready line
      }
    });
  });
  return {
    port,
    pid: child.pid!,
    stop: () => stopChild(child, 'SIGTERM'),
  };
}

/** Signals a child process and resolves once it has exited. */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** The TLS server of the handshake and bulk benchmarks (tls-bench-server.ts). */
export function startBenchServer(stack: 'node' | 'keyless', pkiDir: string): Promise<BenchServerProcess> {
  return startBenchScript('tls-bench-server.ts', ['--stack', stack, '--pki', pkiDir]);
}

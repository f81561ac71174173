// Starts bench/lib/tls-bench-server.ts as its own process and waits for its ready line.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

const SCRIPT = path.resolve(import.meta.dirname, 'tls-bench-server.ts');

export interface BenchServerProcess {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

export async function startBenchServer(stack: 'node' | 'keyless', pkiDir: string): Promise<BenchServerProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', SCRIPT, '--stack', stack, '--pki', pkiDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${stack} bench server not ready within 30 s`)), 30_000);
    child.once('exit', (code) => reject(new Error(`${stack} bench server exited (${code})`)));
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
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

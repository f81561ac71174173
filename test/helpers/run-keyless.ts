// Runs `keyless` (bin/keyless.js) as a child process and collects its output.
import { spawn } from 'node:child_process';

export interface KeylessRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runKeyless(args: readonly string[]): Promise<KeylessRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/keyless.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

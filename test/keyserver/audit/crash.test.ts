// Durability under SIGKILL: a child process appends from 16 concurrent loops and prints each seq
// only after its append() resolved. Whatever it printed must be on disk after the kill, and the
// log must verify, except possibly for the one line the kill cut (AUDIT_PARTIAL_LINE), which
// reopening records as a recovery line.
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../keyserver/audit/audit-log.js';
import type { AuditLine } from '../../../keyserver/audit/audit-line.js';
import { verifyAuditFiles } from '../../../keyserver/audit/verify.js';
import { tempDir } from '../../helpers/tmp.js';
import { fileLines } from './fixtures/entries.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const script = fileURLToPath(new URL('./fixtures/append-loop.ts', import.meta.url));

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('audit-crash')));
afterAll(() => cleanup());

describe('audit log under SIGKILL', () => {
  it('every acknowledged line is on disk and the chain verifies', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, dir], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    const acknowledged = new Map<number, string>();
    const rl = createInterface({ input: child.stdout });
    const drained = new Promise<void>((r) => rl.once('close', r));
    const killed = new Promise<void>((resolve, reject) => {
      rl.on('line', (line) => {
        const [seq, requestId] = line.split(' ');
        acknowledged.set(Number(seq), requestId!);
        // Past a rotation or two (the child rotates every 256 KiB, ~550 lines).
        if (acknowledged.size === 1500) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      void exited.then(() => reject(new Error(`child exited early: ${stderr}`)));
    });
    await killed;
    expect(await exited).toBe('SIGKILL');
    await drained;

    const names = await readdir(dir);
    const files = [...names.filter((n) => /^audit\.jsonl\.\d+$/.test(n)).sort(), 'audit.jsonl'].map((n) => path.join(dir, n));
    expect(files.length).toBeGreaterThan(1);
    const onDisk = new Map<number, string>();
    for (const file of files) {
      for (const text of await fileLines(file)) {
        try {
          const line = JSON.parse(text) as AuditLine;
          onDisk.set(line.seq, line.requestId);
        } catch {
          // the cut line, if any; checked by verify below
        }
      }
    }
    const missing = [...acknowledged].filter(([seq, requestId]) => onDisk.get(seq) !== requestId);
    expect(missing).toEqual([]);

    const result = await verifyAuditFiles([dir]);
    if (!result.ok) {
      // The only acceptable finding: the newest file's unterminated last line.
      const lastLine = (await fileLines(path.join(dir, 'audit.jsonl'))).length;
      expect(result).toMatchObject({ code: 'AUDIT_PARTIAL_LINE', file: path.join(dir, 'audit.jsonl'), line: lastLine });
    }

    // Reopening continues the chain (with a recovery line if a line was cut) and it verifies.
    const log = await AuditLog.open({ dir });
    expect(log.stats().recoveries).toBe(result.ok ? 0 : 1);
    await log.close();
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: true });
  });
});

// `keyless audit verify|summary` as an operator runs it: a real process on a real log directory.
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../keyserver/audit/audit-log.js';
import { tempDir } from '../../helpers/tmp.js';
import { KEY_B, sampleEntry } from './fixtures/entries.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function keyless(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'bin/keyless.js'), ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('audit-cli'));
  const log = await AuditLog.open({ dir: path.join(dir, 'audit'), maxFileBytes: 2_000 });
  for (let i = 0; i < 12; i++) await log.append(sampleEntry(i));
  await log.close();
});
afterAll(() => cleanup());

describe('keyless audit', () => {
  it('verify: exit 0 and "OK: N lines, chain intact" for an intact log', async () => {
    const r = await keyless(['audit', 'verify', 'audit']);
    expect(r).toMatchObject({ code: 0 });
    expect(r.stdout).toMatch(/^OK: 12 lines, chain intact\n/);
    expect(r.stdout).toMatch(/matches the checkpoint/);
  });

  it('verify: exit 1 and "FAIL: <file>:<line>: <reason>" for a tampered log', async () => {
    // Delete the second line of the oldest file; name only the live file, as an operator would.
    const oldest = path.join(dir, 'audit', 'audit.jsonl.000001');
    const original = await readFile(oldest, 'utf8');
    const lines = original.split('\n');
    expect(lines.length).toBeGreaterThan(3);
    await writeFile(oldest, [lines[0], ...lines.slice(2)].join('\n'));
    try {
      const r = await keyless(['audit', 'verify', 'audit/audit.jsonl']);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('FAIL: audit/audit.jsonl.000001:2: expected seq 2, found 3 (lines missing or out of order) (AUDIT_SEQ_BROKEN)\n');
    } finally {
      await writeFile(oldest, original);
    }
  });

  it('summary: the table and the denials; --json and the filters', async () => {
    const text = await keyless(['audit', 'summary', 'audit']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^spiffe:\/\/keyless\/edge\/edge-1\s+a1a1a1a1a1a1a1a1\s+tls13-certificate-verify\s+OK\s+9$/m);
    expect(text.stdout).toMatch(/^Denials and failures: 3$/m);

    const json = await keyless(['audit', 'summary', 'audit', '--json', '--key', KEY_B.slice(0, 6), '--since', '2000-01-01T00:00:00Z']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { matched: number; denials: Array<{ reason: string }> };
    expect(parsed.matched).toBe(3);
    expect(parsed.denials.map((d) => d.reason)).toEqual(Array(3).fill('edge-2 may not use this key'));

    const none = await keyless(['audit', 'summary', 'audit', '--json', '--identity', 'spiffe://keyless/edge/edge-9']);
    expect((JSON.parse(none.stdout) as { matched: number }).matched).toBe(0);
  });

  it('bad usage exits 2 with the help; a missing file exits 1 with its code', async () => {
    const bad = await keyless(['audit', 'summary', 'audit', '--since', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--since needs an ISO 8601 time/);
    expect((await keyless(['audit', 'frobnicate'])).code).toBe(2);
    expect((await keyless(['audit', 'verify', '--nope', 'audit'])).code).toBe(2);
    const missing = await keyless(['audit', 'verify', 'nowhere.jsonl']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/AUDIT_NO_FILES/);
  });
});

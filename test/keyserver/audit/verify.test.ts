// Tampering with a real audit log, one way at a time: each must be reported at the right file
// and line (1-based), with the right code.
import { readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../keyserver/audit/audit-log.js';
import type { AuditLine } from '../../../keyserver/audit/audit-line.js';
import { sha256Hex } from '../../../keyserver/audit/audit-line.js';
import { verifyAuditFiles } from '../../../keyserver/audit/verify.js';
import { tempDir } from '../../helpers/tmp.js';
import { fileLines, sampleEntry } from './fixtures/entries.js';

let dir: string;
let cleanup: () => Promise<void>;
let live: string;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir('audit-verify'));
  live = path.join(dir, 'audit.jsonl');
});
afterEach(() => cleanup());

/** A closed log of `n` lines; with `rotateAt`, the first `rotateAt` lines go to audit.jsonl.000001. */
async function writeLog(n: number, rotateAt?: number): Promise<void> {
  const log = await AuditLog.open({ dir });
  for (let i = 0; i < n; i++) {
    if (i === rotateAt) await log.rotate();
    await log.append(sampleEntry(i));
  }
  await log.close();
}

/** Rewrites `file` through `edit`, which must change it (so no test passes on a no-op edit). */
async function rewrite(file: string, edit: (lines: string[]) => string[]): Promise<void> {
  const before = await readFile(file, 'utf8');
  const after = edit(await fileLines(file)).map((l) => `${l}\n`).join('');
  expect(after).not.toBe(before);
  await writeFile(file, after);
}

describe('verifyAuditFiles: an intact log', () => {
  it('reports the line count and last hash, checked against the checkpoint', async () => {
    await writeLog(10);
    const lines = await fileLines(live);
    expect(await verifyAuditFiles([dir])).toEqual({ ok: true, lines: 10, lastHash: sha256Hex(lines[9]!), files: [live], checkpoint: 'matched' });
    expect(await verifyAuditFiles([live])).toMatchObject({ ok: true, lines: 10, checkpoint: 'matched' });
  });

  it('puts the files of one log in chain order whatever order they are named in', async () => {
    await writeLog(10, 4);
    const rotated = path.join(dir, 'audit.jsonl.000001');
    const expected = { ok: true, lines: 10, files: [rotated, live] };
    expect(await verifyAuditFiles([dir])).toMatchObject(expected);
    expect(await verifyAuditFiles([live])).toMatchObject(expected); // the live file alone brings its rotated files
    expect(await verifyAuditFiles([live, rotated])).toMatchObject(expected); // a shell glob's order
    // A rotated file alone is the start of the chain, without a checkpoint to check.
    expect(await verifyAuditFiles([rotated])).toMatchObject({ ok: true, lines: 4, checkpoint: 'none' });
  });

  it('an empty directory is an error, not a verdict', async () => {
    await expect(verifyAuditFiles([dir])).rejects.toMatchObject({ code: 'AUDIT_NO_FILES' });
    await expect(verifyAuditFiles([path.join(dir, 'nope.jsonl')])).rejects.toMatchObject({ code: 'AUDIT_NO_FILES' });
  });
});

describe('verifyAuditFiles: tampering is found at the right line', () => {
  it('an edited field: blamed on the edited line, not its successor', async () => {
    await writeLog(10);
    await rewrite(live, (l) => l.map((line, i) => (i === 3 ? line.replace('"outcome":"NOT_ALLOWED"', '"outcome":"OK"') : line)));
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: false, file: live, line: 4, code: 'AUDIT_HASH_MISMATCH' });
  });

  it('an edited prev field: blamed on the line whose prev was changed', async () => {
    await writeLog(10);
    await rewrite(live, (l) => l.map((line, i) => (i === 4 ? line.replace(/"prev":"[0-9a-f]{64}"/, `"prev":"${'f'.repeat(64)}"`) : line)));
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: false, file: live, line: 5, code: 'AUDIT_HASH_MISMATCH' });
  });

  it('an edited next-to-last line: its successor is vouched for by the checkpoint', async () => {
    await writeLog(10);
    await rewrite(live, (l) => l.map((line, i) => (i === 8 ? line.replace('"req-8"', '"req-88"') : line)));
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: false, line: 9, code: 'AUDIT_HASH_MISMATCH' });
  });

  it('an edited last line: caught by the checkpoint', async () => {
    await writeLog(10);
    await rewrite(live, (l) => l.map((line, i) => (i === 9 ? line.replace('"198.51.100.7"', '"203.0.113.9"') : line)));
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: false, file: live, line: 10, code: 'AUDIT_HASH_MISMATCH' });
  });

  it('a deleted line: reported where it was', async () => {
    await writeLog(10);
    await rewrite(live, (l) => l.filter((_, i) => i !== 3));
    const result = await verifyAuditFiles([dir]);
    expect(result).toMatchObject({ ok: false, file: live, line: 4, code: 'AUDIT_SEQ_BROKEN' });
    expect(result.ok === false && result.reason).toMatch(/expected seq 4, found 5/);
  });

  it('an inserted line that chains to its predecessor: reported at the inserted line', async () => {
    await writeLog(10);
    await rewrite(live, (l) => {
      const before = JSON.parse(l[2]!) as AuditLine;
      const forged = JSON.stringify({ ...before, seq: 4, requestId: 'forged', prev: sha256Hex(l[2]!) });
      return [...l.slice(0, 3), forged, ...l.slice(3)];
    });
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: false, file: live, line: 4, code: 'AUDIT_INSERTED_LINE' });
  });

  it('an inserted copy of an earlier line, or of the line before it', async () => {
    await writeLog(10);
    const original = await readFile(live, 'utf8');
    await rewrite(live, (l) => [...l.slice(0, 4), l[1]!, ...l.slice(4)]);
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: false, line: 5, code: 'AUDIT_SEQ_BROKEN' });
    await writeFile(live, original);
    await rewrite(live, (l) => [...l.slice(0, 4), l[3]!, ...l.slice(4)]);
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: false, line: 5, code: 'AUDIT_INSERTED_LINE' });
  });

  it('two swapped lines: reported at the first of them', async () => {
    await writeLog(10);
    await rewrite(live, (l) => [...l.slice(0, 5), l[6]!, l[5]!, ...l.slice(7)]);
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: false, file: live, line: 6, code: 'AUDIT_SEQ_BROKEN' });
  });

  it('a file cut in the middle of an acknowledged line', async () => {
    await writeLog(10);
    const text = await readFile(live, 'utf8');
    await writeFile(live, text.slice(0, text.length - 30));
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: false, file: live, line: 10, code: 'AUDIT_TRUNCATED' });
  });

  it('whole lines dropped from the end: reported at the first missing line', async () => {
    await writeLog(10);
    await rewrite(live, (l) => l.slice(0, 7));
    const result = await verifyAuditFiles([dir]);
    expect(result).toMatchObject({ ok: false, file: live, line: 8, code: 'AUDIT_TRUNCATED' });
    expect(result.ok === false && result.reason).toMatch(/3 line\(s\) missing/);
    // Without the checkpoint the shorter chain is self-consistent: that is what the checkpoint is for.
    expect(await verifyAuditFiles([dir], { checkpoint: false })).toMatchObject({ ok: true, lines: 7 });
  });

  it('a line that is not JSON', async () => {
    await writeLog(10);
    await rewrite(live, (l) => l.map((line, i) => (i === 2 ? line.slice(0, -1) : line)));
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: false, line: 3, code: 'AUDIT_BAD_LINE' });
  });

  it('a first line that does not start a chain', async () => {
    await writeLog(10);
    await rewrite(live, (l) => l.slice(1));
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: false, line: 1, code: 'AUDIT_SEQ_BROKEN' });
  });

  it('a malformed checkpoint is reported as such', async () => {
    await writeLog(3);
    await writeFile(path.join(dir, 'audit.head'), 'not json');
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: false, file: path.join(dir, 'audit.head'), code: 'AUDIT_CHECKPOINT_INVALID' });
  });
});

describe('verifyAuditFiles: across rotated files', () => {
  it('an edit in a rotated file is reported in that file', async () => {
    await writeLog(10, 5);
    const rotated = path.join(dir, 'audit.jsonl.000001');
    await rewrite(rotated, (l) => l.map((line, i) => (i === 1 ? line.replace('"req-1"', '"req-one"') : line)));
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: false, file: rotated, line: 2, code: 'AUDIT_HASH_MISMATCH' });
  });

  it('an edit of the last line of a rotated file is caught by the first line of the next file', async () => {
    await writeLog(10, 5);
    const rotated = path.join(dir, 'audit.jsonl.000001');
    await rewrite(rotated, (l) => l.map((line, i) => (i === 4 ? line.replace('"req-4"', '"req-four"') : line)));
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: false, file: rotated, line: 5, code: 'AUDIT_HASH_MISMATCH' });
  });

  it('a deleted rotated file in the middle of the chain', async () => {
    const log = await AuditLog.open({ dir });
    for (let i = 0; i < 9; i++) {
      if (i === 3 || i === 6) await log.rotate();
      await log.append(sampleEntry(i));
    }
    await log.close();
    await rm(path.join(dir, 'audit.jsonl.000002'));
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: false, file: live, line: 1, code: 'AUDIT_SEQ_BROKEN' });
  });

  it('the oldest files removed by retention: refused by default, accepted with allowPruned', async () => {
    await writeLog(10, 4);
    await rename(path.join(dir, 'audit.jsonl.000001'), path.join(dir, 'archived.old'));
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: false, file: live, line: 1, code: 'AUDIT_SEQ_BROKEN' });
    expect(await verifyAuditFiles([dir], { allowPruned: true })).toMatchObject({ ok: true, lines: 6, checkpoint: 'matched' });
    expect((await readdir(dir)).sort()).toEqual(['archived.old', 'audit.head', 'audit.jsonl']);
  });
});

// The audit log writer on real files: the chain, rotation, reopening, group commit, ordering under
// concurrency, real write failures, and recovery from a crash-cut line.
import { appendFile, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AuditLog } from '../../../keyserver/audit/audit-log.js';
import type { AuditEntry, AuditLine, RecoveryLine } from '../../../keyserver/audit/audit-line.js';
import { GENESIS_PREV, sha256Hex } from '../../../keyserver/audit/audit-line.js';
import { verifyAuditFiles } from '../../../keyserver/audit/verify.js';
import { tempDir } from '../../helpers/tmp.js';
import { fileLines, sampleEntry } from './fixtures/entries.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir('audit-log')));
afterEach(() => cleanup());

/** Every line of the chain, in chain order (rotated files by number, then the live file). */
async function chainLines(): Promise<string[]> {
  const names = await readdir(dir);
  const rotated = names.filter((n) => /^audit\.jsonl\.\d+$/.test(n)).sort();
  const lines: string[] = [];
  for (const n of [...rotated, ...(names.includes('audit.jsonl') ? ['audit.jsonl'] : [])]) lines.push(...(await fileLines(path.join(dir, n))));
  return lines;
}

function expectChained(lines: string[]): void {
  let prev = GENESIS_PREV;
  lines.forEach((text, i) => {
    const line = JSON.parse(text) as AuditLine;
    expect(line.seq).toBe(i + 1);
    expect(line.prev).toBe(prev);
    prev = sha256Hex(text);
  });
}

async function appendAll(log: AuditLog, from: number, count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, (_, k) => log.append(sampleEntry(from + k))));
}

describe('AuditLog: the chain', () => {
  it('writes one chained JSON line per append, with the recorded fields and nothing else', async () => {
    const log = await AuditLog.open({ dir });
    await log.append(sampleEntry(0));
    await log.append(sampleEntry(3));
    await log.close();
    const lines = await fileLines(path.join(dir, 'audit.jsonl'));
    expect(lines).toHaveLength(2);
    expectChained(lines);
    const denied = JSON.parse(lines[1]!) as AuditLine;
    expect(Object.keys(denied)).toEqual([
      'time', 'seq', 'decision', 'identity', 'peer', 'keyId', 'scheme', 'operation', 'sni', 'clientIp', 'requestId', 'latencyMs', 'outcome', 'reason', 'prev',
    ]);
    expect(denied).toMatchObject({ decision: 'denied', outcome: 'NOT_ALLOWED', reason: 'edge-2 may not use this key', requestId: 'req-3' });
    expect(denied.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const head = JSON.parse(await readFile(path.join(dir, 'audit.head'), 'utf8')) as { seq: number; hash: string };
    expect(head).toMatchObject({ seq: 2, hash: sha256Hex(lines[1]!) });
  });

  it('never writes fields the entry type does not have, even if the caller passes them', async () => {
    const log = await AuditLog.open({ dir });
    const leaky = { ...sampleEntry(0), signature: 'c2lnbmF0dXJl', transcriptHash: 'deadbeef', privateKey: 'secret' } as AuditEntry;
    await log.append(leaky);
    await log.close();
    const text = await readFile(path.join(dir, 'audit.jsonl'), 'utf8');
    expect(text).not.toMatch(/signature|transcriptHash|privateKey|deadbeef|secret/);
  });

  it('rejects a malformed entry without breaking the chain', async () => {
    const log = await AuditLog.open({ dir });
    await log.append(sampleEntry(0));
    await expect(log.append({ ...sampleEntry(1), latencyMs: Number.NaN })).rejects.toMatchObject({ code: 'AUDIT_BAD_ENTRY' });
    await expect(log.append({ ...sampleEntry(1), reason: 'x'.repeat(70_000) })).rejects.toMatchObject({ code: 'AUDIT_BAD_ENTRY' });
    await log.append(sampleEntry(2));
    expect(log.healthy()).toBe(true);
    await log.close();
    expectChained(await chainLines());
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: true, lines: 2 });
  });

  it('continues the chain across many appends and size-triggered rotations', async () => {
    const log = await AuditLog.open({ dir, maxFileBytes: 4_000 });
    for (let i = 0; i < 60; i += 6) await appendAll(log, i, 6);
    const stats = log.stats();
    await log.close();
    expect(stats.rotations).toBeGreaterThanOrEqual(3);
    const names = (await readdir(dir)).sort();
    expect(names).toContain('audit.jsonl.000001');
    expect(names).toContain(`audit.jsonl.${String(stats.rotations).padStart(6, '0')}`);
    const lines = await chainLines();
    expect(lines).toHaveLength(60);
    expectChained(lines);
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: true, lines: 60, checkpoint: 'matched', lastHash: sha256Hex(lines[59]!) });
  });

  it('rotates on demand: the new file starts with the hash of the old file\'s last line', async () => {
    const log = await AuditLog.open({ dir });
    await appendAll(log, 0, 3);
    const pendingBeforeRotate = log.append(sampleEntry(3));
    await log.rotate();
    await pendingBeforeRotate;
    await appendAll(log, 4, 2);
    await log.close();
    const old = await fileLines(path.join(dir, 'audit.jsonl.000001'));
    const live = await fileLines(path.join(dir, 'audit.jsonl'));
    expect(old).toHaveLength(4); // the append made before rotate() lands in the old file
    expect(live).toHaveLength(2);
    expect((JSON.parse(live[0]!) as AuditLine).prev).toBe(sha256Hex(old[3]!));
    expectChained([...old, ...live]);
  });

  it('reopening continues the chain, also right after a rotation left the live file empty', async () => {
    let log = await AuditLog.open({ dir });
    await appendAll(log, 0, 5);
    await log.close();
    log = await AuditLog.open({ dir });
    expect(log.stats().lastSeq).toBe(5);
    await appendAll(log, 5, 5);
    await log.rotate();
    await log.close();
    expect(await readFile(path.join(dir, 'audit.jsonl'), 'utf8')).toBe('');
    log = await AuditLog.open({ dir });
    await appendAll(log, 10, 2);
    await log.close();
    const lines = await chainLines();
    expect(lines).toHaveLength(12);
    expectChained(lines);
  });

  it('rejects appends after close, and close flushes what was pending', async () => {
    const log = await AuditLog.open({ dir, maxBatchDelayMs: 50 });
    const pending = log.append(sampleEntry(0));
    await log.close();
    await pending;
    expect(await fileLines(path.join(dir, 'audit.jsonl'))).toHaveLength(1);
    await expect(log.append(sampleEntry(1))).rejects.toMatchObject({ code: 'AUDIT_CLOSED' });
    expect(log.healthy()).toBe(false);
  });
});

describe('AuditLog: group commit and ordering', () => {
  it('1,000 concurrent appends all resolve, in seq order, and land in seq order', async () => {
    const log = await AuditLog.open({ dir });
    const resolved: number[] = [];
    await Promise.all(Array.from({ length: 1000 }, (_, i) => log.append(sampleEntry(i)).then(() => resolved.push(i))));
    await log.close();
    expect(resolved).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    const lines = await fileLines(path.join(dir, 'audit.jsonl'));
    expect(lines).toHaveLength(1000);
    expectChained(lines);
    lines.forEach((text, i) => expect((JSON.parse(text) as AuditLine).requestId).toBe(`req-${i}`));
  });

  it('batches: many lines per fsync, at most maxBatchLines per batch', async () => {
    const log = await AuditLog.open({ dir, maxBatchLines: 100 });
    await appendAll(log, 0, 1000);
    const stats = log.stats();
    await log.close();
    expect(stats.linesWritten).toBe(1000);
    // All 1000 were queued before the first batch was written, so exactly 10 full batches.
    expect(stats.batches).toBe(10);
    expect(stats.fsyncs).toBe(10);
    expect(stats.fsyncs).toBeLessThan(stats.linesWritten);
  });

  it('resolves an append only after its batch was fsync\'ed; the checkpoint follows', async () => {
    const log = await AuditLog.open({ dir });
    const before = log.stats().fsyncs;
    await log.append(sampleEntry(0));
    expect(log.stats().fsyncs).toBe(before + 1);
    await vi.waitFor(() => expect(log.stats().checkpointWrites).toBe(1));
    await log.close();
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: true, lines: 1, checkpoint: 'matched' });
  });
});

describe('AuditLog: write failures', () => {
  it('rejects every pending append and refuses later ones when the device is full', async () => {
    // audit.jsonl is /dev/full: open() succeeds, every write fails with ENOSPC.
    await symlink('/dev/full', path.join(dir, 'audit.jsonl'));
    const log = await AuditLog.open({ dir });
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => log.append(sampleEntry(i))));
    expect(results.every((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'AUDIT_WRITE_FAILED')).toBe(true);
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/ENOSPC/);
    expect(log.healthy()).toBe(false);
    expect(log.stats().failure).toMatch(/reopened/);
    await expect(log.append(sampleEntry(20))).rejects.toMatchObject({ code: 'AUDIT_WRITE_FAILED' });
    await log.close();

    // Reopened on a real file, it works again.
    await rm(path.join(dir, 'audit.jsonl'));
    const again = await AuditLog.open({ dir });
    await again.append(sampleEntry(0));
    await again.close();
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: true, lines: 1 });
  });

  it('fails closed when the checkpoint cannot be written: the line already durable stays acknowledged, later appends are refused', async () => {
    const log = await AuditLog.open({ dir });
    await log.append(sampleEntry(0));
    await vi.waitFor(() => expect(log.stats().checkpointWrites).toBe(1)); // it follows the line
    // The checkpoint is written in place; one removed under the log fails the next update.
    await rm(path.join(dir, 'audit.head'));
    await mkdir(path.join(dir, 'audit.head'));
    await log.append(sampleEntry(1)); // its line is durable; the checkpoint update after it fails
    await vi.waitFor(() => expect(log.healthy()).toBe(false));
    await expect(log.append(sampleEntry(2))).rejects.toMatchObject({ code: 'AUDIT_WRITE_FAILED' });
    await log.close();
    expect(await fileLines(path.join(dir, 'audit.jsonl'))).toHaveLength(2);
  });

  it('with checkpointBeforeReply, an append whose checkpoint fails is refused', async () => {
    const log = await AuditLog.open({ dir, checkpointBeforeReply: true });
    await log.append(sampleEntry(0));
    await rm(path.join(dir, 'audit.head'));
    await mkdir(path.join(dir, 'audit.head'));
    await expect(log.append(sampleEntry(1))).rejects.toMatchObject({ code: 'AUDIT_WRITE_FAILED' });
    await expect(log.append(sampleEntry(2))).rejects.toMatchObject({ code: 'AUDIT_WRITE_FAILED' });
    expect(log.healthy()).toBe(false);
    await log.close();
  });
});

describe('AuditLog: reopening after a crash or tampering', () => {
  async function logOf(n: number): Promise<string[]> {
    const log = await AuditLog.open({ dir });
    for (let i = 0; i < n; i++) await log.append(sampleEntry(i));
    await log.close();
    return fileLines(path.join(dir, 'audit.jsonl'));
  }

  it('records a recovery line for a crash-cut fragment after the checkpoint, and the chain verifies again', async () => {
    const lines = await logOf(4);
    // What a crash mid-write leaves: part of line 5, which was never acknowledged (the checkpoint says 4).
    const fragment = '{"time":"2025-01-01T00:00:00.000Z","seq":5,"decision":"allo';
    await appendFile(path.join(dir, 'audit.jsonl'), fragment);
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: false, line: 5, code: 'AUDIT_PARTIAL_LINE' });

    const log = await AuditLog.open({ dir });
    expect(log.stats()).toMatchObject({ recoveries: 1, lastSeq: 5 });
    await log.append(sampleEntry(5));
    await log.close();

    const after = await fileLines(path.join(dir, 'audit.jsonl'));
    expect(after).toHaveLength(6);
    const recovery = JSON.parse(after[4]!) as RecoveryLine;
    expect(recovery).toMatchObject({ event: 'recovery', seq: 5, prev: sha256Hex(lines[3]!), discardedBytes: fragment.length });
    expect(Buffer.from(recovery.discardedBase64, 'base64').toString()).toBe(fragment);
    expectChained(after);
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: true, lines: 6 });
  });

  it('refuses to open when whole lines were removed below the checkpoint', async () => {
    const lines = await logOf(5);
    await writeFile(path.join(dir, 'audit.jsonl'), lines.slice(0, 3).map((l) => `${l}\n`).join(''));
    await expect(AuditLog.open({ dir })).rejects.toMatchObject({ code: 'AUDIT_TRUNCATED' });
  });

  it('refuses to open when an acknowledged line was cut mid-way (truncation, not a crash)', async () => {
    const lines = await logOf(5);
    const text = lines.map((l) => `${l}\n`).join('');
    await writeFile(path.join(dir, 'audit.jsonl'), text.slice(0, text.length - 40));
    await expect(AuditLog.open({ dir })).rejects.toMatchObject({ code: 'AUDIT_TRUNCATED' });
  });

  it('refuses to open when the last line was edited', async () => {
    const lines = await logOf(3);
    lines[2] = lines[2]!.replace('"req-2"', '"req-X"');
    await writeFile(path.join(dir, 'audit.jsonl'), lines.map((l) => `${l}\n`).join(''));
    await expect(AuditLog.open({ dir })).rejects.toMatchObject({ code: 'AUDIT_HASH_MISMATCH' });
  });

  it('refuses to start a fresh chain when every log file is gone but the checkpoint remains', async () => {
    await logOf(2);
    await rm(path.join(dir, 'audit.jsonl'));
    await expect(AuditLog.open({ dir })).rejects.toMatchObject({ code: 'AUDIT_TRUNCATED' });
  });
});

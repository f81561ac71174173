// The checkpoint writer: atomic the first time, then overwritten in place (a fixed-size record,
// O_DSYNC or buffered and synced later); readers see the same JSON either way; a checkpoint that
// was removed or swapped between writes makes the write fail, so the log fails closed, as does a
// failed sync.
import { open, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AuditLog } from '../../../keyserver/audit/audit-log.js';
import { CHECKPOINT_RECORD_BYTES, CheckpointWriter, readCheckpoint } from '../../../keyserver/audit/checkpoint.js';
import { verifyAuditFiles } from '../../../keyserver/audit/verify.js';
import { tempDir } from '../../helpers/tmp.js';
import { sampleEntry } from './fixtures/entries.js';

let dir: string;
let dirHandle: FileHandle;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir('checkpoint'));
  dirHandle = await open(dir, 'r');
});
afterEach(async () => {
  await dirHandle.close();
  await cleanup();
});

const head = (): string => path.join(dir, 'audit.head');
const cp = (seq: number) => ({ seq, hash: String(seq % 10).repeat(64) });

describe.each([
  { mode: 'durable each write', durableEachWrite: true },
  { mode: 'buffered', durableEachWrite: false },
])('CheckpointWriter, $mode', ({ durableEachWrite }) => {
  it('creates the checkpoint atomically, then overwrites the same file in place', async () => {
    const writer = await CheckpointWriter.open(dir, dirHandle, 'audit.jsonl', { durableEachWrite });
    await writer.write(cp(1), new Date());
    const first = await stat(head());
    expect(first.size).toBe(CHECKPOINT_RECORD_BYTES);
    expect(first.mode & 0o777).toBe(0o640);
    expect(await readCheckpoint(head())).toEqual(cp(1));

    await writer.write(cp(123_456_789), new Date());
    const second = await stat(head());
    expect(second.ino).toBe(first.ino);
    expect(second.size).toBe(CHECKPOINT_RECORD_BYTES);
    expect(await readCheckpoint(head())).toEqual(cp(123_456_789));
    // Still one JSON object: padding is whitespace, the record ends in a newline.
    const text = await readFile(head(), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(JSON.parse(text)).toMatchObject({ seq: 123_456_789, hash: cp(123_456_789).hash });
    await writer.close();
  });

  it('replaces a checkpoint in the older short layout atomically before writing in place', async () => {
    await writeFile(head(), `${JSON.stringify({ ...cp(4), time: new Date().toISOString() })}\n`, { mode: 0o640 });
    const before = await stat(head());
    const writer = await CheckpointWriter.open(dir, dirHandle, 'audit.jsonl', { durableEachWrite });
    await writer.write(cp(5), new Date());
    const after = await stat(head());
    expect(after.ino).not.toBe(before.ino);
    expect(after.size).toBe(CHECKPOINT_RECORD_BYTES);
    expect(await readCheckpoint(head())).toEqual(cp(5));
    await writer.close();
  });

  it('fails when the checkpoint was removed, renamed away, or swapped for a symlink or another file between writes', async () => {
    const swaps: Array<() => Promise<void>> = [
      () => rm(head()),
      () => rename(head(), path.join(dir, 'moved')),
      async () => {
        await rename(head(), path.join(dir, 'elsewhere'));
        await symlink(path.join(dir, 'elsewhere'), head());
      },
      async () => {
        await rm(head());
        await writeFile(head(), Buffer.alloc(CHECKPOINT_RECORD_BYTES, 0x20));
      },
    ];
    for (const swap of swaps) {
      await rm(head(), { force: true });
      const writer = await CheckpointWriter.open(dir, dirHandle, 'audit.jsonl', { durableEachWrite });
      await writer.write(cp(1), new Date());
      await swap();
      await expect(writer.write(cp(2), new Date())).rejects.toThrow(/removed or replaced/);
      await writer.close();
    }
  });
});

/** Counts (and can fail) fdatasync on every FileHandle: the live log is O_DSYNC, so on Linux the calls are the checkpoint's. */
async function spyOnDatasync() {
  const probe = await open(path.join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as FileHandle;
  await probe.close();
  return vi.spyOn(proto, 'datasync');
}

describe('CheckpointWriter, buffered', () => {
  afterEach(() => vi.restoreAllMocks());

  it('needs a sync after an in-place write until sync() or close() makes it durable', async () => {
    const datasync = await spyOnDatasync();
    const writer = await CheckpointWriter.open(dir, dirHandle, 'audit.jsonl', { durableEachWrite: false });
    await writer.write(cp(1), new Date());
    // The first write is the atomic replacement, durable by itself.
    expect(writer.needsSync).toBe(false);
    await writer.write(cp(2), new Date());
    expect(writer.needsSync).toBe(true);
    expect(await readCheckpoint(head())).toEqual(cp(2));
    await writer.sync();
    expect(writer.needsSync).toBe(false);
    expect(datasync).toHaveBeenCalledTimes(1);
    await writer.sync();
    expect(datasync).toHaveBeenCalledTimes(1);
    await writer.write(cp(3), new Date());
    await writer.close();
    expect(datasync).toHaveBeenCalledTimes(2);
    expect(await readCheckpoint(head())).toEqual(cp(3));
  });

  it('still needs the sync after one that failed', async () => {
    const datasync = await spyOnDatasync();
    const writer = await CheckpointWriter.open(dir, dirHandle, 'audit.jsonl', { durableEachWrite: false });
    await writer.write(cp(1), new Date());
    await writer.write(cp(2), new Date());
    datasync.mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    await expect(writer.sync()).rejects.toThrow(/EIO/);
    expect(writer.needsSync).toBe(true);
    await writer.close();
    expect(writer.needsSync).toBe(false);
  });
});

describe('AuditLog checkpoint durability', () => {
  afterEach(() => vi.restoreAllMocks());

  it('makes buffered checkpoint updates durable within checkpointSyncMs, in fewer fdatasyncs than updates', async () => {
    const datasync = await spyOnDatasync();
    const log = await AuditLog.open({ dir, checkpointSyncMs: 50 });
    for (let i = 0; i < 20; i++) await log.append(sampleEntry(i));
    await vi.waitFor(() => expect(log.stats().checkpointWrites).toBeGreaterThanOrEqual(2));
    await vi.waitFor(() => expect(log.stats().checkpointSyncs).toBeGreaterThanOrEqual(1), { timeout: 2_000 });
    const { checkpointWrites, checkpointSyncs } = log.stats();
    expect(checkpointSyncs).toBeLessThan(checkpointWrites);
    expect(datasync.mock.calls.length).toBe(checkpointSyncs);
    await log.close();
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: true, lines: 20, checkpoint: 'matched' });
  });

  it('makes the last buffered update durable at close, however long checkpointSyncMs is', async () => {
    const datasync = await spyOnDatasync();
    const log = await AuditLog.open({ dir, checkpointSyncMs: 60_000 });
    for (let i = 0; i < 5; i++) await log.append(sampleEntry(i));
    await vi.waitFor(() => expect(log.stats().checkpointWrites).toBeGreaterThanOrEqual(2));
    expect(datasync).not.toHaveBeenCalled();
    await log.close();
    expect(datasync).toHaveBeenCalledTimes(1);
    expect(await readCheckpoint(head())).toMatchObject({ seq: 5 });
  });

  it.each([
    { name: 'checkpointSyncMs 0', opts: { checkpointSyncMs: 0 } },
    { name: 'checkpointBeforeReply', opts: { checkpointBeforeReply: true, checkpointSyncMs: 50 } },
  ])('writes every update durably with $name (no separate syncs)', async ({ opts }) => {
    const log = await AuditLog.open({ dir, ...opts });
    for (let i = 0; i < 10; i++) await log.append(sampleEntry(i));
    await vi.waitFor(() => expect(log.stats().checkpointWrites).toBeGreaterThanOrEqual(2));
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(log.stats().checkpointSyncs).toBe(0);
    await log.close();
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: true, lines: 10, checkpoint: 'matched' });
  });

  it('fails closed when making a checkpoint update durable fails', async () => {
    const datasync = await spyOnDatasync();
    const log = await AuditLog.open({ dir, checkpointSyncMs: 20 });
    await log.append(sampleEntry(0));
    await vi.waitFor(() => expect(log.stats().checkpointWrites).toBe(1));
    datasync.mockRejectedValue(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    await log.append(sampleEntry(1));
    await vi.waitFor(() => expect(log.healthy()).toBe(false), { timeout: 2_000 });
    expect(log.stats().failure).toMatch(/EIO/);
    await expect(log.append(sampleEntry(2))).rejects.toMatchObject({ code: 'AUDIT_WRITE_FAILED' });
    await log.close();
  });

  it('refuses a checkpointSyncMs out of range', async () => {
    await expect(AuditLog.open({ dir, checkpointSyncMs: -1 })).rejects.toThrow(/checkpointSyncMs/);
    await expect(AuditLog.open({ dir, checkpointSyncMs: 60_001 })).rejects.toThrow(/checkpointSyncMs/);
  });
});

describe('AuditLog with the in-place checkpoint', () => {
  it('keeps one checkpoint file, matched by verify, and fails closed when it is deleted under it', async () => {
    const log = await AuditLog.open({ dir });
    await log.append(sampleEntry(0));
    // The first checkpoint follows the line (atomically created); the rest overwrite it in place.
    await vi.waitFor(() => expect(log.stats().checkpointWrites).toBe(1));
    const { ino } = await stat(head());
    for (let i = 1; i < 20; i++) await log.append(sampleEntry(i));
    expect((await stat(head())).ino).toBe(ino);
    expect(await verifyAuditFiles([dir])).toMatchObject({ ok: true, lines: 20, checkpoint: 'matched' });

    await rm(head());
    // Line 21 is durable and acknowledged; the checkpoint update after it finds the file gone.
    await log.append(sampleEntry(20));
    await vi.waitFor(() => expect(log.healthy()).toBe(false));
    await expect(log.append(sampleEntry(21))).rejects.toMatchObject({ code: 'AUDIT_WRITE_FAILED' });
    expect(log.healthy()).toBe(false);
    await log.close();
  });
});

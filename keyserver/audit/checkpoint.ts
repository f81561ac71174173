// The checkpoint ("audit.head"): seq and hash of the last line known to be durable. It is what
// makes truncation detectable: deleting whole lines from the end leaves a perfectly valid chain,
// but a shorter one than the checkpoint records. It is written only after the log lines it names
// are durable, so it never runs ahead of the log. It trails the log by the batches written while
// one checkpoint update is on its way (see audit-log.ts for why appends do not wait for it, and
// the `checkpointBeforeReply` option that makes them); after a crash it may lag by those batches.
//
// How it is written: the first time atomically (a temporary file, fsync'ed, renamed over the old
// one, the directory fsync'ed); from then on in place, as PostgreSQL writes pg_control: one
// fixed-size record at offset 0, far inside the first 512-byte sector. The file keeps its size, so
// making it durable carries no metadata: on the CI disk ~0.05 ms instead of ~2.7 ms for the
// rename dance, which sat in front of every signature. The record is JSON padded with spaces, so
// readers see the same format either way.
//
// Two ways to write in place (CheckpointWriterOptions.durableEachWrite):
// - durable each write: the descriptor is O_DSYNC, and write() resolves once the record is on
//   stable storage. For `checkpointBeforeReply`, where a signature waits for the checkpoint.
// - buffered (the default): write() puts the record in the page cache with one synchronous
//   pwrite (a few µs; the kernel has it from then on, so it survives the key server being killed,
//   SIGKILL included), and sync() makes it durable (fdatasync), which the log calls at most every
//   `checkpointSyncMs`. Why: a durable checkpoint write after every batch is a second flush of
//   the disk beside the log's own, and the next batch's line write queued behind it: at one caller
//   a signature took 0.78-0.87 ms with it, 0.67-0.74 buffered (bench:keyserver, README "Key server"). The
//   price: after a power loss or an OS crash (not a process crash), the checkpoint on disk may
//   name a line up to `checkpointSyncMs` older than the last acknowledged one.
//
// Each write also checks, while it is on its way, that the path still names the file being written
// (fstat of the descriptor against lstat of the path): a checkpoint deleted, renamed away or
// replaced by something else fails the write, and the log fails closed, instead of updating an
// orphaned inode.
import { constants as fsConstants, fstatSync, lstatSync, writeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { AuditError } from './audit-error.js';
import { checkpointFileName, checkpointTempName } from './audit-files.js';

export interface Checkpoint {
  /** seq of the last durable line. */
  readonly seq: number;
  /** SHA-256 hex of that line's bytes. */
  readonly hash: string;
}

/** The checkpoint in `file`, or undefined when there is none. */
export async function readCheckpoint(file: string): Promise<Checkpoint | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AuditError('AUDIT_CHECKPOINT_INVALID', `cannot read checkpoint ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const value = JSON.parse(text) as { seq?: unknown; hash?: unknown };
    if (typeof value.seq === 'number' && Number.isSafeInteger(value.seq) && value.seq >= 1 && typeof value.hash === 'string' && /^[0-9a-f]{64}$/.test(value.hash)) {
      return { seq: value.seq, hash: value.hash };
    }
  } catch {
    // reported below
  }
  throw new AuditError('AUDIT_CHECKPOINT_INVALID', `checkpoint ${file} is not {"seq": N, "hash": "<64 hex>"}`);
}

/** O_DSYNC where the platform has it; 0 means "call fdatasync after the write". */
const O_DSYNC = fsConstants.O_DSYNC ?? 0;

/** Bytes of the record written in place; the JSON is about 130 bytes, the rest is spaces and a newline. */
export const CHECKPOINT_RECORD_BYTES = 256;

function checkpointRecord(checkpoint: Checkpoint, now: Date): Buffer {
  const json = JSON.stringify({ seq: checkpoint.seq, hash: checkpoint.hash, time: now.toISOString() });
  const record = Buffer.alloc(CHECKPOINT_RECORD_BYTES, 0x20);
  record.write(json, 0, 'utf8');
  record[CHECKPOINT_RECORD_BYTES - 1] = 0x0a;
  return record;
}

/** Atomically replaces the checkpoint of chain `fileName` in the directory open as `dirHandle`. */
async function replaceCheckpoint(dir: string, dirHandle: FileHandle, fileName: string, record: Buffer): Promise<void> {
  const temp = path.join(dir, checkpointTempName(fileName));
  const fh = await open(temp, 'w', 0o640);
  try {
    await fh.writeFile(record);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(temp, path.join(dir, checkpointFileName(fileName)));
  await dirHandle.sync();
}

/** True when `file` no longer names the open descriptor `fd`: deleted, renamed away or replaced. */
function pathNoLongerNames(file: string, fd: number): boolean {
  const own = fstatSync(fd);
  const named = lstatSync(file, { throwIfNoEntry: false });
  return !named || named.ino !== own.ino || named.dev !== own.dev || own.nlink === 0;
}

export interface CheckpointWriterOptions {
  /** True: every write() is durable when it resolves (O_DSYNC). False: write() is buffered, sync() makes it durable. */
  readonly durableEachWrite: boolean;
}

/** Writes one chain's checkpoint: atomically the first time, in place after that (see the top of this file). */
export class CheckpointWriter {
  private readonly file: string;
  /** Open while the checkpoint is written in place. */
  private fh: FileHandle | undefined;
  /** A buffered record has been written that sync() has not yet made durable. */
  private unsynced = false;

  private constructor(
    private readonly dir: string,
    private readonly dirHandle: FileHandle,
    private readonly fileName: string,
    private readonly durableEachWrite: boolean,
  ) {
    this.file = path.join(dir, checkpointFileName(fileName));
  }

  static async open(dir: string, dirHandle: FileHandle, fileName: string, options: CheckpointWriterOptions): Promise<CheckpointWriter> {
    const writer = new CheckpointWriter(dir, dirHandle, fileName, options.durableEachWrite);
    const size = await stat(writer.file).then(
      (st) => (st.isFile() ? st.size : -1),
      () => -1,
    );
    // A missing checkpoint, or one in an older layout (shorter), is replaced atomically first.
    if (size === CHECKPOINT_RECORD_BYTES) await writer.openInPlace();
    return writer;
  }

  /** True when a buffered write is waiting for sync(). */
  get needsSync(): boolean {
    return this.unsynced;
  }

  /** Writes the record: durable on return when durableEachWrite (or the first, atomic, time); buffered otherwise. */
  async write(checkpoint: Checkpoint, now: Date): Promise<void> {
    const record = checkpointRecord(checkpoint, now);
    const fh = this.fh;
    if (!fh) {
      await replaceCheckpoint(this.dir, this.dirHandle, this.fileName, record);
      await this.openInPlace();
      return;
    }
    if (!this.durableEachWrite) {
      // Synchronous: one pwrite of 256 bytes into the page cache costs less than the hop to
      // libuv's thread pool and back (see the top of this file).
      if (writeSync(fh.fd, record, 0, CHECKPOINT_RECORD_BYTES, 0) !== CHECKPOINT_RECORD_BYTES) throw new Error(`short write to ${this.file}`);
      this.unsynced = true;
      if (pathNoLongerNames(this.file, fh.fd)) throw new Error(`${this.file} was removed or replaced while the log was open`);
      return;
    }
    const writing = fh.write(record, 0, CHECKPOINT_RECORD_BYTES, 0);
    // While the write is on its way. Synchronous on purpose: two metadata syscalls cost ~5 µs,
    // where the promise versions cost ~60 µs of CPU per checkpoint (bench:keyserver).
    let replaced: boolean;
    try {
      replaced = pathNoLongerNames(this.file, fh.fd);
    } catch (err) {
      await writing.catch(() => undefined);
      throw err;
    }
    const written = await writing;
    if (written.bytesWritten !== CHECKPOINT_RECORD_BYTES) throw new Error(`short write to ${this.file}`);
    if (O_DSYNC === 0) await fh.datasync();
    if (replaced) throw new Error(`${this.file} was removed or replaced while the log was open`);
  }

  /** Makes the last buffered write durable (fdatasync); nothing to do when none is waiting. */
  async sync(): Promise<void> {
    const fh = this.fh;
    if (!fh || !this.unsynced) return;
    // Cleared first: a write() while the sync is on its way sets it again, for the next sync.
    this.unsynced = false;
    try {
      await fh.datasync();
    } catch (err) {
      this.unsynced = true;
      throw err;
    }
  }

  /** Closes the descriptor, after making a buffered write durable. */
  async close(): Promise<void> {
    const fh = this.fh;
    if (!fh) return;
    try {
      await this.sync();
    } finally {
      this.fh = undefined;
      await fh.close();
    }
  }

  private async openInPlace(): Promise<void> {
    const fh = await open(this.file, fsConstants.O_WRONLY | fsConstants.O_NOFOLLOW | (this.durableEachWrite ? O_DSYNC : 0));
    const st = await fh.stat();
    if (!st.isFile() || st.size !== CHECKPOINT_RECORD_BYTES) {
      await fh.close();
      throw new Error(`${this.file} is not a ${CHECKPOINT_RECORD_BYTES}-byte checkpoint`);
    }
    this.fh = fh;
  }
}

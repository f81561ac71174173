// The checkpoint ("audit.head"): seq and hash of the last line known to be durable. It is what
// makes truncation detectable: deleting whole lines from the end leaves a perfectly valid chain,
// but a shorter one than the checkpoint records. It is replaced atomically (write a temporary
// file, fsync it, rename it over the old one, fsync the directory), so a crash leaves either the
// old or the new checkpoint, never a torn one. It is written only after the log lines it names
// are fsync'ed, so it never runs ahead of the log; after a crash it may lag by one batch.
import type { FileHandle } from 'node:fs/promises';
import { open, readFile, rename } from 'node:fs/promises';
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

/** Atomically replaces the checkpoint of chain `fileName` in the directory open as `dirHandle`. */
export async function writeCheckpoint(dir: string, dirHandle: FileHandle, fileName: string, checkpoint: Checkpoint, now: Date): Promise<void> {
  const temp = path.join(dir, checkpointTempName(fileName));
  const fh = await open(temp, 'w', 0o640);
  try {
    await fh.writeFile(`${JSON.stringify({ seq: checkpoint.seq, hash: checkpoint.hash, time: now.toISOString() })}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(temp, path.join(dir, checkpointFileName(fileName)));
  await dirHandle.sync();
}

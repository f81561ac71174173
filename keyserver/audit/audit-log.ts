// The key server's audit log writer: one hash-chained JSON line per decision, and append()
// resolves only once its line is written and fsync'ed, so the key server can hold a signature
// back until its audit line is durable.
//
// Group commit: appends are chained in memory at once (seq and prev assigned in call order), then
// written in batches: the first append of a batch waits up to maxBatchDelayMs for company (0: to
// the end of the current event-loop turn), one durable write() covers the whole batch, and the
// batch's promises resolve, in seq order, as soon as that write returns. Then the checkpoint is
// updated to the batch's last line. Lines that arrive while a batch is being written form the
// next batch, which is written as soon as the previous one is on disk, while the previous one's
// checkpoint is still being updated (the checkpoint only ever names lines already durable);
// checkpoint updates are one at a time, and one update covers every batch written since the last.
// Line order == seq order == resolution order, because batches are written, and checkpoints
// taken, strictly in order.
//
// Why a signature waits for its line but not for the checkpoint: the line is the record the
// contract demands before a signature leaves; the checkpoint only makes a later truncation of
// the file visible. Waiting for both put two durable writes in front of every signature (0.13 ms
// more at one caller on the CI disk, 3-7% fewer signatures/s under load: bench:keyserver). The
// price: until the checkpoint update that follows a batch is written (a few µs to the page cache
// by default, 0.1-0.2 ms as a durable write), the newest acknowledged lines are on disk but not
// yet named by the checkpoint, so if the key server dies inside that
// window, a truncation of exactly those lines afterwards is not caught by the checkpoint (every
// other edit still breaks the chain). close() waits for the checkpoint. `checkpointBeforeReply`
// restores the stricter order: an append resolves only once a checkpoint covers its line.
//
// How durable each checkpoint update is (checkpoint.ts has the details): by default the record is
// written to the page cache at once (it survives a process crash from then on) and made durable
// with fdatasync at most `checkpointSyncMs` later, and at close, so that the disk sees one flush
// per batch (the line's), not two. With `checkpointSyncMs: 0`, or with `checkpointBeforeReply`,
// every update is a durable write of its own.
//
// Failure: if a write, fsync, rotation or checkpoint update fails, every pending append rejects
// with AUDIT_WRITE_FAILED and so does every later one, until the log is reopened (which re-reads
// the chain from disk). Lines of a failed batch may be on disk even though their appends
// rejected; the log may over-record, never under-record.
//
// Crash recovery (our choice among "refuse" and "record"): when open() finds the newest file
// ending in an unterminated fragment, beyond the checkpoint, a crash cut that line mid-write, so
// its append never resolved and no signature went out for it. open() cuts the fragment off and
// appends a recorded `event: "recovery"` line carrying the fragment (base64, with its size and
// SHA-256) that chains to the last complete line. A fragment *at or before* the checkpoint is not
// a crash but a truncation, and open() refuses (AUDIT_TRUNCATED), as it does for any end of chain
// that contradicts the checkpoint: a key server must not silently start a fresh chain over a
// tampered one. (A crash during recovery itself, between cutting and writing the marker, loses the
// unacknowledged fragment without a marker; nothing acknowledged is lost.)
//
// Threat model, honestly: the chain is an unkeyed hash chain. Anyone who can write the whole
// directory can rewrite every line, recompute every hash and replace the checkpoint; nothing
// stored beside the log can prevent that. What it does give: any edit, deletion, insertion or
// reordering of lines, and any truncation relative to the checkpoint, is detected by `keyless
// audit verify` unless the attacker rewrites everything after the change (and the checkpoint).
// For stronger guarantees ship lines off-box as they are written (a log collector, WORM storage)
// and compare the off-box copy's last hash with the local chain.
//
// One writer per directory: two processes appending to the same chain break it (verify reports it).
//
// Durable writes: the log files are opened O_DSYNC, so a write() returns once its data (and the
// file size) is on stable storage, exactly what write() + fdatasync() gives, in one call instead of
// two. Every file system call is a round trip through libuv's thread pool and back through the
// event loop, and under load each one waits for both; a batch costs one (the line; by default the
// checkpoint's update is a synchronous page-cache write, and its fdatasync comes at most every
// checkpointSyncMs), or two with a durable checkpoint per batch. Where O_DSYNC does not exist
// (Windows) it falls back to write() + fdatasync().
import { constants as fsConstants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, rename } from 'node:fs/promises';
import path from 'node:path';
import { AuditError } from './audit-error.js';
import { DEFAULT_FILE_NAME, isValidLiveFileName, listChainFiles, rotatedFileName } from './audit-files.js';
import type { AuditEntry } from './audit-line.js';
import { encodeAuditLine, encodeRecoveryLine, GENESIS_PREV, parseChainLine, sha256Hex } from './audit-line.js';
import type { Checkpoint } from './checkpoint.js';
import { CheckpointWriter, readCheckpoint } from './checkpoint.js';
import { readTail } from './line-reader.js';

export type { AuditEntry, AuditIdentity, AuditLine, AuditOperation, Decision, RecoveryLine } from './audit-line.js';

export interface AuditLogOptions {
  dir: string;
  /** Name of the live file; rotated files append ".NNNNNN". Default 'audit.jsonl'. */
  fileName?: string;
  /** Rotate when the live file is larger than this after a batch. Default 64 MiB. */
  maxFileBytes?: number;
  /**
   * How long the first line of a batch waits for others before the write. Default 0: the write
   * starts at the end of the event-loop turn that appended it, and lines that arrive while it is
   * on its way form the next batch (under load, batches grow by themselves). A window above 0
   * trades each signature's latency for fewer writes when traffic is light.
   */
  maxBatchDelayMs?: number;
  /** Most lines per write + fsync. Default 1024. */
  maxBatchLines?: number;
  /**
   * Resolve an append only once the checkpoint names its line too (two durable writes before a
   * signature leaves, instead of one). Default false: see the top of this file.
   */
  checkpointBeforeReply?: boolean;
  /**
   * The longest a checkpoint update stays in the page cache before it is made durable (fdatasync).
   * Default 100. 0: every update is durable when written, as it always is with checkpointBeforeReply.
   */
  checkpointSyncMs?: number;
}

export interface AuditLogStats {
  /** seq of the newest line appended (durable or still pending). */
  readonly lastSeq: number;
  /** Lines this instance has durably written (recovery markers included). */
  readonly linesWritten: number;
  /** Appends waiting for their batch. */
  readonly pending: number;
  /** Batches written: one write and one fsync each. */
  readonly batches: number;
  /** Durable writes of log lines (one per batch, plus the recovery steps): O_DSYNC writes, or write + fdatasync. */
  readonly fsyncs: number;
  readonly checkpointWrites: number;
  /** fdatasync calls that made buffered checkpoint updates durable (see checkpointSyncMs). */
  readonly checkpointSyncs: number;
  readonly rotations: number;
  readonly recoveries: number;
  readonly currentFile: string;
  readonly currentFileBytes: number;
  /** Why the log refuses appends, or null while it accepts them. */
  readonly failure: string | null;
}

interface Pending {
  readonly data: Buffer;
  readonly seq: number;
  readonly hash: string;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

/** Batches on disk whose checkpoint has not been written: their last line, and the appends still waiting for it. */
interface Uncheckpointed {
  readonly seq: number;
  readonly hash: string;
  /** Empty unless checkpointBeforeReply: the appends were resolved when their line was durable. */
  readonly waiting: Pending[];
}

/** The chain head found on disk when opening. */
interface ChainEnd {
  readonly seq: number;
  readonly hash: string;
}

const MiB = 1024 * 1024;

/** O_DSYNC where the platform has it; 0 means "call fdatasync after each write". */
const O_DSYNC = fsConstants.O_DSYNC ?? 0;
/** The live file: append-only, created 0640, each write durable on return where O_DSYNC exists. */
const LIVE_FILE_FLAGS = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_APPEND | O_DSYNC;

function openLiveFile(file: string): Promise<FileHandle> {
  return open(file, LIVE_FILE_FLAGS, 0o640);
}

export class AuditLog {
  private readonly pending: Pending[] = [];
  /** The wait of the first line of a batch: a timer, or (maxBatchDelayMs 0) the end of this event-loop turn. */
  private timer: { cancel(): void } | undefined;
  /** A drain is queued or running and will pick up whatever is pending. */
  private draining = false;
  /** Serializes drains, rotations and close: the file is only ever touched by one of them. */
  private work: Promise<void> = Promise.resolve();
  private failure: AuditError | undefined;
  /** Batches on disk whose checkpoint update has not been started. */
  private uncheckpointed: Uncheckpointed[] = [];
  /** The running checkpoint updates (a loop that takes whatever is uncheckpointed), if any. */
  private checkpointing: Promise<void> | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** The wait before a buffered checkpoint update is made durable, if one is scheduled. */
  private checkpointSyncTimer: NodeJS.Timeout | undefined;
  /** The fdatasync of the checkpoint on its way, if any. */
  private checkpointSyncing: Promise<void> | undefined;
  private readonly counters = { linesWritten: 0, batches: 0, fsyncs: 0, checkpointWrites: 0, checkpointSyncs: 0, rotations: 0, recoveries: 0 };

  private constructor(
    private readonly dir: string,
    private readonly fileName: string,
    private readonly maxFileBytes: number,
    private readonly maxBatchDelayMs: number,
    private readonly maxBatchLines: number,
    private readonly checkpointBeforeReply: boolean,
    private readonly checkpointSyncMs: number,
    private readonly dirHandle: FileHandle,
    private readonly checkpointWriter: CheckpointWriter,
    private fh: FileHandle,
    private currentBytes: number,
    private nextRotation: number,
    private lastSeq: number,
    private lastHash: string,
  ) {}

  /**
   * Opens (creating if needed) the log in `dir` and continues its chain from the last line of the
   * newest file. Refuses a chain whose end contradicts the checkpoint; records a recovery marker
   * for a crash-cut last line (see the top of this file).
   */
  static async open(opts: AuditLogOptions): Promise<AuditLog> {
    const fileName = opts.fileName ?? DEFAULT_FILE_NAME;
    const maxFileBytes = opts.maxFileBytes ?? 64 * MiB;
    const maxBatchDelayMs = opts.maxBatchDelayMs ?? 0;
    const maxBatchLines = opts.maxBatchLines ?? 1024;
    const checkpointBeforeReply = opts.checkpointBeforeReply ?? false;
    const checkpointSyncMs = checkpointBeforeReply ? 0 : (opts.checkpointSyncMs ?? 100);
    if (!isValidLiveFileName(fileName)) throw new TypeError(`audit fileName ${JSON.stringify(fileName)} must be a plain name not ending in ".<digits>"`);
    if (!(maxFileBytes > 0)) throw new TypeError('audit maxFileBytes must be positive');
    if (!(maxBatchDelayMs >= 0)) throw new TypeError('audit maxBatchDelayMs must be >= 0');
    if (!Number.isInteger(maxBatchLines) || maxBatchLines < 1) throw new TypeError('audit maxBatchLines must be a positive integer');
    if (!(checkpointSyncMs >= 0 && checkpointSyncMs <= 60_000)) throw new TypeError('audit checkpointSyncMs must be between 0 and 60000');

    await mkdir(opts.dir, { recursive: true, mode: 0o750 });
    const chain = await listChainFiles(opts.dir, fileName);
    const checkpoint = await readCheckpoint(chain.checkpoint);
    const liveTail = chain.liveExists ? await readTail(chain.live) : undefined;
    const end = await findChainEnd(chain.live, liveTail?.lastLine, chain.rotated);
    checkAgainstCheckpoint(end, checkpoint, chain.checkpoint);

    const dirHandle = await open(opts.dir, 'r');
    let fh: FileHandle | undefined;
    try {
      fh = await openLiveFile(chain.live);
      if (!chain.liveExists) await dirHandle.sync();
      const log = new AuditLog(
        opts.dir,
        fileName,
        maxFileBytes,
        maxBatchDelayMs,
        maxBatchLines,
        checkpointBeforeReply,
        checkpointSyncMs,
        dirHandle,
        await CheckpointWriter.open(opts.dir, dirHandle, fileName, { durableEachWrite: checkpointSyncMs === 0 }),
        fh,
        liveTail?.size ?? 0,
        (chain.rotated[chain.rotated.length - 1]?.n ?? 0) + 1,
        end?.seq ?? 0,
        end?.hash ?? GENESIS_PREV,
      );
      if (liveTail && liveTail.fragment.length > 0) await log.recover(liveTail.size, liveTail.fragment);
      return log;
    } catch (err) {
      await fh?.close().catch(() => undefined);
      await dirHandle.close().catch(() => undefined);
      if (err instanceof AuditError) throw err;
      throw new AuditError('AUDIT_WRITE_FAILED', `cannot open the audit log in ${opts.dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Records one decision. Resolves once the line is written and fsync'ed; rejects with
   * AUDIT_WRITE_FAILED if it could not be (the caller must then withhold the signature).
   */
  append(entry: AuditEntry): Promise<void> {
    if (this.closed) return Promise.reject(new AuditError('AUDIT_CLOSED', 'the audit log is closed'));
    if (this.failure) return Promise.reject(this.failure);
    let text: string;
    try {
      text = encodeAuditLine(entry, this.lastSeq + 1, this.lastHash, new Date());
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const seq = ++this.lastSeq;
    const hash = (this.lastHash = sha256Hex(text));
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ data: Buffer.from(`${text}\n`), seq, hash, resolve, reject });
      this.scheduleDrain();
    });
  }

  /** Flushes what is pending into the current file, then starts a new one (the chain continues). */
  rotate(): Promise<void> {
    if (this.closed) return Promise.reject(new AuditError('AUDIT_CLOSED', 'the audit log is closed'));
    this.clearTimer();
    return this.serialize(async () => {
      await this.drain();
      if (this.failure) throw this.failure;
      await this.rotateNow();
    });
  }

  /** Flushes pending appends and closes the files. Appends after close reject with AUDIT_CLOSED. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.clearTimer();
      await this.serialize(() => this.drain()).catch(() => undefined);
      // The last batches resolve only once their checkpoint is written.
      while (this.checkpointing) await this.checkpointing.catch(() => undefined);
      clearTimeout(this.checkpointSyncTimer);
      await this.checkpointSyncing;
      // Closing the writer makes its last buffered update durable.
      await this.fh.close().catch(() => undefined);
      await this.checkpointWriter.close().catch(() => undefined);
      await this.dirHandle.close().catch(() => undefined);
    })();
    return this.closing;
  }

  /** False once a write failed (signatures must be withheld) or the log was closed. */
  healthy(): boolean {
    return !this.failure && !this.closed;
  }

  stats(): AuditLogStats {
    return {
      ...this.counters,
      lastSeq: this.lastSeq,
      pending: this.pending.length,
      currentFile: path.join(this.dir, this.fileName),
      currentFileBytes: this.currentBytes,
      failure: this.failure ? this.failure.message : null,
    };
  }

  private scheduleDrain(): void {
    if (this.draining) return;
    if (this.pending.length >= this.maxBatchLines) {
      this.clearTimer();
      this.startDrain();
    } else if (!this.timer) {
      const fire = (): void => {
        this.timer = undefined;
        this.startDrain();
      };
      // setTimeout(0) waits a whole millisecond; "no delay" means: write what this turn appended.
      if (this.maxBatchDelayMs === 0) {
        const immediate = setImmediate(fire);
        this.timer = { cancel: () => clearImmediate(immediate) };
      } else {
        const timeout = setTimeout(fire, this.maxBatchDelayMs);
        this.timer = { cancel: () => clearTimeout(timeout) };
      }
    }
  }

  private startDrain(): void {
    this.draining = true;
    void this.serialize(() => this.drain())
      .catch(() => undefined) // failures reach the appends through fail()
      .finally(() => {
        this.draining = false;
        if (this.pending.length > 0 && !this.failure) this.scheduleDrain();
      });
  }

  private clearTimer(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private serialize(fn: () => Promise<void>): Promise<void> {
    const run = this.work.then(fn);
    this.work = run.catch(() => undefined);
    return run;
  }

  /** Writes batches until nothing is pending. Only ever runs inside serialize(). */
  private async drain(): Promise<void> {
    while (this.pending.length > 0 && !this.failure) {
      const batch = this.pending.splice(0, this.maxBatchLines);
      try {
        const data = batch.length === 1 ? batch[0]!.data : Buffer.concat(batch.map((p) => p.data));
        await this.writeDurably(data);
      } catch (err) {
        this.fail(err, batch);
        return;
      }
      this.counters.batches++;
      this.counters.linesWritten += batch.length;
      const last = batch[batch.length - 1]!;
      if (this.checkpointBeforeReply) {
        this.uncheckpointed.push({ seq: last.seq, hash: last.hash, waiting: batch });
      } else {
        for (const p of batch) p.resolve();
        this.uncheckpointed.push({ seq: last.seq, hash: last.hash, waiting: [] });
      }
      this.checkpointing ??= this.checkpointLoop().finally(() => (this.checkpointing = undefined));
      if (this.currentBytes > this.maxFileBytes) {
        try {
          await this.rotateNow();
        } catch (err) {
          this.fail(err, []);
          return;
        }
      }
    }
  }

  /** Updates the checkpoint to the newest durable line, resolves the appends waiting for it, and repeats while there are more. */
  private async checkpointLoop(): Promise<void> {
    while (this.uncheckpointed.length > 0 && !this.failure) {
      const batches = this.uncheckpointed;
      this.uncheckpointed = [];
      const newest = batches[batches.length - 1]!;
      try {
        await this.checkpoint({ seq: newest.seq, hash: newest.hash });
      } catch (err) {
        this.fail(err, batches.flatMap((b) => b.waiting));
        return;
      }
      // A write that failed meanwhile rejected everything after these lines; these are fine.
      for (const batch of batches) for (const p of batch.waiting) p.resolve();
    }
  }

  private async writeDurably(data: Buffer): Promise<void> {
    let offset = 0;
    while (offset < data.length) {
      // The file is opened O_APPEND: each write lands at the end, whatever the position.
      const { bytesWritten } = await this.fh.write(data, offset, data.length - offset);
      if (bytesWritten <= 0) throw new Error('write made no progress');
      offset += bytesWritten;
      this.currentBytes += bytesWritten;
    }
    if (O_DSYNC === 0) await this.fh.datasync();
    this.counters.fsyncs++;
  }

  private async checkpoint(cp: Checkpoint): Promise<void> {
    await this.checkpointWriter.write(cp, new Date());
    this.counters.checkpointWrites++;
    this.scheduleCheckpointSync();
  }

  private scheduleCheckpointSync(): void {
    if (!this.checkpointWriter.needsSync || this.checkpointSyncTimer !== undefined || this.checkpointSyncing || this.closed) return;
    this.checkpointSyncTimer = setTimeout(() => this.syncCheckpoint(), this.checkpointSyncMs);
    // close() makes the last update durable; the timer alone must not keep the process up.
    this.checkpointSyncTimer.unref();
  }

  /** Makes the buffered checkpoint durable; a failure fails the log as a failed checkpoint write does. */
  private syncCheckpoint(): void {
    this.checkpointSyncTimer = undefined;
    if (this.checkpointSyncing || this.failure) return;
    this.checkpointSyncing = this.checkpointWriter
      .sync()
      .then(
        () => void this.counters.checkpointSyncs++,
        (err: unknown) => this.fail(err, []),
      )
      .finally(() => {
        this.checkpointSyncing = undefined;
        // Updates written while the sync was on its way wait for the next one.
        this.scheduleCheckpointSync();
      });
  }

  /** Renames the live file to the next rotated name and starts an empty one. The checkpoint is unchanged. */
  private async rotateNow(): Promise<void> {
    if (this.currentBytes === 0) return;
    const live = path.join(this.dir, this.fileName);
    await rename(live, path.join(this.dir, rotatedFileName(this.fileName, this.nextRotation)));
    this.nextRotation++;
    const previous = this.fh;
    this.fh = await openLiveFile(live);
    this.currentBytes = 0;
    try {
      await this.dirHandle.sync(); // both names (rename and create) durable before new lines go to the new file
    } finally {
      await previous.close();
    }
    this.counters.rotations++;
  }

  /** Cuts the crash fragment at the end of the live file and records it in a recovery line. */
  private async recover(size: number, fragment: Buffer): Promise<void> {
    await this.fh.truncate(size - fragment.length);
    this.currentBytes = size - fragment.length;
    const text = encodeRecoveryLine(fragment, this.lastSeq + 1, this.lastHash, new Date());
    this.lastSeq++;
    this.lastHash = sha256Hex(text);
    await this.writeDurably(Buffer.from(`${text}\n`));
    await this.checkpoint({ seq: this.lastSeq, hash: this.lastHash });
    this.counters.linesWritten++;
    this.counters.recoveries++;
  }

  private fail(err: unknown, batch: Pending[]): void {
    this.failure ??= new AuditError(
      'AUDIT_WRITE_FAILED',
      `audit log ${path.join(this.dir, this.fileName)} could not be written (${(err as Error).message}); appends are refused until it is reopened`,
      { cause: err },
    );
    this.clearTimer();
    const failure = this.failure;
    for (const p of batch) p.reject(failure);
    // Written but not yet checkpointed, with checkpointBeforeReply: durable, but their appends fail
    // too (over-recording is allowed). Without it they were resolved when written.
    for (const b of this.uncheckpointed.splice(0)) for (const p of b.waiting) p.reject(failure);
    for (const p of this.pending.splice(0)) p.reject(failure);
  }
}

/**
 * The last complete line of the chain: in the live file, else in the newest rotated file that has
 * one (the live file is empty right after a rotation). Undefined for a brand-new log.
 */
async function findChainEnd(
  live: string,
  liveLastLine: Buffer | undefined,
  rotated: ReadonlyArray<{ n: number; path: string }>,
): Promise<ChainEnd | undefined> {
  let file = live;
  let line = liveLastLine;
  for (let i = rotated.length - 1; line === undefined && i >= 0; i--) {
    file = rotated[i]!.path;
    const tail = await readTail(file);
    if (tail.fragment.length > 0) throw new AuditError('AUDIT_PARTIAL_LINE', `${file}: a rotated file ends mid-line; run 'keyless audit verify'`);
    line = tail.lastLine;
  }
  if (line === undefined) return undefined;
  const parsed = parseChainLine(line);
  if ('error' in parsed) throw new AuditError('AUDIT_BAD_LINE', `${file}: the last line is not an audit line (${parsed.error}); run 'keyless audit verify'`);
  return { seq: parsed.seq, hash: sha256Hex(line) };
}

function checkAgainstCheckpoint(end: ChainEnd | undefined, cp: Checkpoint | undefined, cpFile: string): void {
  if (!cp) return;
  const endSeq = end?.seq ?? 0;
  if (endSeq < cp.seq) {
    throw new AuditError(
      'AUDIT_TRUNCATED',
      `the audit log ends at seq ${endSeq} but its checkpoint ${cpFile} records seq ${cp.seq}: lines were removed; run 'keyless audit verify' and keep the directory as evidence`,
    );
  }
  if (end && endSeq === cp.seq && end.hash !== cp.hash) {
    throw new AuditError('AUDIT_HASH_MISMATCH', `the last audit line (seq ${endSeq}) does not match the hash in ${cpFile}: it was altered; run 'keyless audit verify'`);
  }
}

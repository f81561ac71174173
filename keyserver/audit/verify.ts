// `keyless audit verify`: walks the chain line by line (streaming, exact bytes) and reports the
// first bad line, 1-based within its file, and why.
//
// How each kind of tampering shows up, and which line is blamed:
// - a line deleted: the next line's seq skips one (AUDIT_SEQ_BROKEN at the line now in its place);
// - lines swapped: a seq out of order (AUDIT_SEQ_BROKEN at the first of the pair);
// - a line inserted: its successor chains to the line *before* it (AUDIT_INSERTED_LINE at the
//   inserted line), or it repeats a seq already seen (AUDIT_SEQ_BROKEN at it);
// - a field edited: the line's hash no longer matches the `prev` its successor recorded. Whether
//   the line itself or the successor's `prev` was edited is told apart by the following link: if
//   the successor chains correctly onward, the earlier line was edited. The last line is checked
//   against the checkpoint instead (AUDIT_HASH_MISMATCH);
// - lines cut from the end: fewer lines than the checkpoint records (AUDIT_TRUNCATED at the first
//   missing line), or a line cut mid-way (AUDIT_TRUNCATED at it); an unterminated last line *after*
//   the checkpoint is what a crash leaves (AUDIT_PARTIAL_LINE; reopening the log records a recovery
//   marker and the chain verifies again).
// Without a checkpoint, an edit of the very last line and whole-line truncation cannot be detected:
// an unkeyed chain proves only what its later lines and the checkpoint vouch for.
//
// The checkpoint is read before the lines, so verifying a log the key server is still writing does
// not report lines written meanwhile as missing. A crash fragment being written at that moment can
// still show as AUDIT_PARTIAL_LINE; verify a rotated or quiescent log for a definitive answer.
import type { AuditErrorCode } from './audit-error.js';
import { AuditError } from './audit-error.js';
import { resolveChainFiles } from './audit-files.js';
import { GENESIS_PREV, MAX_LINE_BYTES, parseChainLine, sha256Hex } from './audit-line.js';
import type { Checkpoint } from './checkpoint.js';
import { readCheckpoint } from './checkpoint.js';
import { readRawLines } from './line-reader.js';

export type VerifyResult =
  | {
      ok: true;
      /** Lines in the chain, all files together. */
      lines: number;
      /** Hash of the last line (64 zeros for an empty chain): compare it with an off-box copy. */
      lastHash: string;
      /** The files checked, in chain order. */
      files: string[];
      /** Whether the end of the chain was checked against a checkpoint. */
      checkpoint: 'matched' | 'none';
    }
  | { ok: false; file: string; line: number; reason: string; code: AuditErrorCode };

export type VerifyFailure = Extract<VerifyResult, { ok: false }>;

export interface VerifyOptions {
  /**
   * The oldest files were deleted by retention: accept a chain whose first line has any seq and
   * prev. Default false: the chain must start at seq 1 with prev = 64 zeros.
   */
  allowPruned?: boolean;
  /** A checkpoint file to use instead of the one found beside the live file, or false for none. */
  checkpoint?: string | false;
}

/** One line's place in the chain. */
interface Position {
  readonly file: string;
  readonly line: number;
  readonly seq: number;
  readonly hash: string;
}

class Found extends Error {
  constructor(readonly failure: VerifyFailure) {
    super(failure.reason);
  }
}

function found(at: { file: string; line: number }, code: AuditErrorCode, reason: string): Found {
  return new Found({ ok: false, file: at.file, line: at.line, reason, code });
}

/**
 * Verifies the chain in `paths` (files, or one directory; see resolveChainFiles for the order).
 * Throws AuditError AUDIT_NO_FILES when there is nothing to read; everything else is a result.
 */
export async function verifyAuditFiles(paths: string[], options: VerifyOptions = {}): Promise<VerifyResult> {
  const resolved = await resolveChainFiles(paths);
  const checkpointFile = options.checkpoint === false ? undefined : (options.checkpoint ?? resolved.checkpoint);
  let checkpoint: Checkpoint | undefined;
  try {
    checkpoint = checkpointFile === undefined ? undefined : await readCheckpoint(checkpointFile);
  } catch (err) {
    if (err instanceof AuditError) return { ok: false, file: checkpointFile!, line: 1, reason: err.message, code: err.code };
    throw err;
  }
  try {
    const { lines, last } = await walkChain(resolved.files, checkpoint, options.allowPruned ?? false);
    return { ok: true, lines, lastHash: last?.hash ?? GENESIS_PREV, files: resolved.files, checkpoint: checkpoint ? 'matched' : 'none' };
  } catch (err) {
    if (err instanceof Found) return err.failure;
    throw err;
  }
}

async function walkChain(files: readonly string[], checkpoint: Checkpoint | undefined, allowPruned: boolean): Promise<{ lines: number; last: Position | undefined }> {
  let before: Position | undefined; // line n-2
  let last: Position | undefined; // line n-1
  // A broken link between `suspect` and its successor, to be blamed on one of them by the next link.
  let suspect: Position | undefined;
  const blameSuspect = (s: Position): Found =>
    found(s, 'AUDIT_HASH_MISMATCH', `line seq ${s.seq} was altered: its hash does not match the prev recorded by the next line`);

  let total = 0;
  let lineNo = 0;
  for (const [index, file] of files.entries()) {
    lineNo = 0;
    const isLastFile = index === files.length - 1;
    for await (const raw of readRawLines(file)) {
      lineNo++;
      total++;
      const at = { file, line: lineNo };
      const fail = (code: AuditErrorCode, reason: string): Found => (suspect ? blameSuspect(suspect) : found(at, code, reason));

      if (raw.overlong) throw fail('AUDIT_BAD_LINE', `line longer than ${MAX_LINE_BYTES} bytes`);
      if (!raw.terminated) {
        const durableSeq = last?.seq ?? 0;
        if (checkpoint && checkpoint.seq > durableSeq) {
          throw fail('AUDIT_TRUNCATED', `file cut in the middle of a line: the checkpoint records seq ${checkpoint.seq}, the last complete line is seq ${durableSeq}`);
        }
        if (!isLastFile) throw fail('AUDIT_TRUNCATED', 'file cut in the middle of a line, and it is not the newest file');
        throw fail('AUDIT_PARTIAL_LINE', 'incomplete last line (no newline): the writer stopped mid-line, e.g. a crash; reopening the log records a recovery marker');
      }

      const parsed = parseChainLine(raw.bytes);
      if ('error' in parsed) throw fail('AUDIT_BAD_LINE', `not an audit line: ${parsed.error}`);
      const cur: Position = { file, line: lineNo, seq: parsed.seq, hash: sha256Hex(raw.bytes) };

      const expectedSeq = last ? last.seq + 1 : allowPruned ? parsed.seq : 1;
      if (parsed.seq !== expectedSeq) {
        if (suspect) throw blameSuspect(suspect);
        if (last && cur.hash === last.hash) throw found(at, 'AUDIT_INSERTED_LINE', 'an exact copy of the previous line');
        if (before && last && parsed.seq === before.seq + 1 && parsed.prev === before.hash) {
          throw found(last, 'AUDIT_INSERTED_LINE', `not part of the chain: the next line (seq ${parsed.seq}) follows the line before this one`);
        }
        const what = parsed.seq > expectedSeq ? 'lines missing or out of order' : 'a repeated or out-of-order line';
        throw found(at, 'AUDIT_SEQ_BROKEN', `expected seq ${expectedSeq}, found ${parsed.seq} (${what})`);
      }

      if (suspect) {
        // The link into `last` was broken. If `last` chains on to this line, its bytes are what
        // this line recorded, so the line before it was edited; otherwise `last` itself was.
        if (parsed.prev === last!.hash) throw blameSuspect(suspect);
        throw found(last!, 'AUDIT_HASH_MISMATCH', `line seq ${last!.seq} was altered: its prev does not match the line before it, and its hash does not match the prev of the line after it`);
      }
      const expectedPrev = last ? last.hash : allowPruned ? parsed.prev : GENESIS_PREV;
      const linkBroken = parsed.prev !== expectedPrev;
      if (linkBroken && !last) throw found(at, 'AUDIT_HASH_MISMATCH', 'the first line of a chain must have prev = 64 zeros (use --allow-pruned if older files were removed)');

      if (checkpoint && parsed.seq === checkpoint.seq) {
        const matches = cur.hash === checkpoint.hash;
        if (linkBroken) throw matches ? blameSuspect(last!) : found(at, 'AUDIT_HASH_MISMATCH', `line seq ${cur.seq} was altered: it matches neither the line before it nor the checkpoint`);
        if (!matches) throw found(at, 'AUDIT_HASH_MISMATCH', `line seq ${cur.seq} was altered: its hash does not match the checkpoint`);
      }
      if (linkBroken) suspect = last;

      before = last;
      last = cur;
    }
  }

  // Nothing after the broken link to tell which side was edited: blame the earlier line.
  if (suspect) throw blameSuspect(suspect);
  if (checkpoint && (last?.seq ?? 0) < checkpoint.seq) {
    const missing = checkpoint.seq - (last?.seq ?? 0);
    throw found(
      { file: files[files.length - 1]!, line: lineNo + 1 },
      'AUDIT_TRUNCATED',
      `${missing} line(s) missing at the end: the checkpoint records seq ${checkpoint.seq}, the chain ends at seq ${last?.seq ?? 0}`,
    );
  }
  return { lines: total, last };
}

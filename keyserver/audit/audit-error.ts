// Errors of the audit log: the writer's refusals and the verifier's findings share one set of
// stable codes, so `keyless audit verify` and the key server's logs speak the same language.
export type AuditErrorCode =
  /** A write, fsync, rename or checkpoint update failed; the log refuses appends until reopened. */
  | 'AUDIT_WRITE_FAILED'
  /** append() or rotate() after close(). */
  | 'AUDIT_CLOSED'
  /** An entry that cannot be recorded (non-finite latency, unknown decision, line over the size cap). */
  | 'AUDIT_BAD_ENTRY'
  /** No audit files where some were expected (verify/summary input, or all files gone but a checkpoint left). */
  | 'AUDIT_NO_FILES'
  /** A line that is not JSON, or not a well-formed audit or recovery line. */
  | 'AUDIT_BAD_LINE'
  /** The last line of a file has no newline and is beyond the checkpoint: a crash cut it (recovered on reopen). */
  | 'AUDIT_PARTIAL_LINE'
  /** Lines recorded by the checkpoint are missing (whole lines deleted from the end, or cut mid-line). */
  | 'AUDIT_TRUNCATED'
  /** A seq that is not the previous seq + 1: a line deleted, or lines reordered. */
  | 'AUDIT_SEQ_BROKEN'
  /** A line that is not part of the chain: the line after it chains to the line before it. */
  | 'AUDIT_INSERTED_LINE'
  /** A line whose bytes do not hash to the `prev` its successor (or the checkpoint) recorded: it was edited. */
  | 'AUDIT_HASH_MISMATCH'
  /** The checkpoint file is unreadable or malformed. */
  | 'AUDIT_CHECKPOINT_INVALID';

export class AuditError extends Error {
  constructor(
    readonly code: AuditErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AuditError';
  }
}

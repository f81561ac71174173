// What one audit line holds, how it is encoded, and how a line read back is checked for shape.
// A line is one JSON object, UTF-8, no newline inside (JSON.stringify escapes control
// characters), terminated by "\n". `prev` is the SHA-256 of the previous line's exact bytes
// without its newline, so the lines form a hash chain; the first line of a chain has 64 zeros.
//
// There is deliberately no field for a transcript hash, a digest, signature bytes or key
// material, and the encoder copies the known fields one by one, so an object carrying more
// (say, a request with its signature attached) still cannot leak into the log.
import { hash } from 'node:crypto';
import { AuditError } from './audit-error.js';

export const GENESIS_PREV = '0'.repeat(64);

/** Longest line the writer produces and the readers accept; a certificate with hundreds of SANs fits. */
export const MAX_LINE_BYTES = 64 * 1024;

export type Decision = 'allowed' | 'denied' | 'failed';

/** 'unknown' is recorded when a request was refused before its operation could be read. */
export type AuditOperation = 'tls13-certificate-verify' | 'tls12-server-key-exchange' | 'raw-digest' | 'list-keys' | 'unknown';

export interface AuditIdentity {
  /** Certificate subject as one line, e.g. "CN=edge-1,O=Keyless". */
  subject: string;
  /** subjectAltName entries as Node prints them: "URI:spiffe://...", "DNS:...". */
  sans: readonly string[];
  /** SHA-256 of the client certificate DER, lowercase hex. */
  fingerprint: string;
}

/** What the key server supplies for one decision. */
export interface AuditEntry {
  decision: Decision;
  /** The verified client certificate, or null when there was none. */
  identity: AuditIdentity | null;
  /** The edge's address, "ip:port". */
  peer: string;
  keyId: string;
  /** Signature scheme name, e.g. 'ecdsa_secp256r1_sha256'; '' when not applicable. */
  scheme: string;
  operation: AuditOperation;
  sni: string;
  clientIp: string;
  requestId: string;
  latencyMs: number;
  /** Stable error code name: 'OK', 'NOT_ALLOWED', 'KEY_NOT_FOUND', 'RATE_LIMITED', ... */
  outcome: string;
  reason?: string;
}

/** What is written for a decision: the entry plus its place in the chain. */
export interface AuditLine extends AuditEntry {
  /** ISO 8601 UTC with milliseconds. */
  time: string;
  /** 1 for the first line of a chain, +1 per line, across rotated files. */
  seq: number;
  /** Hex SHA-256 of the previous line's bytes (without its newline); 64 zeros for the first line. */
  prev: string;
}

/**
 * Written when the log is reopened after a crash left an unterminated fragment at the end of the
 * newest file. The fragment was never acknowledged (its append had not resolved, so no signature
 * went out for it); it is cut from the file and kept here, base64, so nothing disappears silently.
 */
export interface RecoveryLine {
  time: string;
  seq: number;
  event: 'recovery';
  reason: string;
  discardedBytes: number;
  discardedSha256: string;
  discardedBase64: string;
  prev: string;
}

export type ChainLine = AuditLine | RecoveryLine;

export function isRecoveryLine(line: ChainLine): line is RecoveryLine {
  return (line as RecoveryLine).event === 'recovery';
}

export function sha256Hex(bytes: Buffer | string): string {
  // The one-shot hash (Node ≥ 20.12) costs half of createHash().update().digest() for a line.
  return hash('sha256', bytes, 'hex');
}

const DECISIONS: ReadonlySet<string> = new Set<Decision>(['allowed', 'denied', 'failed']);
const OPERATIONS: ReadonlySet<string> = new Set<AuditOperation>(['tls13-certificate-verify', 'tls12-server-key-exchange', 'raw-digest', 'list-keys', 'unknown']);
const HEX64 = /^[0-9a-f]{64}$/;

function badEntry(message: string): AuditError {
  return new AuditError('AUDIT_BAD_ENTRY', message);
}

function requireString(value: unknown, field: string): string {
  if (typeof value !== 'string') throw badEntry(`${field} must be a string`);
  return value;
}

/**
 * The line for `entry` at position (seq, prev), without the newline. Field order is fixed so the
 * bytes (and therefore the chain) do not depend on how the caller built its object.
 */
export function encodeAuditLine(entry: AuditEntry, seq: number, prev: string, time: Date): string {
  if (!DECISIONS.has(entry.decision)) throw badEntry(`decision must be allowed, denied or failed, not ${String(entry.decision)}`);
  if (!OPERATIONS.has(entry.operation)) throw badEntry(`unknown operation ${String(entry.operation)}`);
  if (typeof entry.latencyMs !== 'number' || !Number.isFinite(entry.latencyMs)) throw badEntry('latencyMs must be a finite number');
  let identity: AuditIdentity | null = null;
  if (entry.identity !== null) {
    const id = entry.identity;
    if (!Array.isArray(id.sans)) throw badEntry('identity.sans must be an array of strings');
    identity = {
      subject: requireString(id.subject, 'identity.subject'),
      sans: id.sans.map((s, i) => requireString(s, `identity.sans[${i}]`)),
      fingerprint: requireString(id.fingerprint, 'identity.fingerprint'),
    };
  }
  const line: AuditLine = {
    time: time.toISOString(),
    seq,
    decision: entry.decision,
    identity,
    peer: requireString(entry.peer, 'peer'),
    keyId: requireString(entry.keyId, 'keyId'),
    scheme: requireString(entry.scheme, 'scheme'),
    operation: entry.operation,
    sni: requireString(entry.sni, 'sni'),
    clientIp: requireString(entry.clientIp, 'clientIp'),
    requestId: requireString(entry.requestId, 'requestId'),
    latencyMs: entry.latencyMs,
    outcome: requireString(entry.outcome, 'outcome'),
    ...(entry.reason !== undefined ? { reason: requireString(entry.reason, 'reason') } : {}),
    prev,
  };
  const text = JSON.stringify(line);
  if (Buffer.byteLength(text) > MAX_LINE_BYTES) throw badEntry(`line would be longer than ${MAX_LINE_BYTES} bytes`);
  return text;
}

export function encodeRecoveryLine(fragment: Buffer, seq: number, prev: string, time: Date): string {
  const line: RecoveryLine = {
    time: time.toISOString(),
    seq,
    event: 'recovery',
    reason: 'the previous run stopped in the middle of writing a line; the unacknowledged fragment was cut and is kept here',
    discardedBytes: fragment.length,
    discardedSha256: sha256Hex(fragment),
    discardedBase64: fragment.toString('base64'),
    prev,
  };
  return JSON.stringify(line);
}

/** Checks the shape of a line read back; the chain itself is the verifier's job. */
export function parseChainLine(bytes: Buffer): ChainLine | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { error: 'not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: 'not a JSON object' };
  const o = value as Record<string, unknown>;
  if (typeof o.seq !== 'number' || !Number.isSafeInteger(o.seq) || o.seq < 1) return { error: 'seq is not a positive integer' };
  if (typeof o.prev !== 'string' || !HEX64.test(o.prev)) return { error: 'prev is not 64 lowercase hex digits' };
  if (typeof o.time !== 'string' || Number.isNaN(Date.parse(o.time))) return { error: 'time is not an ISO 8601 timestamp' };
  if ('event' in o) {
    if (o.event !== 'recovery') return { error: `unknown event ${JSON.stringify(o.event)}` };
    if (typeof o.discardedBase64 !== 'string' || typeof o.discardedSha256 !== 'string' || typeof o.discardedBytes !== 'number') {
      return { error: 'recovery line without its discarded fragment' };
    }
    const fragment = Buffer.from(o.discardedBase64, 'base64');
    if (fragment.length !== o.discardedBytes || sha256Hex(fragment) !== o.discardedSha256) {
      return { error: 'recovery line whose discarded fragment does not match its recorded size and hash' };
    }
    return o as unknown as RecoveryLine;
  }
  if (typeof o.decision !== 'string' || !DECISIONS.has(o.decision)) return { error: 'decision is not allowed, denied or failed' };
  if (typeof o.operation !== 'string' || !OPERATIONS.has(o.operation)) return { error: 'operation is not a known operation' };
  if (typeof o.outcome !== 'string' || typeof o.keyId !== 'string' || typeof o.requestId !== 'string') {
    return { error: 'outcome, keyId or requestId missing' };
  }
  const id = o.identity;
  if (id !== null && (typeof id !== 'object' || !Array.isArray((id as AuditIdentity).sans) || typeof (id as AuditIdentity).subject !== 'string')) {
    return { error: 'identity is neither null nor {subject, sans, fingerprint}' };
  }
  return o as unknown as AuditLine;
}

// One sign request from receipt to response, independent of the transport (unary Sign and each
// item of SignStream both come here). Order of checks: who is calling, is the request well
// formed, does the key exist, may this edge use it for this operation, is the edge within its
// rate, can the key produce the scheme, is there still time; then sign, then write the audit
// line durably, and only then return the signature. "Who is calling" includes "is the caller's
// certificate still valid": TLS checked it at the handshake, and a connection can outlive it.
import { hashLength, schemeInfo, schemeName } from '../common/signature-scheme.js';
import type { SignatureScheme } from '../common/signature-scheme.js';
import type { ErrorCode, SignRequestMessage, SignResponseMessage } from '../proto/load.js';
import { AbortedWhileQueuedError, OverloadedError } from './concurrency-limit.js';
import type { ConcurrencyLimit } from './concurrency-limit.js';
import type { OperationName } from './config.js';
import type { EdgeIdentity } from './identity.js';
import { certificateValidityProblem } from './identity.js';
import type { KeyServerMetrics } from './metrics.js';
import type { Policy } from './policy.js';
import type { RateLimiter } from './rate-limiter.js';
import { tls12ServerKeyExchangeInput, tls13ServerCertificateVerifyInput } from './signing-input.js';
import { KeyStoreError } from './keystore/key-store.js';
import type { KeyStore, KeyStoreErrorCode, SigningKey } from './keystore/key-store.js';

export type Decision = 'allowed' | 'denied' | 'failed';

/** What the key server records about one decision. Never a transcript hash, a digest or a signature. */
export interface AuditDecision {
  decision: Decision;
  identity: EdgeIdentity | null;
  peer: string;
  keyId: string;
  scheme: string;
  operation: OperationName | 'list-keys' | 'unknown';
  sni: string;
  clientIp: string;
  requestId: string;
  latencyMs: number;
  outcome: ErrorCode;
  reason?: string;
}

export interface AuditSink {
  /** Resolves once the line is durably on disk; rejects when it could not be written. */
  append(decision: AuditDecision): Promise<void>;
}

export interface LoadedStore {
  readonly store: KeyStore;
  readonly limit: ConcurrencyLimit;
}

/** Everything a request needs from one configuration generation; a reload builds a new one. */
export interface PipelineState {
  readonly policy: Policy;
  readonly findKey: (keyId: string) => { key: SigningKey; store: LoadedStore } | undefined;
}

export interface PipelineDeps {
  readonly audit: AuditSink;
  readonly rateLimiter: RateLimiter;
  readonly metrics: KeyServerMetrics;
}

export interface CallContext {
  readonly identity: EdgeIdentity | null;
  /** The edge's address, "ip:port". */
  readonly peer: string;
  /** performance.now() value after which the request must not be signed. */
  readonly deadlineAt: number;
  /**
   * Aborted when the caller cancels (the call or the whole stream), or when the transport ends the
   * call because its deadline passed: then the abort reason is a DeadlinePassed.
   */
  readonly cancelled: AbortSignal;
}

/** The abort reason of CallContext.cancelled when the call ended because its own deadline passed. */
export class DeadlinePassed extends Error {
  constructor() {
    super('the call deadline passed');
    this.name = 'DeadlinePassed';
  }
}

/** What an aborted (or timed out) request is refused as: the caller went away, or its deadline passed. */
function abortOutcome(ctx: CallContext): 'CANCELLED' | 'DEADLINE_EXCEEDED' {
  return ctx.cancelled.aborted && !(ctx.cancelled.reason instanceof DeadlinePassed) ? 'CANCELLED' : 'DEADLINE_EXCEEDED';
}

const DENIED: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'KEY_NOT_FOUND',
  'NOT_ALLOWED',
  'UNSUPPORTED_SCHEME',
  'BAD_REQUEST',
  'RATE_LIMITED',
  'UNAUTHENTICATED',
]);

export function decisionFor(outcome: ErrorCode): Decision {
  if (outcome === 'OK') return 'allowed';
  return DENIED.has(outcome) ? 'denied' : 'failed';
}

class Refusal {
  constructor(
    readonly outcome: ErrorCode,
    readonly reason: string,
  ) {}
}

const OPERATION_BY_INPUT = {
  tls13_certificate_verify: 'tls13-certificate-verify',
  tls12_server_key_exchange: 'tls12-server-key-exchange',
  raw_digest: 'raw-digest',
} as const satisfies Record<NonNullable<SignRequestMessage['input']>, OperationName>;

/** The bytes to sign (or the digest), built here from the handshake parts, never taken from the caller. */
function signingPayload(req: SignRequestMessage, scheme: SignatureScheme): Buffer {
  const info = schemeInfo(scheme);
  if (!info) throw new Refusal('UNSUPPORTED_SCHEME', `unknown SignatureScheme 0x${scheme.toString(16)}`);
  switch (req.input) {
    case 'tls13_certificate_verify': {
      // RFC 8446 §4.2.3: RSASSA-PKCS1-v1_5 is not allowed for TLS 1.3 handshake signatures.
      if (!info.allowedInTls13) throw new Refusal('UNSUPPORTED_SCHEME', `${info.name} is not allowed in TLS 1.3 CertificateVerify`);
      return tls13ServerCertificateVerifyInput(req.tls13_certificate_verify!.transcript_hash);
    }
    case 'tls12_server_key_exchange': {
      const p = req.tls12_server_key_exchange!;
      return tls12ServerKeyExchangeInput(p.client_random, p.server_random, p.params);
    }
    case 'raw_digest': {
      const digest = req.raw_digest!.digest;
      if (info.hash === null) throw new Refusal('UNSUPPORTED_SCHEME', `${info.name} signs messages, not digests`);
      if (digest.length !== hashLength(info.hash)) {
        throw new Refusal('BAD_REQUEST', `digest is ${digest.length} bytes; ${info.name} needs ${hashLength(info.hash)}`);
      }
      return digest;
    }
    default:
      throw new Refusal('BAD_REQUEST', 'the request names no operation');
  }
}

/** Bounds on what a caller may send (longer: BAD_REQUEST, audited with the field cut short). */
const MAX_REQUEST_ID = 128;
const MAX_SNI = 253;
/** An IPv6 address with a zone, or an IPv4-mapped one, fits. */
const MAX_CLIENT_IP = 64;
/** The most of any caller-supplied field an audit line carries. */
const AUDIT_FIELD_MAX = 256;

/** `value`, or its first `max` characters and how many were cut. */
function forAudit(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max)}…[${value.length - max} more characters]`;
}

/** A scheme's name for metrics labels: only the schemes we know, so that callers cannot mint label values. */
function schemeLabel(scheme: SignatureScheme): string {
  return schemeInfo(scheme) ? schemeName(scheme) : 'unknown';
}

function isInputError(err: unknown): err is Error & { code: string } {
  const code = (err as { code?: unknown }).code;
  return err instanceof Error && typeof code === 'string' && code.startsWith('SIGNING_INPUT_');
}

/** Key-store errors that are not failures: the store declined to sign, and nothing was signed. */
const STORE_REFUSALS = {
  KEYSTORE_DEADLINE: 'DEADLINE_EXCEEDED',
  KEYSTORE_CANCELLED: 'CANCELLED',
  KEYSTORE_OVERLOADED: 'OVERLOADED',
  KEYSTORE_UNSUPPORTED: 'UNSUPPORTED_SCHEME',
} as const satisfies Partial<Record<KeyStoreErrorCode, ErrorCode>>;

function isStoreRefusal(err: unknown): err is KeyStoreError & { code: keyof typeof STORE_REFUSALS } {
  return err instanceof KeyStoreError && Object.hasOwn(STORE_REFUSALS, err.code);
}

export async function handleSign(
  state: PipelineState,
  deps: PipelineDeps,
  ctx: CallContext,
  req: SignRequestMessage,
): Promise<SignResponseMessage> {
  const started = performance.now();
  const operation: AuditDecision['operation'] = req.input ? OPERATION_BY_INPUT[req.input] : 'unknown';
  const scheme = req.scheme as SignatureScheme;
  let outcome: ErrorCode = 'OK';
  let reason: string | undefined;
  let signature: Buffer | undefined;
  // Metrics label only for keys that exist: an edge must not be able to mint label values.
  let keyLabel = 'unknown';

  try {
    if (!ctx.identity) throw new Refusal('UNAUTHENTICATED', 'no verified client certificate');
    const identity = ctx.identity;
    const invalid = certificateValidityProblem(identity, Date.now());
    if (invalid !== undefined) throw new Refusal('UNAUTHENTICATED', invalid);
    if (!/^[0-9a-f]{64}$/.test(req.key_id)) throw new Refusal('BAD_REQUEST', 'key_id must be 64 lowercase hex characters');
    if (req.request_id.length > MAX_REQUEST_ID) throw new Refusal('BAD_REQUEST', `request_id longer than ${MAX_REQUEST_ID} characters`);
    // RFC 6066 §3: a host_name is at most 2^16-1 bytes on the wire, but a DNS name is at most 253 characters.
    if (req.sni.length > MAX_SNI) throw new Refusal('BAD_REQUEST', `sni longer than ${MAX_SNI} characters`);
    if (req.client_ip.length > MAX_CLIENT_IP) throw new Refusal('BAD_REQUEST', `client_ip longer than ${MAX_CLIENT_IP} characters`);
    if (operation === 'unknown') throw new Refusal('BAD_REQUEST', 'the request names no operation');
    if (state.policy.rulesFor(ctx.identity).length === 0) throw new Refusal('NOT_ALLOWED', 'no policy rule names this edge');
    const found = state.findKey(req.key_id);
    if (!found) throw new Refusal('KEY_NOT_FOUND', 'no key with this id');
    const { key, store } = found;
    keyLabel = key.keyId.slice(0, 16);
    if (!state.policy.allows(ctx.identity, key, operation)) {
      throw new Refusal('NOT_ALLOWED', `policy does not allow ${operation} with this key for this edge`);
    }
    const limit = state.policy.rateLimitFor(ctx.identity);
    if (limit && !deps.rateLimiter.take(ctx.identity.name, limit)) throw new Refusal('RATE_LIMITED', 'rate limit exceeded');
    if (!key.schemes.includes(scheme)) throw new Refusal('UNSUPPORTED_SCHEME', `this key cannot produce ${schemeLabel(scheme)}`);
    if (operation === 'raw-digest' && !key.digestSchemes.includes(scheme)) {
      throw new Refusal('UNSUPPORTED_SCHEME', `this key store cannot sign a precomputed digest with ${schemeLabel(scheme)}`);
    }
    let payload: Buffer;
    try {
      payload = signingPayload(req, scheme);
    } catch (err) {
      if (isInputError(err)) throw new Refusal('BAD_REQUEST', err.message);
      throw err;
    }
    signature = await store.limit.run(
      async () => {
        // A request whose deadline passed or whose caller went away is never signed, nor one whose
        // certificate expired while it waited.
        if (ctx.cancelled.aborted) {
          const outcome = abortOutcome(ctx);
          throw new Refusal(outcome, outcome === 'CANCELLED' ? 'the caller cancelled' : 'deadline passed before signing');
        }
        if (performance.now() >= ctx.deadlineAt) throw new Refusal('DEADLINE_EXCEEDED', 'deadline passed before signing');
        const expired = certificateValidityProblem(identity, Date.now());
        if (expired !== undefined) throw new Refusal('UNAUTHENTICATED', expired);
        // The store checks both again at the moment it uses the key (a signing thread may be busy).
        const guard = { deadlineAt: ctx.deadlineAt, signal: ctx.cancelled };
        return operation === 'raw-digest' ? key.signDigest(scheme, payload, guard) : key.sign(scheme, payload, guard);
      },
      () => AbortSignal.any([ctx.cancelled, AbortSignal.timeout(Math.max(0, Math.ceil(ctx.deadlineAt - performance.now())))]),
    );
  } catch (err) {
    signature = undefined;
    if (err instanceof Refusal) {
      outcome = err.outcome;
      reason = err.reason;
    } else if (err instanceof OverloadedError) {
      outcome = 'OVERLOADED';
      reason = err.message;
    } else if (err instanceof AbortedWhileQueuedError) {
      outcome = abortOutcome(ctx);
      reason = 'gave up waiting for a signing slot';
    } else if (isStoreRefusal(err)) {
      outcome = err.code === 'KEYSTORE_CANCELLED' && ctx.cancelled.reason instanceof DeadlinePassed ? 'DEADLINE_EXCEEDED' : STORE_REFUSALS[err.code];
      reason = err.message;
    } else {
      outcome = 'INTERNAL';
      // Key-store errors carry a stable code and a message without secrets.
      const code = (err as { code?: unknown }).code;
      reason = `${typeof code === 'string' ? code : 'ERROR'}: ${(err as Error).message}`;
    }
  }

  return finish(deps, ctx, req, { started, operation, scheme, keyLabel, outcome, reason, signature });
}

/** Refuses a request without looking at it further (e.g. a stream over its in-flight bound); audited like any other. */
export function refuseSign(
  deps: PipelineDeps,
  ctx: CallContext,
  req: SignRequestMessage,
  outcome: ErrorCode,
  reason: string,
): Promise<SignResponseMessage> {
  const operation: AuditDecision['operation'] = req.input ? OPERATION_BY_INPUT[req.input] : 'unknown';
  const scheme = req.scheme as SignatureScheme;
  return finish(deps, ctx, req, { started: performance.now(), operation, scheme, keyLabel: 'unknown', outcome, reason, signature: undefined });
}

interface Result {
  started: number;
  operation: AuditDecision['operation'];
  scheme: SignatureScheme;
  keyLabel: string;
  outcome: ErrorCode;
  reason: string | undefined;
  signature: Buffer | undefined;
}

/** Writes the audit line (durably), counts the outcome, and only then releases the signature. */
async function finish(deps: PipelineDeps, ctx: CallContext, req: SignRequestMessage, r: Result): Promise<SignResponseMessage> {
  const { started, operation, scheme, keyLabel } = r;
  let { outcome, reason, signature } = r;
  const latencyMs = performance.now() - started;
  const decision = decisionFor(outcome);
  try {
    await deps.audit.append({
      decision,
      identity: ctx.identity,
      peer: ctx.peer,
      // What the caller sent, cut to a bound, so that every decision has its line, even a
      // refusal of a request whose fields are too long (the line itself has a size limit).
      keyId: forAudit(req.key_id, AUDIT_FIELD_MAX),
      scheme: schemeName(scheme),
      operation,
      sni: forAudit(req.sni, AUDIT_FIELD_MAX),
      clientIp: forAudit(req.client_ip, AUDIT_FIELD_MAX),
      requestId: forAudit(req.request_id, AUDIT_FIELD_MAX),
      latencyMs: Math.round(latencyMs * 1000) / 1000,
      outcome,
      ...(reason !== undefined ? { reason } : {}),
    });
  } catch {
    // No durable audit line, no signature.
    deps.metrics.auditFailures.inc();
    signature = undefined;
    outcome = 'INTERNAL';
    reason = 'audit log unavailable';
  }

  deps.metrics.operations.inc({
    key: keyLabel,
    scheme: schemeLabel(scheme),
    identity: ctx.identity?.name ?? 'unauthenticated',
    operation,
    outcome,
  });
  if (outcome === 'OK') deps.metrics.signSeconds.observe({ scheme: schemeLabel(scheme) }, (performance.now() - started) / 1000);

  return { request_id: req.request_id, signature: signature ?? Buffer.alloc(0), error: outcome, message: reason ?? '' };
}

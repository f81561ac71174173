// The gRPC handlers: turn calls into CallContexts and hand each request to the sign pipeline.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type {
  ListKeysResponseMessage,
  OperationEnum,
  SignBatchMessage,
  SignRequestMessage,
  SignResponseMessage,
  SignResultBatchMessage,
} from '../proto/load.js';
import type { OperationName } from './config.js';
import type { EdgeIdentity } from './identity.js';
import { certificateValidityProblem, IdentityCache } from './identity.js';
import type { CallContext, PipelineDeps, PipelineState } from './sign-pipeline.js';
import { DeadlinePassed, handleSign, refuseSign } from './sign-pipeline.js';
import type { SigningKey } from './keystore/key-store.js';

export interface ServiceLimits {
  readonly defaultDeadlineMs: number;
  readonly maxStreamInFlight: number;
  readonly maxBatchSize: number;
}

/** What the handlers need from the server; `acquire` pins one config generation for a request. */
export interface ServiceHost {
  acquire(): { state: PipelineState & { listKeys(): readonly SigningKey[] }; limits: ServiceLimits; release(): void };
  readonly deps: PipelineDeps;
  readonly log: Logger;
}

const OPERATION_ENUM: Record<OperationName, OperationEnum> = {
  'tls13-certificate-verify': 'TLS13_SERVER_CERTIFICATE_VERIFY',
  'tls12-server-key-exchange': 'TLS12_SERVER_KEY_EXCHANGE',
  'raw-digest': 'RAW_DIGEST',
};

interface AuthenticatedCall {
  getAuthContext(): { sslPeerCertificate?: import('node:tls').PeerCertificate };
  getPeer(): string;
  getDeadline(): grpc.Deadline;
}

/**
 * The edge's identity, from the certificate the TLS layer verified against the edge CA (at the
 * handshake: whether it is still valid is checked per request, see certificateValidityProblem).
 */
function callerIdentity(identities: IdentityCache, call: AuthenticatedCall): EdgeIdentity | null {
  const cert = call.getAuthContext().sslPeerCertificate;
  return cert?.raw ? identities.fromPeerCertificate(cert) : null;
}

/**
 * How close to its deadline a call's end counts as its deadline passing. The client's deadline
 * timer fires at the same moment as ours (the grpc-timeout header rounds up), so its RST_STREAM can
 * arrive a moment before our own deadline; either way the call ended because time ran out.
 */
const DEADLINE_CANCEL_SLACK_MS = 20;

/**
 * Aborts `controller` when the call ends before we answer: with DeadlinePassed when the call's
 * deadline is (about) due (grpc-js ends a call whose deadline passes as "cancelled" too), else as
 * a cancellation by the caller.
 */
function abortWhenCallEnds(call: AuthenticatedCall & { on(event: 'cancelled', listener: () => void): unknown }, controller: AbortController): void {
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  call.on('cancelled', () => {
    if (Number.isFinite(deadlineMs) && Date.now() >= deadlineMs - DEADLINE_CANCEL_SLACK_MS) controller.abort(new DeadlinePassed());
    else controller.abort();
  });
}

/** gRPC deadlines are wall-clock; the pipeline works on the monotonic clock. */
function deadlineFromCall(deadline: grpc.Deadline, defaultMs: number): number {
  const now = performance.now();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  if (!Number.isFinite(ms)) return now + defaultMs;
  return now + (ms - Date.now());
}

export function createKeyServiceHandlers(host: ServiceHost): grpc.UntypedServiceImplementation {
  const identities = new IdentityCache();
  return {
    Sign(call: grpc.ServerUnaryCall<SignRequestMessage, SignResponseMessage>, callback: grpc.sendUnaryData<SignResponseMessage>) {
      const { state, limits, release } = host.acquire();
      const cancelled = new AbortController();
      abortWhenCallEnds(call, cancelled);
      const ctx: CallContext = {
        identity: callerIdentity(identities, call),
        peer: call.getPeer(),
        deadlineAt: deadlineFromCall(call.getDeadline(), limits.defaultDeadlineMs),
        cancelled: cancelled.signal,
      };
      handleSign(state, host.deps, ctx, call.request)
        .then((response) => callback(null, response))
        .catch((err: unknown) => {
          host.log.error({ err }, 'sign handler failed');
          callback({ code: grpc.status.INTERNAL, details: 'internal error' });
        })
        .finally(release);
    },

    SignStream(call: grpc.ServerDuplexStream<SignBatchMessage, SignResultBatchMessage>) {
      const identity = callerIdentity(identities, call);
      const peer = call.getPeer();
      const cancelled = new AbortController();
      let inFlight = 0;
      let ended = false;
      let pending: SignResponseMessage[] = [];
      let flushScheduled = false;
      let closed = false;
      const maybeEnd = (): void => {
        if (closed || !ended || inFlight > 0 || pending.length > 0) return;
        closed = true;
        call.end();
      };

      // Results finishing in the same turn of the event loop go out in one message.
      const flush = (): void => {
        flushScheduled = false;
        if (pending.length === 0 || cancelled.signal.aborted) return;
        const results = pending;
        pending = [];
        call.write({ results });
        maybeEnd();
      };
      const deliver = (response: SignResponseMessage): void => {
        pending.push(response);
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flush);
        }
      };

      abortWhenCallEnds(call, cancelled);
      call.on('error', () => cancelled.abort());
      call.on('data', (batch: SignBatchMessage) => {
        const { state, limits, release } = host.acquire();
        try {
          if (batch.requests.length > limits.maxBatchSize) {
            host.log.warn({ peer, identity: identity?.name, size: batch.requests.length }, 'SignStream batch too large; stream closed');
            // One decision, one audit line: the batch is refused as a whole, named by its first
            // request (a 4 MiB message can hold two million empty requests: a line for each
            // would let one message write hundreds of megabytes of audit log).
            const first = batch.requests[0]!;
            const ctx: CallContext = { identity, peer, deadlineAt: performance.now(), cancelled: cancelled.signal };
            refuseSign(host.deps, ctx, first, 'BAD_REQUEST', `a SignStream batch of ${batch.requests.length} requests (at most ${limits.maxBatchSize}), refused whole; the stream was closed`).catch(() => undefined);
            cancelled.abort();
            call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: `at most ${limits.maxBatchSize} requests per batch` });
            return;
          }
          const now = performance.now();
          for (const req of batch.requests) {
            const ctx: CallContext = {
              identity,
              peer,
              deadlineAt: now + (req.deadline_ms > 0 ? req.deadline_ms : limits.defaultDeadlineMs),
              cancelled: cancelled.signal,
            };
            if (inFlight >= limits.maxStreamInFlight) {
              inFlight++;
              refuseSign(host.deps, ctx, req, 'OVERLOADED', `more than ${limits.maxStreamInFlight} requests in flight on this stream`)
                .then(deliver, () => undefined)
                .finally(() => {
                  inFlight--;
                  maybeEnd();
                });
              continue;
            }
            inFlight++;
            handleSign(state, host.deps, ctx, req)
              .then(deliver, (err: unknown) => {
                host.log.error({ err }, 'sign handler failed');
                deliver({ request_id: req.request_id, signature: Buffer.alloc(0), error: 'INTERNAL', message: 'internal error' });
              })
              .finally(() => {
                inFlight--;
                maybeEnd();
              });
          }
        } finally {
          release();
        }
      });
      call.on('end', () => {
        ended = true;
        maybeEnd();
      });
    },

    ListKeys(call: grpc.ServerUnaryCall<unknown, ListKeysResponseMessage>, callback: grpc.sendUnaryData<ListKeysResponseMessage>) {
      const { state, release } = host.acquire();
      const started = performance.now();
      const caller = callerIdentity(identities, call);
      // An expired certificate authenticates nobody, here as in Sign; the audit line still names it.
      const refusal = caller ? certificateValidityProblem(caller, Date.now()) : 'no verified client certificate';
      const identity = refusal === undefined ? caller : null;
      const keys = identity
        ? state
            .listKeys()
            // Only what the key can do as well as what the policy allows: no RAW_DIGEST for a key whose store cannot sign digests.
            .map((key) => ({ key, ops: [...state.policy.operationsFor(identity, key)].filter((op) => op !== 'raw-digest' || key.digestSchemes.length > 0) }))
            .filter(({ ops }) => ops.length > 0)
            .map(({ key, ops }) => ({
              key_id: key.keyId,
              algorithm: key.algorithm,
              schemes: [...key.schemes],
              hostnames: [...(key.hostnames ?? [])],
              operations: ops.map((op) => OPERATION_ENUM[op]),
            }))
        : [];
      host.deps.audit
        .append({
          decision: identity ? 'allowed' : 'denied',
          identity: caller,
          peer: call.getPeer(),
          keyId: '',
          scheme: '',
          operation: 'list-keys',
          sni: '',
          clientIp: '',
          requestId: '',
          latencyMs: Math.round((performance.now() - started) * 1000) / 1000,
          outcome: identity ? 'OK' : 'UNAUTHENTICATED',
          reason: refusal ?? `${keys.length} keys listed`,
        })
        .then(
          () => (identity ? callback(null, { keys }) : callback({ code: grpc.status.UNAUTHENTICATED, details: refusal ?? 'unauthenticated' })),
          () => callback({ code: grpc.status.INTERNAL, details: 'audit log unavailable' }),
        )
        .finally(release);
    },
  };
}

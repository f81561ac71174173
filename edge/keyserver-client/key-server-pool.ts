// The edge's client for its key servers: one channel and one multiplexed SignStream per server,
// health checks, least-pending choice among healthy servers, one retry elsewhere when a server is
// unavailable, a deadline per operation, and signers for the TLS stack (edge/signer.ts).
import type { KeyObject } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { schemeInfo } from '../../common/signature-scheme.js';
import type { SignatureScheme } from '../../common/signature-scheme.js';
import { verifyTlsSignature } from '../../common/verify-tls-signature.js';
import type { ListKeysResponseMessage, OperationEnum } from '../../proto/load.js';
import { keyServiceDefinition } from '../../proto/load.js';
import type { Signer } from '../signer.js';
import { SignerError } from '../signer.js';
import type { KeyServerAddress } from './channel.js';
import { Cancellation } from './cancellation.js';
import { KeyServerEndpoint } from './endpoint.js';
import type { EndpointHealth } from './endpoint.js';
import { asSignerError, callerAbortError, refusalError, statusError } from './errors.js';
import { createKeyServerClientMetrics } from './metrics.js';
import type { KeyServerClientMetrics } from './metrics.js';
import { RemoteSigner } from './remote-signer.js';
import type { RemoteSignerOptions } from './remote-signer.js';
import type { SignOperation } from './sign-request.js';
import { signedMessage, toSignRequest } from './sign-request.js';

export interface KeyServerPoolOptions {
  readonly servers: readonly KeyServerAddress[];
  /** CA bundle (PEM) the key servers' certificates chain to. */
  readonly ca: Buffer;
  /** The edge's client certificate and key (PEM): its identity for the key servers' policy. */
  readonly clientCert: Buffer;
  readonly clientKey: Buffer;
  /** Time allowed for one operation (both attempts included) unless the call gives its own. */
  readonly deadlineMs: number;
  readonly healthCheckIntervalMs: number;
  /** Deadline of one health check; default min(healthCheckIntervalMs, 2000). */
  readonly healthCheckTimeoutMs?: number;
  /** Unanswered requests per key server before it counts as full; default 4096, the key server's per-stream limit. */
  readonly maxInFlight?: number;
  /** Requests per SignBatch; default 256 (the key server's limit is 512 by default). */
  readonly maxBatchSize?: number;
  /**
   * How sign requests travel: 'sign-stream' (default) multiplexes them over one SignStream per
   * key server, batching those started in the same event-loop turn; 'unary' makes one Sign call
   * each, for key servers behind proxies that pass only unary calls.
   */
  readonly transport?: 'sign-stream' | 'unary';
  /** Reconnect backoff of the gRPC channels; default 100 ms doubling to 2 s. */
  readonly reconnectBackoff?: { readonly initialMs: number; readonly maxMs: number };
  readonly metrics?: Registry;
  readonly log?: Logger;
}

export type KeyOperation = 'tls13-certificate-verify' | 'tls12-server-key-exchange' | 'raw-digest';

/** A key this edge may use, as a key server lists it. */
export interface KeyInfo {
  /** Hex SHA-256 of the key's SubjectPublicKeyInfo. */
  readonly keyId: string;
  /** rsa | rsa-pss | ec-p256 | ec-p384 | ed25519 */
  readonly algorithm: string;
  readonly schemes: readonly SignatureScheme[];
  /** DNS and IP SANs of the key's certificate, when the key server has it. */
  readonly hostnames: readonly string[];
  readonly operations: readonly KeyOperation[];
}

export interface SignCallOptions {
  readonly signal?: AbortSignal;
  /** Overrides the pool's deadlineMs for this call. */
  readonly deadlineMs?: number;
  /** When set, the signature is checked with this public key before it is returned (SIGNER_BAD_SIGNATURE otherwise). */
  readonly verifyWith?: KeyObject;
}

export interface KeyServerStatus {
  readonly server: string;
  readonly health: EndpointHealth;
  readonly reason: string;
  readonly inFlight: number;
}

const OPERATION_NAMES: Record<OperationEnum, KeyOperation | undefined> = {
  OPERATION_UNSPECIFIED: undefined,
  TLS13_SERVER_CERTIFICATE_VERIFY: 'tls13-certificate-verify',
  TLS12_SERVER_KEY_EXCHANGE: 'tls12-server-key-exchange',
  RAW_DIGEST: 'raw-digest',
};

export class KeyServerPool {
  private readonly endpoints: readonly KeyServerEndpoint[];
  private readonly metrics: KeyServerClientMetrics;
  private readonly maxInFlight: number;
  private readonly deadlineMs: number;
  private readonly transport: 'sign-stream' | 'unary';
  private readonly keys = new Map<string, KeyInfo>();
  private nextAttempt = 0;
  private rotation = 0;
  private closed = false;

  constructor(options: KeyServerPoolOptions) {
    if (options.servers.length === 0) throw new Error('KeyServerPool needs at least one key server');
    if (!(options.deadlineMs > 0)) throw new Error('deadlineMs must be positive');
    if (!(options.healthCheckIntervalMs > 0)) throw new Error('healthCheckIntervalMs must be positive');
    this.deadlineMs = options.deadlineMs;
    this.maxInFlight = options.maxInFlight ?? 4096;
    this.transport = options.transport ?? 'sign-stream';
    const backoff = options.reconnectBackoff ?? { initialMs: 100, maxMs: 2_000 };
    // The gauges read the endpoints at scrape time, after the constructor.
    this.metrics = createKeyServerClientMetrics(options.metrics, () =>
      this.endpoints.map((e) => ({ server: e.label, inFlight: e.inFlight, serving: e.health === 'serving' })),
    );
    this.endpoints = options.servers.map(
      (target) =>
        new KeyServerEndpoint(target, {
          tls: { ca: options.ca, clientCert: options.clientCert, clientKey: options.clientKey },
          channel: { initialReconnectBackoffMs: backoff.initialMs, maxReconnectBackoffMs: backoff.maxMs },
          healthCheckIntervalMs: options.healthCheckIntervalMs,
          healthCheckTimeoutMs: options.healthCheckTimeoutMs ?? Math.min(options.healthCheckIntervalMs, 2_000),
          maxBatchSize: options.maxBatchSize ?? 256,
          streamBackoff: { initialMs: 50, maxMs: backoff.maxMs },
          ...(options.log ? { log: options.log } : {}),
          onBatch: (size) => this.metrics.observeBatch(size),
        }),
    );
    for (const e of this.endpoints) e.startHealthChecks();
  }

  /** Health of each key server, for the edge's admin endpoint and for tests. */
  status(): KeyServerStatus[] {
    return this.endpoints.map((e) => ({ server: e.label, health: e.health, reason: e.reason, inFlight: e.inFlight }));
  }

  /** Runs a health check on every key server now; resolves true when at least one is serving. */
  async checkHealth(): Promise<boolean> {
    await Promise.all(this.endpoints.map((e) => e.probe()));
    return this.endpoints.some((e) => e.health === 'serving');
  }

  /**
   * One signature. Rejects with a SignerError: SIGNER_UNAVAILABLE (no key server could take it,
   * after one retry on another server), SIGNER_DEADLINE, SIGNER_ABORTED, SIGNER_REFUSED (the key
   * server said no; remoteCode names why) or SIGNER_BAD_SIGNATURE (with `verifyWith`).
   */
  async sign(op: SignOperation, options: SignCallOptions = {}): Promise<Buffer> {
    const deadlineMs = options.deadlineMs ?? this.deadlineMs;
    const deadlineAt = performance.now() + deadlineMs;
    const cancellation = new Cancellation();
    // The deadline is enforced here, not by waiting for the key server to say so.
    const timer = setTimeout(() => cancellation.cancel(new SignerError('SIGNER_DEADLINE', `no signature within ${deadlineMs} ms`)), deadlineMs);
    const caller = options.signal;
    const onCallerAbort = (): void => cancellation.cancel(callerAbortError(caller?.reason));
    if (caller?.aborted) onCallerAbort();
    else caller?.addEventListener('abort', onCallerAbort, { once: true });
    try {
      const signature = await this.signWithRetry(op, deadlineAt, cancellation);
      if (options.verifyWith && !verifyTlsSignature(options.verifyWith, op.scheme, signedMessage(op.input), signature)) {
        throw new SignerError('SIGNER_BAD_SIGNATURE', `the signature from the key server does not verify with key ${op.keyId}`);
      }
      return signature;
    } catch (err) {
      const error = cancellation.aborted && !(err instanceof SignerError) ? asSignerError(cancellation.reason) : asSignerError(err);
      this.metrics.countError(error.code, error.remoteCode);
      throw error;
    } finally {
      clearTimeout(timer);
      caller?.removeEventListener('abort', onCallerAbort);
    }
  }

  private async signWithRetry(op: SignOperation, deadlineAt: number, cancellation: Cancellation): Promise<Buffer> {
    if (cancellation.aborted) throw cancellation.reason;
    const first = this.pick(undefined);
    try {
      return await this.attempt(first, op, deadlineAt, cancellation);
    } catch (err) {
      if (!(err instanceof SignerError) || err.code !== 'SIGNER_UNAVAILABLE' || cancellation.aborted) throw err;
      // The request may not have reached a key server (a broken stream, a refused connection):
      // once, on another server, if there is one and time is left.
      const second = this.pickOther(first);
      if (!second) throw err;
      this.metrics.countRetry();
      return await this.attempt(second, op, deadlineAt, cancellation);
    }
  }

  private async attempt(endpoint: KeyServerEndpoint, op: SignOperation, deadlineAt: number, cancellation: Cancellation): Promise<Buffer> {
    const request = toSignRequest(op, (this.nextAttempt++).toString(36));
    const sent = performance.now();
    const response =
      this.transport === 'unary' ? await endpoint.unary.sign(request, deadlineAt, cancellation) : await endpoint.streams.sign(request, deadlineAt, cancellation);
    const seconds = (performance.now() - sent) / 1000;
    if (response.error === 'OK' && response.signature.length > 0) {
      this.metrics.observeLatency(endpoint.label, 'ok', seconds);
      return response.signature;
    }
    this.metrics.observeLatency(endpoint.label, 'refused', seconds);
    if (response.error === 'OK') throw new SignerError('SIGNER_BAD_SIGNATURE', `key server ${endpoint.label} answered OK without a signature`);
    throw refusalError(endpoint.label, response);
  }

  /** The least busy usable server, serving ones before never-checked ones; ties rotate. */
  private pick(exclude: KeyServerEndpoint | undefined): KeyServerEndpoint {
    if (this.closed) throw new SignerError('SIGNER_UNAVAILABLE', 'the key server client is closed');
    const usable = this.endpoints.filter((e) => e !== exclude && e.usable);
    const open = usable.filter((e) => e.inFlight < this.maxInFlight);
    const tier = open.some((e) => e.health === 'serving') ? open.filter((e) => e.health === 'serving') : open;
    if (tier.length === 0) {
      if (usable.length > 0) throw new SignerError('SIGNER_UNAVAILABLE', `every available key server has ${this.maxInFlight} requests in flight`);
      const why = this.endpoints.filter((e) => e !== exclude).map((e) => `${e.label}: ${e.reason}`);
      throw new SignerError('SIGNER_UNAVAILABLE', `no key server is available (${why.join('; ') || 'none left to try'})`);
    }
    const start = this.rotation++ % tier.length;
    let best = tier[start]!;
    for (let i = 1; i < tier.length; i++) {
      const candidate = tier[(start + i) % tier.length]!;
      if (candidate.inFlight < best.inFlight) best = candidate;
    }
    return best;
  }

  private pickOther(exclude: KeyServerEndpoint): KeyServerEndpoint | undefined {
    try {
      return this.pick(exclude);
    } catch {
      return undefined;
    }
  }

  /** The keys this edge may use (ListKeys on one key server, another if that one is unavailable). */
  async listKeys(options: { signal?: AbortSignal; deadlineMs?: number } = {}): Promise<KeyInfo[]> {
    const deadline = Date.now() + (options.deadlineMs ?? this.deadlineMs);
    const first = this.pick(undefined);
    let response: ListKeysResponseMessage;
    try {
      response = await this.listKeysOn(first, deadline, options.signal);
    } catch (err) {
      const second = err instanceof SignerError && err.code === 'SIGNER_UNAVAILABLE' ? this.pickOther(first) : undefined;
      if (!second) throw err;
      response = await this.listKeysOn(second, deadline, options.signal);
    }
    const keys = response.keys.map(
      (k): KeyInfo => ({
        keyId: k.key_id,
        algorithm: k.algorithm,
        // A scheme this edge does not know cannot be offered in a handshake anyway.
        schemes: k.schemes.filter((s): s is SignatureScheme => schemeInfo(s) !== undefined),
        hostnames: [...k.hostnames],
        operations: k.operations.map((o) => OPERATION_NAMES[o]).filter((o): o is KeyOperation => o !== undefined),
      }),
    );
    this.keys.clear();
    for (const k of keys) this.keys.set(k.keyId, k);
    return keys;
  }

  private listKeysOn(endpoint: KeyServerEndpoint, deadline: number, signal: AbortSignal | undefined): Promise<ListKeysResponseMessage> {
    const method = keyServiceDefinition().ListKeys!;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(callerAbortError(signal.reason));
      const onAbort = (): void => call.cancel();
      const call = endpoint.client.makeUnaryRequest(
        method.path,
        method.requestSerialize as (value: object) => Buffer,
        method.responseDeserialize as (bytes: Buffer) => ListKeysResponseMessage,
        {},
        { deadline },
        (err: grpc.ServiceError | null, response?: ListKeysResponseMessage) => {
          signal?.removeEventListener('abort', onAbort);
          if (err) return reject(signal?.aborted ? callerAbortError(signal.reason) : statusError(endpoint.label, err));
          resolve(response!);
        },
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * A Signer for one key, for the TLS stack. Its schemes come from the last listKeys(); call that
   * first. With `publicKey` (the certificate's), signatures can be checked before use.
   */
  signerFor(keyId: string, options: RemoteSignerOptions = {}): Signer {
    const info = this.keys.get(keyId);
    if (!info) throw new Error(`key ${keyId} is not in the key servers' list for this edge (call listKeys() first)`);
    return new RemoteSigner(this, info, options);
  }

  /** Ends the streams and channels and stops the health checks; later calls fail with SIGNER_UNAVAILABLE. */
  close(): void {
    this.closed = true;
    for (const e of this.endpoints) e.close();
  }
}

// One key server as the pool sees it: its channel, its sign streams, and whether it may be used.
// A server is "down" from the moment its channel fails, its stream breaks or a health check
// fails, and comes back only when a health check says SERVING; so when every server is down a
// sign fails at once instead of waiting for its deadline.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { ChannelTlsMaterial, ChannelTuning, KeyServerAddress } from './channel.js';
import { createKeyServerChannel } from './channel.js';
import { checkKeyServiceHealth } from './health-check.js';
import type { StreamBackoff } from './sign-stream.js';
import { SignStreamMultiplexer } from './sign-stream.js';
import { UnarySignClient } from './unary-sign.js';

export type EndpointHealth = 'unknown' | 'serving' | 'down';

export interface EndpointOptions {
  readonly tls: ChannelTlsMaterial;
  readonly channel: ChannelTuning;
  readonly healthCheckIntervalMs: number;
  readonly healthCheckTimeoutMs: number;
  readonly maxBatchSize: number;
  readonly streamBackoff: StreamBackoff;
  readonly log?: Logger;
  readonly onBatch?: (size: number) => void;
}

export class KeyServerEndpoint {
  readonly label: string;
  readonly client: grpc.Client;
  readonly streams: SignStreamMultiplexer;
  readonly unary: UnarySignClient;
  private state: EndpointHealth = 'unknown';
  private lastReason = 'not checked yet';
  private probing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    target: KeyServerAddress,
    private readonly options: EndpointOptions,
  ) {
    this.label = target.address;
    this.client = createKeyServerChannel(target, options.tls, options.channel);
    this.streams = new SignStreamMultiplexer(this.client, {
      server: this.label,
      maxBatchSize: options.maxBatchSize,
      backoff: options.streamBackoff,
      ...(options.onBatch ? { onBatch: options.onBatch } : {}),
      onBroken: (reason) => {
        this.markDown(reason);
        // A stream can break for reasons that do not outlive it (a GOAWAY on a connection age
        // limit): ask at once rather than waiting a whole interval.
        void this.probe();
      },
    });
    this.unary = new UnarySignClient(this.client, this.label);
    this.watchChannel(this.client.getChannel().getConnectivityState(false));
  }

  /** Sign requests sent here and not yet answered, streamed or unary. */
  get inFlight(): number {
    return this.streams.inFlight + this.unary.inFlight;
  }

  get health(): EndpointHealth {
    return this.state;
  }

  /** Why the server is not serving, for the error a caller sees. */
  get reason(): string {
    return this.lastReason;
  }

  /** May a new request be sent here now? */
  get usable(): boolean {
    if (this.closed || this.state === 'down' || !this.streams.available) return false;
    return this.client.getChannel().getConnectivityState(false) !== grpc.connectivityState.TRANSIENT_FAILURE;
  }

  /** Runs the first health check now and then one every interval. */
  startHealthChecks(): void {
    const loop = (): void => {
      void this.probe().finally(() => {
        if (this.closed) return;
        this.timer = setTimeout(loop, this.options.healthCheckIntervalMs);
        // Health checks alone must not keep a process alive.
        this.timer.unref();
      });
    };
    loop();
  }

  /** One health check now (joins one already running). */
  probe(): Promise<void> {
    this.probing ??= checkKeyServiceHealth(this.client, this.options.healthCheckTimeoutMs)
      .then((result) => {
        if (this.closed) return;
        if (result.serving) this.markServing();
        else this.markDown(result.reason);
      })
      .finally(() => (this.probing = undefined));
    return this.probing;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.streams.close();
    this.client.close();
  }

  private markServing(): void {
    if (this.state !== 'serving') this.options.log?.info({ keyServer: this.label }, 'key server is serving');
    this.state = 'serving';
    this.lastReason = 'serving';
    this.streams.resetBackoff();
  }

  private markDown(reason: string): void {
    if (this.closed) return;
    if (this.state !== 'down') this.options.log?.warn({ keyServer: this.label, reason }, 'key server unavailable');
    this.state = 'down';
    this.lastReason = reason;
    // Let the open stream finish what it carries; the server may be shutting down gracefully.
    this.streams.drain();
  }

  /** A channel that cannot connect marks the server down before any request has to find out. */
  private watchChannel(current: grpc.connectivityState): void {
    if (this.closed || current === grpc.connectivityState.SHUTDOWN) return;
    this.client.getChannel().watchConnectivityState(current, Infinity, () => {
      const next = this.client.getChannel().getConnectivityState(false);
      if (next === grpc.connectivityState.TRANSIENT_FAILURE) this.markDown('cannot connect');
      else if (next === grpc.connectivityState.READY && this.state !== 'serving') void this.probe();
      this.watchChannel(next);
    });
  }
}

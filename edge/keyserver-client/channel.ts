// One gRPC channel to one key server: mutual TLS with the edge's own client certificate, the key
// server's certificate checked against the configured CA and name. Reconnect backoff is kept
// short so that a key server that comes back is used again within about a second.
import * as grpc from '@grpc/grpc-js';

export interface ChannelTlsMaterial {
  /** CA bundle (PEM) the key server's certificate must chain to. */
  readonly ca: Buffer;
  /** The edge's client certificate chain and key (PEM); the key server's policy names this identity. */
  readonly clientCert: Buffer;
  readonly clientKey: Buffer;
}

export interface KeyServerAddress {
  /** "host:port"; IPv6 as "[::1]:2407". */
  readonly address: string;
  /** The name checked against the key server certificate's SANs; defaults to the host of `address`. */
  readonly serverName?: string;
}

export interface ChannelTuning {
  readonly initialReconnectBackoffMs: number;
  readonly maxReconnectBackoffMs: number;
}

export function createKeyServerChannel(target: KeyServerAddress, tls: ChannelTlsMaterial, tuning: ChannelTuning): grpc.Client {
  const credentials = grpc.credentials.createSsl(tls.ca, tls.clientKey, tls.clientCert);
  const options: grpc.ChannelOptions = {
    'grpc.initial_reconnect_backoff_ms': tuning.initialReconnectBackoffMs,
    'grpc.max_reconnect_backoff_ms': tuning.maxReconnectBackoffMs,
    // A long-lived SignStream is always open, so pings run only while there is a call; they find
    // a silently dead connection (a dropped NAT entry, a crashed host) without waiting for a deadline.
    'grpc.keepalive_time_ms': 20_000,
    'grpc.keepalive_timeout_ms': 5_000,
    // Each key server gets its own channel even when two share an address (tests, or a proxy).
    'grpc.use_local_subchannel_pool': 1,
  };
  if (target.serverName !== undefined) {
    // The TLS server name (SNI and the certificate check) and the :authority header.
    options['grpc.ssl_target_name_override'] = target.serverName;
    options['grpc.default_authority'] = target.serverName;
  }
  return new grpc.Client(target.address, credentials, options);
}

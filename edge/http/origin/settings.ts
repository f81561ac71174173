// One origin as the origin client uses it: where it is, how its certificate is verified, and every
// limit with its number. Certificates and keys are PEM here, already read from their files
// (config.ts reads them), so the client never touches the file system.
import { isIP } from 'node:net';
import { parsePin } from './pins.js';

/**
 * - strict: the certificate chains to `ca` (default: node's bundled Mozilla roots) and is valid
 *   for the origin's name. Cloudflare's "Full (Strict)".
 * - pinned: strict, and the key must match a pin; with `pinOnly` the pin replaces CA trust
 *   (for an origin with a private or self-signed certificate whose key is known).
 * - full: encrypted, not verified at all: anyone on the path can impersonate the origin.
 */
export type OriginMode = 'strict' | 'pinned' | 'full';

/**
 * What to do with X-Forwarded-For and Forwarded from the client. 'drop' (the default) replaces
 * them: the edge is the first hop the origin can trust, and a client can write anything there.
 * 'append' keeps them and adds the client's address, for edges behind another trusted proxy.
 */
export type IncomingForwarded = 'drop' | 'append';

export interface OriginTimeouts {
  /** TCP connect and TLS handshake together. */
  readonly connectMs: number;
  /** From sending the request to the complete response head (undici headersTimeout). */
  readonly headersMs: number;
  /** Longest pause between two pieces of the response body (undici bodyTimeout). */
  readonly bodyMs: number;
  /** An idle pooled connection is closed after this long; keep it below the origin's keep-alive. */
  readonly keepAliveMs: number;
  /** An upgraded (WebSocket) connection with no traffic either way is closed after this long. */
  readonly upgradeIdleMs: number;
}

export const DEFAULT_TIMEOUTS: OriginTimeouts = {
  connectMs: 5_000,
  headersMs: 30_000,
  bodyMs: 30_000,
  // Below node's default server keepAliveTimeout (5 s), so the edge never reuses a connection the
  // origin is just closing.
  keepAliveMs: 4_000,
  upgradeIdleMs: 600_000,
};

/** Pooled connections per origin (over HTTP/1.1 one request at a time on each). */
export const DEFAULT_CONNECTIONS = 32;
/** With http2: requests in flight on one origin connection at most (and at most the origin's own SETTINGS_MAX_CONCURRENT_STREAMS). */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 100;
/** Node's own default limit (--max-http-header-size). */
export const DEFAULT_MAX_RESPONSE_HEADER_BYTES = 16_384;

export interface OriginSettings {
  /** For logs and metrics; default: the URL's origin ("https://host:port"). */
  readonly name?: string;
  /** The hosts whose requests go to this origin; "*.example.com" matches one label. */
  readonly hostnames: readonly string[];
  /** "https://host:port"; no path, query or credentials. */
  readonly url: string;
  /** Default 'strict'. */
  readonly mode?: OriginMode;
  /** PEM CA bundle the origin certificate must chain to; default: node's bundled roots. */
  readonly ca?: string | Buffer;
  /** SPKI SHA-256 pins, base64 or hex (see pins.ts). Mode pinned only. */
  readonly pins?: readonly string[];
  /** Mode pinned: trust the pin alone, without chain, validity or name checks. */
  readonly pinOnly?: boolean;
  /** PEM client certificate chain and key for authenticated origin pulls. */
  readonly clientCert?: string | Buffer;
  readonly clientKey?: string | Buffer;
  /** Name for SNI and the certificate name check; default: the URL's host. */
  readonly serverName?: string;
  /** Host header sent to the origin; default: the client's Host, unchanged. */
  readonly hostHeader?: string;
  readonly incomingForwarded?: IncomingForwarded;
  readonly timeouts?: Partial<OriginTimeouts>;
  readonly connections?: number;
  readonly maxResponseHeaderBytes?: number;
  /**
   * Offer HTTP/2 to the origin (ALPN "h2" before "http/1.1"): an origin that picks h2 carries many
   * requests on each connection; one that does not is spoken to over HTTP/1.1. Default false.
   */
  readonly http2?: boolean;
  /** With http2: requests in flight per connection. */
  readonly maxConcurrentStreams?: number;
}

/** Settings with defaults applied and every value checked. */
export interface ResolvedOrigin {
  readonly name: string;
  readonly hostnames: readonly string[];
  /** "https://host:port" (the port always written). */
  readonly origin: string;
  /** For net.connect: an IPv6 literal without brackets. */
  readonly host: string;
  readonly port: number;
  readonly mode: OriginMode;
  readonly ca: string | Buffer | undefined;
  /** Lower-case hex. */
  readonly pins: readonly string[];
  readonly pinOnly: boolean;
  readonly clientCert: string | Buffer | undefined;
  readonly clientKey: string | Buffer | undefined;
  /** The name the certificate must be valid for. */
  readonly identity: string;
  /** SNI; undefined for an IP address, which RFC 6066 §3 does not allow in server_name. */
  readonly sni: string | undefined;
  readonly hostHeader: string | undefined;
  readonly incomingForwarded: IncomingForwarded;
  readonly timeouts: OriginTimeouts;
  readonly connections: number;
  readonly maxResponseHeaderBytes: number;
  readonly http2: boolean;
  readonly maxConcurrentStreams: number;
}

export class OriginSettingsError extends Error {
  readonly code = 'ORIGIN_SETTINGS_INVALID';
  constructor(
    /** Which field, as the config names it (e.g. "pins[1]"). */
    readonly field: string,
    /** The problem, without the field. */
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'OriginSettingsError';
  }
}

/** Checks one origin's settings and fills in the defaults; throws OriginSettingsError naming the field. */
export function resolveOrigin(settings: OriginSettings): ResolvedOrigin {
  const url = parseOriginUrl(settings.url);
  const mode = settings.mode ?? 'strict';
  const pins = (settings.pins ?? []).map((p, i) => {
    const hex = parsePin(p);
    if (hex === null) throw new OriginSettingsError(`pins[${i}]`, 'a pin is the SHA-256 of the SPKI, base64 (44 characters) or hex (64)');
    return hex;
  });
  if (mode === 'pinned' && pins.length === 0) throw new OriginSettingsError('pins', 'mode pinned needs at least one pin');
  if (mode !== 'pinned' && pins.length > 0) throw new OriginSettingsError('pins', `pins are checked only in mode pinned (this origin is ${mode})`);
  if (settings.pinOnly && mode !== 'pinned') throw new OriginSettingsError('pinOnly', 'pinOnly applies to mode pinned only');
  if (mode === 'full' && settings.ca !== undefined) throw new OriginSettingsError('ca', 'mode full does not verify the certificate; use mode strict to check it against this CA');
  if (settings.pinOnly && settings.ca !== undefined) throw new OriginSettingsError('ca', 'with pinOnly the pin replaces CA trust; remove ca, or pinOnly to check both');
  if ((settings.clientCert === undefined) !== (settings.clientKey === undefined)) {
    throw new OriginSettingsError(settings.clientCert === undefined ? 'clientCert' : 'clientKey', 'clientCert and clientKey go together');
  }
  if (settings.hostnames.length === 0) throw new OriginSettingsError('hostnames', 'at least one hostname');
  const identity = (settings.serverName ?? url.host).toLowerCase();
  const timeouts = { ...DEFAULT_TIMEOUTS, ...settings.timeouts };
  for (const [field, value] of Object.entries(timeouts)) positiveInt(`timeouts.${field}`, value);
  return {
    name: settings.name ?? url.origin,
    hostnames: settings.hostnames.map((h) => h.toLowerCase()),
    origin: url.origin,
    host: url.host,
    port: url.port,
    mode,
    ca: settings.ca,
    pins,
    pinOnly: settings.pinOnly ?? false,
    clientCert: settings.clientCert,
    clientKey: settings.clientKey,
    identity,
    sni: isIP(identity) === 0 ? identity : undefined,
    hostHeader: settings.hostHeader,
    incomingForwarded: settings.incomingForwarded ?? 'drop',
    timeouts,
    connections: positiveInt('connections', settings.connections ?? DEFAULT_CONNECTIONS),
    maxResponseHeaderBytes: positiveInt('maxResponseHeaderBytes', settings.maxResponseHeaderBytes ?? DEFAULT_MAX_RESPONSE_HEADER_BYTES),
    http2: settings.http2 ?? false,
    maxConcurrentStreams: positiveInt('maxConcurrentStreams', settings.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS),
  };
}

/** "https://host:port" → its parts; anything else (http, a path, credentials) is refused. */
export function parseOriginUrl(text: string): { readonly origin: string; readonly host: string; readonly port: number } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new OriginSettingsError('url', `not a URL: ${JSON.stringify(text)}`);
  }
  // Plain http would send the decrypted request in the clear: the edge only speaks TLS to origins.
  if (url.protocol !== 'https:') throw new OriginSettingsError('url', 'the origin URL must be https://host:port');
  if (url.username || url.password) throw new OriginSettingsError('url', 'no credentials in the origin URL');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) throw new OriginSettingsError('url', 'the origin URL is https://host:port, without a path or query');
  const port = url.port === '' ? 443 : Number(url.port);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const hostPart = isIP(host) === 6 ? `[${host}]` : host;
  return { origin: `https://${hostPart}:${port}`, host, port };
}

function positiveInt(field: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new OriginSettingsError(field, `a positive integer, not ${String(value)}`);
  return value;
}

// Readiness of the origins for the edge's /readyz: one TLS connection to each, verified exactly as
// requests are (connect.ts), then closed. No HTTP request is sent, so a probe never shows up in
// the origin's access log or its request counts.
import type { TLSSocket } from 'node:tls';
import type { OriginConnector } from './connect.js';
import type { OriginErrorCode } from './errors.js';
import { toOriginError } from './errors.js';
import type { OriginMode, ResolvedOrigin } from './settings.js';

export interface OriginProbe {
  readonly name: string;
  readonly origin: string;
  readonly mode: OriginMode;
  readonly ok: boolean;
  /** When not ok. */
  readonly code?: OriginErrorCode;
  /** When not ok: the detailed reason. /readyz is on the private admin listener, so it may say it. */
  readonly reason?: string;
  readonly latencyMs: number;
  /** When ok: what the origin chose by ALPN ("h2" only where origins[].http2 offers it). */
  readonly protocol?: 'h2' | 'http/1.1';
  /** Set for an origin that is reachable but not verified (mode full). */
  readonly warning?: string;
}

export interface OriginReadiness {
  /** Every origin answered and passed its checks. */
  readonly ready: boolean;
  readonly origins: readonly OriginProbe[];
}

/**
 * How long to wait, after a TLS 1.3 handshake, for the origin's verdict on our client
 * certificate. In TLS 1.3 the client's handshake ends before the server has read its certificate
 * (RFC 8446 §4.4.2.4: the server answers a bad one with an alert after that), so a rejection
 * arrives after 'secureConnect'. A session ticket (NewSessionTicket, §4.6.1) is sent only after
 * the server accepted the client's Finished, so it ends the wait early.
 */
const CLIENT_CERT_VERDICT_MS = 300;

export async function probeOrigins(connectors: readonly OriginConnector[]): Promise<OriginReadiness> {
  const origins = await Promise.all(connectors.map((c) => probeOrigin(c)));
  return { ready: origins.every((o) => o.ok), origins };
}

export async function probeOrigin(connector: OriginConnector): Promise<OriginProbe> {
  const { origin } = connector;
  const started = performance.now();
  const base = { name: origin.name, origin: origin.origin, mode: origin.mode, ...(origin.mode === 'full' ? { warning: fullModeWarning(origin) } : {}) };
  try {
    const socket = await connector.connect(AbortSignal.timeout(origin.timeouts.connectMs));
    const protocol = socket.alpnProtocol === 'h2' ? 'h2' : 'http/1.1';
    try {
      // Also without a client certificate: an origin that requires one refuses exactly then.
      if (socket.getProtocol() === 'TLSv1.3') await clientCertVerdict(socket);
    } finally {
      socket.destroy();
    }
    return { ...base, ok: true, protocol, latencyMs: performance.now() - started };
  } catch (err) {
    const e = toOriginError(err, origin.name);
    return { ...base, ok: false, code: e.code, reason: e.message, latencyMs: performance.now() - started };
  }
}

function clientCertVerdict(socket: TLSSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer);
      socket.off('session', onSession);
      socket.off('error', done);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onSession = (): void => done();
    const onClose = (): void => done(Object.assign(new Error('the origin closed the connection after the handshake'), { code: 'ECONNRESET' }));
    const timer = setTimeout(() => done(), CLIENT_CERT_VERDICT_MS);
    socket.once('session', onSession);
    socket.once('error', done);
    socket.once('close', onClose);
    // Reading is what makes OpenSSL process the alert or the ticket.
    socket.resume();
  });
}

/** The start-up warning for an origin whose certificate is not verified. */
export function fullModeWarning(origin: ResolvedOrigin): string {
  return (
    `origin ${origin.name} (hosts ${origin.hostnames.join(', ')}) is in mode full: TLS to it is encrypted but its certificate is NOT verified, ` +
    'so anyone on the network path can impersonate it and read or change every request. Use mode strict with its CA, or mode pinned.'
  );
}

/** Every warning about the origin configuration, for the edge to log loudly at start-up. */
export function originWarnings(origins: readonly ResolvedOrigin[]): string[] {
  return origins.filter((o) => o.mode === 'full').map(fullModeWarning);
}

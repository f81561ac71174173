// Opens one verified TLS connection to an origin. The request pool, the WebSocket pass-through and
// the readiness probe all connect through here, so the three can never verify differently.
//
// The socket is handed out only after every check has passed: chain and name by node (OpenSSL)
// during the handshake, the pin on the finished handshake. A connection that fails a check is
// destroyed before the caller gets it, so no request byte is ever written to it.
import tls from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { OriginError, toOriginError } from './errors.js';
import { matchPin } from './pins.js';
import type { ResolvedOrigin } from './settings.js';

/** ALPN offers: HTTP/1.1 alone (always for the Upgrade pass-through), or h2 first. */
export const HTTP1_ONLY: readonly string[] = ['http/1.1'];
export const H2_THEN_HTTP1: readonly string[] = ['h2', 'http/1.1'];

/** Built once per origin: the secure context (CA bundle, client certificate) is parsed once. */
export interface OriginConnector {
  readonly origin: ResolvedOrigin;
  /**
   * A verified connection; its alpnProtocol says which of `protocols` the origin chose. Default:
   * h2 then HTTP/1.1 for an origin configured with http2, else HTTP/1.1 alone.
   */
  connect(signal?: AbortSignal, protocols?: readonly string[]): Promise<TLSSocket>;
}

export function createOriginConnector(origin: ResolvedOrigin): OriginConnector {
  const verifyChain = origin.mode === 'strict' || (origin.mode === 'pinned' && !origin.pinOnly);
  const secureContext = tls.createSecureContext({
    ca: origin.ca,
    cert: origin.clientCert,
    key: origin.clientKey,
    minVersion: 'TLSv1.2',
  });
  const options: tls.ConnectionOptions = {
    host: origin.host,
    port: origin.port,
    servername: origin.sni,
    secureContext,
    rejectUnauthorized: verifyChain,
    // The name is the configured one, not whatever the socket was opened with (RFC 9110 §4.3.4:
    // the certificate must be valid for the origin's name). IP addresses are matched against
    // iPAddress SANs by node.
    checkServerIdentity: verifyChain ? (_host, cert) => tls.checkServerIdentity(origin.identity, cert) : () => undefined,
  };
  const defaultProtocols = origin.http2 ? H2_THEN_HTTP1 : HTTP1_ONLY;
  return { origin, connect: (signal, protocols = defaultProtocols) => connectOnce(origin, { ...options, ALPNProtocols: [...protocols] }, signal) };
}

function connectOnce(origin: ResolvedOrigin, options: tls.ConnectionOptions, signal: AbortSignal | undefined): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new OriginError('ORIGIN_ERR_ABORTED', `origin ${origin.name}: aborted before connecting`));
      return;
    }
    const socket = tls.connect(options);
    let settled = false;
    const fail = (err: OriginError): void => {
      if (settled) return;
      settled = true;
      cleanup();
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(
      () => fail(new OriginError('ORIGIN_ERR_CONNECT_TIMEOUT', `origin ${origin.name}: no TLS connection within ${origin.timeouts.connectMs} ms`)),
      origin.timeouts.connectMs,
    );
    const onAbort = (): void => fail(new OriginError('ORIGIN_ERR_ABORTED', `origin ${origin.name}: aborted while connecting`));
    const onError = (err: Error): void => fail(toOriginError(err, origin.name));
    const onClose = (): void => fail(new OriginError('ORIGIN_ERR_RESET', `origin ${origin.name}: closed during the TLS handshake`));
    const cleanup = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.off('secureConnect', onSecure);
    };
    const onSecure = (): void => {
      const problem = checkHandshake(origin, socket, options.rejectUnauthorized === true);
      if (problem) {
        fail(problem);
        return;
      }
      settled = true;
      cleanup();
      resolve(socket);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('secureConnect', onSecure);
    socket.on('error', onError);
    socket.once('close', onClose);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
  });
}

/** What node does not check itself: the pin. And, as a second line, that node's verdict holds. */
function checkHandshake(origin: ResolvedOrigin, socket: TLSSocket, verifyChain: boolean): OriginError | null {
  if (verifyChain && !socket.authorized) {
    return toOriginError(Object.assign(new Error(String(socket.authorizationError ?? 'certificate not verified')), { code: String(socket.authorizationError ?? '') }), origin.name);
  }
  if (origin.mode !== 'pinned') return null;
  const cert = socket.getPeerX509Certificate();
  if (!cert) return new OriginError('ORIGIN_ERR_PIN_MISMATCH', `origin ${origin.name}: no certificate to check the pin against`);
  const { matched, actual } = matchPin(cert, origin.pins);
  if (matched) return null;
  return new OriginError(
    'ORIGIN_ERR_PIN_MISMATCH',
    `origin ${origin.name}: the certificate key (SPKI SHA-256 ${Buffer.from(actual, 'hex').toString('base64')}, subject ${cert.subject.replace(/\n/g, ', ')}) matches none of the ${origin.pins.length} pins`,
  );
}

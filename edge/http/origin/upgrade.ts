// HTTP/1.1 Upgrade pass-through (RFC 9110 §7.8), for WebSocket (RFC 6455 §4). Given what node's
// http server hands its 'upgrade' listener (the request, the client socket, the bytes read past
// the request head), this opens a verified TLS connection to the origin (connect.ts, exactly as
// for ordinary requests), sends the request with Upgrade and Connection restored, and:
// - on 101 Switching Protocols relays the origin's answer as it is and pipes both ways;
// - on any other answer relays it (status, end-to-end headers, body) and closes;
// - on failure writes the edge's error response (502/504) and closes.
// Upgraded connections do not use the request pool: each one holds its own origin connection.
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { EdgeRequest } from '../types.js';
import { HTTP1_ONLY, type OriginConnector } from './connect.js';
import { OriginError, toOriginError } from './errors.js';
import { forwardRequestHeaders, forwardResponseHeaders, type OutgoingHeaders } from './forward-headers.js';
import { statusClass, type OriginMetrics } from './metrics.js';

export interface UpgradeTarget {
  readonly connector: OriginConnector;
  readonly via: string;
  readonly metrics: OriginMetrics;
  readonly log: Logger | undefined;
  readonly renderError: ErrorRenderer;
  /** Open tunnels, so the client's destroy() can close them; each removes itself when closed. */
  readonly tunnels: Set<Duplex>;
}

/** The body of an error answer; the pipeline passes its own so every error page looks the same. */
export type ErrorRenderer = (error: OriginError, request: Pick<EdgeRequest, 'requestId'>) => { readonly contentType: string; readonly body: string };

export const plainErrorRenderer: ErrorRenderer = (error, request) => ({
  contentType: 'text/plain; charset=utf-8',
  body: `${error.status} ${http.STATUS_CODES[error.status] ?? ''}: ${error.publicReason}\nrequest id: ${request.requestId}\n`,
});

export type UpgradeOutcome =
  /** 101 from the origin: the two sockets are piped until either side closes. */
  | { readonly outcome: 'upgraded'; readonly status: 101 }
  /** The origin answered without upgrading; its answer went to the client. */
  | { readonly outcome: 'relayed'; readonly status: number }
  /** No answer from the origin; the client got `status` with the error page, or was gone. */
  | { readonly outcome: 'failed'; readonly status: number; readonly error: OriginError };

export async function proxyUpgrade(target: UpgradeTarget, request: EdgeRequest, client: Duplex, head: Buffer): Promise<UpgradeOutcome> {
  const { origin } = target.connector;
  const started = performance.now();
  // The client may go away at any point; a socket error must never become an uncaught exception.
  client.on('error', () => client.destroy());
  const gone = new AbortController();
  const onClientClose = (): void => gone.abort();
  client.once('close', onClientClose);

  const fail = (err: OriginError): UpgradeOutcome => {
    client.off('close', onClientClose);
    target.metrics.observe(origin.name, 'error', (performance.now() - started) / 1000);
    target.metrics.countError(origin.name, err.code);
    target.log?.[err.code === 'ORIGIN_ERR_ABORTED' ? 'debug' : 'warn']({ origin: origin.name, requestId: request.requestId, code: err.code, reason: err.message }, 'origin upgrade failed');
    writeErrorResponse(client, err, request, target.renderError);
    return { outcome: 'failed', status: err.status, error: err };
  };

  const protocol = single(request.headers.upgrade);
  if (!protocol || !request.url.startsWith('/')) {
    return fail(new OriginError('ORIGIN_ERR_BAD_REQUEST', `origin ${origin.name}: an upgrade needs one Upgrade header and an origin-form target`));
  }
  let socket;
  try {
    // An Upgrade is HTTP/1.1 (RFC 9110 §7.8), whatever the origin's pool speaks.
    socket = await target.connector.connect(gone.signal, HTTP1_ONLY);
  } catch (err) {
    return fail(toOriginError(err, origin.name));
  }
  if (client.destroyed) {
    socket.destroy();
    return fail(new OriginError('ORIGIN_ERR_ABORTED', `origin ${origin.name}: the client went away`));
  }

  const headers: OutgoingHeaders = {
    ...forwardRequestHeaders(request, { via: target.via, hostHeader: origin.hostHeader, incomingForwarded: origin.incomingForwarded }),
    // Hop-by-hop, so removed above; an upgrade is exactly the request that must carry them onward.
    connection: 'upgrade',
    upgrade: protocol,
  };
  const originSocket = socket;
  return new Promise<UpgradeOutcome>((resolve) => {
    let done = false;
    const settle = (outcome: UpgradeOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      gone.signal.removeEventListener('abort', onGone);
      resolve(outcome);
    };
    const req = http.request({
      method: request.method,
      path: request.url,
      headers,
      setHost: false,
      maxHeaderSize: origin.maxResponseHeaderBytes,
      createConnection: () => originSocket,
    });
    const timer = setTimeout(() => {
      req.destroy(new OriginError('ORIGIN_ERR_HEADERS_TIMEOUT', `origin ${origin.name}: no answer to the upgrade within ${origin.timeouts.headersMs} ms`));
    }, origin.timeouts.headersMs);
    const onGone = (): void => {
      req.destroy(new OriginError('ORIGIN_ERR_ABORTED', `origin ${origin.name}: the client went away`));
    };
    gone.signal.addEventListener('abort', onGone, { once: true });

    req.once('upgrade', (res, upgraded, originHead) => {
      client.off('close', onClientClose);
      target.metrics.observe(origin.name, '1xx', (performance.now() - started) / 1000);
      client.write(responseHead(res.statusCode ?? 101, res.statusMessage ?? 'Switching Protocols', rawPairs(res.rawHeaders)));
      if (originHead.length > 0) client.write(originHead);
      if (head.length > 0) upgraded.write(head);
      // `upgraded` is originSocket itself (createConnection above), handed back by node's parser.
      tunnel(client, upgraded, originSocket, origin.timeouts.upgradeIdleMs, target.tunnels);
      settle({ outcome: 'upgraded', status: 101 });
    });
    req.once('response', (res) => {
      client.off('close', onClientClose);
      const status = res.statusCode ?? 502;
      target.metrics.observe(origin.name, statusClass(status), (performance.now() - started) / 1000);
      // The body is re-framed: node has decoded any chunked coding, so the answer is delimited by
      // Content-Length when the origin sent one and by closing the connection otherwise.
      const out = forwardResponseHeaders(res.headers, res.httpVersion, target.via);
      client.write(responseHead(status, res.statusMessage ?? '', [...headerPairs(out), ['connection', 'close']]));
      res.pipe(client);
      res.once('error', () => client.destroy());
      res.once('end', () => originSocket.destroy());
      settle({ outcome: 'relayed', status });
    });
    req.on('error', (err) => {
      originSocket.destroy();
      // After the answer has been relayed the client already has it; nothing more to write.
      if (!done) settle(fail(toOriginError(err, origin.name)));
    });
    req.end();
  });
}

/** Both directions piped; either side closing, failing or idling too long closes the other. */
function tunnel(client: Duplex, origin: Duplex, originSocket: Socket, idleMs: number, open: Set<Duplex>): void {
  const closeBoth = (): void => {
    open.delete(client);
    client.destroy();
    origin.destroy();
  };
  open.add(client);
  client.on('error', closeBoth);
  origin.on('error', closeBoth);
  client.once('close', closeBoth);
  origin.once('close', closeBoth);
  // A net.Socket's idle timer counts traffic in both directions, so the origin socket's covers the
  // whole tunnel.
  originSocket.setTimeout(idleMs, closeBoth);
  origin.pipe(client);
  client.pipe(origin);
}

/** An error answer on a raw socket (the pipeline's reply object does not exist for an upgrade). */
export function writeErrorResponse(client: Duplex, err: OriginError, request: Pick<EdgeRequest, 'requestId'>, render: ErrorRenderer): void {
  if (client.destroyed || !client.writable) {
    client.destroy();
    return;
  }
  const { contentType, body } = render(err, request);
  const bytes = Buffer.from(body, 'utf8');
  const head = responseHead(err.status, http.STATUS_CODES[err.status] ?? 'Error', [
    ['content-type', contentType],
    ['content-length', String(bytes.length)],
    ['cache-control', 'no-store'],
    ['x-request-id', request.requestId],
    ['connection', 'close'],
  ]);
  client.end(Buffer.concat([Buffer.from(head, 'latin1'), bytes]));
}

function responseHead(status: number, reason: string, headers: readonly (readonly [string, string])[]): string {
  // Reason phrases and values come from the origin's parsed answer; CR and LF cannot be in them
  // (node's parser refuses them), but the edge never writes a line it did not check.
  const clean = (s: string): string => s.replace(/[\r\n]/g, ' ');
  let out = `HTTP/1.1 ${status} ${clean(reason)}\r\n`;
  for (const [name, value] of headers) out += `${clean(name)}: ${clean(value)}\r\n`;
  return `${out}\r\n`;
}

function rawPairs(raw: readonly string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i]!, raw[i + 1]!]);
  return pairs;
}

function headerPairs(headers: OutgoingHeaders): [string, string][] {
  const pairs: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value]) pairs.push([name, v]);
  }
  return pairs;
}

function single(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) return value.length === 1 ? value[0] : undefined;
  return value === '' ? undefined : value;
}

// The origin client against real HTTPS origins: each SSL mode's verification, authenticated
// origin pulls, 502/504 with stable codes, header rewriting, metrics and readiness.
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import net from 'node:net';
import { Readable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createOriginClient, isOriginError, OriginError, pinOf, type OriginClient, type OriginSettings } from '../../../../edge/http/origin/index.js';
import { spkiSha256Hex } from '../../../../common/key-id.js';
import { edgeRequest, makeTestPki, readBody, startTestOrigin, type TestOrigin, type TestPki } from './origin-fixture.js';

let pki: TestPki;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  pki = await makeTestPki();
});
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function capturedLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log: Logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

async function origin(options: Parameters<typeof startTestOrigin>[0]): Promise<TestOrigin> {
  const o = await startTestOrigin(options);
  cleanups.push(() => o.close());
  return o;
}

function client(settings: Partial<OriginSettings> & { url: string }, extra: { registry?: Registry; log?: Logger } = {}): OriginClient {
  const c = createOriginClient({ origins: [{ hostnames: ['www.example.test'], ca: pki.ca.certPem, ...settings }], ...extra });
  cleanups.push(() => c.destroy());
  return c;
}

async function failure(promise: Promise<unknown>): Promise<OriginError> {
  try {
    await promise;
  } catch (err) {
    if (isOriginError(err)) return err;
    throw err;
  }
  throw new Error('expected the origin fetch to fail');
}

const get = (c: OriginClient, overrides: Parameters<typeof edgeRequest>[0] = {}) => c.fetch(edgeRequest(overrides), null, new AbortController().signal);

describe('mode strict (Full Strict)', () => {
  it('fetches from an origin whose certificate chains to the CA and names the origin host', async () => {
    const o = await origin({ cert: pki.server });
    const res = await get(client({ url: o.url }), { url: '/a?b=c' });
    expect(res.status).toBe(200);
    const echoed = JSON.parse((await readBody(res.body)).toString()) as { url: string; headers: Record<string, string> };
    expect(echoed.url).toBe('/a?b=c');
    expect(echoed.headers.host).toBe('www.example.test');
  });

  it('checks the configured serverName (SNI and the certificate name) instead of the URL host', async () => {
    const o = await origin({ cert: pki.wrongName });
    const res = await get(client({ url: o.url, serverName: 'other.example' }));
    expect(res.status).toBe(200);
    await readBody(res.body);
  });

  it.each([
    ['a certificate for another hostname', 'wrongName', 'ORIGIN_ERR_CERT_HOSTNAME'],
    ['a certificate from an unknown CA', 'unknownCa', 'ORIGIN_ERR_CERT_UNTRUSTED'],
    ['an expired certificate', 'expired', 'ORIGIN_ERR_CERT_EXPIRED'],
    ['a self-signed certificate', 'selfSigned', 'ORIGIN_ERR_CERT_UNTRUSTED'],
  ] as const)('refuses %s: 502, the reason in the log only, no request sent', async (_what, cert, code) => {
    const o = await origin({ cert: pki[cert] });
    const { log, lines } = capturedLog();
    const err = await failure(get(client({ url: o.url }, { log })));
    expect(err.status).toBe(502);
    expect(err.code).toBe(code);
    // The public reason says nothing about certificates.
    expect(err.publicReason).toBe('the edge could not set up a verified connection to the origin');
    expect(o.requests()).toBe(0);
    const line = lines.find((l) => l.code === code);
    expect(line?.msg).toBe('origin request failed');
    expect(String(line?.reason)).toContain(o.url.replace('https://', ''));
  });

  it('uses node’s bundled public roots when no ca is configured (the dev CA is then unknown)', async () => {
    const o = await origin({ cert: pki.server });
    const c = createOriginClient({ origins: [{ hostnames: ['www.example.test'], url: o.url }] });
    cleanups.push(() => c.destroy());
    expect((await failure(get(c))).code).toBe('ORIGIN_ERR_CERT_UNTRUSTED');
  });
});

describe('mode pinned', () => {
  it('accepts the right pin, in base64 and in hex (the key id spelling)', async () => {
    const o = await origin({ cert: pki.server });
    for (const pin of [pinOf(pki.server.certPem), spkiSha256Hex(pki.server.certPem), `sha256/${pinOf(pki.server.certPem)}`]) {
      const c = client({ url: o.url, mode: 'pinned', pins: [pin] });
      const res = await get(c);
      expect(res.status).toBe(200);
      await readBody(res.body);
    }
    expect(o.requests()).toBe(3);
  });

  it('refuses a key that matches no pin before any request byte is sent', async () => {
    const o = await origin({ cert: pki.server });
    let bytesAfterHandshake = 0;
    o.server.on('secureConnection', (tlsSocket) => tlsSocket.on('data', (d: Buffer) => (bytesAfterHandshake += d.length)));
    const { log, lines } = capturedLog();
    const err = await failure(get(client({ url: o.url, mode: 'pinned', pins: [pinOf(pki.unknownCa.certPem)] }, { log })));
    expect(err.code).toBe('ORIGIN_ERR_PIN_MISMATCH');
    expect(err.status).toBe(502);
    await new Promise((r) => setTimeout(r, 100));
    expect(o.requests()).toBe(0);
    expect(bytesAfterHandshake).toBe(0);
    expect(String(lines.find((l) => l.code === 'ORIGIN_ERR_PIN_MISMATCH')?.reason)).toContain(pinOf(pki.server.certPem));
  });

  it('with the CA check too: a pinned key on an untrusted certificate is refused', async () => {
    const o = await origin({ cert: pki.unknownCa });
    const err = await failure(get(client({ url: o.url, mode: 'pinned', pins: [pinOf(pki.unknownCa.certPem)] })));
    expect(err.code).toBe('ORIGIN_ERR_CERT_UNTRUSTED');
  });

  it('with pinOnly the pin replaces CA trust: a self-signed origin with the pinned key is accepted', async () => {
    const o = await origin({ cert: pki.selfSigned });
    const c = createOriginClient({ origins: [{ hostnames: ['www.example.test'], url: o.url, mode: 'pinned', pinOnly: true, pins: [pinOf(pki.selfSigned.certPem)] }] });
    cleanups.push(() => c.destroy());
    const res = await get(c);
    expect(res.status).toBe(200);
    await readBody(res.body);
  });
});

describe('mode full', () => {
  it('accepts a self-signed origin, and says so loudly in warnings and readiness', async () => {
    const o = await origin({ cert: pki.selfSigned });
    const c = createOriginClient({ origins: [{ hostnames: ['www.example.test'], url: o.url, mode: 'full' }] });
    cleanups.push(() => c.destroy());
    const res = await get(c);
    expect(res.status).toBe(200);
    await readBody(res.body);
    const warnings = c.warnings();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/mode full.*NOT verified/);
    const ready = await c.readiness();
    expect(ready.ready).toBe(true);
    expect(ready.origins[0]!.warning).toMatch(/NOT verified/);
  });

  it('strict origins give no warning', async () => {
    const o = await origin({ cert: pki.server });
    expect(client({ url: o.url }).warnings()).toEqual([]);
  });
});

describe('authenticated origin pulls', () => {
  it.each(['TLSv1.3', 'TLSv1.2'] as const)('%s: the origin accepts the edge’s client certificate and refuses a connection without one (502)', async (maxVersion) => {
    const o = await origin({ cert: pki.server, clientCa: pki.ca, maxVersion });
    let seenClient = '';
    o.server.on('secureConnection', (s) => (seenClient = s.getPeerX509Certificate()?.subjectAltName ?? ''));
    const withCert = client({ url: o.url, clientCert: pki.edgeClient.certPem, clientKey: pki.edgeClient.keyPem });
    const res = await get(withCert);
    expect(res.status).toBe(200);
    await readBody(res.body);
    expect(seenClient).toBe('URI:spiffe://keyless/edge/edge-1');
    expect((await withCert.readiness()).ready).toBe(true);

    const without = client({ url: o.url });
    const err = await failure(get(without));
    expect(err.status).toBe(502);
    // TLS 1.3: the origin's certificate_required alert comes after the client's handshake is done,
    // so the request is already on its way and the origin's reset can overtake the alert.
    // TLS 1.2: OpenSSL sends handshake_failure, which could also mean no common cipher, so it is
    // the generic TLS code. Readiness (below) waits for the verdict and names it exactly.
    const expected = maxVersion === 'TLSv1.3' ? 'ORIGIN_ERR_CLIENT_CERT_REJECTED' : 'ORIGIN_ERR_TLS';
    expect(maxVersion === 'TLSv1.3' ? [expected, 'ORIGIN_ERR_RESET'] : [expected]).toContain(err.code);
    expect(o.requests()).toBe(1);
    const ready = await without.readiness();
    expect(ready.ready).toBe(false);
    expect(ready.origins[0]!.code).toBe(expected);
  });
});

describe('origin failures', () => {
  it('origin down: 502 ORIGIN_ERR_CONNECT', async () => {
    const port = await freePort();
    const err = await failure(get(client({ url: `https://127.0.0.1:${port}` })));
    expect(err.code).toBe('ORIGIN_ERR_CONNECT');
    expect(err.status).toBe(502);
  });

  it('origin accepts TCP but never completes TLS: 504 ORIGIN_ERR_CONNECT_TIMEOUT', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => silent.close(() => resolve())));
    const sockets: net.Socket[] = [];
    silent.on('connection', (s) => sockets.push(s));
    cleanups.push(async () => sockets.forEach((s) => s.destroy()));
    const err = await failure(get(client({ url: `https://127.0.0.1:${(silent.address() as AddressInfo).port}`, timeouts: { connectMs: 300 } })));
    expect(err.code).toBe('ORIGIN_ERR_CONNECT_TIMEOUT');
    expect(err.status).toBe(504);
  });

  it('origin slow to answer: 504 ORIGIN_ERR_HEADERS_TIMEOUT', async () => {
    const o = await origin({ cert: pki.server, handler: (_req, res) => void setTimeout(() => res.end('late'), 2_000) });
    const started = Date.now();
    const err = await failure(get(client({ url: o.url, timeouts: { headersMs: 300 } })));
    expect(err.code).toBe('ORIGIN_ERR_HEADERS_TIMEOUT');
    expect(err.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('origin stalls mid-body: the body stream fails with ORIGIN_ERR_BODY_TIMEOUT (504)', async () => {
    const o = await origin({
      cert: pki.server,
      handler: (_req, res) => {
        res.writeHead(200, { 'content-length': '10' });
        res.write('12345');
      },
    });
    const res = await get(client({ url: o.url, timeouts: { bodyMs: 300 } }));
    expect(res.status).toBe(200);
    const err = await failure(readBody(res.body));
    expect(err.code).toBe('ORIGIN_ERR_BODY_TIMEOUT');
    expect(err.status).toBe(504);
  });

  it('origin closes mid-body: ORIGIN_ERR_RESET or BAD_RESPONSE on the body stream', async () => {
    const o = await origin({
      cert: pki.server,
      handler: (_req, res) => {
        res.writeHead(200, { 'content-length': '100' });
        res.write('12345', () => res.socket?.destroy());
      },
    });
    const res = await get(client({ url: o.url }));
    const err = await failure(readBody(res.body));
    expect(['ORIGIN_ERR_RESET', 'ORIGIN_ERR_BAD_RESPONSE']).toContain(err.code);
  });

  it('response headers beyond maxResponseHeaderBytes: 502 ORIGIN_ERR_HEADERS_TOO_LARGE', async () => {
    const o = await origin({ cert: pki.server, handler: (_req, res) => res.writeHead(200, { 'x-big': 'a'.repeat(8_000) }).end() });
    const err = await failure(get(client({ url: o.url, maxResponseHeaderBytes: 4_096 })));
    expect(err.code).toBe('ORIGIN_ERR_HEADERS_TOO_LARGE');
    expect(err.status).toBe(502);
  });

  it('a host with no origin: 421 ORIGIN_ERR_NO_ROUTE', async () => {
    const o = await origin({ cert: pki.server });
    const err = await failure(get(client({ url: o.url }), { host: 'unknown.test' }));
    expect(err.code).toBe('ORIGIN_ERR_NO_ROUTE');
    expect(err.status).toBe(421);
  });

  it('the client going away aborts the origin request: ORIGIN_ERR_ABORTED', async () => {
    let closed = false;
    const o = await origin({ cert: pki.server, handler: (req) => req.socket.once('close', () => (closed = true)) });
    const ac = new AbortController();
    const pending = client({ url: o.url }).fetch(edgeRequest(), null, ac.signal);
    await new Promise((r) => setTimeout(r, 200));
    ac.abort();
    expect((await failure(pending)).code).toBe('ORIGIN_ERR_ABORTED');
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).toBe(true);
  });

  it('a client body that fails mid-way: ORIGIN_ERR_REQUEST_BODY (400), or a short one for its Content-Length', async () => {
    const o = await origin({ cert: pki.server });
    const c = client({ url: o.url });
    const broken = new Readable({ read() {} });
    broken.push('part of the body');
    setTimeout(() => broken.destroy(new Error('client connection reset')), 50);
    const headers = { host: 'www.example.test', 'content-length': '1000' };
    const err = await failure(c.fetch(edgeRequest({ method: 'POST', headers }), broken, new AbortController().signal));
    expect(err.code).toBe('ORIGIN_ERR_REQUEST_BODY');
    expect(err.status).toBe(400);
    const short = await failure(c.fetch(edgeRequest({ method: 'POST', headers }), Buffer.from('only this'), new AbortController().signal));
    expect(short.code).toBe('ORIGIN_ERR_REQUEST_BODY');
  });

  it('an absolute-form target goes to the origin in origin-form; asterisk-form is refused', async () => {
    const o = await origin({ cert: pki.server });
    const c = client({ url: o.url });
    const res = await get(c, { url: 'https://www.example.test/p?q=1' });
    expect((JSON.parse((await readBody(res.body)).toString()) as { url: string }).url).toBe('/p?q=1');
    expect((await failure(get(c, { method: 'OPTIONS', url: '*' }))).code).toBe('ORIGIN_ERR_BAD_REQUEST');
  });

  describe('a request the origin dropped unanswered', () => {
    /** Raw TLS HTTP/1.1: drops the first `drops` connections after reading a request head, then answers. */
    async function droppingOrigin(drops: number): Promise<{ url: string; heads: () => number }> {
      let heads = 0;
      let connections = 0;
      const sockets = new Set<tls.TLSSocket>();
      const server = tls.createServer({ cert: pki.server.chainPem, key: pki.server.keyPem, ALPNProtocols: ['http/1.1'] }, (socket) => {
        sockets.add(socket);
        const dropThis = ++connections <= drops;
        let received = '';
        socket.on('data', (d: Buffer) => {
          received += d.toString('latin1');
          if (!received.includes('\r\n\r\n')) return;
          heads++;
          received = '';
          if (dropThis) socket.destroy();
          else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nanswered');
        });
        socket.on('error', () => socket.destroy());
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      cleanups.push(
        () =>
          new Promise<void>((resolve) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => resolve());
          }),
      );
      return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, heads: () => heads };
    }

    it('a GET or HEAD is sent again, once, on a new connection (RFC 9112 §9.3.1)', async () => {
      for (const method of ['GET', 'HEAD']) {
        const o = await droppingOrigin(1);
        const res = await get(client({ url: o.url }), { method });
        expect(res.status).toBe(200);
        await readBody(res.body);
        expect(o.heads()).toBe(2);
      }
    });

    it('not twice: an origin that drops it again gets 502 ORIGIN_ERR_RESET', async () => {
      const o = await droppingOrigin(5);
      expect((await failure(get(client({ url: o.url })))).code).toBe('ORIGIN_ERR_RESET');
      expect(o.heads()).toBe(2);
    });

    it('never a request that is not safe, or that has a body', async () => {
      const o = await droppingOrigin(5);
      const c = client({ url: o.url });
      expect((await failure(get(c, { method: 'DELETE' })))).toMatchObject({ code: 'ORIGIN_ERR_RESET' });
      expect(o.heads()).toBe(1);
      const post = c.fetch(edgeRequest({ method: 'POST', headers: { host: 'www.example.test', 'content-length': '3' } }), Buffer.from('abc'), new AbortController().signal);
      expect((await failure(post)).code).toBe('ORIGIN_ERR_RESET');
      expect(o.heads()).toBe(2);
    });
  });

  it('a wrong origin certificate is not retried into success later: every request is checked', async () => {
    const o = await origin({ cert: pki.wrongName });
    const c = client({ url: o.url });
    for (let i = 0; i < 3; i++) expect((await failure(get(c))).code).toBe('ORIGIN_ERR_CERT_HOSTNAME');
  });
});

describe('close and destroy', () => {
  it('close() lets the request in flight finish and refuses new ones; destroy() ends it', async () => {
    const o = await origin({ cert: pki.server, handler: (_req, res) => void setTimeout(() => res.end('done'), 300) });
    const c = client({ url: o.url });
    const inFlight = get(c);
    await new Promise((r) => setTimeout(r, 100));
    const closed = c.close();
    expect((await failure(get(c))).code).toBe('ORIGIN_ERR_INTERNAL');
    expect(String(await readBody((await inFlight).body))).toBe('done');
    await closed;

    const d = client({ url: o.url });
    const cut = get(d);
    await new Promise((r) => setTimeout(r, 100));
    await d.destroy();
    expect((await failure(cut)).code).toBe('ORIGIN_ERR_INTERNAL');
  });
});

describe('connections', () => {
  it('never opens more than `connections` connections to one origin', async () => {
    let open = 0;
    let maxOpen = 0;
    const o = await origin({ cert: pki.server, handler: (_req, res) => void setTimeout(() => res.end('ok'), 100) });
    o.server.on('secureConnection', (s) => {
      maxOpen = Math.max(maxOpen, ++open);
      s.once('close', () => open--);
    });
    const c = client({ url: o.url, connections: 2 });
    const responses = await Promise.all(Array.from({ length: 8 }, () => get(c).then((r) => readBody(r.body))));
    expect(responses.map(String)).toEqual(Array(8).fill('ok'));
    expect(maxOpen).toBe(2);
    expect(o.requests()).toBe(8);
  });
});

describe('HTTP/2 to the origin (http2: true)', () => {
  type Echo = { httpVersion: string; url: string; headers: Record<string, string>; bodyBytes: number };
  const echo = async (res: Awaited<ReturnType<typeof get>>): Promise<Echo> => JSON.parse((await readBody(res.body)).toString()) as Echo;

  /** Counts the TLS connections an origin accepts. */
  const countConnections = (o: TestOrigin): (() => number) => {
    let n = 0;
    o.server.on('secureConnection', () => n++);
    return () => n;
  };

  it('speaks h2 to an origin that accepts it, with the Host as :authority and Via saying 2', async () => {
    const o = await origin({ cert: pki.server, http2: 'h2-or-http1' });
    const res = await get(client({ url: o.url, http2: true }), { url: '/h2?x=1' });
    expect(res.status).toBe(200);
    expect(res.headers.via).toBe('2 keyless-edge');
    const echoed = await echo(res);
    expect(echoed.httpVersion).toBe('2.0');
    expect(echoed.url).toBe('/h2?x=1');
    expect(echoed.headers[':authority']).toBe('www.example.test');
    // The request's own Via says what the edge received from its client.
    expect(echoed.headers.via).toBe('1.1 keyless-edge');
    // A configured hostHeader becomes the :authority.
    const renamed = await echo(await get(client({ url: o.url, http2: true, hostHeader: 'origin.internal' })));
    expect(renamed.headers[':authority']).toBe('origin.internal');
  });

  it('multiplexes: concurrent requests share one connection, where HTTP/1.1 needs one each', async () => {
    const slow: Parameters<typeof startTestOrigin>[0]['handler'] = (_req, res) => void setTimeout(() => res.end('ok'), 100);
    const h2 = await origin({ cert: pki.server, http2: 'h2-or-http1', handler: slow });
    const h2Connections = countConnections(h2);
    const viaH2 = client({ url: h2.url, http2: true, connections: 4 });
    // Until a first connection has chosen h2, a burst would open one connection per request.
    await readBody((await get(viaH2)).body);
    expect((await Promise.all(Array.from({ length: 12 }, () => get(viaH2).then((r) => readBody(r.body))))).map(String)).toEqual(Array(12).fill('ok'));
    expect(h2Connections()).toBe(1);
    expect(h2.requests()).toBe(13);

    const h1 = await origin({ cert: pki.server, http2: 'h2-or-http1', handler: slow });
    const h1Connections = countConnections(h1);
    const viaH1 = client({ url: h1.url, connections: 4 });
    await Promise.all(Array.from({ length: 12 }, () => get(viaH1).then((r) => readBody(r.body))));
    expect(h1Connections()).toBe(4);
  });

  it('keeps within the origin\'s own SETTINGS_MAX_CONCURRENT_STREAMS and maxConcurrentStreams', async () => {
    for (const [announced, configured, expected] of [
      [2, 100, 2],
      [100, 3, 3],
    ] as const) {
      let running = 0;
      let most = 0;
      const o = await origin({
        cert: pki.server,
        http2: 'h2-only',
        maxConcurrentStreams: announced,
        handler: (_req, res) => {
          most = Math.max(most, ++running);
          setTimeout(() => {
            running--;
            res.end('ok');
          }, 50);
        },
      });
      const c = client({ url: o.url, http2: true, connections: 1, maxConcurrentStreams: configured });
      await readBody((await get(c)).body);
      most = 0;
      expect((await Promise.all(Array.from({ length: 10 }, () => get(c).then((r) => readBody(r.body))))).map(String)).toEqual(Array(10).fill('ok'));
      expect(most).toBe(expected);
    }
  });

  it('keeps to HTTP/1.1 without http2, and falls back to it when the origin does not offer h2', async () => {
    const h2Capable = await origin({ cert: pki.server, http2: 'h2-or-http1' });
    const plain = await get(client({ url: h2Capable.url }));
    expect((await echo(plain)).httpVersion).toBe('1.1');
    const h1Only = await origin({ cert: pki.server });
    const fallback = await get(client({ url: h1Only.url, http2: true }));
    expect(fallback.headers.via).toBe('1.1 keyless-edge');
    expect((await echo(fallback)).httpVersion).toBe('1.1');
  });

  it('streams a request body over h2', async () => {
    const o = await origin({ cert: pki.server, http2: 'h2-only' });
    const body = Readable.from([Buffer.alloc(40_000, 1), Buffer.alloc(30_000, 2)]);
    const res = await client({ url: o.url, http2: true }).fetch(
      edgeRequest({ method: 'POST', url: '/upload', headers: { host: 'www.example.test', 'content-type': 'application/octet-stream', 'content-length': '70000' } }),
      body,
      new AbortController().signal,
    );
    const echoed = await echo(res);
    expect(echoed.httpVersion).toBe('2.0');
    expect(echoed.bodyBytes).toBe(70_000);
  });

  it('verifies an h2 origin as strictly: a certificate for another name is refused before any request', async () => {
    const o = await origin({ cert: pki.wrongName, http2: 'h2-only' });
    expect((await failure(get(client({ url: o.url, http2: true })))).code).toBe('ORIGIN_ERR_CERT_HOSTNAME');
    expect(o.requests()).toBe(0);
  });

  /** An h2-only origin that resets its first stream with `code` and answers `answer` to the others. */
  async function resettingOrigin(code: number, answer: string): Promise<{ url: string; calls: () => number }> {
    let calls = 0;
    const o = await origin({
      cert: pki.server,
      http2: 'h2-only',
      handler: (req, res) => {
        if (++calls === 1) (req as unknown as http2.Http2ServerRequest).stream.close(code);
        else res.end(answer);
      },
    });
    return { url: o.url, calls: () => calls };
  }

  it('maps a stream the origin resets to ORIGIN_ERR_RESET (502) for a request it may not repeat, and the connection keeps serving', async () => {
    const o = await resettingOrigin(http2.constants.NGHTTP2_INTERNAL_ERROR, 'fine');
    const c = client({ url: o.url, http2: true });
    const err = await failure(get(c, { method: 'DELETE', url: '/thing' }));
    expect(err.code).toBe('ORIGIN_ERR_RESET');
    expect(err.status).toBe(502);
    expect(o.calls()).toBe(1);
    expect((await readBody((await get(c)).body)).toString()).toBe('fine');
  });

  it('sends a GET again, once, when the origin refuses its stream (REFUSED_STREAM: never processed, RFC 9113 §8.7)', async () => {
    const o = await resettingOrigin(http2.constants.NGHTTP2_REFUSED_STREAM, 'second time');
    const registry = new Registry();
    const res = await get(client({ url: o.url, http2: true }, { registry }));
    expect((await readBody(res.body)).toString()).toBe('second time');
    expect(o.calls()).toBe(2);
    expect(await registry.metrics()).toMatch(/keyless_edge_origin_retries_total\{origin="[^"]+"\} 1/);
  });

  it('holds an h2 answer to maxResponseHeaderBytes as it does an HTTP/1.1 one: 502 ORIGIN_ERR_HEADERS_TOO_LARGE', async () => {
    const o = await origin({ cert: pki.server, http2: 'h2-only', handler: (_req, res) => res.writeHead(200, { 'x-big': 'b'.repeat(20_000) }).end('body') });
    const err = await failure(get(client({ url: o.url, http2: true })));
    expect(err.code).toBe('ORIGIN_ERR_HEADERS_TOO_LARGE');
    expect(err.status).toBe(502);
    const roomy = await get(client({ url: o.url, http2: true, maxResponseHeaderBytes: 32_768 }));
    expect(roomy.status).toBe(200);
    expect((await readBody(roomy.body)).toString()).toBe('body');
  });

  it('probes an h2-only origin for readiness with the protocols its requests use, and says which it chose', async () => {
    const o = await origin({ cert: pki.server, http2: 'h2-only' });
    const ready = await client({ url: o.url, http2: true }).readiness();
    expect(ready.ready).toBe(true);
    expect(ready.origins[0]).toMatchObject({ ok: true, protocol: 'h2' });
    const h1 = await origin({ cert: pki.server, http2: 'h2-or-http1' });
    expect((await client({ url: h1.url }).readiness()).origins[0]).toMatchObject({ ok: true, protocol: 'http/1.1' });
  });
});

describe('header rewriting toward the origin and back', () => {
  it('removes hop-by-hop fields both ways and sets X-Forwarded-*, Forwarded and Via', async () => {
    const o = await origin({
      cert: pki.server,
      handler: (req, res) => {
        res.writeHead(200, {
          'content-type': 'application/json',
          connection: 'x-origin-hop',
          'x-origin-hop': 'secret',
          'keep-alive': 'timeout=5',
          'set-cookie': ['a=1', 'b=2'],
          via: '1.1 origin-proxy',
        });
        res.end(JSON.stringify(req.headers));
      },
    });
    const res = await get(client({ url: o.url }), {
      headers: {
        host: 'www.example.test',
        connection: 'keep-alive, x-client-hop',
        'x-client-hop': 'secret',
        'keep-alive': 'timeout=10',
        'proxy-connection': 'keep-alive',
        te: 'trailers',
        trailer: 'x-checksum',
        upgrade: 'h2c',
        expect: '100-continue',
        'x-forwarded-for': '198.51.100.1',
        'x-forwarded-proto': 'http',
        forwarded: 'for=198.51.100.1',
        via: '1.0 corporate-proxy',
        'x-end-to-end': 'kept',
      },
      clientIp: '::ffff:203.0.113.9',
    });
    const seen = JSON.parse((await readBody(res.body)).toString()) as Record<string, string>;
    for (const name of ['x-client-hop', 'proxy-connection', 'te', 'trailer', 'upgrade', 'expect']) expect(seen[name], name).toBeUndefined();
    // undici manages its own connection: keep-alive, which is not the client's.
    expect(seen.connection).not.toContain('x-client-hop');
    expect(seen['keep-alive']).toBeUndefined();
    expect(seen['x-end-to-end']).toBe('kept');
    expect(seen.host).toBe('www.example.test');
    // The client's own X-Forwarded-For and Forwarded are dropped by default: the edge is the first trusted hop.
    expect(seen['x-forwarded-for']).toBe('203.0.113.9');
    expect(seen['x-forwarded-proto']).toBe('https');
    expect(seen['x-forwarded-host']).toBe('www.example.test');
    expect(seen.forwarded).toBe('for=203.0.113.9;host=www.example.test;proto=https');
    expect(seen.via).toBe('1.0 corporate-proxy, 1.1 keyless-edge');

    expect(res.headers['x-origin-hop']).toBeUndefined();
    expect(res.headers.connection).toBeUndefined();
    expect(res.headers['keep-alive']).toBeUndefined();
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(res.headers.via).toBe('1.1 origin-proxy, 1.1 keyless-edge');
  });

  it('hostHeader replaces the client’s Host; incomingForwarded append keeps the chain', async () => {
    const o = await origin({ cert: pki.server });
    const c = client({ url: o.url, hostHeader: 'origin.internal:9443', incomingForwarded: 'append' });
    const res = await get(c, { headers: { host: 'www.example.test', 'x-forwarded-for': '198.51.100.1', forwarded: 'for=198.51.100.1' }, clientIp: '2001:db8::7' });
    const seen = (JSON.parse((await readBody(res.body)).toString()) as { headers: Record<string, string> }).headers;
    expect(seen.host).toBe('origin.internal:9443');
    expect(seen['x-forwarded-for']).toBe('198.51.100.1, 2001:db8::7');
    expect(seen.forwarded).toBe('for=198.51.100.1, for="[2001:db8::7]";host=www.example.test;proto=https');
  });
});

describe('metrics and readiness', () => {
  it('counts latency by origin and status class, and errors by code', async () => {
    const ok = await origin({ cert: pki.server, handler: (req, res) => res.writeHead(req.url === '/missing' ? 404 : 200).end() });
    const registry = new Registry();
    const c = createOriginClient({
      origins: [
        { name: 'good', hostnames: ['good.test'], url: ok.url, ca: pki.ca.certPem },
        { name: 'down', hostnames: ['down.test'], url: `https://127.0.0.1:${await freePort()}`, ca: pki.ca.certPem },
      ],
      registry,
    });
    cleanups.push(() => c.destroy());
    await readBody((await get(c, { host: 'good.test' })).body);
    await readBody((await get(c, { host: 'good.test', url: '/missing' })).body);
    await failure(get(c, { host: 'down.test' }));
    const text = await registry.metrics();
    expect(text).toContain('keyless_edge_origin_request_seconds_count{origin="good",status_class="2xx"} 1');
    expect(text).toContain('keyless_edge_origin_request_seconds_count{origin="good",status_class="4xx"} 1');
    expect(text).toContain('keyless_edge_origin_request_seconds_count{origin="down",status_class="error"} 1');
    expect(text).toContain('keyless_edge_origin_errors_total{origin="down",code="ORIGIN_ERR_CONNECT"} 1');
    expect(text).toMatch(/keyless_edge_origin_connections\{origin="good"\} [12]\n/);

    const ready = await c.readiness();
    expect(ready.ready).toBe(false);
    expect(ready.origins.map((p) => [p.name, p.ok, p.code])).toEqual([
      ['good', true, undefined],
      ['down', false, 'ORIGIN_ERR_CONNECT'],
    ]);
  });

  it('readiness verifies the certificate as requests do', async () => {
    const o = await origin({ cert: pki.wrongName });
    const ready = await client({ url: o.url }).readiness();
    expect(ready.ready).toBe(false);
    expect(ready.origins[0]!.code).toBe('ORIGIN_ERR_CERT_HOSTNAME');
    expect(o.requests()).toBe(0);
  });
});

describe('routing', () => {
  it('routes by host, ignoring the port, with one-label wildcards', async () => {
    const a = await origin({ cert: pki.server, handler: (_q, r) => r.end('a') });
    const b = await origin({ cert: pki.server, handler: (_q, r) => r.end('b') });
    const c = createOriginClient({
      origins: [
        { hostnames: ['a.test', '*.b.test'], url: a.url, ca: pki.ca.certPem },
        { hostnames: ['x.b.test'], url: b.url, ca: pki.ca.certPem },
      ],
    });
    cleanups.push(() => c.destroy());
    const body = async (host: string) => String(await readBody((await get(c, { host })).body));
    expect(await body('a.test:8443')).toBe('a');
    expect(await body('y.b.test')).toBe('a');
    expect(await body('x.b.test')).toBe('b');
    expect(c.route('deep.y.b.test')).toBeUndefined();
    expect(c.route('b.test')).toBeUndefined();
  });

  it('refuses two origins for one hostname, naming the field', () => {
    expect(() =>
      createOriginClient({
        origins: [
          { hostnames: ['a.test'], url: 'https://127.0.0.1:1' },
          { hostnames: ['b.test', 'A.test'], url: 'https://127.0.0.1:2' },
        ],
      }),
    ).toThrow(/origins\[1\]\.hostnames\[1\]: a\.test is already served/);
  });
});

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

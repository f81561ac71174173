// HTTP/2 through the real edge (tls.alpn: [h2, http/1.1], the default): Node's http2 client and curl over the
// edge's own TLS 1.3, signing through a real key server, to the real HTTPS demo origin (which the
// edge reaches over HTTP/1.1), with the cache, the WAF and the HTTP/2 limits.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import http2 from 'node:http2';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startFullStack, type FullStack } from '../../helpers/full-stack.js';
import { startEdgeFixture, type EdgeFixture } from '../../helpers/edge-fixture.js';
import { startKeyServerFixture } from '../../helpers/keyserver-fixture.js';
import { startTestOrigin, type TestOrigin } from './origin/origin-fixture.js';
import { tempDir } from '../../helpers/tmp.js';

const run = promisify(execFile);

interface H2Response {
  readonly status: number;
  readonly headers: http2.IncomingHttpHeaders;
  readonly text: string;
}

function connect(stack: FullStack, servername = 'localhost'): http2.ClientHttp2Session {
  return http2.connect(`https://localhost:${stack.edge.port}`, { ca: stack.ca, servername, minVersion: 'TLSv1.3', host: '127.0.0.1' } as http2.SecureClientSessionOptions);
}

function h2(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: string | Buffer): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let status = 0;
    let responseHeaders: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      responseHeaders = h;
      status = Number(h[':status']);
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status, headers: responseHeaders, text: Buffer.concat(chunks).toString() }));
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

describe('HTTP/2 through the pipeline', () => {
  let stack: FullStack;
  let session: http2.ClientHttp2Session;
  beforeAll(async () => {
    stack = await startFullStack({
      alpn: ['h2', 'http/1.1'],
      origin: { maxAgeSeconds: 60 },
      extra: `waf:
  rules:
    - { name: no-admin, expression: 'http.request.uri.path starts_with "/admin"', action: block }
`,
    });
    session = connect(stack);
  });
  afterAll(async () => {
    session?.close();
    await stack?.stop();
  });

  it('negotiates h2 by ALPN and forwards to the origin as HTTP/1.1 with Host from :authority', async () => {
    const response = await h2(session, { ':path': '/api/headers', ':authority': `localhost:${stack.edge.port}` });
    expect(response.status).toBe(200);
    expect(session.alpnProtocol).toBe('h2');
    const seen = JSON.parse(response.text) as { headers: Record<string, string> };
    expect(seen.headers.host).toBe(`localhost:${stack.edge.port}`);
    // RFC 9110 §7.6.3: the protocol the edge received, "2", in Via.
    expect(seen.headers.via).toMatch(/^2 keyless-edge/);
    expect(Object.keys(seen.headers).some((name) => name.startsWith(':'))).toBe(false);
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f]{16}-\d+$/);
    // RFC 9113 §8.2.2: no connection-specific field in an HTTP/2 response.
    for (const name of ['connection', 'keep-alive', 'transfer-encoding']) expect(response.headers[name]).toBeUndefined();
  });

  it('caches over HTTP/2 like over HTTP/1.1: a MISS, then a HIT, shared with HTTP/1.1 clients', async () => {
    const first = await h2(session, { ':path': '/static/style.css' });
    const second = await h2(session, { ':path': '/static/style.css' });
    const overHttp1 = await request(stack, '/static/style.css');
    expect(first.headers['cache-status']).toMatch(/fwd=uri-miss/);
    expect(second.headers['cache-status']).toMatch(/keyless; hit/);
    expect(overHttp1.headers['cache-status']).toMatch(/keyless; hit/);
    expect(second.text).toBe(first.text);
    expect(stack.origin.stats().byPath['/static/style.css']).toBe(1);
  });

  it('forwards a request body (DATA frames, no Content-Length)', async () => {
    const body = JSON.stringify({ note: 'lorem ipsum '.repeat(5_000) });
    const response = await h2(session, { ':method': 'POST', ':path': '/api/echo', 'content-type': 'application/json' }, body);
    expect(response.status).toBe(200);
    const echoed = JSON.parse(response.text) as { bytes: number; sha256: string };
    expect(echoed.bytes).toBe(body.length);
    expect(echoed.sha256).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('serves 50 concurrent streams on one connection, after one handshake', async () => {
    const fresh = connect(stack);
    try {
      const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => h2(fresh, { ':path': `/api/headers?n=${i}` })));
      expect(responses.every((r) => r.status === 200)).toBe(true);
      const ids = new Set(responses.map((r) => (r.headers['x-request-id'] as string).split('-')[0]));
      expect(ids.size).toBe(1); // one TLS connection: one handshake id
      expect(fresh.remoteSettings.maxConcurrentStreams).toBe(100);
      expect(fresh.remoteSettings.enablePush).toBe(false);
    } finally {
      fresh.close();
    }
  });

  it('the WAF inspects HTTP/2 requests: a blocked one gets 403 on its stream, the connection goes on', async () => {
    const blocked = await h2(session, { ':path': '/admin/panel' });
    expect(blocked.status).toBe(403);
    const after = await h2(session, { ':path': '/api/headers' });
    expect(after.status).toBe(200);
  });

  it('refuses a Host header that contradicts :authority (RFC 9113 §8.3.1) with 400', async () => {
    const response = await h2(session, { ':path': '/api/headers', ':authority': `localhost:${stack.edge.port}`, host: 'evil.example' });
    expect(response.status).toBe(400);
    expect(stack.origin.stats().byPath['/api/headers']).toBeGreaterThan(0);
  });

  it('does not tunnel CONNECT (405, from node\'s http2 without a connect listener), and the connection goes on', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const stream = session.request({ ':method': 'CONNECT', ':authority': 'example.com:443' });
      stream.on('response', (h) => resolve(Number(h[':status'])));
      stream.on('error', reject);
    });
    expect(status).toBe(405);
    expect((await h2(session, { ':path': '/api/headers' })).status).toBe(200);
  });

  it('HTTP/1.1 clients are still served on the same listener', async () => {
    const response = await request(stack, '/api/headers');
    expect(response.status).toBe(200);
    expect((JSON.parse(response.text) as { headers: Record<string, string> }).headers.via).toMatch(/^1\.1 keyless-edge/);
  });

  it('curl --http2 fetches through the edge over HTTP/2', async (ctx) => {
    const version = await run('curl', ['-V']).catch(() => undefined);
    if (!version || !/HTTP2/.test(version.stdout)) {
      console.log('skipped: curl with HTTP/2 support is not installed (.ci/run installs it)');
      ctx.skip();
      return;
    }
    const { dir, cleanup } = await tempDir('h2-curl');
    try {
      const ca = path.join(dir, 'ca.pem');
      await writeFile(ca, stack.ca);
      const { stdout } = await run('curl', ['--silent', '--http2', '--cacert', ca, '--resolve', `localhost:${stack.edge.port}:127.0.0.1`, '--write-out', '\n%{http_version} %{http_code}', `https://localhost:${stack.edge.port}/api/headers`]);
      const lines = stdout.trim().split('\n');
      expect(lines[lines.length - 1]).toBe('2 200');
      expect(lines.slice(0, -1).join('\n')).toMatch(/"via":"2 keyless-edge/);
    } finally {
      await cleanup();
    }
  });
});

describe('HTTP/2 limits', () => {
  let stack: FullStack;
  beforeAll(async () => {
    stack = await startFullStack({
      alpn: ['h2', 'http/1.1'],
      cache: null,
      extra: 'http: { maxRequestsPerConnection: 3, maxConcurrentStreams: 8, maxHeaderBytes: 4096, keepAliveTimeoutMs: 300, headersTimeoutMs: 400, requestTimeoutMs: 500 }\n',
    });
  });
  afterAll(async () => stack?.stop());

  it('announces maxConcurrentStreams and sends GOAWAY after maxRequestsPerConnection streams', async () => {
    const session = connect(stack);
    try {
      const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
      for (let i = 0; i < 3; i++) expect((await h2(session, { ':path': '/api/headers' })).status).toBe(200);
      await goaway;
      expect(session.remoteSettings.maxConcurrentStreams).toBe(8);
    } finally {
      session.destroy();
    }
  });

  it('closes an idle connection after keepAliveTimeoutMs with GOAWAY', async () => {
    const session = connect(stack);
    try {
      expect((await h2(session, { ':path': '/api/headers' })).status).toBe(200);
      const closed = await new Promise<boolean>((resolve) => {
        session.once('goaway', () => resolve(true));
        setTimeout(() => resolve(false), 3_000).unref();
      });
      expect(closed).toBe(true);
    } finally {
      session.destroy();
    }
  });

  it('resets a stream whose body has not arrived within requestTimeoutMs (RST_STREAM CANCEL), and serves the next', async () => {
    const session = connect(stack);
    try {
      const started = Date.now();
      const stream = session.request({ ':method': 'POST', ':path': '/api/echo', 'content-type': 'application/json' }, { endStream: false });
      stream.on('error', () => undefined);
      stream.write('{"partial": ');
      const code = await new Promise<number>((resolve) => stream.once('close', () => resolve(stream.rstCode)));
      expect(code).toBe(http2.constants.NGHTTP2_CANCEL);
      expect(Date.now() - started).toBeGreaterThanOrEqual(400);
      const fresh = connect(stack);
      try {
        expect((await h2(fresh, { ':path': '/api/headers' })).status).toBe(200);
      } finally {
        fresh.close();
      }
    } finally {
      session.destroy();
    }
  });

  it('answers a header list over maxHeaderBytes with 431, without forwarding it, and the connection goes on', async () => {
    const session = connect(stack);
    try {
      const before = stack.origin.stats().byPath['/api/headers'] ?? 0;
      const big = await h2(session, { ':path': '/api/headers', 'x-big': 'a'.repeat(5_000) });
      expect(big.status).toBe(431);
      expect(stack.origin.stats().byPath['/api/headers'] ?? 0).toBe(before);
      // Just under the limit (RFC 9113 §6.5.2 counts 32 octets per field) is served.
      const fits = await h2(session, { ':path': '/api/headers', 'x-big': 'a'.repeat(3_800) });
      expect(fits.status).toBe(200);
    } finally {
      session.destroy();
    }
  });
});

describe('HTTP/2 without origins (the built-in answer)', () => {
  let keyServer: Awaited<ReturnType<typeof startKeyServerFixture>>;
  let edge: EdgeFixture;
  beforeAll(async () => {
    keyServer = await startKeyServerFixture();
    edge = await startEdgeFixture({ pki: keyServer.pki, keyServers: [keyServer.address], alpn: ['h2', 'http/1.1'] });
  });
  afterAll(async () => {
    await edge?.close();
    await keyServer?.stop();
  });

  it('answers with what the handshake negotiated, alpn h2 included, and counts a request body', async () => {
    const session = http2.connect(`https://localhost:${edge.port}`, { ca: await readFile(keyServer.pki.edge.ca), host: '127.0.0.1', servername: 'localhost' } as http2.SecureClientSessionOptions);
    try {
      const response = await h2(session, { ':method': 'POST', ':path': '/facts' }, 'abc');
      expect(response.status).toBe(200);
      const facts = JSON.parse(response.text) as { path: string; bodyBytes: number; host: string; tls: { alpn: string; cipher: string } };
      expect(facts).toMatchObject({ path: '/facts', bodyBytes: 3, host: `localhost:${edge.port}`, tls: { alpn: 'h2', cipher: 'TLS_AES_128_GCM_SHA256' } });
    } finally {
      session.close();
    }
  });
});

describe('HTTP/2 to the origin (origins[].http2: true) through the real edge', () => {
  let keyServer: Awaited<ReturnType<typeof startKeyServerFixture>>;
  let origin: TestOrigin;
  let edge: EdgeFixture;
  beforeAll(async () => {
    keyServer = await startKeyServerFixture();
    const pki = keyServer.pki;
    const [chainPem, keyPem] = await Promise.all([readFile(pki.origin.cert, 'utf8'), readFile(pki.origin.key, 'utf8')]);
    // An origin that speaks only h2: a request that reached it came over HTTP/2.
    origin = await startTestOrigin({ cert: { chainPem, keyPem, certPem: chainPem } as Parameters<typeof startTestOrigin>[0]['cert'], http2: 'h2-only' });
    const extra = `origins:
    - hostnames: [localhost]
      url: ${origin.url}
      ca: ${pki.edge.ca}
      serverName: localhost
      http2: true
      maxConcurrentStreams: 50
`;
    edge = await startEdgeFixture({ pki, keyServers: [keyServer.address], extra });
  });
  afterAll(async () => {
    await edge?.close();
    await origin?.close();
    await keyServer?.stop();
  });

  it('forwards an HTTP/1.1 client request to the origin over h2, verified against the configured CA', async () => {
    const response = await request({ edge, ca: await readFile(keyServer.pki.edge.ca) }, '/over-h2?q=1');
    expect(response.status).toBe(200);
    expect(response.headers.via).toBe('2 keyless-edge');
    const seen = JSON.parse(response.body.toString()) as { httpVersion: string; url: string; headers: Record<string, string> };
    expect(seen.httpVersion).toBe('2.0');
    expect(seen.url).toBe('/over-h2?q=1');
    expect(seen.headers[':authority']).toBe(`localhost:${edge.port}`);
    expect(origin.requests()).toBe(1);
  });
});

describe('ALPN without h2 (tls.alpn: [http/1.1])', () => {
  let stack: FullStack;
  beforeAll(async () => {
    stack = await startFullStack({ cache: null, alpn: ['http/1.1'] });
  });
  afterAll(async () => stack?.stop());

  it('a client that offers only h2 gets the no_application_protocol alert (RFC 7301 §3.2)', async () => {
    const error = await new Promise<Error & { code?: string }>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port: stack.edge.port, servername: 'localhost', ca: stack.ca, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3' });
      socket.once('secureConnect', () => resolve(Object.assign(new Error('connected'), { code: 'CONNECTED' })));
      socket.once('error', resolve);
    });
    expect(error.code).toBe('ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL');
  });

  it('a client that offers h2 and http/1.1 gets http/1.1', async () => {
    const protocol = await new Promise<string | false | null>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: stack.edge.port, servername: 'localhost', ca: stack.ca, ALPNProtocols: ['h2', 'http/1.1'], minVersion: 'TLSv1.3' });
      socket.once('secureConnect', () => {
        resolve(socket.alpnProtocol);
        socket.destroy();
      });
      socket.once('error', reject);
    });
    expect(protocol).toBe('http/1.1');
  });

  it('a reload that adds h2 to tls.alpn serves HTTP/2 on new connections', async () => {
    const yaml = await readFile(stack.edge.configFile, 'utf8');
    expect(yaml).toContain('  alpn: [http/1.1]\n');
    await writeFile(stack.edge.configFile, yaml.replace('  alpn: [http/1.1]\n', '  alpn: [h2, http/1.1]\n'));
    expect(await stack.edge.edge.reload()).toEqual({ applied: true });
    const session = connect(stack);
    try {
      const response = await h2(session, { ':path': '/api/headers' });
      expect(response.status).toBe(200);
      expect(session.alpnProtocol).toBe('h2');
    } finally {
      session.close();
    }
  });
});

// The HTTP pipeline end to end: real TLS clients through the real edge (signing through a real
// key server) to the real HTTPS demo origin, with the cache and the admin API.
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { admin, request, startFullStack, type FullStack } from '../../helpers/full-stack.js';

describe('forwarding and caching', () => {
  let stack: FullStack;
  beforeAll(async () => {
    stack = await startFullStack({ origin: { maxAgeSeconds: 1 } });
  });
  afterAll(async () => stack?.stop());

  const originHits = (path: string): number => stack.origin.stats().byPath[path] ?? 0;

  it('forwards to the origin over verified TLS, with the forwarding headers and a request id', async () => {
    const response = await request(stack, '/api/headers', { headers: { 'x-forwarded-for': '6.6.6.6' } });
    expect(response.status).toBe(200);
    const seen = JSON.parse(response.text) as { headers: Record<string, string> };
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers.via).toMatch(/1\.1 keyless-edge/);
    expect(seen.headers.host).toBe(`localhost:${stack.edge.port}`);
    // The request id begins with the TLS handshake id, which the key server audited.
    const requestId = response.headers['x-request-id'] as string;
    expect(requestId).toMatch(/^[0-9a-f]{16}-1$/);
    const audit = await stack.keyServer.auditLines();
    expect(audit.some((l) => l.requestId?.startsWith(`${requestId.split('-')[0]}/`))).toBe(true);
  });

  it('a cacheable response is a MISS, then a HIT, and the origin saw one request', async () => {
    const first = await request(stack, '/static/style.css');
    const second = await request(stack, '/static/style.css');
    expect(first.headers['cache-status']).toMatch(/keyless; fwd=uri-miss/);
    expect(second.headers['cache-status']).toMatch(/keyless; hit/);
    expect(second.text).toBe(first.text);
    expect(originHits('/static/style.css')).toBe(1);
  });

  it('keeps Vary variants apart', async () => {
    const fr = await request(stack, '/vary', { headers: { 'accept-language': 'fr' } });
    const de = await request(stack, '/vary', { headers: { 'accept-language': 'de' } });
    const fr2 = await request(stack, '/vary', { headers: { 'accept-language': 'fr' } });
    expect(fr.text).toMatch(/Bonjour/);
    expect(de.text).toMatch(/Hallo/);
    expect(fr2.text).toBe(fr.text);
    expect(fr2.headers['cache-status']).toMatch(/hit/);
    expect(originHits('/vary')).toBe(2);
  });

  it('revalidates an expired entry with a conditional request answered 304', async () => {
    await request(stack, '/cacheable');
    await sleep(1_200);
    const again = await request(stack, '/cacheable');
    expect(again.status).toBe(200);
    expect(again.text).toMatch(/cacheable content/);
    // Forwarded because stale, and the origin answered the conditional request with 304.
    expect(again.headers['cache-status']).toMatch(/fwd=stale; fwd-status=304/);
    // Two requests reached the origin: the fill, and the revalidation (answered 304).
    expect(originHits('/cacheable')).toBe(2);
  });

  it('coalesces 50 concurrent misses into one origin request', async () => {
    stack.origin.resetStats();
    const answers = await Promise.all(Array.from({ length: 50 }, () => request(stack, '/tagged/coalesce')));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(originHits('/tagged/coalesce')).toBe(1);
  });

  it('does not store no-store responses', async () => {
    stack.origin.resetStats();
    await request(stack, '/no-store');
    const second = await request(stack, '/no-store');
    expect(second.headers['cache-status']).not.toMatch(/hit/);
    expect(originHits('/no-store')).toBe(2);
  });

  it('purges by URL, by prefix and by tag through the admin API', async () => {
    const warm = async (path: string): Promise<void> => {
      await request(stack, path);
      expect((await request(stack, path)).headers['cache-status']).toMatch(/hit/);
    };
    await warm('/tagged/one');
    await warm('/tagged/two');
    await warm('/static/logo.svg');
    stack.origin.resetStats();

    expect((await admin(stack, 'POST', '/purge', { url: `https://localhost:${stack.edge.port}/static/logo.svg` })).json).toEqual({ purged: 1 });
    expect((await request(stack, '/static/logo.svg')).headers['cache-status']).not.toMatch(/hit/);

    const byTag = await admin(stack, 'POST', '/purge', { tags: ['one'] });
    expect((byTag.json as { purged: number }).purged).toBeGreaterThanOrEqual(1);
    expect((await request(stack, '/tagged/one')).headers['cache-status']).not.toMatch(/hit/);
    expect((await request(stack, '/tagged/two')).headers['cache-status']).toMatch(/hit/);

    await admin(stack, 'POST', '/purge', { prefix: `https://localhost:${stack.edge.port}/tagged/` });
    expect((await request(stack, '/tagged/two')).headers['cache-status']).not.toMatch(/hit/);
    expect(originHits('/tagged/one') + originHits('/tagged/two') + originHits('/static/logo.svg')).toBe(3);
  });

  it('streams a request body to the origin and its answer back', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024, 0x41);
    const response = await request(stack, '/api/echo', { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
    expect(response.status).toBe(200);
    expect((JSON.parse(response.text) as { bytes: number }).bytes).toBe(body.length);
  });

  it('passes any method to the origin as sent, and a chunked body without Content-Length', async () => {
    const patch = await request(stack, '/api/echo', { method: 'PATCH', body: 'x' });
    // The origin's own 405 (RFC 9110 §15.5.6), not an answer of the edge's.
    expect(patch.status).toBe(405);
    expect(patch.headers.allow).toBe('POST');
    expect(patch.headers['x-request-id']).toMatch(/^[0-9a-f]{16}-1$/);
    const chunked = await request(stack, '/api/echo', { method: 'POST', body: 'chunked body', headers: { 'transfer-encoding': 'chunked' } });
    expect(chunked.status).toBe(200);
    expect(JSON.parse(chunked.text)).toMatchObject({ bytes: 12, body: 'chunked body' });
  });

  it('passes WebSocket upgrades through', async () => {
    const ws = new WebSocket(`wss://localhost:${stack.edge.port}/ws`, { ca: stack.ca, servername: 'localhost', host: `localhost:${stack.edge.port}` } as WebSocket.ClientOptions);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const echoed = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
    ws.send('hello through the edge');
    expect(await echoed).toBe('hello through the edge');
    ws.close();
  });

  it('answers an unknown host with 421 and a request id', async () => {
    const response = await request(stack, '/', { headers: { host: 'unknown.example' } });
    expect(response.status).toBe(421);
    expect(response.text).toContain(response.headers['x-request-id'] as string);
  });

  it('refuses a body over the limit with 413, before reading it', async () => {
    const before = stack.origin.stats().byPath['/api/echo'] ?? 0;
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: stack.edge.port, servername: 'localhost', ca: stack.ca }, () => {
        // Announces 200 MiB (the limit is 100 MiB) and sends none of it.
        socket.write(`POST /api/echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${200 * 1024 * 1024}\r\n\r\n`);
      });
      let data = '';
      socket.on('data', (d) => {
        data += d;
        if (data.includes('\r\n\r\n')) {
          socket.destroy();
          resolve(data);
        }
      });
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(stack.origin.stats().byPath['/api/echo'] ?? 0).toBe(before);
  });

  it('serves stale when the origin is down (stale-if-error)', async () => {
    await request(stack, '/cacheable');
    await stack.origin.close();
    await sleep(1_200);
    const stale = await request(stack, '/cacheable');
    expect(stale.status).toBe(200);
    expect(stale.text).toMatch(/cacheable content/);
    // Forwarded because stale, the origin failed, and the stored copy was served by the
    // stale-if-error rule (RFC 5861 §4), not an answer from the origin.
    expect(stale.headers['cache-status']).toMatch(/^keyless; fwd=stale;.*detail=stale-if-error$/);
    // Something never cached gets the origin's failure: 502.
    const down = await request(stack, '/no-store');
    expect(down.status).toBe(502);
  });
});

describe('the admin API', () => {
  let stack: FullStack;
  beforeAll(async () => {
    stack = await startFullStack();
  });
  afterAll(async () => stack?.stop());

  it('needs the bearer token, except for /healthz', async () => {
    expect((await admin(stack, 'GET', '/healthz', undefined, 'wrong')).status).toBe(200);
    expect((await admin(stack, 'GET', '/metrics', undefined, 'wrong')).status).toBe(401);
    expect((await admin(stack, 'POST', '/purge', { all: true }, 'wrong')).status).toBe(401);
  });

  it('reports readiness with the key servers, keys and origins', async () => {
    await stack.edge.edge.pool.checkHealth();
    const ready = await admin(stack, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.json).toMatchObject({ ready: true, checks: { keyServers: '1/1 serving', keys: '4 granted' } });
    // The demo origin speaks HTTP/1.1 (origins[].http2 is off).
    expect(JSON.stringify(ready.json)).toMatch(/reachable \(strict, http\/1\.1, \d+ ms\)/);
  });

  it('exports Prometheus metrics for requests, the cache, handshakes, the key servers and the origin', async () => {
    await request(stack, '/static/style.css');
    await request(stack, '/static/style.css');
    const { text } = await admin(stack, 'GET', '/metrics');
    for (const name of ['keyless_edge_http_requests_total', 'keyless_edge_tls_handshakes_total', 'keyless_edge_keyserver_sign_seconds', 'keyless_edge_origin_request_seconds', 'keyless_edge_cache_']) {
      expect(text).toContain(name);
    }
    expect(text).toMatch(/keyless_edge_http_requests_total\{host="localhost",status="200"\} [1-9]/);
  });

  it('rejects a bad purge body with 400', async () => {
    expect((await admin(stack, 'POST', '/purge', { url: 'not a url' })).status).toBe(400);
  });
});

describe('reload of the HTTP pipeline', () => {
  let stack: FullStack;
  beforeAll(async () => {
    stack = await startFullStack();
  });
  afterAll(async () => stack?.stop());

  it('applies new cache rules from the admin API without dropping an open connection', async () => {
    const { readFile, writeFile } = await import('node:fs/promises');
    await request(stack, '/static/style.css');
    expect((await request(stack, '/static/style.css')).headers['cache-status']).toMatch(/hit/);
    const original = await readFile(stack.edge.configFile, 'utf8');
    await writeFile(stack.edge.configFile, original.replace('cache:\n', 'cache:\n  rules: [{ name: no-static, pathPrefix: /static/, action: bypass }]\n'));
    const reloaded = await admin(stack, 'POST', '/reload');
    expect(reloaded.json).toEqual({ applied: true });
    expect((await request(stack, '/static/style.css')).headers['cache-status']).toMatch(/fwd=bypass;.*detail=rule:no-static/);
    // A bad file is refused with 409 and the reason; the edge keeps serving.
    await writeFile(stack.edge.configFile, original.replace('cache:\n', 'cache:\n  rules: [{ action: sometimes }]\n'));
    const refused = await admin(stack, 'POST', '/reload');
    expect(refused.status).toBe(409);
    expect(refused.text).toMatch(/cache\.rules/);
    expect((await request(stack, '/api/time')).status).toBe(200);
  });
});

describe('HTTP limits with numbers, through the real edge', () => {
  let stack: FullStack;
  beforeAll(async () => {
    stack = await startFullStack({ extra: 'http: { headersTimeoutMs: 1000, requestTimeoutMs: 2000, maxHeaderBytes: 2048, keepAliveTimeoutMs: 500 }\n' });
  });
  afterAll(async () => stack?.stop());

  /** A TLS connection to the edge; collects what it answers until it closes. */
  function connect(): Promise<{ socket: tls.TLSSocket; answer: () => string; closed: Promise<number> }> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      let text = '';
      const socket = tls.connect({ host: '127.0.0.1', port: stack.edge.port, servername: 'localhost', ca: stack.ca, ALPNProtocols: ['http/1.1'] }, () =>
        resolve({ socket, answer: () => text, closed }),
      );
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (text += d));
      const closed = new Promise<number>((done) => socket.on('close', () => done(performance.now() - started)));
      socket.on('error', reject);
    });
  }

  it('a client that never finishes its headers gets 408 after headersTimeoutMs, and is closed', async () => {
    const c = await connect();
    c.socket.write('GET /api/time HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
    const ms = await c.closed;
    expect(c.answer()).toMatch(/^HTTP\/1\.1 408 /);
    // 1 s plus at most the 1 s check interval, with room for a busy machine.
    expect(ms).toBeLessThan(10_000);
  });

  it('headers over maxHeaderBytes get 431', async () => {
    const c = await connect();
    c.socket.write(`GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(4096)}\r\n\r\n`);
    await c.closed;
    expect(c.answer()).toMatch(/^HTTP\/1\.1 431 /);
  });

  it('an idle keep-alive connection is closed after keepAliveTimeoutMs', async () => {
    const c = await connect();
    c.socket.write('GET /api/time HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await expect.poll(() => c.answer(), { timeout: 5_000 }).toMatch(/^HTTP\/1\.1 200 /);
    const answeredAt = performance.now();
    await c.closed;
    const idle = performance.now() - answeredAt;
    expect(idle).toBeGreaterThan(300);
    expect(idle).toBeLessThan(10_000);
  });
});

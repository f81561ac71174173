// The access log: one line per request through the real edge, with what a security team or an
// operator looks for (request id, host, path without query, status, cache outcome, duration).
import http2 from 'node:http2';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startFullStack, type FullStack } from '../../helpers/full-stack.js';

describe('access log', () => {
  let stack: FullStack;
  const lines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    stack = await startFullStack({ log: pino({ level: 'info' }, sink), alpn: ['h2', 'http/1.1'] });
  });
  afterAll(async () => stack?.stop());

  const accessLines = (path: string) => lines.filter((l) => l.msg === 'request' && l.path === path);

  it('logs each request with its id, status and Cache-Status, and never the query string', async () => {
    const miss = await request(stack, '/static/style.css?token=secret');
    const hit = await request(stack, '/static/style.css?token=secret');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const logged = accessLines('/static/style.css');
    expect(logged).toHaveLength(2);
    expect(logged[0]).toMatchObject({ requestId: miss.headers['x-request-id'], host: `localhost:${stack.edge.port}`, method: 'GET', protocol: 'HTTP/1.1', status: 200, completed: true, cache: miss.headers['cache-status'] });
    expect(logged[1]).toMatchObject({ requestId: hit.headers['x-request-id'], cache: hit.headers['cache-status'] });
    expect(String(logged[1]!.cache)).toMatch(/hit/);
    expect(JSON.stringify(lines)).not.toContain('secret');
  });

  it('says which protocol carried the request: HTTP/2.0 over h2', async () => {
    const session = http2.connect(`https://localhost:${stack.edge.port}`, { ca: stack.ca, servername: 'localhost', minVersion: 'TLSv1.3', host: '127.0.0.1' } as http2.SecureClientSessionOptions);
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const stream = session.request({ ':path': '/static/logo.svg' });
        let code = 0;
        stream.on('response', (h) => (code = Number(h[':status'])));
        stream.on('error', reject);
        stream.on('end', () => resolve(code));
        stream.resume();
      });
      expect(status).toBe(200);
    } finally {
      session.close();
    }
    await expect.poll(() => accessLines('/static/logo.svg').map((l) => l.protocol)).toEqual(['HTTP/2.0']);
  });
});

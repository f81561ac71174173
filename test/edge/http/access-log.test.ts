// The access log: one line per request through the real edge, with what a security team or an
// operator looks for (request id, host, path without query, status, cache outcome, duration).
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
    stack = await startFullStack({ log: pino({ level: 'info' }, sink) });
  });
  afterAll(async () => stack?.stop());

  const accessLines = (path: string) => lines.filter((l) => l.msg === 'request' && l.path === path);

  it('logs each request with its id, status and Cache-Status, and never the query string', async () => {
    const miss = await request(stack, '/static/style.css?token=secret');
    const hit = await request(stack, '/static/style.css?token=secret');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const logged = accessLines('/static/style.css');
    expect(logged).toHaveLength(2);
    expect(logged[0]).toMatchObject({ requestId: miss.headers['x-request-id'], host: `localhost:${stack.edge.port}`, method: 'GET', status: 200, completed: true, cache: miss.headers['cache-status'] });
    expect(logged[1]).toMatchObject({ requestId: hit.headers['x-request-id'], cache: hit.headers['cache-status'] });
    expect(String(logged[1]!.cache)).toMatch(/hit/);
    expect(JSON.stringify(lines)).not.toContain('secret');
  });
});

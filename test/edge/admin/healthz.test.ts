// The admin API's one open route: /healthz answers without a token whatever query string a probe
// adds, and nothing else is opened by naming /healthz in a query, a fragment or another method.
// The real admin server (fastify inject) in front of a target that counts what it is asked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { createAdminServer, type AdminTarget } from '../../../edge/admin/admin-server.js';

const TOKEN = 'admin-token-0123456789abcdef';

describe('GET /healthz', () => {
  let app: FastifyInstance;
  const asked: string[] = [];

  beforeAll(async () => {
    const target: AdminTarget = {
      readiness: async () => (asked.push('readiness'), { ready: true, checks: {} }),
      metrics: async () => (asked.push('metrics'), { contentType: 'text/plain', body: '' }),
      purge: async () => (asked.push('purge'), 0),
      reload: async () => (asked.push('reload'), { applied: true }),
    };
    app = await createAdminServer({ token: TOKEN, target, log: pino({ level: 'silent' }) });
  });
  afterAll(async () => app?.close());

  it.each(['/healthz', '/healthz?x', '/healthz?probe=kubelet&t=1', '/healthz?', '/healthz?/metrics'])('%s answers without a token', async (url) => {
    const response = await app.inject({ method: 'GET', url });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
  });

  it('answers HEAD without a token too', async () => {
    expect((await app.inject({ method: 'HEAD', url: '/healthz?x' })).statusCode).toBe(200);
  });

  it.each([
    ['GET', '/metrics?/healthz'],
    ['GET', '/readyz?healthz'],
    ['GET', '/metrics#/healthz'],
    ['POST', '/reload?/healthz'],
    ['POST', '/healthz'],
    ['GET', '/healthz/../metrics'],
    ['GET', '/nothing-here?/healthz'],
  ])('%s %s still needs the token', async (method, url) => {
    const before = asked.length;
    const response = await app.inject({ method: method as 'GET' | 'POST', url });
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer');
    expect(asked.length).toBe(before);
  });

  it('the other routes keep their query strings working with the token', async () => {
    const response = await app.inject({ method: 'GET', url: '/readyz?verbose', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.statusCode).toBe(200);
  });
});

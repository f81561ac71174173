import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createWaf, MemoryRateLimitStore, parseWafConfig } from '../../../../edge/http/waf/index.js';
import type { WafConfigInput } from '../../../../edge/http/waf/index.js';
import { request } from './corpus.js';
import { captureLog } from './log-capture.js';

function fakeClock() {
  let now = 1_700_000_000_000;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

/** A WAF with our rules only (no managed rules: these tests do not need the CRS). */
async function waf(config: WafConfigInput, extra: { clock?: ReturnType<typeof fakeClock>; registry?: Registry } = {}) {
  const { log, lines } = captureLog();
  const w = await createWaf(parseWafConfig({ ...config, managed: { enabled: false, ...(config.managed ?? {}) } }, '/etc/keyless/edge.yaml'), {
    log,
    ...(extra.clock ? { clock: extra.clock } : {}),
    ...(extra.registry ? { metrics: extra.registry } : {}),
  });
  return { w, lines };
}

const get = (url: string, headers: Record<string, string> = {}, ip = '203.0.113.7') => request('GET', url, { 'user-agent': 'test', ...headers }, null, ip);

describe('our rules: IP lists, custom rules, rate limits', () => {
  it('IP allow and block lists, IPv4 and IPv6', async () => {
    const { w } = await waf({ ipLists: { allow: ['192.0.2.0/24'], block: ['198.51.100.0/24', '2001:db8::/32'] } });
    expect((await w.evaluate(get('/', {}, '192.0.2.9').request, null)).action).toBe('allow');
    const blocked = await w.evaluate(get('/', {}, '2001:db8::1').request, null);
    expect(blocked).toMatchObject({ action: 'block', status: 403, matches: [{ source: 'ip-list', rule: 'ip-block' }] });
    expect((await w.evaluate(get('/', {}, '::ffff:198.51.100.3').request, null)).action).toBe('block');
    expect((await w.evaluate(get('/').request, null)).action).toBe('pass');
  });

  it('block answers 403 with the request id in a configurable body', async () => {
    const { w } = await waf({
      blockResponse: { body: 'Nope ({requestId})', contentType: 'text/html' },
      rules: [{ name: 'no-admin', expression: 'http.request.uri.path starts_with "/admin"', action: 'block' }],
    });
    const r = get('/admin/users');
    const v = await w.evaluate(r.request, null);
    expect(v).toMatchObject({ action: 'block', status: 403, body: `Nope (${r.request.requestId})`, headers: { 'content-type': 'text/html', 'cache-control': 'no-store' } });
    expect(v.matches).toEqual([expect.objectContaining({ source: 'rule', rule: 'no-admin', action: 'block' })]);
  });

  it('log records and goes on; allow stops evaluating', async () => {
    const { w, lines } = await waf({
      rules: [
        { name: 'watch', expression: 'http.user_agent contains "curl"', action: 'log' },
        { name: 'trusted', expression: 'http.request.headers["x-trusted"] eq "yes"', action: 'allow' },
        { name: 'deny-all', expression: 'http.host eq "www.example.com"', action: 'block' },
      ],
    });
    const trusted = await w.evaluate(get('/', { 'user-agent': 'curl/8', 'x-trusted': 'yes' }).request, null);
    expect(trusted.action).toBe('allow');
    expect(trusted.matches.map((m) => [m.rule, m.action])).toEqual([
      ['watch', 'log'],
      ['trusted', 'allow'],
    ]);
    expect((await w.evaluate(get('/').request, null)).action).toBe('block');
    expect(lines.filter((l) => l.event === 'waf').map((l) => [l.level, l.msg])).toEqual([
      [30, 'waf: allowed by trusted'],
      [40, 'waf: blocked by deny-all'],
    ]);
  });

  it('skip exempts matching requests from named rules', async () => {
    const { w } = await waf({
      rules: [
        { name: 'webmention', expression: 'http.request.uri.path eq "/webmention"', action: 'skip', skip: { rules: ['no-bots'] } },
        { name: 'no-bots', expression: 'lower(http.user_agent) contains "bot"', action: 'block' },
      ],
    });
    expect((await w.evaluate(get('/webmention', { 'user-agent': 'WebmentionBot/1.0' }).request, null)).action).toBe('pass');
    expect((await w.evaluate(get('/', { 'user-agent': 'WebmentionBot/1.0' }).request, null)).action).toBe('block');
  });

  it('rate limits: 429 with Retry-After, by IP or by header, sliding window on a fake clock', async () => {
    const clock = fakeClock();
    const { w } = await waf(
      {
        rateLimits: [
          { name: 'login', expression: 'http.request.uri.path eq "/login"', limit: 3, windowSeconds: 60 },
          { name: 'api-key', key: 'header:x-api-key', expression: 'http.request.uri.path starts_with "/api"', limit: 2, windowSeconds: 10, action: 'block' },
          { name: 'watch', limit: 1000, windowSeconds: 1, action: 'log' },
        ],
      },
      { clock },
    );
    for (let i = 0; i < 3; i++) expect((await w.evaluate(get('/login').request, null)).action).toBe('pass');
    const limited = await w.evaluate(get('/login').request, null);
    expect(limited).toMatchObject({ action: 'rate-limit', status: 429, matches: [{ source: 'rate-limit', rule: 'login', action: 'rate-limit' }] });
    expect(Number(limited.headers!['retry-after'])).toBeGreaterThan(0);
    expect((await w.evaluate(get('/login', {}, '203.0.113.8').request, null)).action).toBe('pass');
    expect((await w.evaluate(get('/other').request, null)).action).toBe('pass');
    clock.advance(Number(limited.headers!['retry-after']) * 1000);
    expect((await w.evaluate(get('/login').request, null)).action).toBe('pass');

    for (let i = 0; i < 2; i++) await w.evaluate(get('/api/x', { 'x-api-key': 'A' }, `198.51.100.${i}`).request, null);
    expect((await w.evaluate(get('/api/x', { 'x-api-key': 'A' }, '198.51.100.77').request, null)).action).toBe('rate-limit');
    expect((await w.evaluate(get('/api/x', { 'x-api-key': 'B' }).request, null)).action).toBe('pass');
  });

  it('rate-limit counters can outlive a reload through a shared store', async () => {
    const store = new MemoryRateLimitStore();
    const config = parseWafConfig({ managed: { enabled: false }, rateLimits: [{ name: 'r', limit: 1, windowSeconds: 60 }] }, '/x.yaml');
    const a = await createWaf(config, { log: captureLog().log, rateLimitStore: store });
    const b = await createWaf(config, { log: captureLog().log, rateLimitStore: store });
    expect((await a.evaluate(get('/').request, null)).action).toBe('pass');
    expect((await b.evaluate(get('/').request, null)).action).toBe('rate-limit');
  });

  it('detect mode logs what it would block and lets it through', async () => {
    const { w, lines } = await waf({ mode: 'detect', rules: [{ name: 'no-admin', expression: 'http.request.uri.path starts_with "/admin"', action: 'block' }] });
    const v = await w.evaluate(get('/admin').request, null);
    expect(v).toMatchObject({ action: 'pass', wouldBlock: { status: 403, reason: 'no-admin' } });
    expect(lines.find((l) => l.event === 'waf')).toMatchObject({ level: 40, msg: 'waf: would block (detect mode) by no-admin', mode: 'detect' });
  });

  it('per host: a host section adds rules and replaces the mode', async () => {
    const { w } = await waf({
      rules: [{ name: 'global-block', expression: 'http.request.uri.path eq "/g"', action: 'block' }],
      hosts: {
        'www.example.com': { rules: [{ name: 'host-block', expression: 'http.request.uri.path eq "/h"', action: 'block' }] },
        '*.other.example': { mode: 'off' },
      },
    });
    expect((await w.evaluate(get('/h').request, null)).action).toBe('block');
    expect((await w.evaluate(get('/g').request, null)).action).toBe('block');
    const other = get('/g');
    const r = { ...other.request, host: 'a.other.example' };
    expect((await w.evaluate(r, null)).action).toBe('pass');
  });

  it('metrics by action and by rule', async () => {
    const registry = new Registry();
    const { w } = await waf({ rules: [{ name: 'no-admin', expression: 'http.request.uri.path starts_with "/admin"', action: 'block' }] }, { registry });
    await w.evaluate(get('/admin').request, null);
    await w.evaluate(get('/').request, null);
    const text = await registry.metrics();
    expect(text).toContain('keyless_edge_waf_requests_total{action="block",detect_only="false"} 1');
    expect(text).toContain('keyless_edge_waf_requests_total{action="pass",detect_only="false"} 1');
    expect(text).toContain('keyless_edge_waf_rule_matches_total{source="rule",rule="no-admin",action="block"} 1');
    expect(text).toContain('keyless_edge_waf_inspection_seconds_count 2');
  });

  it('describe() says what is active, and why there are no managed rules', async () => {
    const { w } = await waf({ rules: [{ name: 'a', expression: 'http.host eq "x"', action: 'log' }] });
    const d = w.describe();
    expect(d.managed).toEqual({ active: false, reason: 'waf.managed.enabled is false' });
    expect(d.summary).toBe('WAF blocking: no managed rules: waf.managed.enabled is false; 1 custom rule, 0 rate limits');
    const missing = await createWaf(parseWafConfig({ managed: { crs: '/nonexistent/crs' } }, '/x.yaml'), { log: captureLog().log });
    expect(missing.describe().managed).toMatchObject({ active: false, reason: expect.stringMatching(/\/nonexistent\/crs is not a directory/) });
    await expect(createWaf(parseWafConfig({ managed: { crs: '/nonexistent/crs', required: true } }, '/x.yaml'), { log: captureLog().log })).rejects.toMatchObject({ code: 'WAF_ERR_MANAGED_RULES' });
  });

  it('mode off inspects nothing', async () => {
    const { w } = await waf({ mode: 'off', ipLists: { block: ['0.0.0.0/0'] } });
    expect((await w.evaluate(get('/').request, null)).action).toBe('pass');
    expect(w.describe().summary).toBe('WAF off');
  });
});

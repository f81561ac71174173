// Ways around our rules that must not work: another spelling of the host, a query padded past
// the argument limit, a skip listed after its target, another spelling of the path. And what a
// managed rule's match says about every variable it matched.
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../common/config-file.js';
import { createWaf, parseWafConfig } from '../../../../edge/http/waf/index.js';
import type { Waf, WafConfigInput, WafRequest } from '../../../../edge/http/waf/index.js';
import { normalizeHostName, normalizePath, removeDotSegments } from '../../../../edge/http/waf/normalize.js';
import { request } from './corpus.js';
import { captureLog } from './log-capture.js';

/** A WAF with our rules only (no managed rules). */
async function ownWaf(config: WafConfigInput) {
  const { log, lines } = captureLog();
  const w = await createWaf(parseWafConfig({ ...config, managed: { enabled: false, ...(config.managed ?? {}) } }, '/etc/keyless/edge.yaml'), { log });
  return { w, lines };
}

/** A GET as the pipeline hands it over: Host lower-cased and without ":443" (pipeline.ts normalizeHost). */
function get(url: string, host = 'www.example.com', headers: Record<string, string> = {}): WafRequest {
  const r = request('GET', url, { 'user-agent': 'test', host, ...headers }).request;
  const pipelineHost = host.trim().toLowerCase().replace(/:443$/, '');
  return { ...r, host: pipelineHost, servername: 'api.example.com' };
}

describe('the host is read as origin routing reads it', () => {
  it('normalizeHostName: lower case, no port, no trailing dot, IPv6 literals kept in brackets', () => {
    expect(normalizeHostName('api.example.com')).toBe('api.example.com');
    expect(normalizeHostName('API.Example.COM.')).toBe('api.example.com');
    expect(normalizeHostName('api.example.com:8443')).toBe('api.example.com');
    expect(normalizeHostName('api.example.com.:8443')).toBe('api.example.com');
    expect(normalizeHostName('[2001:DB8::1]:8443')).toBe('[2001:db8::1]');
    expect(normalizeHostName('[2001:db8::1]')).toBe('[2001:db8::1]');
    // Unbracketed, more than one colon: an IPv6 literal, not host:port (as origin routing has it).
    expect(normalizeHostName('2001:db8::1')).toBe('2001:db8::1');
    expect(normalizeHostName('192.0.2.1:80')).toBe('192.0.2.1');
    expect(normalizeHostName('')).toBe('');
  });

  const config: WafConfigInput = {
    mode: 'detect',
    rules: [{ name: 'api-admin', expression: 'http.host eq "api.example.com" and http.request.uri.path starts_with "/internal"', action: 'block' }],
    hosts: {
      'api.example.com': {
        mode: 'block',
        rules: [{ name: 'api-private', expression: 'http.request.uri.path starts_with "/private"', action: 'block' }],
        rateLimits: [{ name: 'api-rate', limit: 1, windowSeconds: 60 }],
      },
      '*.tenants.example': { rules: [{ name: 'tenant-block', expression: 'http.request.uri.path eq "/t"', action: 'block', status: 451 }], mode: 'block' },
    },
  };

  it.each(['api.example.com', 'api.example.com.', 'api.example.com:8443', 'API.EXAMPLE.COM.:8443', 'api.example.com:443'])('Host: %s gets the host section', async (host) => {
    const { w } = await ownWaf(config);
    // The host's mode (block, not the global detect), its rules, and http.host rules.
    expect(await w.evaluate(get('/private/x', host), null)).toMatchObject({ action: 'block', status: 403, matches: [expect.objectContaining({ rule: 'api-private' })] });
    expect(await w.evaluate(get('/internal', host), null)).toMatchObject({ action: 'block', matches: [expect.objectContaining({ rule: 'api-admin' })] });
    // Its rate limit: one request per minute.
    expect((await w.evaluate(get('/', host), null)).action).toBe('pass');
    expect(await w.evaluate(get('/', host), null)).toMatchObject({ action: 'rate-limit', status: 429 });
  });

  it('wildcard sections too, and other hosts keep the global settings', async () => {
    const { w } = await ownWaf(config);
    expect(await w.evaluate(get('/t', 'a.tenants.example.:8443'), null)).toMatchObject({ action: 'block', status: 451 });
    const other = await w.evaluate(get('/private/x', 'www.example.com:8443'), null);
    expect(other.action).toBe('pass');
    expect(other.matches).toEqual([]);
  });

  it('http.host and http.request.full_uri read the normalised host; IPv6 literals keep brackets', async () => {
    const { w } = await ownWaf({
      rules: [
        { name: 'v6', expression: 'http.host eq "[2001:db8::1]"', action: 'block', status: 418 },
        { name: 'full', expression: 'http.request.full_uri eq "https://shop.example.com/a?b=1"', action: 'block', status: 419 },
      ],
    });
    expect(await w.evaluate(get('/', '[2001:db8::1]:8443'), null)).toMatchObject({ action: 'block', status: 418 });
    expect(await w.evaluate(get('/a?b=1', 'shop.example.com.:8443'), null)).toMatchObject({ action: 'block', status: 419 });
  });

  it('a config naming one host twice (with and without a trailing dot) is refused', () => {
    expect(() => parseWafConfig({ hosts: { 'a.example': {}, 'a.example.': {} } }, '/x.yaml')).toThrow(/hosts\.a\.example\.'?: the same host as "a\.example"/);
  });
});

const PADDING = 'p=1&'.repeat(1000);
const ATTACK = "x=1'%20UNION%20SELECT%20password%20FROM%20users--";

describe('a query with more arguments than body.maxArgs', () => {
  it('is blocked with 400 by default (as a body that cannot be parsed), naming the reason', async () => {
    const { w, lines } = await ownWaf({ rules: [{ name: 'no-x', expression: 'http.request.uri.args["x"] ne ""', action: 'block' }] });
    const v = await w.evaluate(get(`/search?${PADDING}${ATTACK}`), null);
    expect(v).toMatchObject({ action: 'block', status: 400 });
    expect(v.matches).toEqual([expect.objectContaining({ source: 'body', rule: 'query-args', action: 'block', message: expect.stringContaining('more than 1000 arguments') })]);
    expect(lines.find((l) => l.event === 'waf')).toMatchObject({ level: 40, msg: 'waf: blocked by query-args', status: 400 });
    // At the limit, nothing is hidden: the rule sees x.
    expect(await w.evaluate(get(`/search?${'p=1&'.repeat(999)}${ATTACK}`), null)).toMatchObject({ action: 'block', status: 403, matches: [expect.objectContaining({ rule: 'no-x' })] });
    expect((await w.evaluate(get(`/search?${'p=1&'.repeat(999)}q=1`), null)).action).toBe('pass');
  });

  it('follows body.maxArgs and body.onParseError; detect mode only reports it', async () => {
    const small = (await ownWaf({ body: { maxArgs: 3 } })).w;
    expect(await small.evaluate(get('/?a=1&b=2&c=3&d=4'), null)).toMatchObject({ action: 'block', status: 400 });
    expect((await small.evaluate(get('/?a=1&b=2&c=3'), null)).action).toBe('pass');
    const ignoring = (await ownWaf({ body: { maxArgs: 3, onParseError: 'ignore' } })).w;
    const logged = await ignoring.evaluate(get('/?a=1&b=2&c=3&d=4'), null);
    expect(logged).toMatchObject({ action: 'pass', matches: [expect.objectContaining({ rule: 'query-args', action: 'log' })] });
    const detect = (await ownWaf({ mode: 'detect', body: { maxArgs: 3 } })).w;
    expect(await detect.evaluate(get('/?a=1&b=2&c=3&d=4'), null)).toMatchObject({ action: 'pass', wouldBlock: { status: 400, reason: 'query-args' } });
  });
});

describe('skip rules exempt the rules they name wherever those are listed', () => {
  it('a skip listed after its target', async () => {
    const { w } = await ownWaf({
      rules: [
        { name: 'no-bots', expression: 'lower(http.user_agent) contains "bot"', action: 'block' },
        { name: 'webmention', expression: 'http.request.uri.path eq "/webmention"', action: 'skip', skip: { rules: ['no-bots'] } },
      ],
    });
    const v = await w.evaluate(get('/webmention', 'www.example.com', { 'user-agent': 'WebmentionBot/1.0' }), null);
    expect(v.action).toBe('pass');
    expect(v.matches).toEqual([expect.objectContaining({ rule: 'webmention', action: 'skip', message: expect.stringContaining('skips no-bots') })]);
    expect((await w.evaluate(get('/', 'www.example.com', { 'user-agent': 'WebmentionBot/1.0' }), null)).action).toBe('block');
  });

  it('a global skip naming a host rule (host rules run first), and a rate limit', async () => {
    const { w } = await ownWaf({
      rules: [{ name: 'health', expression: 'http.request.uri.path eq "/health"', action: 'skip', skip: { rules: ['host-no-get', 'host-rate'] } }],
      hosts: {
        'www.example.com': {
          rules: [{ name: 'host-no-get', expression: 'http.request.method eq "GET"', action: 'block' }],
          rateLimits: [{ name: 'host-rate', limit: 1, windowSeconds: 60 }],
        },
      },
    });
    for (let i = 0; i < 3; i++) expect((await w.evaluate(get('/health'), null)).action).toBe('pass');
    expect(await w.evaluate(get('/'), null)).toMatchObject({ action: 'block', matches: [expect.objectContaining({ rule: 'host-no-get' })] });
  });

  it('a skip rule named by another matching skip rule is exempt, whatever the order', async () => {
    const rules = [
      { name: 'exempt-admin', expression: 'http.request.uri.path starts_with "/admin"', action: 'skip' as const, skip: { rules: ['no-post'] } },
      { name: 'no-post', expression: 'http.request.method eq "GET"', action: 'block' as const },
      { name: 'but-not-tools', expression: 'http.request.uri.path starts_with "/admin/tools"', action: 'skip' as const, skip: { rules: ['exempt-admin'] } },
    ];
    for (const order of [rules, [...rules].reverse()]) {
      const { w } = await ownWaf({ rules: order });
      expect((await w.evaluate(get('/admin/users'), null)).action).toBe('pass');
      const tools = await w.evaluate(get('/admin/tools'), null);
      expect(tools).toMatchObject({ action: 'block', matches: expect.arrayContaining([expect.objectContaining({ rule: 'but-not-tools', action: 'skip' }), expect.objectContaining({ rule: 'no-post', action: 'block' })]) });
      expect(tools.matches.map((m) => m.rule)).not.toContain('exempt-admin');
    }
  });

  it('skip rules that name each other in a cycle are a config error naming the field', () => {
    let problems: readonly string[] = [];
    try {
      parseWafConfig(
        {
          rules: [
            { name: 'a', expression: 'http.host eq "x"', action: 'skip', skip: { rules: ['b'] } },
            { name: 'b', expression: 'http.host eq "y"', action: 'skip', skip: { rules: ['a'] } },
          ],
        },
        '/etc/keyless/edge.yaml',
      );
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems = err.problems;
    }
    expect(problems).toEqual([expect.stringMatching(/field 'waf\.rules\[1\]\.skip\.rules\[0\]': skip rules cannot exempt each other in a cycle \(a → b → a\)/)]);
  });
});

describe('custom rules read the normalised path', () => {
  it('normalizePath: unreserved characters decoded, slashes merged, dot segments removed', () => {
    expect(normalizePath('/%61dmin')).toBe('/admin');
    expect(normalizePath('//admin')).toBe('/admin');
    expect(normalizePath('/x/../admin')).toBe('/admin');
    expect(normalizePath('/%2e%2e/admin')).toBe('/admin');
    expect(normalizePath('/x/%2E%2E/admin/./users/')).toBe('/admin/users/');
    expect(normalizePath('\\admin')).toBe('/admin');
    expect(normalizePath('/a%2fb%7e%25')).toBe('/a%2Fb~%25');
    expect(normalizePath('/caf%C3%A9')).toBe('/caf%C3%A9');
    expect(normalizePath('/../../..')).toBe('/');
    expect(normalizePath('*')).toBe('*');
    // RFC 3986 §5.2.4's examples.
    expect(removeDotSegments('/a/b/c/./../../g')).toBe('/a/g');
    expect(removeDotSegments('mid/content=5/../6')).toBe('mid/6');
  });

  it.each(['/admin', '/%61dmin', '//admin', '/x/../admin', '/%2E%2E/admin/', '/./admin', '\\admin', '/adm%69n?x=1'])('%s is /admin to starts_with "/admin"', async (url) => {
    const { w } = await ownWaf({ rules: [{ name: 'no-admin', expression: 'http.request.uri.path starts_with "/admin"', action: 'block' }] });
    expect((await w.evaluate(get(url), null)).action).toBe('block');
  });

  it('http.request.uri is normalised too; raw.http.request.uri.path is the path as received', async () => {
    const { w } = await ownWaf({
      rules: [
        { name: 'raw', expression: 'raw.http.request.uri.path eq "//x/../%61dmin"', action: 'block', status: 418 },
        { name: 'uri', expression: 'http.request.uri eq "/admin?q=%61"', action: 'block', status: 419 },
      ],
    });
    expect(await w.evaluate(get('//x/../%61dmin'), null)).toMatchObject({ status: 418 });
    expect(await w.evaluate(get('/x/../%61dmin?q=%61'), null)).toMatchObject({ status: 419 });
    expect((await w.evaluate(get('/other'), null)).action).toBe('pass');
  });
});

const crs = existsSync('/usr/share/modsecurity-crs/rules/REQUEST-901-INITIALIZATION.conf') && existsSync('/etc/modsecurity/crs/crs-setup.conf');

describe.skipIf(!crs)('with the CRS', () => {
  let waf: Waf;
  let lines: Record<string, unknown>[];
  beforeAll(async () => {
    const captured = captureLog();
    lines = captured.lines;
    waf = await createWaf(parseWafConfig({}, '/etc/keyless/edge.yaml'), { log: captured.log });
  }, 60_000);

  it('an attack after 1000 padding arguments is blocked (400), one after 999 by the CRS (403)', async () => {
    const hidden = await waf.evaluate(get(`/search?${PADDING}${ATTACK}`), null);
    expect(hidden).toMatchObject({ action: 'block', status: 400, matches: [expect.objectContaining({ source: 'body', rule: 'query-args', action: 'block' })] });
    const seen = await waf.evaluate(get(`/search?${'p=1&'.repeat(999)}${ATTACK}`), null);
    expect(seen).toMatchObject({ action: 'block', status: 403 });
    expect(seen.matches.map((m) => m.rule)).toContain('949110');
  });

  it('a managed match carries every variable it matched, each redacted on its own', async () => {
    lines.length = 0;
    const v = await waf.evaluate(get("/search?q=1%27%20or%20%271%27%3D%271&password=2%27%20or%20%272%27%3D%272"), null);
    expect(v.action).toBe('block');
    const m = v.matches.find((x) => x.rule === '942100')!;
    expect(m.variables).toEqual([
      { name: 'ARGS:q', data: "1' or '1'='1" },
      { name: 'ARGS:password', data: '[redacted]' },
    ]);
    // The entry's own data (logdata, which may quote any of them) stays redacted.
    expect(m).toMatchObject({ variable: 'ARGS:q', data: '[redacted]' });
    const event = lines.find((l) => l.event === 'waf')!;
    expect(JSON.stringify(event)).not.toContain("2' or '2'='2");
    expect((event.matches as { rule: string; variables?: unknown }[]).find((x) => x.rule === '942100')?.variables).toEqual(m.variables);
  });
});

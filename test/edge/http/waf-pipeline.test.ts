// The WAF in the real edge, with Debian's OWASP CRS at paranoia level 1: attacks are answered
// 403 before they reach the origin, ordinary browsing is not touched, a skip rule exempts one
// path, a custom rule blocks, a rate limit answers 429 with Retry-After.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startFullStack, type FullStack } from '../../helpers/full-stack.js';

const CRS = '/usr/share/modsecurity-crs/rules';
const present = existsSync(CRS);
if (!present) console.warn(`SKIP WAF end-to-end tests: the OWASP CRS is not installed at ${CRS} (.ci/run installs Debian's modsecurity-crs)`);

const WAF = `waf:
  mode: block
  managed: { crs: auto, required: true, paranoiaLevel: 1 }
  rules:
    - name: webmention
      description: webmention senders post arbitrary URLs and HTML; the endpoint does its own checks
      expression: http.request.uri.path eq "/webmention"
      action: skip
      skip: { managed: true }
    - name: no-badbot
      expression: http.user_agent contains "BadBot/1.0"
      action: block
  rateLimits:
    - name: time-api
      expression: http.request.uri.path eq "/api/time"
      key: ip
      limit: 5
      windowSeconds: 60
`;

const BROWSER = {
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8',
  'accept-language': 'en-US,en;q=0.9',
  'accept-encoding': 'gzip, deflate, br',
};

describe.skipIf(!present)('the WAF in the edge, CRS PL1', () => {
  let stack: FullStack;
  beforeAll(async () => {
    stack = await startFullStack({ extra: WAF });
  }, 120_000);
  afterAll(async () => stack?.stop());

  const attacks: [string, string, Record<string, string>?][] = [
    ['SQL injection', "/?id=1'%20OR%20'1'='1'--"],
    ['SQL injection (UNION)', '/products?cat=1%20UNION%20SELECT%20username,password%20FROM%20users--'],
    ['XSS', '/search?q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E'],
    ['path traversal', '/download?file=../../../../etc/passwd'],
    ['command injection', '/ping?host=127.0.0.1;cat%20/etc/passwd'],
    ['PHP injection', '/index.php?page=php://filter/convert.base64-encode/resource=index.php'],
    ['a protocol attack (HTTP response splitting)', '/?lang=en%0d%0aSet-Cookie:%20session=stolen'],
    ['a protocol attack (request smuggling in a parameter)', '/?q=x%0d%0a%0d%0aGET%20/admin%20HTTP/1.1%0d%0aHost:%20internal'],
  ];

  it.each(attacks)('blocks %s with 403, before the origin', async (_name, path, headers) => {
    const before = stack.origin.stats().total;
    const response = await request(stack, path, { headers: { ...BROWSER, ...headers } });
    expect(response.status).toBe(403);
    expect(response.text).toContain(response.headers['x-request-id'] as string);
    expect(stack.origin.stats().total).toBe(before);
  });

  it('blocks PHP injection in a form body (phase 2)', async () => {
    const response = await request(stack, '/api/echo', { method: 'POST', headers: { ...BROWSER, 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=<?php system($_GET["c"]); ?>' });
    expect(response.status).toBe(403);
  });

  it('lets ordinary browsing through: pages, assets, a JSON API POST, a form POST, an upload, a GraphQL query', async () => {
    const ok = async (path: string, init: Parameters<typeof request>[2] = {}): Promise<void> => {
      const response = await request(stack, path, { ...init, headers: { ...BROWSER, ...init.headers } });
      expect(response.status, `${init.method ?? 'GET'} ${path}: ${response.text.slice(0, 200)}`).toBeLessThan(400);
    };
    await ok('/');
    await ok('/static/style.css', { headers: { accept: 'text/css,*/*;q=0.1', referer: `https://localhost:${stack.edge.port}/` } });
    await ok('/static/logo.svg', { headers: { accept: 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8' } });
    await ok('/cacheable?utm_source=newsletter&utm_medium=email');
    await ok('/api/echo', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ name: "O'Brien", comment: 'Looks good — see https://example.com/a?b=c', tags: ['a', 'b'] }) });
    await ok('/api/echo', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=Jane+Doe&email=jane%40example.com&message=Hello%2C+world%21' });
    const boundary = '----WebKitFormBoundary7MA4YWxkTrZu0gW';
    const upload = [`--${boundary}`, 'Content-Disposition: form-data; name="title"', '', 'holiday', `--${boundary}`, 'Content-Disposition: form-data; name="file"; filename="photo.png"', 'Content-Type: image/png', '', '\u0089PNG\r\n\u001a\nbinary-ish data', `--${boundary}--`, ''].join('\r\n');
    await ok('/api/echo', { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body: upload });
    await ok('/api/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'query Product($id: ID!) { product(id: $id) { name price reviews(first: 5) { rating } } }', variables: { id: '42' } }) });
  });

  it('a skip rule exempts one path from the managed rules', async () => {
    const html = 'source=https://blog.example/post&target=https://localhost/&content=<a href="javascript:alert(1)">x</a>';
    const elsewhere = await request(stack, '/api/echo', { method: 'POST', headers: { ...BROWSER, 'content-type': 'application/x-www-form-urlencoded' }, body: html });
    expect(elsewhere.status).toBe(403);
    // The origin has no /webmention route (404), but the request reached it.
    const webmention = await request(stack, '/webmention', { method: 'POST', headers: { ...BROWSER, 'content-type': 'application/x-www-form-urlencoded' }, body: html });
    expect(webmention.status).toBe(404);
  });

  it('a custom rule blocks', async () => {
    expect((await request(stack, '/', { headers: { 'user-agent': 'BadBot/1.0' } })).status).toBe(403);
  });

  it('a rate limit answers 429 with Retry-After', async () => {
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 8; i++) {
      const response = await request(stack, '/api/time', { headers: BROWSER });
      statuses.push(response.status);
      if (response.status === 429) retryAfter = response.headers['retry-after'] as string;
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThan(0);
  });

  it('counts verdicts in the metrics', async () => {
    const { admin } = await import('../../helpers/full-stack.js');
    const { text } = await admin(stack, 'GET', '/metrics');
    expect(text).toMatch(/keyless_edge_waf_/);
  });
});

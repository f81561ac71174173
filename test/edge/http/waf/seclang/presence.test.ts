import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BODY_LIMITS, parseBody, processorFor } from '../../../../../edge/http/waf/body/index.js';
import { DEFAULT_FALLBACK_LIMITS } from '../../../../../edge/http/waf/regex/compile.js';
import { requestData } from '../../../../../edge/http/waf/request.js';
import { MemoryCollectionStore } from '../../../../../edge/http/waf/seclang/collections.js';
import { nothingToRead, presentSources, ruleInputs } from '../../../../../edge/http/waf/seclang/presence.js';
import type { Rule } from '../../../../../edge/http/waf/seclang/rule.js';
import { Transaction } from '../../../../../edge/http/waf/seclang/transaction.js';
import { KNOWN_VARIABLES, resolveTargets } from '../../../../../edge/http/waf/seclang/variables.js';
import { fixedClock, matched, rules, transact } from './harness.js';
import type { TestRequest } from './harness.js';

function ruleOf(targets: string, extra = ''): Rule {
  const rs = rules(`SecRule ${targets} "@unconditionalMatch" "id:1,phase:2,pass,nolog${extra}"`);
  const errors = rs.diagnostics.filter((d) => d.level === 'error');
  if (errors.length > 0) throw new Error(errors.map((d) => d.message).join('\n'));
  return rs.rulesById.get(1)!;
}

/** The transaction as phase 1 (no body yet) or phase 2 (with the body) sees it. */
function transactionAt(phase: 1 | 2, req: TestRequest): Transaction {
  const headers: Record<string, string | string[]> = { host: 'example.com', ...(req.headers ?? {}) };
  const r = requestData({ requestId: 'r', method: req.method ?? 'GET', url: req.url ?? '/', host: 'example.com', httpVersion: '1.1', headers, clientIp: '192.0.2.1', clientPort: 1, servername: 'example.com' });
  const ct = typeof headers['content-type'] === 'string' ? headers['content-type'] : undefined;
  const tx = new Transaction({ request: r, clock: fixedClock, store: new MemoryCollectionStore(fixedClock), fallbackLimits: DEFAULT_FALLBACK_LIMITS, engineMode: 'On', env: new Map(), bodyProcessor: processorFor(ct) });
  if (phase === 2 && req.body !== undefined) {
    const buf = Buffer.from(req.body as string, 'latin1');
    tx.setBody(buf.toString('latin1'), parseBody(buf, ct, tx.bodyProcessor, DEFAULT_BODY_LIMITS));
  }
  return tx;
}

/** Every variable the engine knows, alone, as a key selection of a header, and excluded in part. */
const TARGET_LISTS = [
  ...[...KNOWN_VARIABLES].map((v) => v),
  'REQUEST_HEADERS:X-Filename|REQUEST_HEADERS:Range',
  'REQUEST_HEADERS:User-Agent|ARGS',
  'REQUEST_COOKIES|!REQUEST_COOKIES:/__utm/|REQUEST_COOKIES_NAMES|ARGS_NAMES|ARGS|XML:/*',
  'ARGS:/^id/|FILES_NAMES',
];
const RULES = TARGET_LISTS.map((t) => ruleOf(t));

const REQUESTS: TestRequest[] = [
  { url: '/' },
  { url: '/search?q=1&x', headers: { cookie: 'sid=1; __utma=2', 'user-agent': 'ua', range: 'bytes=0-1' } },
  { method: 'POST', url: '/form', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=2' },
  { method: 'POST', url: '/api', headers: { 'content-type': 'application/json' }, body: '{"a":[1,2]}' },
  { method: 'POST', url: '/x', headers: { 'content-type': 'text/xml' }, body: '<a b="1">text</a>' },
  { method: 'POST', url: '/up', headers: { 'content-type': 'multipart/form-data; boundary=B', 'x-filename': 'a.php' }, body: '--B\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--B--\r\n' },
  { method: 'POST', url: '/raw', headers: { 'content-type': 'application/octet-stream' }, body: 'bytes' },
];

/** A rule passed over must be one whose targets yield nothing in that transaction. */
function expectSound(tx: Transaction): number {
  const present = presentSources(tx);
  let passedOver = 0;
  for (const rule of RULES) {
    if (rule.inputs === null || !nothingToRead(rule.inputs, present, tx)) continue;
    passedOver++;
    expect(resolveTargets(tx, rule), rule.text).toEqual([]);
  }
  return passedOver;
}

describe('rules whose targets the request leaves empty (presence.ts)', () => {
  it('knows what a rule reads, and gives up on what can change while rules run', () => {
    expect(ruleOf('ARGS|ARGS_NAMES').inputs).not.toBeNull();
    expect(ruleOf('REQUEST_HEADERS:Range|REQUEST_HEADERS:Request-Range').inputs).toEqual({ sources: 0, headers: ['range', 'request-range'] });
    expect(ruleOf('RESPONSE_BODY').inputs).toEqual({ sources: 0, headers: [] });
    // Counts always yield a value (0); TX and scalars such as REQUEST_URI are never empty by request shape.
    for (const t of ['&ARGS', 'ARGS|TX:foo', 'REQUEST_URI', 'MATCHED_VARS', 'REQUEST_HEADERS:Host|QUERY_STRING']) expect(ruleOf(t).inputs, t).toBeNull();
    expect(rules('SecAction "id:1,phase:1,pass,nolog"').rulesById.get(1)!.inputs).toBeNull();
  });

  it('passes over only rules with nothing to read, for every variable, in both phases', () => {
    let passedOver = 0;
    for (const req of REQUESTS) for (const phase of [1, 2] as const) passedOver += expectSound(transactionAt(phase, req));
    // A plain GET leaves most of them empty: the test must see the skip happen.
    expect(expectSound(transactionAt(2, { url: '/' }))).toBeGreaterThan(20);
    expect(passedOver).toBeGreaterThan(100);
  });

  it('stays sound for generated requests (fast-check)', () => {
    const token = fc.stringMatching(/^[a-z_][a-z0-9_]{0,6}$/);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(token, token), { maxLength: 3 }),
        fc.array(fc.tuple(token, token), { maxLength: 3 }),
        fc.array(fc.constantFrom('range', 'user-agent', 'x-filename', 'referer', 'content-type'), { maxLength: 3 }),
        fc.option(fc.constantFrom('a=1', '{"k":"v"}', '<r>x</r>', 'raw'), { nil: undefined }),
        (query, cookies, headerNames, body) => {
          const headers: Record<string, string> = {};
          for (const h of headerNames) headers[h] = 'v';
          if (cookies.length > 0) headers.cookie = cookies.map(([k, v]) => `${k}=${v}`).join('; ');
          if (body !== undefined) headers['content-type'] = body.startsWith('{') ? 'application/json' : body.startsWith('<') ? 'text/xml' : 'application/x-www-form-urlencoded';
          const req: TestRequest = { method: body === undefined ? 'GET' : 'POST', url: `/p${query.length > 0 ? '?' + query.map(([k, v]) => `${k}=${v}`).join('&') : ''}`, headers, ...(body !== undefined ? { body } : {}) };
          expectSound(transactionAt(1, req));
          expectSound(transactionAt(2, req));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('the engine still runs what the request gives: headers by name, body arguments in phase 2, negated operators never on nothing', () => {
    const text = [
      `SecRule REQUEST_HEADERS:X-Test "@rx ." "id:1,phase:1,pass,log,msg:'header'"`,
      `SecRule ARGS_POST "@rx ." "id:2,phase:2,pass,log,msg:'post'"`,
      `SecRule ARGS "!@rx ^never$" "id:3,phase:2,pass,log,msg:'negated'"`,
      `SecRule REQUEST_COOKIES|ARGS "@rx ." "id:4,phase:2,pass,log,msg:'cookie or arg'"`,
    ].join('\n');
    expect(matched(transact(text, { url: '/' }))).toEqual([]);
    expect(matched(transact(text, { url: '/', headers: { 'x-test': '1' } }))).toEqual([1]);
    expect(matched(transact(text, { url: '/?a=1' }))).toEqual([3, 4]);
    expect(matched(transact(text, { url: '/', headers: { cookie: 'c=1' } }))).toEqual([4]);
    expect(matched(transact(text, { method: 'POST', url: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'p=1' }))).toEqual([2, 3, 4]);
  });
});

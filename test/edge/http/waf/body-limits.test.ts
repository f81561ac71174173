// What the WAF does with bodies over waf.body.limit and bodies that do not parse
// (waf.body.onLimit, waf.body.onParseError), through waf.evaluate, on a small managed rule set of
// our own (a directory laid out like a CRS release), so these run without the CRS installed.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createWaf, parseWafConfig } from '../../../../edge/http/waf/index.js';
import type { Waf, WafConfigInput } from '../../../../edge/http/waf/index.js';
import { request } from './corpus.js';
import { captureLog } from './log-capture.js';

const SQLI = "1' UNION SELECT password FROM users--";

let crs: string;
beforeAll(() => {
  crs = mkdtempSync(path.join(os.tmpdir(), 'waf-body-'));
  mkdirSync(path.join(crs, 'rules'));
  writeFileSync(path.join(crs, 'crs-setup.conf'), 'SecAction "id:900990,phase:1,pass,nolog,t:none,setvar:tx.crs_setup_version=332"\n');
  writeFileSync(
    path.join(crs, 'rules', 'REQUEST-901-INITIALIZATION.conf'),
    [
      'SecComponentSignature "TEST_RULES/1.0"',
      // As CRS 942100: the SQL injection detector on arguments and on bodies no processor parsed.
      `SecRule ARGS|REQUEST_BODY "@detectSQLi" "id:942100,phase:2,deny,status:403,log,t:none,t:urlDecodeUni,msg:'SQL Injection Attack Detected via libinjection'"`,
      '',
    ].join('\n'),
  );
});

async function wafWith(body: WafConfigInput['body']): Promise<{ waf: Waf; lines: Record<string, unknown>[] }> {
  const { log, lines } = captureLog();
  const waf = await createWaf(parseWafConfig({ body, managed: { crs, required: true, strict: true } }, '/etc/keyless/edge.yaml'), { log });
  return { waf, lines };
}

const form = (body: string, headers: Record<string, string> = {}) =>
  request('POST', '/comments', { 'user-agent': 'test', accept: '*/*', 'content-type': 'application/x-www-form-urlencoded', ...headers }, body);
const json = (body: string) => request('POST', '/api/items', { 'user-agent': 'test', accept: '*/*', 'content-type': 'application/json' }, body);

describe('onLimit: inspect-partial', () => {
  const LIMIT = 1024;

  it('an attack before the limit is still blocked', async () => {
    const { waf } = await wafWith({ limit: LIMIT, onLimit: 'inspect-partial' });
    const r = form(`q=${encodeURIComponent(SQLI)}&pad=${'x'.repeat(4 * LIMIT)}`);
    expect(r.body!.length).toBeGreaterThan(LIMIT);
    const v = await waf.evaluate(r.request, r.body!.subarray(0, LIMIT), { truncated: true });
    expect(v).toMatchObject({ action: 'block', status: 403, bodyTruncated: true });
    expect(v.matches.map((m) => [m.rule, m.action])).toEqual([
      ['body-limit', 'log'],
      ['942100', 'block'],
    ]);
    // The whole body handed over: the WAF cuts it at the limit itself.
    expect(await waf.evaluate(r.request, r.body)).toMatchObject({ action: 'block', status: 403, bodyTruncated: true });
  });

  it('an attack after the limit is not inspected, and the verdict says the body was truncated', async () => {
    const { waf, lines } = await wafWith({ limit: LIMIT, onLimit: 'inspect-partial' });
    const r = form(`pad=${'x'.repeat(2 * LIMIT)}&q=${encodeURIComponent(SQLI)}`);
    const v = await waf.evaluate(r.request, r.body);
    expect(v.action).toBe('pass');
    expect(v.status).toBeUndefined();
    expect(v.bodyTruncated).toBe(true);
    expect(v.matches).toEqual([
      expect.objectContaining({ source: 'body', rule: 'body-limit', action: 'log', message: expect.stringMatching(/only its first 1024 bytes were inspected/) }),
    ]);
    expect(lines.find((l) => l.event === 'waf')).toMatchObject({ action: 'pass', bodyTruncated: true, rules: ['body-limit'] });
    // The same attack within the limit is blocked: it is the limit that let it through.
    const small = form(`q=${encodeURIComponent(SQLI)}`);
    expect(await waf.evaluate(small.request, small.body)).toMatchObject({ action: 'block', status: 403 });
    expect((await waf.evaluate(small.request, small.body)).bodyTruncated).toBeUndefined();
  });

  it('a body within the limit is not marked truncated', async () => {
    const { waf } = await wafWith({ limit: LIMIT, onLimit: 'inspect-partial' });
    const r = form('q=hello&page=2');
    const v = await waf.evaluate(r.request, r.body);
    expect(v).toEqual({ action: 'pass', matches: [], anomalyScore: 0 });
  });
});

describe('onLimit: reject', () => {
  it('413 for a chunked body (no Content-Length) that goes over the limit', async () => {
    const { waf } = await wafWith({ limit: 1024, onLimit: 'reject' });
    const r = request('POST', '/upload', { 'user-agent': 'test', accept: '*/*', 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' });
    expect(r.request.headers['content-length']).toBeUndefined();
    // The headers alone do not decide: there is no length to compare.
    const step = await waf.inspectHeaders(r.request);
    expect(step.done).toBe(false);
    if (step.done) return;
    expect(step.bodyLimit).toBe(1024);
    // The proxy read bodyLimit bytes and saw there was more.
    const v = await step.inspectBody(Buffer.alloc(1024, 'a'), { truncated: true });
    expect(v).toMatchObject({ action: 'block', status: 413, headers: { connection: 'close' }, matches: [expect.objectContaining({ source: 'body', rule: 'body-limit', action: 'block' })] });
    expect(v.body).toContain('the limit is 1024 bytes');
    // The same through evaluate, and with the body longer than the limit instead of the flag.
    expect(await waf.evaluate(r.request, Buffer.alloc(1024, 'a'), { truncated: true })).toMatchObject({ action: 'block', status: 413 });
    expect(await waf.evaluate(r.request, Buffer.alloc(1025, 'a'))).toMatchObject({ action: 'block', status: 413 });
    // Exactly at the limit, and not truncated: inspected, and let through.
    expect(await waf.evaluate(r.request, Buffer.alloc(1024, 'a'))).toMatchObject({ action: 'pass' });
  });

  it('detect mode: a chunked body over the limit would be refused, and is inspected partially', async () => {
    const { log } = captureLog();
    const waf = await createWaf(parseWafConfig({ mode: 'detect', body: { limit: 1024, onLimit: 'reject' }, managed: { crs, required: true } }, '/etc/keyless/edge.yaml'), { log });
    const r = request('POST', '/upload', { 'user-agent': 'test', accept: '*/*', 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' });
    const v = await waf.evaluate(r.request, Buffer.alloc(1024, 'a'), { truncated: true });
    expect(v).toMatchObject({ action: 'pass', wouldBlock: { status: 413, reason: 'body-limit' }, bodyTruncated: true });
  });
});

describe('onParseError', () => {
  const BROKEN_ATTACK = `{"q": "${SQLI}", "n": [1, 2`;

  it('ignore: a malformed JSON body is inspected as raw text, not refused with 400', async () => {
    const { waf } = await wafWith({ onParseError: 'ignore' });
    const attack = json(BROKEN_ATTACK);
    const v = await waf.evaluate(attack.request, attack.body);
    expect(v).toMatchObject({ action: 'block', status: 403 });
    expect(v.matches.map((m) => [m.rule, m.variable])).toEqual([['942100', 'REQUEST_BODY']]);
    const benign = json('{"name": "widget", "tags": ["a", "b"');
    expect(await waf.evaluate(benign.request, benign.body)).toEqual({ action: 'pass', matches: [], anomalyScore: 0 });
  });

  it('block (the default): the same body is refused with 400', async () => {
    const { waf } = await wafWith({});
    const attack = json(BROKEN_ATTACK);
    expect(await waf.evaluate(attack.request, attack.body)).toMatchObject({ action: 'block', status: 400, matches: [expect.objectContaining({ source: 'body', rule: 'body-parse' })] });
    // Well-formed JSON is parsed into ARGS and inspected there.
    const ok = json(JSON.stringify({ q: SQLI }));
    const v = await waf.evaluate(ok.request, ok.body);
    expect(v).toMatchObject({ action: 'block', status: 403 });
    expect(v.matches[0]?.variable).toBe('ARGS:json.q');
  });
});

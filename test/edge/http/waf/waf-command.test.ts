// keyless waf test (cli/waf-command.ts)
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { wafCommand } from '../../../../cli/waf-command.js';

const d = mkdtempSync(path.join(os.tmpdir(), 'waf-cli-'));
const file = (name: string, text: string) => {
  writeFileSync(path.join(d, name), text);
  return path.join(d, name);
};

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const w1 = process.stdout.write.bind(process.stdout);
  const w2 = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  try {
    return { code: await wafCommand.run(args), out, err };
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
  }
}

const crs = existsSync('/usr/share/modsecurity-crs/rules') && existsSync('/etc/modsecurity/crs/crs-setup.conf');

describe('keyless waf test', () => {
  const ownRules = file('own.yaml', 'listen: 127.0.0.1:8443\nwaf:\n  managed: { enabled: false }\n  rules:\n    - name: no-admin\n      expression: http.request.uri.path starts_with "/admin"\n      action: block\n');
  const admin = file('admin.http', 'GET /admin/users HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8\r\n\r\n');

  it('prints the verdict and the rule, exit 1 when blocked', async () => {
    const r = await run(['test', '--config', ownRules, '--request', admin]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('verdict: BLOCK 403');
    expect(r.out).toMatch(/block\s+rule no-admin: http\.request\.uri\.path starts_with "\/admin"/);
  });

  it('--json gives the verdict as data', async () => {
    const r = await run(['test', '--config', ownRules, '--request', admin, '--json', '--ip', '192.0.2.1']);
    const json = JSON.parse(r.out) as { verdict: { action: string; matches: { rule: string }[] } };
    expect(json.verdict.action).toBe('block');
    expect(json.verdict.matches[0]!.rule).toBe('no-admin');
  });

  it('usage and config errors', async () => {
    await expect(run(['test', '--request', admin])).rejects.toThrow(/--config is required/);
    await expect(run(['nope'])).rejects.toThrow(/unknown subcommand/);
    const bad = file('bad.yaml', 'waf:\n  rules:\n    - { name: x, expression: "http.host eq", action: block }\n');
    const r = await run(['test', '--config', bad, '--request', admin]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("field 'waf.rules[0].expression': line 1, column 13");
  });

  it.skipIf(!crs)('with the CRS: which rule, which variable, where it is defined, how to exclude it', async () => {
    const cfg = file('crs.yaml', 'waf: {}\n');
    const req = file('sqli.http', "GET /search?q=1%27%20or%20%271%27%3D%271 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0\r\nAccept: text/html\r\n\r\n");
    const r = await run(['test', '--config', cfg, '--request', req]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^WAF blocking: OWASP_CRS\/3\.3\.4/);
    expect(r.out).toContain('rule 942100 [CRITICAL] phase 2: SQL Injection Attack');
    expect(r.out).toContain('variable: ARGS:q');
    expect(r.out).toMatch(/defined:  \/usr\/share\/modsecurity-crs\/rules\/REQUEST-942-APPLICATION-ATTACK-SQLI\.conf:\d+/);
    expect(r.out).toContain('exclude:  SecRuleUpdateTargetById 942100 "!ARGS:q"');
  }, 60_000);

  it.skipIf(!crs)('a rule that matched several variables: each with its data, one exclusion per variable', async () => {
    const cfg = file('crs2.yaml', 'waf: {}\n');
    const req = file('sqli2.http', "GET /search?q=1%27%20or%20%271%27%3D%271&password=2%27%20or%20%272%27%3D%272&r=3%27%20or%20%273%27%3D%273 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0\r\nAccept: text/html\r\n\r\n");
    const r = await run(['test', '--config', cfg, '--request', req]);
    expect(r.code).toBe(1);
    const block = r.out.slice(r.out.indexOf('rule 942100'), r.out.indexOf('defined:', r.out.indexOf('rule 942100')));
    expect(block).toContain("variable: ARGS:q\n             data:     1' or '1'='1");
    expect(block).toContain('variable: ARGS:password\n             data:     [redacted]');
    expect(block).toContain("variable: ARGS:r\n             data:     3' or '3'='3");
    expect(r.out).not.toContain("2' or '2'='2");
    for (const v of ['q', 'password', 'r']) expect(r.out).toContain(`exclude:  SecRuleUpdateTargetById 942100 "!ARGS:${v}"`);
    expect(r.out).toContain('(the request matched 3 variables: exclude all of them to let it through)');
  }, 60_000);
});

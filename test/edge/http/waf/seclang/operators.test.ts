import { describe, expect, it } from 'vitest';
import { DEFAULT_FALLBACK_LIMITS, newRegexBudget } from '../../../../../edge/http/waf/regex/compile.js';
import { compileMacro, expandMacro } from '../../../../../edge/http/waf/seclang/macros.js';
import { atoi, compileOperator, invalidUtf8, OperatorError } from '../../../../../edge/http/waf/seclang/operators.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const dir = mkdtempSync(path.join(os.tmpdir(), 'waf-op-'));
writeFileSync(path.join(dir, 'phrases.data'), '# comment\n\n/etc/passwd\nboot.ini\r\n');
writeFileSync(path.join(dir, 'ips.data'), '10.0.0.0/8\n2001:db8::/32\n');
const options = { baseDir: dir, fallbackLimits: DEFAULT_FALLBACK_LIMITS, fileCache: new Map<string, string>() };
const vars: Record<string, string> = { 'tx.list': 'GET HEAD POST', 'tx.n': '5' };
const ctx = { budget: newRegexBudget(), expand: (m: ReturnType<typeof compileMacro>) => expandMacro(m, (r) => vars[`${r.collection.toLowerCase()}.${r.key}`] ?? '') };
const run = (name: string, param: string, input: string) => compileOperator(name, false, param, options).run(input, ctx);
const hit = (name: string, param: string, input: string) => run(name, param, input) !== null;

describe('operators (Reference Manual v2.x, "Operators")', () => {
  it('@rx with captures', () => {
    expect(run('rx', '(\\d+)-(\\d+)', 'x 1-2')?.captures).toEqual(['1-2', '1', '2']);
    expect(hit('rx', '^a', 'ba')).toBe(false);
  });

  it('@pm and @pmFromFile: case-insensitive phrases, relative data files', () => {
    expect(run('pm', 'AppleWebKit Android', 'Mozilla applewebkit/5')?.captures).toEqual(['applewebkit']);
    expect(hit('pm', 'foo bar', 'nothing')).toBe(false);
    expect(run('pmFromFile', 'phrases.data', 'GET /../../ETC/PASSWD')?.captures[0]).toBe('/ETC/PASSWD');
    expect(hit('pmf', 'phrases.data', 'C:\\boot.ini')).toBe(true);
    expect(() => compileOperator('pmFromFile', false, 'missing.data', options)).toThrow(OperatorError);
  });

  it('string comparisons, with macro-expanded parameters', () => {
    expect(hit('streq', 'POST', 'POST')).toBe(true);
    expect(hit('streq', 'POST', 'post')).toBe(false);
    expect(hit('contains', 'select', 'xselecty')).toBe(true);
    expect(hit('containsWord', 'select', 'xselecty')).toBe(false);
    expect(hit('containsWord', 'select', 'a select b')).toBe(true);
    expect(hit('beginsWith', '/admin', '/admin/x')).toBe(true);
    expect(hit('endsWith', '.php', '/a.php')).toBe(true);
    expect(hit('within', '%{tx.list}', 'HEAD')).toBe(true);
    expect(hit('within', '%{tx.list}', 'PUT')).toBe(false);
  });

  it('numeric comparisons use atoi semantics', () => {
    expect(hit('eq', '0', '')).toBe(true);
    expect(hit('ge', '%{tx.n}', '5')).toBe(true);
    expect(hit('gt', '%{tx.n}', '5')).toBe(false);
    expect(hit('lt', '10', '9abc')).toBe(true);
    expect(hit('le', '-1', '-1')).toBe(true);
    expect(atoi('  +42x')).toBe(42);
    expect(atoi('x1')).toBe(0);
    expect(atoi('99999999999')).toBe(2147483647);
  });

  it('@ipMatch and @ipMatchFromFile, IPv4 and IPv6', () => {
    expect(hit('ipMatch', '127.0.0.1,::1,192.168.0.0/16', '192.168.4.4')).toBe(true);
    expect(hit('ipMatch', '127.0.0.1,::1', '::1')).toBe(true);
    expect(hit('ipMatch', '127.0.0.1', 'not-an-ip')).toBe(false);
    expect(hit('ipMatchFromFile', 'ips.data', '2001:db8::5')).toBe(true);
    expect(() => compileOperator('ipMatch', false, '300.1.1.1', options)).toThrow(/not an IP/);
  });

  it('@validateByteRange, @validateUrlEncoding, @validateUtf8Encoding', () => {
    expect(hit('validateByteRange', '32-126', 'hello')).toBe(false);
    expect(hit('validateByteRange', '32-126', 'a\x01')).toBe(true);
    expect(hit('validateByteRange', '9,10,13,32-126', 'a\tb')).toBe(false);
    expect(hit('validateUrlEncoding', '', 'a%20b')).toBe(false);
    expect(hit('validateUrlEncoding', '', 'a%2')).toBe(true);
    expect(hit('validateUrlEncoding', '', '%g0')).toBe(true);
    expect(invalidUtf8(Buffer.from('héllo €', 'utf8').toString('latin1'))).toBe(false);
    expect(invalidUtf8('\xc0\xaf')).toBe(true); // overlong "/"
    expect(invalidUtf8('\xe2\x82')).toBe(true); // truncated
    expect(invalidUtf8('\xed\xa0\x80')).toBe(true); // surrogate
  });

  it('@detectSQLi and @detectXSS use our detectors', () => {
    expect(run('detectSQLi', '', "1' or '1'='1")?.captures[0]).toMatch(/^s/);
    expect(hit('detectSQLi', '', 'hello world')).toBe(false);
    expect(hit('detectXSS', '', '<img src=x onerror=alert(1)>')).toBe(true);
    expect(hit('detectXSS', '', 'a < b')).toBe(false);
  });

  it('@unconditionalMatch and @noMatch', () => {
    expect(hit('unconditionalMatch', '', '')).toBe(true);
    expect(hit('noMatch', '', 'x')).toBe(false);
  });

  it('refuses unknown operators and names the unsupported ones', () => {
    expect(() => compileOperator('frobnicate', false, '', options)).toThrow(expect.objectContaining({ kind: 'invalid' }));
    expect(() => compileOperator('geoLookup', false, '', options)).toThrow(expect.objectContaining({ kind: 'unsupported' }));
    expect(() => compileOperator('rbl', false, 'x', options)).toThrow(expect.objectContaining({ kind: 'unsupported' }));
  });
});

describe('the Aho-Corasick phrase matcher (the @pm fallback when RE2 cannot take a phrase list)', () => {
  it('finds phrases case-insensitively, overlapping ones too', async () => {
    const { PhraseMatcher, parsePhraseFile } = await import('../../../../../edge/http/waf/seclang/phrase-matcher.js');
    const m = new PhraseMatcher(['he', 'she', 'his', 'hers', '/etc/passwd']);
    expect(m.find('uSHErs')).toBe('SHE');
    expect(m.find('ahishers')).toBe('his');
    expect(m.find('cat /ETC/passwd')).toBe('/ETC/passwd');
    expect(m.find('nothing to see')).toBeNull();
    expect(new PhraseMatcher([]).find('x')).toBeNull();
    expect(parsePhraseFile('# c\n a \n\nb\r\n')).toEqual(['a', 'b']);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WafExpressionError } from '../../../../../edge/http/waf/errors.js';
import { compileExpression } from '../../../../../edge/http/waf/expr/compile.js';
import { requestData } from '../../../../../edge/http/waf/request.js';

const r = requestData({
  requestId: 'x',
  method: 'POST',
  url: '/admin/login?next=%2Fhome&q=Caf%C3%A9',
  host: 'www.example.com',
  httpVersion: '1.1',
  headers: { 'user-agent': 'curl/8.5.0', cookie: 'sid=abc; theme=dark', 'x-api-key': 'k-1', referer: 'https://www.example.com/' },
  clientIp: '::ffff:10.1.2.3',
  clientPort: 1,
  servername: 'www.example.com',
});
const test = (e: string) => compileExpression(e).test(r);

function error(e: string): WafExpressionError {
  try {
    compileExpression(e);
  } catch (err) {
    if (err instanceof WafExpressionError) return err;
    throw err;
  }
  throw new Error(`no error for ${e}`);
}

describe('the custom rule expression language', () => {
  it('fields and comparison operators', () => {
    expect(test('http.host eq "www.example.com"')).toBe(true);
    expect(test('http.request.method == "POST" && http.request.method != "GET"')).toBe(true);
    expect(test('http.request.uri.path starts_with "/admin"')).toBe(true);
    expect(test('http.request.uri.path ends_with "/login"')).toBe(true);
    expect(test('http.request.uri.query contains "next="')).toBe(true);
    expect(test('http.request.uri eq "/admin/login?next=%2Fhome&q=Caf%C3%A9"')).toBe(true);
    expect(test('http.request.headers["X-API-Key"] eq "k-1"')).toBe(true);
    expect(test('http.user_agent matches r"^curl/\\d"')).toBe(true);
    expect(test('http.cookie contains "theme=dark"')).toBe(true);
    expect(test('http.request.cookies["sid"] eq "abc"')).toBe(true);
    expect(test('http.request.uri.args["next"] eq "/home"')).toBe(true);
    expect(test('http.request.uri.args["q"] eq "Café"')).toBe(true);
    expect(test('http.referer starts_with "https://www.example.com"')).toBe(true);
  });

  it('IP addresses and CIDR sets, IPv4 and IPv6', () => {
    expect(test('ip.src in { 10.0.0.0/8 2001:db8::/32 }')).toBe(true);
    expect(test('ip.src eq 10.1.2.3')).toBe(true);
    expect(test('ip.src in { 192.168.0.0/16, fd00::/8 }')).toBe(false);
  });

  it('sets of strings, and, or, xor, not, parentheses, functions', () => {
    expect(test('http.request.method in { "PUT" "POST" }')).toBe(true);
    expect(test('not (http.host eq "a" or http.host eq "b")')).toBe(true);
    expect(test('http.host eq "a" or http.host eq "www.example.com" and http.request.method eq "GET"')).toBe(false);
    expect(test('http.host eq "www.example.com" xor http.request.method eq "POST"')).toBe(false);
    expect(test('lower(http.user_agent) contains "CURL"')).toBe(false);
    expect(test('upper(http.user_agent) contains "CURL"')).toBe(true);
    expect(test('url_decode(http.request.uri.query) contains "/home"')).toBe(true);
    expect(test('len(http.request.uri.path) gt 5 and len(http.host) le 15')).toBe(true);
  });

  it('multi-line expressions with comments', () => {
    expect(test('http.request.uri.path starts_with "/admin"   # the admin area\n  and not ip.src in { 192.0.2.0/24 }')).toBe(true);
  });

  it('syntax errors name the line and column', () => {
    expect(error('http.host eq')).toMatchObject({ code: 'WAF_ERR_EXPRESSION_SYNTAX', line: 1, column: 13 });
    expect(error('http.host eq "a" and\n  (http.request.method eq "GET"')).toMatchObject({ line: 2, column: 32 });
    expect(error('http.host eq "a" and\n  (http.request.method eq "GET"').message).toMatch(/expected "\)" to close the "\(" at line 2, column 3/);
    expect(error('http.host eq "unterminated')).toMatchObject({ line: 1, column: 14 });
    expect(error('http.host ~~ "x"')).toMatchObject({ line: 1, column: 12 });
    expect(error('ip.src eq 300.1.1.1')).toMatchObject({ line: 1, column: 11 });
    expect(error('')).toMatchObject({ message: expect.stringMatching(/empty/) });
    expect(error('http.host eq "a" http.host')).toMatchObject({ line: 1, column: 18 });
  });

  it('type errors name the place too', () => {
    expect(error('ip.src contains "1"')).toMatchObject({ code: 'WAF_ERR_EXPRESSION_TYPE', line: 1, column: 1 });
    expect(error('http.host eq 1')).toMatchObject({ code: 'WAF_ERR_EXPRESSION_TYPE', column: 14 });
    expect(error('http.nope eq "x"').message).toMatch(/unknown field http\.nope/);
    expect(error('http.request.headers eq "x"').message).toMatch(/needs a name/);
    expect(error('http.host in { 10.0.0.1 }').message).toMatch(/the set holds an IP address/);
    expect(error('http.host matches "(a)\\\\1"').message).toMatch(/RE2/);
    expect(error('http.host matches "("').message).toMatch(/bad regular expression/);
    expect(error('nope(http.host) eq "x"').message).toMatch(/unknown function/);
    expect(error('http.host').message).toMatch(/not a condition/);
  });

  it('the parser only ever throws its typed error, whatever the input', () => {
    const tokens = fc.constantFrom('http.host', 'ip.src', ' eq ', ' in ', '{', '}', '(', ')', '"x"', ' and ', ' or ', ' not ', '10.0.0.0/8', '[', ']', '"', 'r"', '~', '==', '\n', '#', '1', 'lower(', '::1');
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.array(tokens, { maxLength: 30 }).map((a) => a.join(''))), (src) => {
        try {
          compileExpression(src).test(r);
        } catch (err) {
          expect(err).toBeInstanceOf(WafExpressionError);
          const e = err as WafExpressionError;
          expect(e.line).toBeGreaterThanOrEqual(1);
          expect(e.column).toBeGreaterThanOrEqual(1);
        }
      }),
      { numRuns: 5000 },
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePcre, newRegexBudget, RegexCompileError } from '../../../../../edge/http/waf/regex/compile.js';

const budget = () => newRegexBudget();
const m = (pattern: string, input: string, options = {}) => compilePcre(pattern, options).exec(input, budget());

describe('PCRE translation to RE2 (ModSecurity flags: DOTALL, DOLLAR_ENDONLY, bytes)', () => {
  it('runs plain patterns on RE2, exactly', () => {
    const re = compilePcre('(?i)union\\s+select');
    expect(re.engine).toBe('re2');
    expect(re.test('1 UNION  SELECT 2', budget())).toBe(true);
  });

  it('"." matches a newline (PCRE_DOTALL) and "$" only the very end (PCRE_DOLLAR_ENDONLY)', () => {
    expect(m('a.b', 'a\nb')).not.toBeNull();
    expect(m('^\\d+$', '123\n')).toBeNull();
    expect(m('^\\d+$', '123')).not.toBeNull();
    expect(m('abc\\Z', 'abc\n')).not.toBeNull();
  });

  it('scoped and inline flags', () => {
    expect(m('(?i:a[b-d])x', 'ACx')).not.toBeNull();
    expect(m('(?i:a[b-d])x', 'ACX')).toBeNull();
    expect(m('x(?i)y', 'xY')).not.toBeNull();
    expect(m('(?x) a b  # comment\n c', 'abc')).not.toBeNull();
  });

  it('\\s includes the vertical tab (PCRE 8.34+), \\w and \\d are ASCII', () => {
    expect(m('\\s', '\x0b')).not.toBeNull();
    expect(m('^\\w+$', 'caf\xe9')).toBeNull();
    expect(m('[^\\s]', '\t \n')).toBeNull();
  });

  it('matches bytes: \\xNN is byte NN of the (latin1) byte string', () => {
    expect(m('\\xe9', '\xe9')).not.toBeNull();
    expect(m('[\\x80-\\xff]', 'plain')).toBeNull();
    expect(m('\\x5c', '\\')).not.toBeNull();
  });

  it('captures groups as TX:1.. would see them', () => {
    expect(m('(\\d+)-(\\d+)', 'bytes=10-20')).toEqual(['10-20', '10', '20']);
  });

  it('POSIX classes, \\Q..\\E, octal and control escapes', () => {
    expect(m('^[[:alpha:]]+$', 'abcXYZ')).not.toBeNull();
    expect(m('\\Q.*\\E', 'a.*b')).not.toBeNull();
    expect(m('\\Q.*\\E', 'ab')).toBeNull();
    expect(m('\\012', '\n')).not.toBeNull();
    expect(m('\\cA', '\x01')).not.toBeNull();
    // A lone \E stands for nothing, in a class too; "a-\E" leaves the "-" literal.
    expect(m('[a\\E]x', 'ax')).not.toBeNull();
    expect(m('[a\\E]x', ']x')).toBeNull();
    expect(m('[a-\\E]', '-')).not.toBeNull();
    expect(m('[a-\\E]', 'b')).toBeNull();
  });

  it('possessive quantifiers and atomic groups run as greedy ones, reported as approximate', () => {
    const re = compilePcre('a*+b(?>c|d)');
    expect(re.engine).toBe('re2-approximate');
    expect(re.notes.join()).toMatch(/possessive/);
    expect(re.test('aabd', budget())).toBe(true);
  });

  it('"^.*$" matches everything without an engine', () => {
    expect(m('^.*$', 'a\nb')).toEqual(['a\nb']);
    expect(m('^(.*)$', 'xy')).toEqual(['xy', 'xy']);
  });

  it('reports what it cannot compile', () => {
    expect(() => compilePcre('(?R)')).toThrow(RegexCompileError);
    expect(() => compilePcre('a(b')).toThrow(/missing "\)"/);
    expect(() => compilePcre('\\p{L}')).toThrow(/Unicode property/);
    expect(() => compilePcre('*a')).toThrow(RegexCompileError);
    // Found by the random-pattern property below: a class that ends after a \E.
    for (const p of ['[\\E', "['M\\E", '[a-\\E']) expect(() => compilePcre(p), p).toThrow(/missing "\]"/);
  });
});

describe('bounded fallback for lookarounds and backreferences', () => {
  it('runs lookbehinds, lookaheads and backreferences exactly', () => {
    const lb = compilePcre('(?<!&amp);');
    expect(lb.engine).toBe('bounded-fallback');
    expect(lb.test('&amp;', budget())).toBe(false);
    expect(lb.test('x;', budget())).toBe(true);
    expect(m('(\\w+)=\\1', 'a=b ab=ab')?.[0]).toBe('ab=ab');
    expect(m('(?i)(\\w+)=\\1', 'AB=ab')).not.toBeNull();
    expect(m('foo(?!bar)', 'foobar')).toBeNull();
  });

  it('bounds the backtracking work: windows per value and per request', () => {
    // CRS 942130 is quadratic on runs of quotes in a backtracking engine.
    const re = compilePcre("[\\s'\"`()]*?\\b([\\d\\w]+)\\b[\\s'\"`()]*?(?:=[\\s'\"`()]*?(?:\\b\\1\\b))", { limits: { windowBytes: 1024, maxWindowsPerValue: 4, maxWindowsPerRequest: 8 } });
    const b = budget();
    const hostile = ("'".repeat(3000) + ' a=b ').repeat(20);
    expect(re.test(hostile, b)).toBe(false);
    expect(b.exhausted).toBe(true);
    // A real match within the first windows is still found.
    expect(re.test('x and 1=1', budget())).toBe(true);
  });

  it('finds a match beyond the first window', () => {
    const re = compilePcre('(\\w+)=\\1', { limits: { windowBytes: 64, maxWindowsPerValue: 64, maxWindowsPerRequest: 64 } });
    expect(re.test(`${'x=y '.repeat(100)}k=k`, budget())).toBe(true);
  });
});

describe('properties', () => {
  it('never throws anything but RegexCompileError on random patterns', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (p) => {
        try {
          compilePcre(p);
        } catch (err) {
          expect(err).toBeInstanceOf(RegexCompileError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with V8 on patterns both understand', () => {
    const patterns = ['a[bc]+d', '^\\d{2,4}$', '(?:ab|cd)*e', 'x.y', '[^a-c]z', '\\bword\\b', 'a?b+c*'];
    fc.assert(
      fc.property(fc.constantFrom(...patterns), fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'x', 'y', 'z', '1', '2', ' ', '\n', 'w', 'o', 'r'), maxLength: 20 }), (p, s) => {
        expect(compilePcre(p).test(s, budget())).toBe(new RegExp(p, 's').test(s));
      }),
      { numRuns: 3000 },
    );
  });
});

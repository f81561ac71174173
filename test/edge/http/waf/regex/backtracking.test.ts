// The load-time ReDoS check on patterns that need V8's backtracking engine (bounded fallback).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backtrackingRisk } from '../../../../../edge/http/waf/regex/backtracking.js';
import { compilePcre, newRegexBudget, RegexCompileError, UnsafeRegexError } from '../../../../../edge/http/waf/regex/compile.js';
import { parsePcre } from '../../../../../edge/http/waf/regex/pcre-ast.js';
import { matched, rules, transact } from '../seclang/harness.js';

const risk = (p: string) => backtrackingRisk(parsePcre(p).root);
const budget = () => newRegexBudget();

/** CRS 3.3's three bounded-fallback patterns, verbatim. */
const CRS_920120 = `(?<!&(?:[aAoOuUyY]uml)|&(?:[aAeEiIoOuU]circ)|&(?:[eEiIoOuUyY]acute)|&(?:[aAeEiIoOuU]grave)|&(?:[cC]cedil)|&(?:[aAnNoO]tilde)|&(?:amp)|&(?:apos));|['\\"=]`;
const CRS_942130 = `(?i:[\\s'\\"\`()]*?\\b([\\d\\w]+)\\b[\\s'\\"\`()]*?(?:<(?:=(?:[\\s'\\"\`()]*?(?!\\b\\1\\b)[\\d\\w]+|>[\\s'\\"\`()]*?(?:\\b\\1\\b))|>?[\\s'\\"\`()]*?(?!\\b\\1\\b)[\\d\\w]+)|(?:not\\s+(?:regexp|like)|is\\s+not|>=?|!=|\\^)[\\s'\\"\`()]*?(?!\\b\\1\\b)[\\d\\w]+|(?:(?:sounds\\s+)?like|r(?:egexp|like)|=)[\\s'\\"\`()]*?(?:\\b\\1\\b)))`;
const CRS_953120 = '<\\?(?!xml)';

describe('what the analysis refuses', () => {
  it.each([
    ['(a+)+', 'nested-quantifier'],
    ['(a*)*b', 'nested-quantifier'],
    ['(?:\\w+\\s?)*$', 'nested-quantifier'],
    ['(?:x(?:a+)?)*', 'nested-quantifier'],
    ['(a|a)*', 'ambiguous-repeat'],
    ['(\\w|\\d)+', 'ambiguous-repeat'],
    ['(a|aa)*', 'ambiguous-repeat'],
    ['(?:a?a)*', 'ambiguous-repeat'],
    ['(a?b?)*', 'ambiguous-repeat'],
    ['(?i)(?:a|A)+', 'ambiguous-repeat'],
    ['(a{1,9}){1,9}', 'ambiguous-repeat'],
    ['(?:(\\w)\\1)+', 'backreference-in-repeat'],
    ['(?:(?=(a|a)+x)y)+', 'nested-quantifier'],
    ['x(?=(?:a|a)+b)', 'ambiguous-repeat'],
  ])('%s: %s', (pattern, kind) => {
    expect(risk(pattern)?.kind).toBe(kind);
  });

  it.each([
    'a+b*c?', '(?:ab|cd)*', '(?:\\s?\\w)*', '(?:\\d{1,3}\\.){3}\\d{1,3}', '(?:a|b)*a', '[a-z]+\\d+', '(\\w+)=\\1', '(?<!&amp);', 'foo(?!bar)',
    '(?:\\b)*x', '(\\w)\\1?', CRS_920120, CRS_942130, CRS_953120,
  ])('%s is safe', (pattern) => {
    expect(risk(pattern)).toBeNull();
  });
});

describe('compilePcre refuses unsafe fallback patterns', () => {
  it('an exponential pattern that needs the fallback is refused, with the reason', () => {
    let err: unknown;
    try {
      compilePcre('(?=a)(a+)+$');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnsafeRegexError);
    expect(err).toBeInstanceOf(RegexCompileError);
    expect((err as UnsafeRegexError).code).toBe('WAF_ERR_REGEX');
    expect((err as Error).message).toMatch(/lookahead/);
    expect((err as Error).message).toMatch(/nested unbounded quantifiers/);
    expect(() => compilePcre('(?<=x)(\\w|\\d)+')).toThrow(/same text in more than one way/);
    expect(() => compilePcre('(?:(\\w)\\1)+')).toThrow(/backreference \(\\1\) inside a repeated group/);
  });

  it('the same pattern without a lookaround runs on RE2, where it is harmless', () => {
    const re = compilePcre('^(a+)+$');
    expect(re.engine).toBe('re2');
    expect(re.test('a'.repeat(100_000) + '!', budget())).toBe(false);
  });

  it('safe lookaround patterns still run, exactly', () => {
    const re = compilePcre('(?<![\\w.])(?:\\d{1,3}\\.){3}\\d{1,3}(?![\\w.])');
    expect(re.engine).toBe('bounded-fallback');
    expect(re.test('host 10.1.2.3 up', budget())).toBe(true);
    expect(re.test('v1.10.1.2.3', budget())).toBe(false);
  });

  it("CRS 3.3's fallback patterns pass the check and run", () => {
    for (const p of [CRS_920120, CRS_942130, CRS_953120]) expect(compilePcre(p).engine).toBe('bounded-fallback');
    expect(compilePcre(CRS_920120).test('a;b', budget())).toBe(true);
    expect(compilePcre(CRS_920120).test('&auml;', budget())).toBe(false);
    expect(compilePcre(CRS_942130).test("x' or 1=1", budget())).toBe(true);
    expect(compilePcre(CRS_942130).test('size 1 2', budget())).toBe(false);
    expect(compilePcre(CRS_953120).test('<?php', budget())).toBe(true);
    expect(compilePcre(CRS_953120).test('<?xml', budget())).toBe(false);
  });

  it('every fallback pattern it accepts runs fast on inputs that blow up exponential ones', () => {
    const atom = fc.constantFrom('a', 'b', '\\w', '\\d', '[ab]', '.', '\\s', 'a?', 'b?');
    const { node } = fc.letrec<{ node: string; seq: string; alt: string; rep: string }>((tie) => ({
      node: fc.oneof({ maxDepth: 4 }, atom, tie('seq'), tie('alt'), tie('rep')),
      seq: fc.array(tie('node'), { minLength: 1, maxLength: 3 }).map((a) => a.join('')),
      alt: fc.array(tie('node'), { minLength: 2, maxLength: 3 }).map((a) => `(?:${a.join('|')})`),
      rep: fc.tuple(tie('node'), fc.constantFrom('*', '+', '{1,5}', '{2}', '?')).map(([n, q]) => `(?:${n})${q}`),
    }));
    let refused = 0;
    fc.assert(
      fc.property(node, fc.constantFrom('a', 'ab', '1', 'a '), (p, unit) => {
        let re;
        try {
          re = compilePcre(`(?=[\\s\\S])(?:${p})$`, { limits: { windowBytes: 1 << 16, maxWindowsPerValue: 1, maxWindowsPerRequest: 1 } });
        } catch (err) {
          expect(err).toBeInstanceOf(UnsafeRegexError);
          refused++;
          return;
        }
        // 2^26 steps would take seconds each, so 3000 runs would blow the test timeout; anything
        // the check lets through is polynomial. (No timing assertion: the timeout is the bound.)
        const input = unit.repeat(Math.ceil(26 / unit.length)) + '!';
        re.test(input, budget());
        re.test(input, budget());
      }),
      { numRuns: 3000, seed: 42 },
    );
    expect(refused).toBeGreaterThan(0);
  });
});

describe('rules with an unsafe pattern are disabled and listed at load', () => {
  it('reports the rule id and why, and loads the others', () => {
    const rs = rules(`
SecRule ARGS "@rx (?=a)(a+)+$" "id:100,phase:1,deny,status:403"
SecRule ARGS "@rx (?<=user=)(\\w|\\d)+" "id:101,phase:1,deny,status:403,chain"
    SecRule ARGS "@rx x" "t:none"
SecRule ARGS "@rx (?<![\\w.])(?:\\d{1,3}\\.){3}\\d{1,3}(?![\\w.])" "id:102,phase:1,pass,log"
`);
    const reported = rs.diagnostics.filter((d) => d.level !== 'info');
    expect(reported.map((d) => [d.level, d.code, d.ruleId, d.line])).toEqual([
      ['warning', 'WAF_RULE_DISABLED', 100, 2],
      ['warning', 'WAF_RULE_DISABLED', 101, 3],
      ['warning', 'WAF_REGEX_FALLBACK', 102, 5],
    ]);
    expect(reported[0]!.message).toMatch(/^rule 100 is disabled: .*nested unbounded quantifiers/);
    expect(reported[1]!.message).toMatch(/^rule 101 is disabled: .*same text in more than one way/);
    expect([...rs.rulesById.keys()]).toEqual([102]);
    // The safe lookaround rule still matches; the disabled ones never run.
    expect(matched(transact(rs, { url: '/?ip=10.1.2.3&q=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!' }))).toEqual([102]);
  });
});

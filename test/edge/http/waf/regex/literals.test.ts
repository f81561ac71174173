import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { literalFilter, passesFilter } from '../../../../../edge/http/waf/regex/literals.js';
import { parsePcre } from '../../../../../edge/http/waf/regex/pcre-ast.js';

describe('necessary literals', () => {
  it('finds the literal a match must contain', () => {
    expect(literalFilter(parsePcre('java\\.lang\\.(?:runtime|processbuilder)').root)?.anyOf).toEqual(['java.lang.']);
    expect(literalFilter(parsePcre('(?i)<script').root)?.anyOf).toEqual(['<script']);
    expect(literalFilter(parsePcre('(?:select|union)\\s').root)?.anyOf.slice().sort()).toEqual(['select', 'union']);
    expect(literalFilter(parsePcre('["\'`]x').root)?.anyOf.slice().sort()).toEqual(['"', "'", '`']);
  });

  it('gives up where anything may match', () => {
    expect(literalFilter(parsePcre('a*').root)).toBeNull();
    expect(literalFilter(parsePcre('(?:foo|\\d+)').root)).toBeNull();
    expect(literalFilter(parsePcre('^.*$').root)).toBeNull();
  });

  it('never rejects an input the pattern matches', () => {
    const patterns = ['(?i)union\\s+select', 'a(?:bc|de)+f', '(?i:x[yY]z)', '<(?:script|img)\\b', "['\"]\\s*or", 'ab?c', '(?:foo){2}bar'];
    const alphabet = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'x', 'y', 'z', 'Y', 'U', 'n', 'i', 'o', 's', 'e', 'l', 'c', 't', ' ', '<', "'", '"', 'r', 'S', 'E', 'L', 'C', 'T');
    fc.assert(
      fc.property(fc.constantFrom(...patterns), fc.string({ unit: alphabet, maxLength: 24 }), (p, s) => {
        const filter = literalFilter(parsePcre(p).root);
        if (filter !== null && new RegExp(p.replace('(?i)', '').replace('(?i:', '(?:'), p.includes('(?i') ? 'is' : 's').test(s)) {
          expect(passesFilter(filter, s)).toBe(true);
        }
      }),
      { numRuns: 5000 },
    );
  });
});

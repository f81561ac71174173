import { describe, expect, it } from 'vitest';
import { lexSecLang } from '../../../../../edge/http/waf/seclang/lexer.js';
import { parseActions, parseOperator, parseVariables } from '../../../../../edge/http/waf/seclang/syntax.js';

describe('SecLang lexer (Apache configuration syntax)', () => {
  it('joins continuation lines, skips comments, keeps line numbers', () => {
    const text = '# comment\nSecRule ARGS "@rx a\\d" \\\n    "id:1,\\\n    phase:2"\n\n  # indented comment\nSecMarker END\n';
    const ds = lexSecLang(text, 'f.conf');
    expect(ds.map((d) => [d.name, d.line])).toEqual([
      ['SecRule', 2],
      ['SecMarker', 7],
    ]);
    expect(ds[0]!.args).toEqual(['ARGS', '@rx a\\d', 'id:1,    phase:2']);
  });

  it('unescapes only the quote character inside quotes', () => {
    const [d] = lexSecLang(`SecRule ARGS "@rx [\\"'\\\\]" "msg:'it\\'s'"`, 'f');
    expect(d!.args).toEqual(['ARGS', `@rx ["'\\\\]`, "msg:'it\\'s'"]);
  });

  it('reports an unterminated quote with its line', () => {
    expect(() => lexSecLang('\nSecRule ARGS "@rx x', 'f.conf')).toThrow(/f\.conf:2: missing closing "/);
  });
});

describe('SecLang variables, operators, actions', () => {
  it('parses exclusions, counts, key and regex selectors, XPath', () => {
    const vs = parseVariables("ARGS|!ARGS:foo|&TX:x|REQUEST_COOKIES:/^__utm/|REQUEST_HEADERS:'/^x-/'|XML:/*");
    expect(vs.map((v) => [v.name, v.exclude, v.count, v.selector])).toEqual([
      ['ARGS', false, false, null],
      ['ARGS', true, false, { kind: 'key', key: 'foo' }],
      ['TX', false, true, { kind: 'key', key: 'x' }],
      ['REQUEST_COOKIES', false, false, { kind: 'regex', source: '^__utm' }],
      ['REQUEST_HEADERS', false, false, { kind: 'regex', source: '^x-' }],
      ['XML', false, false, { kind: 'xpath', path: '/*' }],
    ]);
    expect(() => parseVariables('ARGS|')).toThrow(/ends with/);
    expect(() => parseVariables('ARGS:/x')).toThrow(/unterminated regex/);
  });

  it('parses operators, negation and the implicit @rx', () => {
    expect(parseOperator('!@rx ^a b')).toEqual({ name: 'rx', negated: true, param: '^a b' });
    expect(parseOperator('@detectSQLi')).toEqual({ name: 'detectSQLi', negated: false, param: '' });
    expect(parseOperator('^(?:GET|HEAD)$')).toEqual({ name: 'rx', negated: false, param: '^(?:GET|HEAD)$' });
  });

  it('parses actions with quoted values and commas inside them', () => {
    expect(parseActions("id:1, phase:2,t:none, msg:'a, b', setvar:'tx.x=+%{tx.y}',ctl:ruleRemoveTargetById=1;ARGS:x,chain")).toEqual([
      { name: 'id', value: '1' },
      { name: 'phase', value: '2' },
      { name: 't', value: 'none' },
      { name: 'msg', value: 'a, b' },
      { name: 'setvar', value: 'tx.x=+%{tx.y}' },
      { name: 'ctl', value: 'ruleRemoveTargetById=1;ARGS:x' },
      { name: 'chain', value: null },
    ]);
    expect(() => parseActions("msg:'open")).toThrow(/unterminated/);
  });
});

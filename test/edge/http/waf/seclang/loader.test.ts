import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRuleset } from '../../../../../edge/http/waf/seclang/loader.js';
import { matched, rules, transact } from './harness.js';

function dir(files: Record<string, string>): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'waf-load-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(d, name)), { recursive: true });
    writeFileSync(path.join(d, name), text);
  }
  return d;
}

describe('loading SecLang files', () => {
  it('follows Include with globs relative to the including file, in sorted order', () => {
    const d = dir({
      'main.conf': 'Include rules/*.conf\nIncludeOptional missing/*.conf\n',
      'rules/b.conf': 'SecAction "id:2,phase:1,pass,log"\n',
      'rules/a.conf': 'SecAction "id:1,phase:1,pass,log"\n',
      'rules/data.txt': 'ignored',
    });
    const rs = loadRuleset([{ kind: 'file', path: path.join(d, 'main.conf') }]);
    expect(rs.diagnostics.filter((x) => x.level === 'error')).toEqual([]);
    expect(rs.files.map((f) => path.basename(f))).toEqual(['main.conf', 'a.conf', 'b.conf']);
    expect(matched(transact(rs))).toEqual([1, 2]);
  });

  it('reports an Include that matches nothing, and include loops', () => {
    const d = dir({ 'a.conf': 'Include nope.conf\n', 'loop.conf': 'Include loop.conf\n' });
    const rs = loadRuleset([{ kind: 'file', path: path.join(d, 'a.conf') }]);
    expect(rs.diagnostics[0]).toMatchObject({ level: 'error', code: 'WAF_ERR_SECLANG_INCLUDE', line: 1 });
    const loop = loadRuleset([{ kind: 'file', path: path.join(d, 'loop.conf') }]);
    expect(loop.diagnostics.some((x) => /nested deeper/.test(x.message))).toBe(true);
  });

  it('names unknown directives with their line', () => {
    const rs = rules('SecAction "id:1,phase:1,pass"\n\nSecFrobnicate On\nSecAuditEngine On\n');
    expect(rs.diagnostics).toEqual([
      expect.objectContaining({ level: 'error', code: 'WAF_ERR_SECLANG_UNKNOWN_DIRECTIVE', line: 3, message: 'unknown directive SecFrobnicate' }),
      expect.objectContaining({ level: 'info', code: 'WAF_SECLANG_IGNORED_DIRECTIVE', line: 4 }),
    ]);
  });

  it('reports rules that do not compile and leaves them (and their chains) out', () => {
    const rs = rules(`
SecRule ARGS "@rx (" "id:1,phase:1,deny"
SecRule ARGS "@rx x" "id:2,phase:1,deny,chain"
    SecRule ARGS "@geoLookup" "t:none"
SecRule ARGS "@rx x" "id:3,phase:1,t:nope"
SecRule ARGS "@rx x" "id:4,phase:1,pass"
SecRule ARGS "@rx x" "id:4,phase:1,pass"
SecRule ARGS "@rx x" "phase:1,pass"
SecRule ARGS "@rx x" "id:5,phase:1,chain"
`);
    const byLine = rs.diagnostics.map((x) => [x.line, x.code]);
    expect(byLine).toEqual([
      [2, 'WAF_ERR_SECLANG_SYNTAX'],
      [4, 'WAF_RULE_DISABLED'],
      [5, 'WAF_ERR_SECLANG_SYNTAX'],
      [7, 'WAF_ERR_SECLANG_SYNTAX'],
      [8, 'WAF_ERR_SECLANG_SYNTAX'],
      [9, 'WAF_ERR_SECLANG_SYNTAX'],
    ]);
    expect([...rs.rulesById.keys()]).toEqual([4]);
  });

  it('SecRuleRemoveById / ByTag / ByMsg remove rules loaded before them', () => {
    const rs = rules(`
SecAction "id:1,phase:1,pass,log,tag:'attack-sqli'"
SecAction "id:2,phase:1,pass,log,msg:'Remove me'"
SecAction "id:3,phase:1,pass,log"
SecAction "id:4,phase:1,pass,log"
SecRuleRemoveByTag attack-sqli
SecRuleRemoveByMsg "^Remove"
SecRuleRemoveById 3-3 99
`);
    expect([...rs.rulesById.keys()]).toEqual([4]);
  });

  it('SecRuleUpdateTargetById adds targets and exclusions', () => {
    const rs = rules(`
SecRule ARGS "@rx x" "id:1,phase:1,pass,log"
SecRuleUpdateTargetById 1 "!ARGS:safe|REQUEST_HEADERS:X-Extra"
`);
    const tx = transact(rs, { url: '/?safe=x&other=x', headers: { 'x-extra': 'x' } });
    expect(tx.matches[0]!.matched.map((m) => m.name)).toEqual(['ARGS:other', 'REQUEST_HEADERS:x-extra']);
  });

  it('SecRuleUpdateActionById changes the disruptive action and msg', () => {
    const rs = rules(`
SecRule ARGS "@rx x" "id:1,phase:1,pass,log,msg:'old'"
SecRuleUpdateActionById 1 "deny,status:451,msg:'new'"
`);
    const tx = transact(rs, { url: '/?a=x' });
    expect(tx.interruption?.status).toBe(451);
    expect(tx.matches[0]!.msg).toBe('new');
  });

  it('SecComponentSignature and SecRuleEngine are recorded', () => {
    const rs = rules('SecComponentSignature "OWASP_CRS/9.9.9"\nSecRuleEngine DetectionOnly\n');
    expect(rs.componentSignatures).toEqual(['OWASP_CRS/9.9.9']);
    expect(rs.engineMode).toBe('DetectionOnly');
  });

  it('reports each pattern that needs the bounded fallback', () => {
    const rs = rules('SecRule ARGS "@rx (\\w+)=\\1" "id:7,phase:1,pass"\n');
    expect(rs.diagnostics).toEqual([expect.objectContaining({ code: 'WAF_REGEX_FALLBACK', ruleId: 7, level: 'warning' })]);
  });
});

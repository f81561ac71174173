import { describe, expect, it } from 'vitest';
import { MemoryCollectionStore } from '../../../../../edge/http/waf/seclang/collections.js';
import { matched, rules, transact } from './harness.js';

describe('rule evaluation and actions', () => {
  it('deny stops processing with its status; pass continues', () => {
    const tx = transact(`
      SecRule ARGS:q "@contains evil" "id:1,phase:1,pass,log,msg:'first'"
      SecRule ARGS:q "@contains evil" "id:2,phase:1,deny,status:406,msg:'second'"
      SecRule ARGS:q "@contains evil" "id:3,phase:1,deny,msg:'never'"
    `, { url: '/?q=evil' });
    expect(matched(tx)).toEqual([1, 2]);
    expect(tx.interruption).toEqual({ ruleId: 2, action: 'deny', status: 406 });
  });

  it('block takes the SecDefaultAction of the phase', () => {
    const passing = transact(`SecDefaultAction "phase:2,log,pass"\nSecRule ARGS "@rx x" "id:1,phase:2,block"`, { url: '/?a=x' });
    expect(passing.interruption).toBeNull();
    expect(matched(passing)).toEqual([1]);
    const denying = transact(`SecDefaultAction "phase:2,log,deny,status:418"\nSecRule ARGS "@rx x" "id:1,phase:2,block"`, { url: '/?a=x' });
    expect(denying.interruption?.status).toBe(418);
  });

  it('nolog runs actions without recording a match', () => {
    const tx = transact(`SecRule ARGS "@rx x" "id:1,phase:1,pass,nolog,setvar:tx.hit=1"`, { url: '/?a=x' });
    expect(matched(tx)).toEqual([]);
    expect(tx.tx.get('hit')).toBe('1');
  });

  it('setvar: set, add, subtract, delete, and once per matched value', () => {
    const tx = transact(`
      SecAction "id:1,phase:1,pass,nolog,setvar:tx.score=10,setvar:tx.gone=1,setvar:tx.flag"
      SecRule ARGS "@rx bad" "id:2,phase:1,pass,nolog,setvar:'tx.score=+%{tx.five}',setvar:tx.hits=+1"
      SecAction "id:3,phase:1,pass,nolog,setvar:tx.score=-3,setvar:!tx.gone"
    `, { url: '/?a=bad&b=bad&c=good' }, { env: new Map() });
    // tx.five is unset: + of "" adds 0; two arguments matched: hits is 2.
    expect(tx.tx.get('score')).toBe('7');
    expect(tx.tx.get('hits')).toBe('2');
    expect(tx.tx.has('gone')).toBe(false);
    expect(tx.tx.get('flag')).toBe('1');
  });

  it('capture fills TX:0-9, and macros expand in msg and logdata', () => {
    const tx = transact(`SecRule REQUEST_HEADERS:Range "@rx (\\d+)-(\\d+)" "id:1,phase:1,pass,capture,msg:'range %{TX.1} to %{tx.2}',logdata:'%{MATCHED_VAR_NAME}=%{MATCHED_VAR} rule %{rule.id}'"`, {
      headers: { range: 'bytes=5-10' },
    });
    expect(tx.tx.get('0')).toBe('5-10');
    expect(tx.matches[0]).toMatchObject({ msg: 'range 5 to 10', logdata: 'REQUEST_HEADERS:range=bytes=5-10 rule 1' });
  });

  it('chain: every rule must match; actions of the chain belong to its first rule', () => {
    const rs = rules(`
      SecRule REQUEST_METHOD "@streq POST" "id:1,phase:1,deny,status:403,msg:'post without length',chain"
        SecRule &REQUEST_HEADERS:Content-Length "@eq 0" "setvar:tx.chained=1"
    `);
    expect(transact(rs, { method: 'POST' }).interruption?.ruleId).toBe(1);
    const withLength = transact(rs, { method: 'POST', headers: { 'content-length': '0' } });
    expect(withLength.interruption).toBeNull();
    expect(withLength.tx.has('chained')).toBe(false);
    expect(transact(rs, { method: 'GET' }).interruption).toBeNull();
  });

  it('a chained rule sees MATCHED_VARS of the rule before it', () => {
    const tx = transact(`
      SecRule ARGS_NAMES "@rx ^cmd" "id:1,phase:1,deny,chain"
        SecRule MATCHED_VARS "@rx ^cmd_x$" "t:none"
    `, { url: '/?cmd_x=1' });
    expect(tx.interruption?.ruleId).toBe(1);
  });

  it('skipAfter jumps past a marker, within the phase', () => {
    const tx = transact(`
      SecRule ARGS:a "@streq 1" "id:1,phase:1,pass,nolog,skipAfter:END"
      SecAction "id:2,phase:1,pass,log,msg:'skipped'"
      SecMarker END
      SecAction "id:3,phase:1,pass,log,msg:'after'"
    `, { url: '/?a=1' });
    expect(matched(tx)).toEqual([3]);
    // A target that is not later in the phase (earlier, in another phase, or absent) skips the rest of the phase.
    const elsewhere = transact(`
      SecMarker BEFORE
      SecRule ARGS:a "@streq 1" "id:1,phase:1,pass,nolog,skipAfter:BEFORE"
      SecAction "id:2,phase:1,pass,log,msg:'skipped'"
      SecRule ARGS:a "@streq 1" "id:3,phase:2,pass,nolog,skipAfter:NOWHERE"
      SecAction "id:4,phase:2,pass,log,msg:'skipped too'"
      SecRule ARGS:a "@streq 1" "id:5,phase:1,pass,log,msg:'after the first phase ended'"
    `, { url: '/?a=1' });
    expect(matched(elsewhere)).toEqual([]);
  });

  it('rules sharing a pattern set and targets each see whether their own pattern matched any value, however many hit', () => {
    // Forty rules over the same targets and transformations share one RE2.Set and one union of
    // hits per request; the union is a short list up to 32 hits, then indexed by pattern.
    const text = Array.from({ length: 40 }, (_, i) => `SecRule ARGS|REQUEST_COOKIES "@rx p${i}x" "id:${i + 1},phase:2,pass,log,t:none"`).join('\n');
    const ruleset = rules(text);
    expect(ruleset.rulesById.get(1)!.regexSlot?.set.size).toBe(40);
    const hit = (ids: number[]) => ids.map((i) => `a${i}=p${i - 1}x`).join('&');
    for (const ids of [[], [3], [1, 5, 9], [2, 4, 6, 8, 10, 12, 14, 16, 18, 20], Array.from({ length: 34 }, (_, i) => 2 * i + 1).filter((i) => i <= 40).concat([2, 40]).sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i + 1)]) {
      expect(matched(transact(ruleset, { url: `/?${hit(ids)}&z=none` })), ids.join(',')).toEqual(ids);
    }
    // Hits spread over several values and both collections, repeated.
    expect(matched(transact(ruleset, { url: '/?a=p0xp1xp2xp3x&b=p4xp5xp6xp7xp8x&c=p0x', headers: { cookie: 's=p19xp12x' } }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 20]);
  });

  it('rules reading one TX variable answer as the general path does (the direct read is only faster)', () => {
    const text = `
      SecAction "id:1,phase:1,pass,nolog,setvar:tx.level=2,setvar:tx.name=Alice,setvar:tx.empty="
      SecRule TX:LEVEL "@lt 3" "id:2,phase:1,pass,log,msg:'lt %{MATCHED_VAR_NAME}=%{MATCHED_VAR}',setvar:tx.seen_lt=1"
      SecRule TX:level "!@eq 2" "id:3,phase:1,pass,log,msg:'never'"
      SecRule &TX:missing "@eq 0" "id:4,phase:1,pass,log,msg:'count %{MATCHED_VAR_NAME}=%{MATCHED_VAR}',setvar:tx.missing=1"
      SecRule &TX:missing "@eq 1" "id:5,phase:1,pass,log,msg:'now %{MATCHED_VAR}'"
      SecRule TX:name "@rx ^(A)(l)" "id:6,phase:1,pass,log,capture,msg:'cap %{TX.1}%{TX.2}',setvar:tx.caught=%{TX.0}"
      SecRule TX:empty "@rx ^$" "id:7,phase:1,pass,log,msg:'empty value is a value'"
      SecRule TX:unset "!@rx x" "id:8,phase:1,pass,log,msg:'no value, no run'"
      SecRule TX:name "@within Bob Alice Carol" "id:9,phase:1,pass,log,msg:'within',chain"
        SecRule TX:level "@ge %{tx.missing}" "t:none,chain"
        SecRule MATCHED_VARS_NAMES "@streq TX:level" "setvar:tx.chain=ok"
      SecRule TX:level "@lt 3" "id:10,phase:2,pass,nolog,skipAfter:END"
      SecAction "id:11,phase:2,pass,log,msg:'skipped'"
      SecMarker END
      SecRule TX:name "@streq alice" "id:12,phase:2,pass,log,t:lowercase,msg:'transformed: the general path'"
    `;
    const direct = transact(text);
    const ruleset = rules(text);
    for (const rule of ruleset.rulesById.values()) for (let r: typeof rule | null = rule; r !== null; r = r.chained) r.txProbe = null;
    const general = transact(ruleset);
    expect(rules(text).rulesById.get(2)!.txProbe).not.toBeNull();
    expect(direct.matches.map((m) => [m.ruleId, m.msg, m.matched])).toEqual(general.matches.map((m) => [m.ruleId, m.msg, m.matched]));
    expect([...direct.tx]).toEqual([...general.tx]);
    expect(matched(direct)).toEqual([2, 4, 5, 6, 7, 9, 12]);
    expect(direct.matches.find((m) => m.ruleId === 4)!.msg).toBe('count TX:missing=0');
    expect(direct.tx.get('chain')).toBe('ok');
  });

  it('skip:N skips the next N rules', () => {
    const tx = transact(`
      SecAction "id:1,phase:1,pass,nolog,skip:2"
      SecAction "id:2,phase:1,pass,log"
      SecAction "id:3,phase:1,pass,log"
      SecAction "id:4,phase:1,pass,log"
    `);
    expect(matched(tx)).toEqual([4]);
  });

  it('phases run in order: phase 1 rules first, wherever they are in the file', () => {
    const tx = transact(`
      SecAction "id:1,phase:2,pass,log"
      SecAction "id:2,phase:1,pass,log"
    `);
    expect(matched(tx)).toEqual([2, 1]);
  });

  it('transformations apply in order; t:none drops the default ones', () => {
    const tx = transact(`
      SecDefaultAction "phase:1,log,pass,t:lowercase"
      SecRule ARGS:q "@streq abc" "id:1,phase:1"
      SecRule ARGS:q "@streq abc" "id:2,phase:1,t:none"
      SecRule ARGS:q "@streq <abc>" "id:3,phase:1,t:none,t:urlDecodeUni,t:htmlEntityDecode,t:lowercase"
    `, { url: '/?q=%26lt%3BABC%26gt%3B' });
    expect(matched(tx)).toEqual([3]);
    const tx2 = transact(`SecDefaultAction "phase:1,log,pass,t:lowercase"\nSecRule ARGS:q "@streq abc" "id:1,phase:1"`, { url: '/?q=ABC' });
    expect(matched(tx2)).toEqual([1]);
  });

  it('multiMatch tries the value after every transformation that changed it', () => {
    const rs = `SecRule ARGS:q "@streq %41" "id:1,phase:1,t:none,t:urlDecode,multiMatch"`;
    expect(matched(transact(rs, { url: '/?q=%2541' }))).toEqual([1]);
    const plain = `SecRule ARGS:q "@streq %41" "id:1,phase:1,t:none,t:urlDecode"`;
    expect(matched(transact(plain, { url: '/?q=%2541' }))).toEqual([]);
  });

  it('negated operators match when the operator does not, on existing values only', () => {
    const rs = `SecRule REQUEST_HEADERS:Content-Length "!@rx ^\\d+$" "id:1,phase:1,deny"`;
    expect(transact(rs, { headers: { 'content-length': 'abc' } }).interruption).not.toBeNull();
    expect(transact(rs, { headers: { 'content-length': '12' } }).interruption).toBeNull();
    expect(transact(rs).interruption).toBeNull();
  });

  it('ctl:ruleRemoveById, ctl:ruleRemoveTargetById and ctl:ruleEngine act on the rest of the request', () => {
    const tx = transact(`
      SecRule REQUEST_FILENAME "@beginsWith /api" "id:1,phase:1,pass,nolog,ctl:ruleRemoveById=10,ctl:ruleRemoveTargetById=11;ARGS:token"
      SecRule ARGS "@rx x" "id:10,phase:2,pass,log"
      SecRule ARGS "@rx x" "id:11,phase:2,pass,log"
    `, { url: '/api/a?token=x&other=x' });
    expect(matched(tx)).toEqual([11]);
    expect(tx.matches[0]!.matched.map((m) => m.name)).toEqual(['ARGS:other']);
    const off = transact(`
      SecAction "id:1,phase:1,pass,nolog,ctl:ruleEngine=Off"
      SecAction "id:2,phase:1,deny"
    `);
    expect(off.interruption).toBeNull();
  });

  it('DetectionOnly records the disruptive action without carrying it out', () => {
    const tx = transact(`SecRule ARGS "@rx x" "id:1,phase:1,deny,log"\nSecAction "id:2,phase:1,pass,log"`, { url: '/?a=x' }, { mode: 'DetectionOnly' });
    expect(tx.interruption).toBeNull();
    expect(tx.matches.map((m) => [m.ruleId, m.suppressed])).toEqual([
      [1, true],
      [2, false],
    ]);
  });

  it('allow stops the remaining rules; allow:phase only this phase', () => {
    const all = transact(`SecAction "id:1,phase:1,allow"\nSecAction "id:2,phase:2,deny"`);
    expect(all.interruption).toBeNull();
    const phase = transact(`SecAction "id:1,phase:1,allow:phase"\nSecAction "id:2,phase:1,deny"\nSecAction "id:3,phase:2,deny"`);
    expect(phase.interruption?.ruleId).toBe(3);
  });

  it('redirect answers with a Location', () => {
    const tx = transact(`SecRule REQUEST_FILENAME "@streq /old" "id:1,phase:1,redirect:'https://example.com/new?from=%{REQUEST_FILENAME}'"`, { url: '/old' });
    expect(tx.interruption).toEqual({ ruleId: 1, action: 'redirect', status: 302, url: 'https://example.com/new?from=/old' });
  });

  it('initcol, setvar and expirevar keep IP collections across requests', () => {
    let now = 1_000_000;
    const clock = { now: () => now };
    const store = new MemoryCollectionStore(clock);
    const rs = rules(`
      SecAction "id:1,phase:1,pass,nolog,initcol:ip=%{remote_addr}"
      SecAction "id:2,phase:1,pass,nolog,setvar:ip.count=+1,expirevar:ip.count=10"
      SecRule IP:count "@gt 2" "id:3,phase:1,deny,status:429"
    `);
    expect(transact(rs, {}, { store, clock }).interruption).toBeNull();
    expect(transact(rs, {}, { store, clock }).interruption).toBeNull();
    expect(transact(rs, {}, { store, clock }).interruption?.status).toBe(429);
    expect(transact(rs, { clientIp: '192.0.2.99' }, { store, clock }).interruption).toBeNull();
    now += 11_000;
    expect(transact(rs, {}, { store, clock }).interruption).toBeNull();
  });

  it('setenv writes ENV, which macros read', () => {
    const tx = transact(`SecAction "id:1,phase:1,pass,nolog,setenv:x=%{REQUEST_METHOD}"\nSecRule ENV:x "@streq GET" "id:2,phase:1,pass,log"`);
    expect(matched(tx)).toEqual([2]);
  });
});

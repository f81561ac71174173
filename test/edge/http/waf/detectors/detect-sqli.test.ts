import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detectSqli } from '../../../../../edge/http/waf/detectors/detect-sqli.js';
import { tokenizeSql } from '../../../../../edge/http/waf/detectors/sql-tokenizer.js';

const ATTACKS = [
  "' or '1'='1", "' or 1=1--", '1 or 1=1', "1' and '1'='1", "admin'--", "admin' #", "admin'/*", "' OR 'a'='a",
  '1 UNION SELECT username, password FROM users', '-1 union all select 1,2,3--', "1' union select null,null--",
  "'; DROP TABLE users; --", '1; drop table users', '1 AND SLEEP(5)', "1' AND SLEEP(5)#", "' or sleep(5)='",
  '1) or (1=1', "') or ('1'='1", '" or ""="', '1 and 1=2', "' having 1=1--", "1' order by 3--+",
  '1 and (select count(*) from users) > 0', "' AND extractvalue(1,concat(0x7e,version()))--",
  '1/*!50000union*/ /*!50000select*/ 1', "'; exec xp_cmdshell('dir')--", "1; waitfor delay '0:0:5'--",
  "' || pg_sleep(10) || '", "1' and benchmark(5000000,md5(1))#", "' or true--", "x' AND 1=(SELECT COUNT(*) FROM tabname); --",
  '1 or 1=1#', "' or ''='", "'='", "1' or '1'='1'/*", 'admin\' or 1=1 limit 1 -- -', '1 UnIoN/**/SeLeCt 1', "1';select pg_sleep(5)--",
];

const BENIGN = [
  'hello world', "O'Reilly", "rock 'n' roll", 'select one or more items from the list', "I don't know; drop me a line",
  'john.doe@example.com', 'The union of two sets', "it's a 'test' or not", '2 or 3 people', 'size = 1 or 2',
  '/products/123?sort=price', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
  'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'en-US,en;q=0.5', 'gzip, deflate, br',
  "Let's meet at 5 o'clock -- ok?", 'count(*) is a function', 'Order by date please', '1-2-3', 'a=b', 'price >= 10 and price <= 20',
  '{"query":"{ user(id: 1) { name } }"}', 'query { user(id: "1") { name email } }', 'SELECT', 'We sleep(8 hours) a day',
  'He said "yes" or "no"', "it's 100% true -- really", "Don't stop", 'drop-down menu', 'tom & jerry', 'AT&T', '42', 'true',
  'Leave it at the door, please! Ring twice.', 'best coffee shops in paris', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2ln',
];

describe('our SQL injection detector', () => {
  it.each(ATTACKS)('detects %s', (input) => {
    expect(detectSqli(input)).not.toBeNull();
  });

  it.each(BENIGN)('lets %s through', (input) => {
    expect(detectSqli(input)).toBeNull();
  });

  it('says why, with a fingerprint', () => {
    expect(detectSqli("' or '1'='1")).toMatchObject({ fingerprint: 'sLsCs', context: "'", reason: 'boolean or comparison' });
    expect(detectSqli('1 union select 2')?.reason).toBe('union select');
  });

  it('tokenizes MySQL executable comments as code', () => {
    expect(tokenizeSql('/*!50000select*/ 1', 'none').map((t) => t.type)).toEqual(['k', 'n']);
  });

  // No timing assertion: the test timeout is the bound, and a scan that went super-linear on
  // these inputs would take minutes, not milliseconds.
  it('terminates on any input, however hostile', () => {
    const unit = fc.constantFrom("'", '"', '(', ')', '/*', '*/', '--', '#', ' ', 'or', 'and', 'select', 'union', '1', '=', ';', '\\', '`', '@', 'x');
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 500 }), fc.array(unit, { maxLength: 400 }).map((a) => a.join(''))), (s) => {
        detectSqli(s);
      }),
      { numRuns: 2000 },
    );
    detectSqli("'".repeat(100_000));
    detectSqli('('.repeat(100_000));
  });
});

describe('padding does not hide an injection', () => {
  const UNION = "1' UNION SELECT password FROM users--";
  const PADDING: [string, string][] = [
    ['20 KiB of letters', 'A'.repeat(20 * 1024)],
    ['20 KiB of blanks', ' '.repeat(20 * 1024)],
    ['20 KiB of prose', 'lorem ipsum dolor sit amet, '.repeat(732)],
    ['20 KiB of form-like text', 'item=1&'.repeat(2926)],
    ['60 quoted words (past the first 48 tokens, in every context)', "'a', ".repeat(60)],
  ];

  it.each(PADDING)('%s before a UNION SELECT', (_name, pad) => {
    expect(pad.length + UNION.length).toBeGreaterThan(300);
    expect(detectSqli(pad + UNION)).toMatchObject({ reason: 'union select' });
  });

  it.each([
    ["'; DROP TABLE users; --", 'stacked drop'],
    ['1 AND SLEEP(5)', 'call sleep()'],
    ["1; waitfor delay '0:0:5'--", 'stacked waitfor'],
    ["' union select load_file('/etc/passwd') into outfile '/tmp/x'--", 'union select'],
  ])('20 KiB of padding before %s', (attack, reason) => {
    expect(detectSqli('x'.repeat(20 * 1024) + ' ' + attack)?.reason).toBe(reason);
  });

  it('a long benign value stays benign', () => {
    expect(detectSqli(BENIGN.join('\n').repeat(40))).toBeNull();
    expect(detectSqli('lorem ipsum dolor sit amet, '.repeat(40_000))).toBeNull();
  });

  // Linear time, checked the only way a test suite can without timing: 1 MiB of each hostile
  // unit finishes within the test timeout (a quadratic scan would need hours).
  it('reads a whole 1 MiB value to its end, whatever it is made of', () => {
    for (const unit of ['(', "'", '"', '/*!', '[ ', 'union ', ';', 'a/*', 'x ', '-- \n', '`']) {
      const v = unit.repeat(Math.ceil((1 << 20) / unit.length));
      detectSqli(v);
    }
    // ... and finds what is at its very end.
    expect(detectSqli('('.repeat(1 << 20) + UNION)).not.toBeNull();
  });
});

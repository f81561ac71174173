import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detectXss } from '../../../../../edge/http/waf/detectors/detect-xss.js';

const ATTACKS = [
  '<script>alert(1)</script>', '<img src=x onerror=alert(1)>', '<svg/onload=alert(1)>', '"><script>alert(document.cookie)</script>',
  '" onmouseover="alert(1)', "' onfocus=alert(1) autofocus '", 'javascript:alert(1)', ' JaVaScRiPt:alert(1)', 'java\tscript:alert(1)',
  '<a href="javascript:alert(1)">x</a>', '<a href="&#106;avascript:alert(1)">', '<iframe src="//evil">', '<body onload=alert(1)>',
  '<div style="width:expression(alert(1))">', '<img src="x" onerror="alert(1)"', 'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
  '<object data="x">', '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">', '<details open ontoggle=alert(1)>',
  '<input autofocus onfocus=alert(1)>', '</script><script>alert(1)</script>', '" style="x:expression(alert(1))', '<math><mtext><table><mglyph><style>',
  '<a/href="vbscript:msgbox(1)">', '<form><button formaction=javascript:alert(1)>x',
];
const BENIGN = [
  'hello world', '1 < 2 and 3 > 2', 'a <b>bold</b> move', '<p>Hello <em>there</em></p>', 'I am online = yes', 'turn on = off',
  'https://example.com/page?x=1', 'Mozilla/5.0 (X11; Linux x86_64)', 'text/html,application/xhtml+xml', 'The style is great',
  'once upon a time', '{"name":"x","description":"on sale"}', 'x < y', '<3 you', 'score: 5 <= 6', 'mailto:a@b.c', 'data:image/png;base64,iVBOR',
  'onwards and upwards', 'See https://example.org/a.js', '<a href="https://example.com">link</a>', '<img src="/a.png" alt="A">', 'javascript is fun',
];

describe('our XSS detector', () => {
  it.each(ATTACKS)('detects %s', (input) => {
    expect(detectXss(input)).not.toBeNull();
  });

  it.each(BENIGN)('lets %s through', (input) => {
    expect(detectXss(input)).toBeNull();
  });

  it('says which door the script would come through', () => {
    expect(detectXss('<img src=x onerror=alert(1)>')?.reason).toBe('<img onerror=> event handler');
    expect(detectXss('<script>')?.reason).toBe('<script> element');
  });

  // No timing assertion: the test timeout is the bound.
  it('terminates on any input', () => {
    const unit = fc.constantFrom('<', '>', '"', "'", '=', ' ', '/', 'on', 'load', 'a', 'script', 'href', 'javascript:', '&#', ';', 'style', 'x');
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 500 }), fc.array(unit, { maxLength: 400 }).map((a) => a.join(''))), (s) => {
        detectXss(s);
      }),
      { numRuns: 2000 },
    );
    detectXss('<a '.repeat(50_000));
    detectXss('" x='.repeat(50_000));
  });
});

describe('padding does not hide an injection', () => {
  const SCRIPT = '<script>alert(1)</script>';
  const PADDING: [string, string][] = [
    ['20 KiB of letters', 'A'.repeat(20 * 1024)],
    ['20 KiB of blanks', ' '.repeat(20 * 1024)],
    ['20 KiB of prose', 'lorem ipsum dolor sit amet, '.repeat(732)],
    ['20 KiB of harmless markup', '<p>Hello <em>there</em></p> '.repeat(732)],
    ['20 KiB of unclosed attribute values', '<a title="x '.repeat(1707)],
    ['100 harmless tags (past the old limit of 64)', '<b>'.repeat(100)],
  ];

  it.each(PADDING)('%s before <script>', (_name, pad) => {
    expect(detectXss(pad + SCRIPT)).toEqual({ reason: '<script> element' });
  });

  it.each([
    ['<img src=x onerror=alert(1)>', '<img onerror=> event handler'],
    ['" onmouseover="alert(1)', 'attribute injection: onmouseover='],
    ['<a href="javascript:alert(1)">x</a>', '<a href=javascript...>'],
    ['<div style="width:expression(alert(1))">', '<div style=...> script in CSS'],
  ])('20 KiB of padding before %s', (attack, reason) => {
    expect(detectXss('x'.repeat(20 * 1024) + ' ' + attack)?.reason).toBe(reason);
  });

  it('leading blanks before a javascript: URL, raw or as entities (browsers drop them)', () => {
    expect(detectXss(' '.repeat(20 * 1024) + 'javascript:alert(1)')?.reason).toBe('javascript URL');
    expect(detectXss('&#9;'.repeat(5000) + 'javascript:alert(1)')?.reason).toBe('javascript URL');
  });

  it('an event handler past a tag\'s first 64 attributes or 16 KiB', () => {
    expect(detectXss(`<img ${'a '.repeat(100)}onerror=alert(1)>`)).not.toBeNull();
    expect(detectXss(`<img ${'a=b '.repeat(5000)}onerror=alert(1)>`)).not.toBeNull();
  });

  it('a long benign value stays benign', () => {
    expect(detectXss(BENIGN.join('\n').repeat(40))).toBeNull();
    expect(detectXss('<p>Hello <em>there</em></p> '.repeat(40_000))).toBeNull();
  });

  // Linear time, checked the only way a test suite can without timing: 1 MiB of each hostile
  // unit finishes within the test timeout (a quadratic scan would need hours).
  it('reads a whole 1 MiB value to its end, whatever it is made of', () => {
    for (const unit of ['<a ', "<a x='", '<a/x=', '<a x="<a x=\'', '<a style="', '</script>', '<', ' onclick', '/ / ', 'on', '=', ' = ', '&#9;']) {
      const v = unit.repeat(Math.ceil((1 << 20) / unit.length));
      detectXss(v);
    }
    expect(detectXss("<a x='".repeat(1 << 17) + SCRIPT)).not.toBeNull();
  });
});

describe('attributes past any padding', () => {
  it('finds an event handler after many "/"-separated attributes (a browser reads "/" as a separator)', () => {
    expect(detectXss(`<img src=x ${'a/'.repeat(200)}onerror=alert(1)>`)).not.toBeNull();
    expect(detectXss(`<img src=x ${'a '.repeat(20_000)}onerror=alert(1)>`)).not.toBeNull();
    // Plain text with slashes is not a tag.
    expect(detectXss(`path a/${'b/'.repeat(200)}c`)).toBeNull();
  });
});

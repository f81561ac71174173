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

  it('terminates quickly on any input', () => {
    const unit = fc.constantFrom('<', '>', '"', "'", '=', ' ', '/', 'on', 'load', 'a', 'script', 'href', 'javascript:', '&#', ';', 'style', 'x');
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 500 }), fc.array(unit, { maxLength: 400 }).map((a) => a.join(''))), (s) => {
        const t = performance.now();
        detectXss(s);
        expect(performance.now() - t).toBeLessThan(50);
      }),
      { numRuns: 2000 },
    );
    const t = performance.now();
    detectXss('<a '.repeat(50_000));
    detectXss('" x='.repeat(50_000));
    expect(performance.now() - t).toBeLessThan(300);
  });
});

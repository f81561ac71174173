import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as t from '../../../../../edge/http/waf/seclang/transformations.js';

describe('transformations (Reference Manual v2.x, "Transformation functions")', () => {
  it('lowercase / uppercase: ASCII only, as tolower() in the C locale', () => {
    expect(t.lowercase('SeLeCT \xc9')).toBe('select \xc9');
    expect(t.uppercase('abc')).toBe('ABC');
  });

  it('urlDecode: %XX and +, invalid sequences kept', () => {
    expect(t.urlDecode('a%20b+c%2')).toBe('a b c%2');
    expect(t.urlDecode('%zz%41')).toBe('%zzA');
  });

  it('urlDecodeUni: %uHHHH to one byte, full-width ASCII to ASCII', () => {
    expect(t.urlDecodeUni('%u0041%uff1cscript%uff1e')).toBe('A<script>');
    expect(t.urlDecodeUni('%41%u00e9')).toBe('A\xe9');
  });

  it('htmlEntityDecode: numeric, hex and the named entities, ";" optional', () => {
    expect(t.htmlEntityDecode('&lt;a&gt; &#60;&#x3c;&#X3C &quot;&amp;&nbsp;&apos;')).toBe('<a> <<< "&\xa0\'');
    expect(t.htmlEntityDecode('&unknown; & &#;')).toBe('&unknown; & &#;');
  });

  it('jsDecode: \\uHHHH, \\xHH, octal and single-character escapes', () => {
    expect(t.jsDecode('\\u003cscript\\x3e\\101\\n\\q')).toBe('<script>A\nq');
  });

  it('cssDecode: hex escapes (one blank eaten), line continuation, \\c', () => {
    expect(t.cssDecode('\\6a avascript\\3a \\\nx\\z')).toBe('javascript:xz');
  });

  it('cmdLine: the manual\'s normalization', () => {
    expect(t.cmdLine('C\\at "/etc/pa"ss\'wd\'')).toBe('cat/etc/passwd');
    expect(t.cmdLine('ls  ;  id,  whoami')).toBe('ls id whoami');
    expect(t.cmdLine('echo ( x )')).toBe('echo( x )');
  });

  it('whitespace, nulls, comments', () => {
    expect(t.compressWhitespace('a \t\n\xa0 b')).toBe('a b');
    expect(t.removeWhitespace('s e\tl\ne\xa0ct')).toBe('select');
    expect(t.removeNulls('a\0b')).toBe('ab');
    expect(t.replaceNulls('a\0b')).toBe('a b');
    expect(t.replaceComments('un/**/ion/* x */select/*tail')).toBe('un ion select ');
    expect(t.removeComments('a/*x*/b-- c\nd#e')).toBe('ab\nd');
    expect(t.removeCommentsChar('a/*b*/c--d#')).toBe('abcd');
  });

  it('normalizePath and normalizePathWin', () => {
    expect(t.normalizePath('/a//b/./c/../d/')).toBe('/a/b/d/');
    expect(t.normalizePath('/../../etc/passwd')).toBe('/etc/passwd');
    expect(t.normalizePath('a/../../b')).toBe('../b');
    expect(t.normalizePathWin('C:\\windows\\..\\boot.ini')).toBe('C:/boot.ini');
  });

  it('encodings', () => {
    expect(t.base64Decode('aGVsbG8=')).toBe('hello');
    expect(t.base64Decode('aGVs!bG8=')).toBe('hel');
    expect(t.base64DecodeExt('aGVs!bG8=')).toBe('hello');
    expect(t.base64Encode('hi')).toBe('aGk=');
    expect(t.hexDecode('414243zz')).toBe('ABC');
    expect(t.hexEncode('AB')).toBe('4142');
    expect(t.sqlHexDecode("select 0x61646d696e")).toBe('select admin');
    expect(t.urlEncode('a b/é')).toBe('a+b%2f%c3%a9'.replace('%c3%a9', '%e9'));
    expect(t.escapeSeqDecode('\\x41\\n\\\\')).toBe('A\n\\');
  });

  it('utf8toUnicode: multi-byte sequences to %uHHHH, invalid bytes kept', () => {
    expect(t.utf8toUnicode(Buffer.from('a<é€', 'utf8').toString('latin1'))).toBe('a<%u00e9%u20ac');
    expect(t.utf8toUnicode('\xc0\xaf')).toBe('\xc0\xaf');
  });

  it('length, sha1, md5, trim', () => {
    expect(t.length('abc')).toBe('3');
    expect(t.hexEncode(t.sha1('abc'))).toBe('a9993e364706816aba3e25717850c26c9cd0d89d');
    expect(t.hexEncode(t.md5(''))).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(t.trim('  a b \n')).toBe('a b');
    expect(t.trimLeft('  a ')).toBe('a ');
    expect(t.trimRight('  a ')).toBe('  a');
  });

  it('every transformation is total and returns byte strings', () => {
    const bytes = fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 200 });
    const special = fc.string({ unit: fc.constantFrom('%', 'u', 'f', 'F', '0', '1', 'c', '\\', '&', '#', 'x', ';', '/', '.', '*', '-', ' ', '\0', '\xc3', '\xa9', 'a', '=', '+'), maxLength: 200 });
    fc.assert(
      fc.property(fc.constantFrom(...t.TRANSFORMATIONS.keys()), fc.oneof(bytes, special), (name, input) => {
        const out = t.TRANSFORMATIONS.get(name)!(input);
        expect(typeof out).toBe('string');
        for (let i = 0; i < out.length; i++) expect(out.charCodeAt(i)).toBeLessThan(256);
      }),
      { numRuns: 5000 },
    );
  });
});

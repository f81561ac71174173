import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BODY_LIMITS, parseBody, processorFor } from '../../../../../edge/http/waf/body/index.js';
import { parseJsonBody } from '../../../../../edge/http/waf/body/json.js';
import { parseMultipart } from '../../../../../edge/http/waf/body/multipart.js';
import { parseUrlEncoded } from '../../../../../edge/http/waf/body/urlencoded.js';
import { parseXmlBody } from '../../../../../edge/http/waf/body/xml.js';

const limits = DEFAULT_BODY_LIMITS;

describe('choosing the body processor', () => {
  it('by Content-Type, as ModSecurity and its recommended rules do', () => {
    expect(processorFor('application/x-www-form-urlencoded; charset=UTF-8')).toBe('URLENCODED');
    expect(processorFor('multipart/form-data; boundary=x')).toBe('MULTIPART');
    expect(processorFor('application/json')).toBe('JSON');
    expect(processorFor('application/vnd.api+json')).toBe('JSON');
    expect(processorFor('text/xml')).toBe('XML');
    expect(processorFor('application/soap+xml')).toBe('XML');
    expect(processorFor('text/plain')).toBeNull();
    expect(processorFor(undefined)).toBeNull();
  });
});

describe('application/x-www-form-urlencoded', () => {
  it('splits on & and the first =, decodes %XX and +', () => {
    expect(parseUrlEncoded('a=1&b=x+y%21&c&d=e=f&&', 100).args).toEqual([
      ['a', '1'],
      ['b', 'x y!'],
      ['c', ''],
      ['d', 'e=f'],
    ]);
  });

  it('stops at the argument limit and says so', () => {
    expect(parseUrlEncoded('a=1&b=2&c=3', 2)).toEqual({ args: [['a', '1'], ['b', '2']], truncated: true });
  });
});

describe('JSON', () => {
  it('flattens objects and arrays', () => {
    expect(parseJsonBody('{"a":{"b":[1,"x",{"c":false}]},"n":null}', limits).args).toEqual([
      ['json.a.b.array_0', '1'],
      ['json.a.b.array_1', 'x'],
      ['json.a.b.array_2.c', 'false'],
      ['json.n', ''],
    ]);
    expect(parseJsonBody('"top"', limits).args).toEqual([['json', 'top']]);
  });

  it('keeps strings as their UTF-8 bytes', () => {
    expect(parseJsonBody(Buffer.from('{"é":"€"}', 'utf8').toString('latin1'), limits).args).toEqual([['json.\xc3\xa9', '\xe2\x82\xac']]);
  });

  it('reports invalid JSON, too deep nesting and too many values', () => {
    expect(parseJsonBody('{"a":', limits).error).toMatch(/JSON parsing error/);
    expect(parseJsonBody('['.repeat(600) + ']'.repeat(600), limits).error).toMatch(/deeper than 512/);
    expect(parseJsonBody(JSON.stringify(Array.from({ length: 1001 }, (_, i) => i)), limits).error).toMatch(/more than 1000/);
  });
});

describe('multipart/form-data', () => {
  const ct = 'multipart/form-data; boundary=XyZ';
  it('fields, files and part headers', () => {
    const body = '--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--XyZ\r\nContent-Disposition: form-data; name="up"; filename="x.png"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--XyZ--\r\n';
    const p = parseMultipart(body, ct, limits);
    expect(p.error).toBeNull();
    expect(p.args).toEqual([['a', '1']]);
    expect(p.files).toEqual([{ field: 'up', filename: 'x.png', size: 4, contentType: 'image/png' }]);
    expect(p.partHeaders.map(([n]) => n)).toEqual(['a', 'up', 'up']);
    expect(Object.values(p.multipart!).every((v) => v === false)).toBe(true);
  });

  it('flags the anomalies ModSecurity reports', () => {
    const quoted = parseMultipart('--B\nContent-Disposition: form-data; name=a\n\nx\n--B--\n', 'multipart/form-data; boundary="B"', limits);
    expect(quoted.multipart).toMatchObject({ boundaryQuoted: true, lfLine: true });
    const before = parseMultipart('junk\r\n--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--B--\r\nafter', 'multipart/form-data; boundary=B', limits);
    expect(before.multipart).toMatchObject({ dataBefore: true, dataAfter: true });
    const dup = parseMultipart('--B\r\nContent-Disposition: form-data; name="a"; name="b"\r\n\r\nx\r\n--B--\r\n', 'multipart/form-data; boundary=B', limits);
    expect(dup.multipart?.invalidPart).toBe(true);
  });

  it('reports what cannot be parsed', () => {
    expect(parseMultipart('x', 'multipart/form-data', limits).error).toMatch(/no valid boundary/);
    expect(parseMultipart('--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nx', 'multipart/form-data; boundary=B', limits).error).toMatch(/final boundary/);
    expect(parseMultipart('--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--', 'multipart/form-data; boundary=B', limits).error).toMatch(/without Content-Disposition/);
  });
});

describe('XML', () => {
  it('text and attribute values; never expands entities it does not know', () => {
    const p = parseXmlBody('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><r a="&lt;1&gt;"><b>x &amp; y</b><![CDATA[<z>]]>&e;</r>');
    expect(p.error).toBeNull();
    expect(p.xml).toEqual(['x & y<z>&e;', '<1>']);
  });

  it('reports documents that are not well-formed', () => {
    expect(parseXmlBody('<a><b></a>').error).toMatch(/does not match/);
    expect(parseXmlBody('<a>').error).toMatch(/not closed/);
    expect(parseXmlBody('text').error).toMatch(/outside the root/);
  });
});

describe('properties', () => {
  it('no body processor throws on any bytes', () => {
    const bytes = fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a));
    const structured = fc
      .array(fc.constantFrom('--B', '\r\n', '\n', 'Content-Disposition: form-data; name="a"', '{', '}', '[', ']', '"', ':', ',', '<a>', '</a>', '<!', '&', '=', 'x', '\\'), { maxLength: 80 })
      .map((a) => Buffer.from(a.join(''), 'latin1'));
    fc.assert(
      fc.property(fc.oneof(bytes, structured), fc.constantFrom('application/x-www-form-urlencoded', 'application/json', 'text/xml', 'multipart/form-data; boundary=B'), (body, type) => {
        const p = parseBody(body, type, processorFor(type), limits);
        expect(p.processor).toBe(processorFor(type));
      }),
      { numRuns: 3000 },
    );
  });
});

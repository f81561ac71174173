import { describe, expect, it } from 'vitest';
import { parseRawRequest } from '../../../../edge/http/waf/raw-request.js';

describe('raw HTTP request files', () => {
  it('request line, headers, body by Content-Length; CRLF or LF', () => {
    const { request, body } = parseRawRequest(Buffer.from('POST /a?b=1 HTTP/1.1\r\nHost: www.example.com:443\r\nContent-Length: 3\r\nCookie: a=1\r\nCookie: b=2\r\n\r\nabcdef'), { clientIp: '198.51.100.1' });
    expect(request).toMatchObject({ method: 'POST', url: '/a?b=1', host: 'www.example.com', httpVersion: '1.1', clientIp: '198.51.100.1', headers: { cookie: 'a=1; b=2' } });
    expect(body?.toString()).toBe('abc');
    const lf = parseRawRequest(Buffer.from('GET / HTTP/1.0\nHost: x\n\n'));
    expect(lf.request).toMatchObject({ httpVersion: '1.0', host: 'x' });
    expect(lf.body).toBeNull();
  });

  it('decodes a chunked body', () => {
    const { body } = parseRawRequest(Buffer.from('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n'));
    expect(body?.toString()).toBe('abcde');
  });

  it('says what is wrong with a file that is not a request', () => {
    expect(() => parseRawRequest(Buffer.from(''))).toThrow(/empty/);
    expect(() => parseRawRequest(Buffer.from('hello\r\n\r\n'))).toThrow(/line 1 is not a request line/);
    expect(() => parseRawRequest(Buffer.from('GET / HTTP/1.1\r\nno colon\r\n\r\n'))).toThrow(/line 2 is not a header line/);
  });
});

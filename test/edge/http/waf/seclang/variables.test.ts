import { describe, expect, it } from 'vitest';
import { transact } from './harness.js';

/** The values a variable list yields, as "NAME=value". */
function values(targets: string, req: Parameters<typeof transact>[1] = {}, extraRules = ''): string[] {
  const tx = transact(`${extraRules}\nSecRule ${targets} "@unconditionalMatch" "id:99,phase:2,pass,log,msg:'x'"`, req);
  const m = tx.matches.find((x) => x.ruleId === 99);
  return m ? m.matched.map((v) => `${v.name}=${v.value}`) : [];
}

describe('variables (Reference Manual v2.x, "Variables")', () => {
  it('request line parts', () => {
    const req = { method: 'GET', url: '/a/b.php?x=1&y=%41' };
    expect(values('REQUEST_METHOD|REQUEST_URI|REQUEST_FILENAME|REQUEST_BASENAME|QUERY_STRING|REQUEST_PROTOCOL', req)).toEqual([
      'REQUEST_METHOD=GET',
      'REQUEST_URI=/a/b.php?x=1&y=%41',
      'REQUEST_FILENAME=/a/b.php',
      'REQUEST_BASENAME=b.php',
      'QUERY_STRING=x=1&y=%41',
      'REQUEST_PROTOCOL=HTTP/1.1',
    ]);
    expect(values('REQUEST_LINE', req)).toEqual(['REQUEST_LINE=GET /a/b.php?x=1&y=%41 HTTP/1.1']);
    expect(values('REQUEST_URI|REQUEST_URI_RAW', { url: 'http://evil.example/p?q' })).toEqual(['REQUEST_URI=/p?q', 'REQUEST_URI_RAW=http://evil.example/p?q']);
  });

  it('ARGS from the query and the body, names, exclusions, regex selectors, counts', () => {
    const req = { method: 'POST', url: '/?a=1&b=2', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'c=3&pass_word=4' };
    expect(values('ARGS', req)).toEqual(['ARGS:a=1', 'ARGS:b=2', 'ARGS:c=3', 'ARGS:pass_word=4']);
    expect(values('ARGS_GET|ARGS_POST_NAMES', req)).toEqual(['ARGS_GET:a=1', 'ARGS_GET:b=2', 'ARGS_POST_NAMES:c=c', 'ARGS_POST_NAMES:pass_word=pass_word']);
    expect(values('ARGS|!ARGS:B|!ARGS:/^pass/', req)).toEqual(['ARGS:a=1', 'ARGS:c=3']);
    expect(values('ARGS:/^[ab]$/', req)).toEqual(['ARGS:a=1', 'ARGS:b=2']);
    expect(values('&ARGS|&ARGS:zz|ARGS_COMBINED_SIZE', req)).toEqual(['ARGS=4', 'ARGS:zz=0', 'ARGS_COMBINED_SIZE=16']);
  });

  it('headers and cookies, case-insensitive keys', () => {
    const req = { headers: { 'user-agent': 'UA', cookie: '__utma=1; sid=abc; flag' } };
    expect(values('REQUEST_HEADERS:User-Agent|REQUEST_HEADERS_NAMES:/^user/', req)).toEqual(['REQUEST_HEADERS:user-agent=UA', 'REQUEST_HEADERS_NAMES:user-agent=user-agent']);
    expect(values('REQUEST_COOKIES|!REQUEST_COOKIES:/__utm/|REQUEST_COOKIES_NAMES', req)).toEqual([
      'REQUEST_COOKIES:sid=abc',
      'REQUEST_COOKIES:flag=',
      'REQUEST_COOKIES_NAMES:__utma=__utma',
      'REQUEST_COOKIES_NAMES:sid=sid',
      'REQUEST_COOKIES_NAMES:flag=flag',
    ]);
    expect(values('REQUEST_HEADERS:Missing')).toEqual([]);
  });

  it('REQUEST_BODY is there for URL-encoded bodies and when forced, not for JSON', () => {
    const json = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' };
    expect(values('REQUEST_BODY', json)).toEqual([]);
    expect(values('REQUEST_BODY', json, 'SecAction "id:1,phase:1,pass,nolog,ctl:forceRequestBodyVariable=On"')).toEqual(['REQUEST_BODY={"a":1}']);
    expect(values('REQUEST_BODY', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' })).toEqual(['REQUEST_BODY=a=1']);
    expect(values('REQBODY_PROCESSOR|REQBODY_ERROR', json)).toEqual(['REQBODY_PROCESSOR=JSON', 'REQBODY_ERROR=0']);
  });

  it('JSON bodies are flattened into ARGS as libmodsecurity names them', () => {
    const req = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":{"b":[1,"x"]},"c":null,"d":true}' };
    expect(values('ARGS', req)).toEqual(['ARGS:json.a.b.array_0=1', 'ARGS:json.a.b.array_1=x', 'ARGS:json.c=', 'ARGS:json.d=true']);
  });

  it('multipart: FILES, FILES_NAMES, FILES_SIZES, MULTIPART_PART_HEADERS, fields in ARGS_POST', () => {
    const body = '--B\r\nContent-Disposition: form-data; name="t"\r\n\r\nhello\r\n--B\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\ndata\r\n--B--\r\n';
    const req = { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=B' }, body };
    expect(values('ARGS_POST|FILES|FILES_NAMES|FILES_SIZES|FILES_COMBINED_SIZE', req)).toEqual(['ARGS_POST:t=hello', 'FILES:f=a.txt', 'FILES_NAMES:f=f', 'FILES_SIZES:f=4', 'FILES_COMBINED_SIZE=4']);
    expect(values('MULTIPART_PART_HEADERS:f', req)).toEqual(['MULTIPART_PART_HEADERS:f=Content-Disposition: form-data; name="f"; filename="a.txt"', 'MULTIPART_PART_HEADERS:f=Content-Type: text/plain']);
    expect(values('MULTIPART_STRICT_ERROR', req)).toEqual(['MULTIPART_STRICT_ERROR=0']);
  });

  it('XML:/* is the document text (and attribute values)', () => {
    const req = { method: 'POST', headers: { 'content-type': 'text/xml' }, body: '<a x="1"><b>hi</b> there</a>' };
    expect(values('XML:/*', req)).toEqual(['XML=hi there', 'XML=1']);
  });

  it('TX with key, regex and count; REMOTE_ADDR; UNIQUE_ID', () => {
    const setup = 'SecAction "id:1,phase:1,pass,nolog,setvar:tx.header_name_a=1,setvar:tx.header_name_b=2,setvar:tx.other=3"';
    expect(values('TX:/^HEADER_NAME_/|&TX:other|&TX:none', {}, setup)).toEqual(['TX:header_name_a=1', 'TX:header_name_b=2', 'TX:other=1', 'TX:none=0']);
    expect(values('REMOTE_ADDR|UNIQUE_ID', { clientIp: '::ffff:198.51.100.4' })).toEqual(['REMOTE_ADDR=198.51.100.4', 'UNIQUE_ID=req-1']);
  });

  it('an unknown variable does not compile', () => {
    expect(() => transact('SecRule NOPE "@rx x" "id:1"')).toThrow(/unknown variable NOPE/);
  });
});

import { describe, expect, it } from 'vitest';
import { clientCopyIsCurrent, notModifiedHeaders } from '../../../../edge/http/cache/conditional.js';

const stored = { etag: 'W/"abc"', 'last-modified': 'Tue, 01 Jan 2030 00:00:00 GMT', 'content-type': 'text/html', 'cache-control': 'max-age=5' };

describe('conditional requests answered from the cache (RFC 9110 §13)', () => {
  it.each([
    [{ 'if-none-match': '"abc"' }, true],
    [{ 'if-none-match': '"x", W/"abc"' }, true],
    [{ 'if-none-match': '*' }, true],
    [{ 'if-none-match': '"nope"' }, false],
    // If-None-Match wins over If-Modified-Since (§13.2.2).
    [{ 'if-none-match': '"nope"', 'if-modified-since': 'Wed, 01 Jan 2031 00:00:00 GMT' }, false],
    [{ 'if-modified-since': 'Wed, 01 Jan 2031 00:00:00 GMT' }, true],
    [{ 'if-modified-since': 'Mon, 31 Dec 2029 00:00:00 GMT' }, false],
    [{ 'if-modified-since': 'garbage' }, false],
    [{}, false],
  ])('%j → %s', (request, expected) => {
    expect(clientCopyIsCurrent(request, 200, stored)).toBe(expected);
  });

  it('only for a stored 200', () => {
    expect(clientCopyIsCurrent({ 'if-none-match': '*' }, 404, stored)).toBe(false);
  });

  it('a 304 keeps the freshness and identity fields only', () => {
    expect(notModifiedHeaders(stored)).toEqual({ etag: 'W/"abc"', 'last-modified': stored['last-modified'], 'cache-control': 'max-age=5' });
  });
});

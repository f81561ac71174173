// Header plumbing between the pipeline's HeaderMap and http-cache-semantics.
import { describe, expect, it } from 'vitest';
import { fieldValue, toFieldMap, withoutFields } from '../../../../edge/http/cache/headers.js';

describe('withoutFields', () => {
  it('copies every other field in order, repeated ones as arrays, and leaves the input alone', () => {
    const headers = { 'content-type': 'text/plain', 'cache-tag': 'a,b', 'set-cookie': ['x=1', 'y=2'], etag: '"e"' };
    const out = withoutFields(headers, ['cache-tag']);
    expect(Object.entries(out)).toEqual([
      ['content-type', 'text/plain'],
      ['set-cookie', ['x=1', 'y=2']],
      ['etag', '"e"'],
    ]);
    expect(headers['cache-tag']).toBe('a,b');
  });
});

describe('toFieldMap and fieldValue', () => {
  it('join repeated fields with ", " (RFC 9110 §5.3)', () => {
    expect(toFieldMap({ Vary: ['accept', 'origin'], 'x-a': '1' })).toEqual({ vary: 'accept, origin', 'x-a': '1' });
    expect(fieldValue({ via: ['1.1 a', '1.1 b'] }, 'via')).toBe('1.1 a, 1.1 b');
    expect(fieldValue({}, 'via')).toBeUndefined();
  });
});

// KeyUpdate (RFC 8446 §4.6.3).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AlertDescription, KeyUpdateRequest } from '../../../../edge/tls/enums.js';
import { decodeKeyUpdate, encodeKeyUpdate } from '../../../../edge/tls/codecs/key-update.js';
import { codecProperties, expectTlsError } from './arbitraries.js';

describe('KeyUpdate codec properties', () => {
  codecProperties({
    arbitrary: fc.constantFrom(KeyUpdateRequest.update_not_requested, KeyUpdateRequest.update_requested).map((requestUpdate) => ({ requestUpdate })),
    encode: encodeKeyUpdate,
    decode: decodeKeyUpdate,
    reencode: encodeKeyUpdate,
  });
});

describe('KeyUpdate', () => {
  it('is one byte, 0 or 1', () => {
    expect(encodeKeyUpdate({ requestUpdate: KeyUpdateRequest.update_requested }).toString('hex')).toBe('01');
    expect(decodeKeyUpdate(Buffer.from('00', 'hex'))).toEqual({ requestUpdate: 0 });
  });

  it('rejects any other request_update with illegal_parameter, and a wrong length with decode_error', () => {
    for (let v = 2; v < 256; v++) expectTlsError(() => decodeKeyUpdate(Buffer.from([v])), AlertDescription.illegal_parameter);
    expectTlsError(() => decodeKeyUpdate(Buffer.from('0100', 'hex')), AlertDescription.decode_error);
    expectTlsError(() => decodeKeyUpdate(Buffer.alloc(0)), AlertDescription.decode_error);
  });
});

// Alert (RFC 8446 §6).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AlertDescription, AlertLevel } from '../../../../edge/tls/enums.js';
import { decodeAlert, encodeAlert } from '../../../../edge/tls/codecs/alert.js';
import { bytes, codecProperties, expectTlsError, u8 } from './arbitraries.js';

describe('Alert codec properties', () => {
  codecProperties({ arbitrary: fc.record({ level: u8, description: u8 }), encode: encodeAlert, decode: decodeAlert, reencode: encodeAlert });
});

describe('Alert', () => {
  it('is level then description', () => {
    expect(encodeAlert({ level: AlertLevel.fatal, description: AlertDescription.decode_error }).toString('hex')).toBe('0232');
  });

  it('rejects a payload of any other length: alerts are never fragmented or coalesced (RFC 8446 §5.1)', () => {
    fc.assert(
      fc.property(bytes(0, 10).filter((b) => b.length !== 2), (b) => {
        expectTlsError(() => decodeAlert(b), AlertDescription.decode_error);
      }),
    );
  });
});

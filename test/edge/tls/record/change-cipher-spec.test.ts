import { describe, expect, it } from 'vitest';
import { checkChangeCipherSpec, MAX_DROPPED_CHANGE_CIPHER_SPECS, type ChangeCipherSpecWindow } from '../../../../edge/tls/record/change-cipher-spec.js';

const duringHandshake: ChangeCipherSpecWindow = { clientHelloReceived: true, clientFinishedReceived: false, changeCipherSpecsDropped: 0 };
const ccs = Buffer.from([0x01]);

describe('change_cipher_spec (RFC 8446 §5)', () => {
  it('drops a 0x01 between the first ClientHello and the client Finished, repeated ones too ("MUST simply drop it")', () => {
    expect(MAX_DROPPED_CHANGE_CIPHER_SPECS).toBe(16);
    for (let dropped = 0; dropped < MAX_DROPPED_CHANGE_CIPHER_SPECS; dropped++) {
      expect(() => checkChangeCipherSpec(ccs, { ...duringHandshake, changeCipherSpecsDropped: dropped })).not.toThrow();
    }
  });

  it('is unexpected_message past the flood bound', () => {
    expect(() => checkChangeCipherSpec(ccs, { ...duringHandshake, changeCipherSpecsDropped: MAX_DROPPED_CHANGE_CIPHER_SPECS })).toThrow(
      expect.objectContaining({ alert: 10, code: 'TLS_ERR_TOO_MANY_CCS' }),
    );
  });

  it('is unexpected_message otherwise', () => {
    const cases: [Buffer, ChangeCipherSpecWindow][] = [
      [Buffer.from([0x02]), duringHandshake],
      [Buffer.from([0x00]), duringHandshake],
      [Buffer.from([0x01, 0x01]), duringHandshake],
      [Buffer.alloc(0), duringHandshake],
      [ccs, { ...duringHandshake, clientHelloReceived: false }],
      [ccs, { ...duringHandshake, clientFinishedReceived: true }],
    ];
    for (const [fragment, window] of cases) {
      expect(() => checkChangeCipherSpec(fragment, window)).toThrow(expect.objectContaining({ alert: 10, code: 'TLS_ERR_UNEXPECTED_CCS' }));
    }
  });
});

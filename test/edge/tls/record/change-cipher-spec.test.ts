import { describe, expect, it } from 'vitest';
import { checkChangeCipherSpec, type ChangeCipherSpecWindow } from '../../../../edge/tls/record/change-cipher-spec.js';

const duringHandshake: ChangeCipherSpecWindow = { clientHelloReceived: true, clientFinishedReceived: false, changeCipherSpecReceived: false };
const ccs = Buffer.from([0x01]);

describe('change_cipher_spec (RFC 8446 §5)', () => {
  it('drops a single 0x01 between the first ClientHello and the client Finished', () => {
    expect(() => checkChangeCipherSpec(ccs, duringHandshake)).not.toThrow();
  });

  it('is unexpected_message otherwise', () => {
    const cases: [Buffer, ChangeCipherSpecWindow][] = [
      [Buffer.from([0x02]), duringHandshake],
      [Buffer.from([0x00]), duringHandshake],
      [Buffer.from([0x01, 0x01]), duringHandshake],
      [Buffer.alloc(0), duringHandshake],
      [ccs, { ...duringHandshake, clientHelloReceived: false }],
      [ccs, { ...duringHandshake, clientFinishedReceived: true }],
      [ccs, { ...duringHandshake, changeCipherSpecReceived: true }],
    ];
    for (const [fragment, window] of cases) {
      expect(() => checkChangeCipherSpec(fragment, window)).toThrow(expect.objectContaining({ alert: 10, code: 'TLS_ERR_UNEXPECTED_CCS' }));
    }
  });
});

import { describe, expect, it } from 'vitest';
import { TlsError } from '../../../edge/tls/errors.js';
import { SignatureSlots } from '../../../edge/tls/signature-slots.js';

describe('SignatureSlots', () => {
  it('bounds pending signatures and refuses beyond the limit with TLS_ERR_SIGNING_OVERLOADED', () => {
    const slots = new SignatureSlots(2);
    const a = slots.reserve();
    slots.reserve();
    expect(slots.pending).toBe(2);
    expect(() => slots.reserve()).toThrow(TlsError);
    try {
      slots.reserve();
    } catch (err) {
      expect((err as TlsError).code).toBe('TLS_ERR_SIGNING_OVERLOADED');
    }
    a();
    a();
    expect(slots.pending).toBe(1);
    expect(() => slots.reserve()).not.toThrow();
  });

  it('rejects a limit that is not a positive integer', () => {
    expect(() => new SignatureSlots(0)).toThrow(RangeError);
    expect(() => new SignatureSlots(1.5)).toThrow(RangeError);
  });
});

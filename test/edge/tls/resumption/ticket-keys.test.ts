// Ticket keys: derived per epoch from one secret, so processes with the same secret agree;
// rotated every rotationSeconds; kept only while a ticket they sealed can still be alive.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TicketKeys } from '../../../../edge/tls/resumption/ticket-keys.js';

const HOUR = 3_600_000;
const secret = randomBytes(32);
const keys = (s = secret): TicketKeys => new TicketKeys({ secret: s, rotationSeconds: 3600, lifetimeSeconds: 7200 });

describe('TicketKeys', () => {
  it('two instances with one secret derive the same keys; another secret derives others', () => {
    const t = 10 * HOUR + 5;
    expect(keys().sealingKey(t)).toEqual(keys().sealingKey(t));
    expect(keys(randomBytes(32)).sealingKey(t).name.equals(keys().sealingKey(t).name)).toBe(false);
  });

  it('rotates every rotationSeconds', () => {
    const k = keys();
    expect(k.sealingKey(10 * HOUR).name).toEqual(k.sealingKey(11 * HOUR - 1).name);
    expect(k.sealingKey(10 * HOUR).name.equals(k.sealingKey(11 * HOUR).name)).toBe(false);
  });

  it('a key opens tickets for as long as one it sealed may live, then is forgotten', () => {
    const k = keys();
    const sealedAt = 11 * HOUR - 1; // the last moment of its epoch
    const { name, key } = k.sealingKey(sealedAt);
    expect(k.openingKey(name, sealedAt + 2 * HOUR)?.key).toEqual(key);
    expect(k.openingKey(name, sealedAt + 2 * HOUR + 1)).toBeUndefined();
    expect(k.openingKey(randomBytes(8), sealedAt)).toBeUndefined();
  });

  it('refuses a short secret', () => {
    expect(() => keys(randomBytes(16))).toThrow(/at least 32 bytes/);
  });
});

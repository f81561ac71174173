// Sealed tickets: what goes in comes out, for the holder of the keys only, while it is alive;
// anything else (altered, foreign, expired, random bytes) is "not resumable", never an exception.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openTicket, sealTicket, type TicketState } from '../../../../edge/tls/resumption/session-ticket.js';
import { TicketKeys } from '../../../../edge/tls/resumption/ticket-keys.js';

const keys = TicketKeys.random({ rotationSeconds: 3600, lifetimeSeconds: 7200 });
const now = Date.UTC(2026, 11, 4);
const state: TicketState = {
  cipherSuite: 0x1301,
  signatureScheme: 0x0403,
  psk: randomBytes(32),
  issuedAtMs: now,
  lifetimeSeconds: 7200,
  ageAdd: 0xdeadbeef,
  serverName: 'localhost',
  leafSha256: randomBytes(32),
};

describe('session tickets', () => {
  it('round-trips the session state', () => {
    expect(openTicket(keys, sealTicket(keys, state, now), now + 1000)).toEqual(state);
  });

  it('two tickets of one state differ (fresh nonce)', () => {
    expect(sealTicket(keys, state, now).equals(sealTicket(keys, state, now))).toBe(false);
  });

  it('any altered byte makes it not resumable', () => {
    const ticket = sealTicket(keys, state, now);
    for (let i = 0; i < ticket.length; i++) {
      const altered = Buffer.from(ticket);
      altered[i]! ^= 0x01;
      expect(openTicket(keys, altered, now), `byte ${i}`).toBeUndefined();
    }
  });

  it('is not resumable past its lifetime, before it was issued, or with other keys', () => {
    const ticket = sealTicket(keys, state, now);
    expect(openTicket(keys, ticket, now + 7200_000)).toEqual(state);
    expect(openTicket(keys, ticket, now + 7200_001)).toBeUndefined();
    expect(openTicket(keys, ticket, now - 1)).toBeUndefined();
    expect(openTicket(TicketKeys.random({ rotationSeconds: 3600, lifetimeSeconds: 7200 }), ticket, now)).toBeUndefined();
  });

  it('random bytes are never resumable and never throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => openTicket(keys, Buffer.from(bytes), now) === undefined));
  });
});

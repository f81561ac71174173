// NewSessionTicket (RFC 8446 §4.6.1).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AlertDescription, ExtensionType } from '../../../../edge/tls/enums.js';
import {
  MAX_TICKET_LIFETIME,
  decodeNewSessionTicket,
  encodeNewSessionTicket,
  type NewSessionTicket,
  type NewSessionTicketExtension,
} from '../../../../edge/tls/codecs/new-session-ticket.js';
import { bytes, codecProperties, expectTlsError, u32, unknownExtensionType } from './arbitraries.js';

const extension: fc.Arbitrary<NewSessionTicketExtension> = fc.oneof(
  u32.map((maxEarlyDataSize) => ({ name: 'early_data' as const, maxEarlyDataSize })),
  fc.record({ type: unknownExtensionType(new Set([ExtensionType.early_data])), data: bytes(0, 10) }).map((u) => ({ name: 'unknown' as const, ...u })),
);
const ticket: fc.Arbitrary<NewSessionTicket> = fc.record({
  ticketLifetime: fc.integer({ min: 0, max: MAX_TICKET_LIFETIME }),
  ticketAgeAdd: u32,
  ticketNonce: bytes(0, 16),
  ticket: bytes(1, 100),
  extensions: fc.uniqueArray(extension, { maxLength: 3, selector: (e) => (e.name === 'unknown' ? e.type : e.name) }),
});

describe('NewSessionTicket codec properties', () => {
  codecProperties({ arbitrary: ticket, encode: encodeNewSessionTicket, decode: decodeNewSessionTicket, reencode: encodeNewSessionTicket });
});

describe('NewSessionTicket', () => {
  const base = { ticketLifetime: 3600, ticketAgeAdd: 0x01020304, ticketNonce: Buffer.from('00', 'hex'), ticket: Buffer.from('aabb', 'hex') };

  it('encodes the fields in RFC order, early_data as a uint32', () => {
    const body = encodeNewSessionTicket({ ...base, extensions: [{ name: 'early_data', maxEarlyDataSize: 0x4000 }] });
    expect(body.toString('hex')).toBe('00000e10' + '01020304' + '0100' + '0002aabb' + '0008' + '002a0004' + '00004000');
  });

  it('refuses a lifetime over 7 days and an empty ticket', () => {
    expectTlsError(() => encodeNewSessionTicket({ ...base, ticketLifetime: MAX_TICKET_LIFETIME + 1, extensions: [] }), AlertDescription.internal_error, 'TLS_ERR_ENCODE');
    expectTlsError(() => encodeNewSessionTicket({ ...base, ticket: Buffer.alloc(0), extensions: [] }), AlertDescription.internal_error, 'TLS_ERR_ENCODE');
    const tooLong = encodeNewSessionTicket({ ...base, extensions: [] });
    tooLong.writeUInt32BE(MAX_TICKET_LIFETIME + 1, 0);
    expectTlsError(() => decodeNewSessionTicket(tooLong), AlertDescription.illegal_parameter);
    expectTlsError(() => decodeNewSessionTicket(Buffer.from('00000e10' + '01020304' + '00' + '0000' + '0000', 'hex')), AlertDescription.decode_error);
  });
});

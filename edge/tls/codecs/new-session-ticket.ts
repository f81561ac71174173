// NewSessionTicket (RFC 8446 §4.6.1). The server encodes it; the decoder serves tests and the
// test client.
import { ExtensionType } from '../enums.js';
import { illegalParameter } from '../errors.js';
import { Reader, Writer, encodeFailure } from '../wire.js';
import { decodeBody, encodeBody, readExtensions, writeExtensions, type RawExtension } from './extensions.js';

/** RFC 8446 §4.6.1: "Servers MUST NOT use any value greater than 604800 seconds (7 days)". */
export const MAX_TICKET_LIFETIME = 604800;

export type NewSessionTicketExtension =
  /** RFC 8446 §4.2.10 `uint32 max_early_data_size`. */
  | { readonly name: 'early_data'; readonly maxEarlyDataSize: number }
  | { readonly name: 'unknown'; readonly type: number; readonly data: Buffer };

export interface NewSessionTicket {
  /** Seconds. */
  readonly ticketLifetime: number;
  readonly ticketAgeAdd: number;
  readonly ticketNonce: Buffer;
  readonly ticket: Buffer;
  readonly extensions: readonly NewSessionTicketExtension[];
}

export function encodeNewSessionTicket(msg: NewSessionTicket): Buffer {
  if (msg.ticketLifetime > MAX_TICKET_LIFETIME) throw encodeFailure(`ticket_lifetime ${msg.ticketLifetime} exceeds 7 days`);
  const w = new Writer()
    .u32(msg.ticketLifetime)
    .u32(msg.ticketAgeAdd)
    .opaque8(msg.ticketNonce)
    .opaque16(msg.ticket, 1, 0xffff);
  writeExtensions(w, msg.extensions.map(encodeExtension));
  return w.finish();
}

/**
 * `opaque ticket_nonce<0..255>; opaque ticket<1..2^16-1>; Extension extensions<0..2^16-2>`.
 * A lifetime over 7 days breaks the server's MUST: illegal_parameter, as Go's client answers.
 */
export function decodeNewSessionTicket(body: Buffer): NewSessionTicket {
  const r = new Reader(body, 'NewSessionTicket');
  const ticketLifetime = r.u32('ticket_lifetime');
  if (ticketLifetime > MAX_TICKET_LIFETIME) throw illegalParameter(`NewSessionTicket: ticket_lifetime ${ticketLifetime} exceeds 7 days (RFC 8446 §4.6.1)`);
  const ticketAgeAdd = r.u32('ticket_age_add');
  const ticketNonce = r.opaque8('ticket_nonce');
  const ticket = r.opaque16('ticket', 1, 0xffff);
  const raw = readExtensions(r, 0, 0xfffe);
  r.expectEnd();
  return { ticketLifetime, ticketAgeAdd, ticketNonce, ticket, extensions: raw.map(decodeExtension) };
}

function decodeExtension(ext: RawExtension): NewSessionTicketExtension {
  if (ext.type !== ExtensionType.early_data) return { name: 'unknown', type: ext.type, data: ext.data };
  return { name: 'early_data', maxEarlyDataSize: decodeBody(ext, 'early_data', (r) => r.u32('max_early_data_size')) };
}

function encodeExtension(ext: NewSessionTicketExtension): RawExtension {
  if (ext.name === 'unknown') return { type: ext.type, data: ext.data };
  return { type: ExtensionType.early_data, data: encodeBody((w) => w.u32(ext.maxEarlyDataSize)) };
}

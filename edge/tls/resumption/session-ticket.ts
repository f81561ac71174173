// What a session ticket carries, and how it is sealed (RFC 8446 §4.6.1; the layout of RFC 5077
// §4): key name (8) || nonce (12) || AES-256-GCM(state) || tag (16), the key name as associated
// data. The edge keeps no session state: everything a resumption needs is inside the ticket,
// which only holders of the ticket secret can read or forge.
//
// Opening never throws: a ticket that is not ours, was sealed with a key that has aged out, was
// altered, or has expired is simply not resumed (RFC 8446 §4.2.11: the server then goes on with
// a full handshake).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Reader, Writer } from '../wire.js';
import { TICKET_KEY_NAME_BYTES, type TicketKeys } from './ticket-keys.js';

/** The session a ticket resumes. */
export interface TicketState {
  /** The cipher suite of the session; a resumption must use one with the same hash (§4.2.11). */
  readonly cipherSuite: number;
  /** The SignatureScheme the original handshake was signed with (for logs and metrics). */
  readonly signatureScheme: number;
  /** The PSK: HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce, Hash.length). */
  readonly psk: Buffer;
  readonly issuedAtMs: number;
  readonly lifetimeSeconds: number;
  /** §4.6.1 ticket_age_add, to read the client's obfuscated_ticket_age. */
  readonly ageAdd: number;
  /** The server_name of the original handshake ('' for none): a ticket resumes only for the same name. */
  readonly serverName: string;
  /** SHA-256 of the leaf certificate the client verified: resumption only while we still serve it. */
  readonly leafSha256: Buffer;
}

const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Anything shorter cannot be one of ours. */
const MIN_TICKET_BYTES = TICKET_KEY_NAME_BYTES + NONCE_BYTES + TAG_BYTES + 1;

export function sealTicket(keys: TicketKeys, state: TicketState, nowMs: number): Buffer {
  const { name, key } = keys.sealingKey(nowMs);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(name);
  const sealed = Buffer.concat([cipher.update(encodeState(state)), cipher.final()]);
  return Buffer.concat([name, nonce, sealed, cipher.getAuthTag()]);
}

/** The state inside `ticket`, or undefined when it is not a live ticket of ours. */
export function openTicket(keys: TicketKeys, ticket: Buffer, nowMs: number): TicketState | undefined {
  if (ticket.length < MIN_TICKET_BYTES) return undefined;
  const name = ticket.subarray(0, TICKET_KEY_NAME_BYTES);
  const key = keys.openingKey(name, nowMs);
  if (!key) return undefined;
  const nonce = ticket.subarray(TICKET_KEY_NAME_BYTES, TICKET_KEY_NAME_BYTES + NONCE_BYTES);
  const sealed = ticket.subarray(TICKET_KEY_NAME_BYTES + NONCE_BYTES, ticket.length - TAG_BYTES);
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(name);
    decipher.setAuthTag(ticket.subarray(ticket.length - TAG_BYTES));
    plain = Buffer.concat([decipher.update(sealed), decipher.final()]);
  } catch {
    return undefined; // altered, or sealed by someone else
  }
  const state = decodeState(plain);
  if (!state) return undefined;
  // §4.6.1: "Servers MUST NOT use any value greater than 604800 seconds", and not past its lifetime.
  const ageMs = nowMs - state.issuedAtMs;
  if (ageMs < 0 || ageMs > state.lifetimeSeconds * 1000) return undefined;
  return state;
}

function encodeState(s: TicketState): Buffer {
  return new Writer()
    .u8(VERSION)
    .u16(s.cipherSuite)
    .u16(s.signatureScheme)
    .u32(Math.floor(s.issuedAtMs / 2 ** 32))
    .u32(s.issuedAtMs % 2 ** 32)
    .u32(s.lifetimeSeconds)
    .u32(s.ageAdd)
    .opaque8(s.psk)
    .opaque8(Buffer.from(s.serverName, 'latin1'))
    .opaque8(s.leafSha256)
    .finish();
}

/** Undefined for anything but a version-1 state: a ticket from a future version is not resumed. */
function decodeState(plain: Buffer): TicketState | undefined {
  try {
    const r = new Reader(plain, 'ticket');
    if (r.u8('version') !== VERSION) return undefined;
    const cipherSuite = r.u16('cipher_suite');
    const signatureScheme = r.u16('signature_scheme');
    const issuedAtMs = r.u32('issued_hi') * 2 ** 32 + r.u32('issued_lo');
    const lifetimeSeconds = r.u32('lifetime');
    const ageAdd = r.u32('age_add');
    const psk = r.opaque8('psk', 32, 64);
    const serverName = r.opaque8('server_name').toString('latin1');
    const leafSha256 = r.opaque8('leaf', 32, 32);
    r.expectEnd();
    return { cipherSuite, signatureScheme, psk: Buffer.from(psk), issuedAtMs, lifetimeSeconds, ageAdd, serverName, leafSha256: Buffer.from(leafSha256) };
  } catch {
    return undefined;
  }
}

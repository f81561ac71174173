// Alert (RFC 8446 §6): two bytes, level and description. Values are kept as numbers: what an
// unknown level or description means is the connection's decision, not the codec's.
import { decodeError } from '../errors.js';
import { Writer } from '../wire.js';

export interface Alert {
  readonly level: number;
  readonly description: number;
}

export function encodeAlert(alert: Alert): Buffer {
  return new Writer().u8(alert.level).u8(alert.description).finish();
}

/**
 * Decodes an alert record's payload. RFC 8446 §5.1: alerts are never fragmented nor coalesced,
 * so a payload of any length but 2 is decode_error.
 */
export function decodeAlert(payload: Buffer): Alert {
  if (payload.length !== 2) throw decodeError(`Alert: ${payload.length} byte(s), expected 2 (RFC 8446 §5.1)`);
  return { level: payload[0] as number, description: payload[1] as number };
}

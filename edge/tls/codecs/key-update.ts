// KeyUpdate (RFC 8446 §4.6.3): one byte, update_not_requested(0) or update_requested(1).
import { KeyUpdateRequest } from '../enums.js';
import { illegalParameter } from '../errors.js';
import { Reader, Writer } from '../wire.js';

export type KeyUpdateRequestValue = (typeof KeyUpdateRequest)[keyof typeof KeyUpdateRequest];

export interface KeyUpdate {
  readonly requestUpdate: KeyUpdateRequestValue;
}

export function encodeKeyUpdate(msg: KeyUpdate): Buffer {
  return new Writer().u8(msg.requestUpdate).finish();
}

/** Wrong length is decode_error; "any other value" of request_update is illegal_parameter (§4.6.3). */
export function decodeKeyUpdate(body: Buffer): KeyUpdate {
  const r = new Reader(body, 'KeyUpdate');
  const value = r.u8('request_update');
  r.expectEnd();
  if (value !== KeyUpdateRequest.update_not_requested && value !== KeyUpdateRequest.update_requested) {
    throw illegalParameter(`KeyUpdate: request_update ${value} (RFC 8446 §4.6.3)`);
  }
  return { requestUpdate: value };
}

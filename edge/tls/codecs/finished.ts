// Finished (RFC 8446 §4.4.4): `opaque verify_data[Hash.length]`, no length prefix, so the decoder
// must be told the negotiated hash's length. Comparing verify_data (in constant time) is the
// state machine's job.
import { decodeError } from '../errors.js';
import { encodeFailure } from '../wire.js';

/** Hash lengths of the TLS 1.3 suites (SHA-256, SHA-384). */
const HASH_LENGTHS: ReadonlySet<number> = new Set([32, 48]);

export function encodeFinished(verifyData: Buffer): Buffer {
  if (!HASH_LENGTHS.has(verifyData.length)) throw encodeFailure(`Finished.verify_data of ${verifyData.length} bytes`);
  return Buffer.from(verifyData);
}

export function decodeFinished(body: Buffer, hashLength: number): Buffer {
  if (body.length !== hashLength) throw decodeError(`Finished: verify_data is ${body.length} bytes, expected ${hashLength}`);
  return Buffer.from(body);
}

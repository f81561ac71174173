// PKCS#11 CKM_ECDSA returns r || s, each as long as the curve order (PKCS#11 v2.40 §2.3.1); TLS
// carries ECDSA signatures as DER Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 8422 §5.4).

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  if (length <= 0xff) return Buffer.from([0x81, length]);
  return Buffer.from([0x82, length >> 8, length & 0xff]);
}

/** A non-negative big-endian integer as DER INTEGER: minimal length, a 0x00 in front when the top bit is set. */
function derUnsignedInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  let body = bytes.subarray(start);
  if (body[0]! & 0x80) body = Buffer.concat([Buffer.from([0x00]), body]);
  return Buffer.concat([Buffer.from([0x02]), derLength(body.length), body]);
}

export function ecdsaRawToDer(raw: Buffer): Buffer {
  if (raw.length === 0 || raw.length % 2 !== 0) throw new Error(`raw ECDSA signature has odd length ${raw.length}`);
  const half = raw.length / 2;
  const body = Buffer.concat([derUnsignedInteger(raw.subarray(0, half)), derUnsignedInteger(raw.subarray(half))]);
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
}

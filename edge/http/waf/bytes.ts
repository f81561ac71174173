// The WAF works on byte strings: JavaScript strings whose every char code is one byte (0–255),
// the way ModSecurity sees a request (PCRE without UTF mode, one character per byte). Header
// values already arrive like that from Node's parser (latin1); bodies are decoded with 'latin1'.
// Regexes compiled for RE2 match code points 0–255 as those bytes, so `\xNN` in a CRS pattern
// means byte NN, as in ModSecurity.

/** A Buffer as a byte string. */
export function bytesOf(buffer: Buffer): string {
  return buffer.toString('latin1');
}

/** A JavaScript (UTF-16) string, e.g. a parsed JSON value, as the byte string of its UTF-8 encoding. */
export function utf8Bytes(text: string): string {
  // Fast path: ASCII is the same in both.
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return Buffer.from(text, 'utf8').toString('latin1');
  }
  return text;
}

/** A byte string shown as text (for logs and the CLI): decoded as UTF-8, invalid sequences replaced. */
export function displayText(bytes: string): string {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes.charCodeAt(i) > 0x7f) return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return bytes;
}

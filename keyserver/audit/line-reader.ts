// Reading audit files as exact bytes: the chain hashes bytes, so lines are split on 0x0a by hand
// (readline decodes to strings and also splits on "\r", which would change what is hashed).
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { AuditError } from './audit-error.js';
import { MAX_LINE_BYTES } from './audit-line.js';

export interface RawLine {
  /** The line without its newline. */
  readonly bytes: Buffer;
  /** False for a last line with no newline after it (a crash or a cut). */
  readonly terminated: boolean;
  /** True when the line ran past MAX_LINE_BYTES; reading stops there. */
  readonly overlong: boolean;
}

/** Streams the lines of `file`, in bounded memory. */
export async function* readRawLines(file: string): AsyncGenerator<RawLine> {
  let carry: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    let data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    let nl: number;
    while ((nl = data.indexOf(0x0a)) !== -1) {
      if (nl > MAX_LINE_BYTES) {
        yield { bytes: data.subarray(0, nl), terminated: true, overlong: true };
        return;
      }
      yield { bytes: data.subarray(0, nl), terminated: true, overlong: false };
      data = data.subarray(nl + 1);
    }
    if (data.length > MAX_LINE_BYTES) {
      yield { bytes: data, terminated: false, overlong: true };
      return;
    }
    // Copy so the stream's chunk can be released.
    carry = Buffer.from(data);
  }
  if (carry.length > 0) yield { bytes: carry, terminated: false, overlong: false };
}

export interface FileTail {
  readonly size: number;
  /** The last newline-terminated line, without its newline; undefined when the file has none. */
  readonly lastLine: Buffer | undefined;
  /** Bytes after the last newline (empty when the file ends cleanly). */
  readonly fragment: Buffer;
}

/** The end of `file`: its last complete line and any unterminated fragment after it. */
export async function readTail(file: string): Promise<FileTail> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    // A fragment and a complete line are each at most MAX_LINE_BYTES plus a newline.
    const length = Math.min(size, 2 * (MAX_LINE_BYTES + 1));
    const start = size - length;
    const window = Buffer.alloc(length);
    if (length > 0) await fh.read(window, 0, length, start);
    const tooLong = (): AuditError => new AuditError('AUDIT_BAD_LINE', `${file}: the last line is longer than ${MAX_LINE_BYTES} bytes`);

    const lastNl = window.lastIndexOf(0x0a);
    if (lastNl === -1) {
      if (start > 0) throw tooLong();
      return { size, lastLine: undefined, fragment: window };
    }
    const fragment = window.subarray(lastNl + 1);
    const prevNl = lastNl === 0 ? -1 : window.lastIndexOf(0x0a, lastNl - 1);
    if (prevNl === -1 && start > 0) throw tooLong();
    return { size, lastLine: window.subarray(prevNl + 1, lastNl), fragment };
  } finally {
    await fh.close();
  }
}

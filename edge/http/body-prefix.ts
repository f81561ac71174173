// Reads the beginning of a request body for inspection without losing the rest: at most `limit`
// bytes are buffered; a longer body is handed on as the prefix followed by the unread stream, so
// the origin still receives every byte, in order, with backpressure.
import { PassThrough, type Readable } from 'node:stream';

export interface BodyPrefix {
  /** The first bytes (all of them when `truncated` is false). */
  readonly prefix: Buffer;
  readonly truncated: boolean;
  /** What to forward: the whole body as a buffer, or the prefix and then the rest as a stream. */
  readonly forward: Buffer | Readable;
}

export function readBodyPrefix(body: Readable, limit: number): Promise<BodyPrefix> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const cleanup = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      length += chunk.length;
      if (length <= limit) return;
      // Over the limit: stop here, hand on what was read and the rest of the stream.
      cleanup();
      body.pause();
      const all = Buffer.concat(chunks, length);
      const rest = new PassThrough();
      rest.write(all);
      body.on('error', (err) => rest.destroy(err));
      body.pipe(rest);
      body.resume();
      resolve({ prefix: all.subarray(0, limit), truncated: true, forward: rest });
    };
    const onEnd = (): void => {
      cleanup();
      const all = Buffer.concat(chunks, length);
      resolve({ prefix: all, truncated: false, forward: all });
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
  });
}

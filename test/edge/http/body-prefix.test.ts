// Reading the beginning of a body for the WAF without losing the rest.
import { PassThrough, Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readBodyPrefix } from '../../../edge/http/body-prefix.js';

async function drain(forward: Buffer | Readable): Promise<Buffer> {
  if (Buffer.isBuffer(forward)) return forward;
  const chunks: Buffer[] = [];
  for await (const c of forward) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('readBodyPrefix', () => {
  it('keeps every byte, in order, whatever the chunking and the limit', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 12 }), fc.integer({ min: 0, max: 2000 }), async (chunks, limit) => {
        const all = Buffer.concat(chunks.map((c) => Buffer.from(c)));
        const read = await readBodyPrefix(Readable.from(chunks.map((c) => Buffer.from(c))), limit);
        expect(read.truncated).toBe(all.length > limit);
        expect(read.prefix.equals(all.subarray(0, Math.min(limit, all.length)))).toBe(true);
        expect((await drain(read.forward)).equals(all)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('passes a failure of the rest of the body on to what is forwarded', async () => {
    const body = new PassThrough();
    body.write(Buffer.alloc(100));
    const reading = readBodyPrefix(body, 10);
    const read = await reading;
    expect(read.truncated).toBe(true);
    body.destroy(new Error('client went away'));
    await expect(drain(read.forward)).rejects.toThrow(/client went away/);
  });

  it('rejects when the body fails before the limit', async () => {
    const body = new PassThrough();
    const reading = readBodyPrefix(body, 1000);
    body.destroy(new Error('reset'));
    await expect(reading).rejects.toThrow(/reset/);
  });
});

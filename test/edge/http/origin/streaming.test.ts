// Bodies stream through the origin client in both directions: 64 MiB go through while the bytes
// in flight stay bounded by the streams' buffers, because backpressure reaches the other end.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOriginClient, type OriginClient } from '../../../../edge/http/origin/index.js';
import { edgeRequest, makeTestPki, startTestOrigin, type TestOrigin } from './origin-fixture.js';

const MIB = 1024 * 1024;
const TOTAL = 64 * MIB;
const CHUNK = 64 * 1024;
/** Socket buffers, TLS records and stream high-water marks together stay well below this. */
const IN_FLIGHT_BOUND = 16 * MIB;

let origin: TestOrigin;
let client: OriginClient;
/** Response side: bytes the origin has handed to its socket. */
let originWritten = 0;
/** Request side: what the origin has read, and the pause it takes before reading. */
let originRead = 0;
let uploadPauseOver: () => void = () => {};

beforeAll(async () => {
  const pki = await makeTestPki();
  const chunk = Buffer.alloc(CHUNK, 0x61);
  origin = await startTestOrigin({
    cert: pki.server,
    handler: (req, res) => {
      if (req.url === '/download') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const write = (): void => {
          while (originWritten < TOTAL) {
            originWritten += CHUNK;
            if (!res.write(chunk)) {
              res.once('drain', write);
              return;
            }
          }
          res.end();
        };
        write();
        return;
      }
      // /upload: read nothing for a while (backpressure must stop the sender), then everything.
      req.pause();
      uploadPauseOver = () => {
        req.on('data', (c: Buffer) => (originRead += c.length));
        req.resume();
      };
      req.on('end', () => res.end(JSON.stringify({ bytes: originRead })));
    },
  });
  client = createOriginClient({ origins: [{ hostnames: ['www.example.test'], url: origin.url, ca: pki.ca.certPem, timeouts: { bodyMs: 60_000 } }] });
});
afterAll(async () => {
  await client?.close();
  await origin?.close();
});

describe('streaming through the origin client', () => {
  it('a 64 MiB response: first bytes arrive before the origin has finished, and a reader that stops stops the origin', async () => {
    const res = await client.fetch(edgeRequest({ url: '/download' }), null, new AbortController().signal);
    expect(res.status).toBe(200);
    const body = res.body as Readable;
    const iterator = body[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.done).toBe(false);
    expect(originWritten).toBeLessThan(TOTAL);

    // Nobody reads for a while: the origin must be held back by backpressure, not buffered.
    await new Promise((r) => setTimeout(r, 500));
    const writtenWhilePaused = originWritten;
    expect(writtenWhilePaused).toBeLessThan(IN_FLIGHT_BOUND);

    let received = (first.value as Buffer).length;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) received += (next.value as Buffer).length;
    expect(received).toBe(TOTAL);
    expect(originWritten).toBe(TOTAL);
  });

  it('a 64 MiB request body streams to the origin: the sender is held back while the origin does not read', async () => {
    let produced = 0;
    const chunk = Buffer.alloc(CHUNK, 0x62);
    const upload = new Readable({
      read() {
        if (produced >= TOTAL) {
          this.push(null);
          return;
        }
        produced += CHUNK;
        this.push(chunk);
      },
    });
    const pending = client.fetch(
      edgeRequest({ method: 'PUT', url: '/upload', headers: { host: 'www.example.test', 'content-length': String(TOTAL), 'content-type': 'application/octet-stream' } }),
      upload,
      new AbortController().signal,
    );
    await new Promise((r) => setTimeout(r, 500));
    // The origin has read nothing yet: what was produced sits in bounded buffers only.
    expect(produced).toBeGreaterThan(0);
    expect(produced).toBeLessThan(IN_FLIGHT_BOUND);
    uploadPauseOver();
    const res = await pending;
    expect(res.status).toBe(200);
    const chunks: Buffer[] = [];
    for await (const c of res.body as Readable) chunks.push(c as Buffer);
    expect(JSON.parse(Buffer.concat(chunks).toString())).toEqual({ bytes: TOTAL });
    expect(produced).toBe(TOTAL);
  });
});

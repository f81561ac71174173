// An origin that answers too late, or not at all, through the real edge: 504 when the response
// head does not come within timeouts.headersMs, 502 when nothing accepts the connection, each
// with the request id in the body (plain text, JSON and HTML as the client asks) and in
// X-Request-Id, so a visitor's report leads to the edge's log line. The demo origin's /slow route
// is the late origin; a port nothing listens on is the one that is down.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoOrigin, type DemoOrigin } from '../../../demo/origin/index.js';
import { startEdgeFixture, type EdgeFixture } from '../../helpers/edge-fixture.js';
import { request, type SimpleResponse } from '../../helpers/full-stack.js';
import { startKeyServerFixture, type KeyServerFixture } from '../../helpers/keyserver-fixture.js';

const HEADERS_MS = 400;
const DOWN_HOST = 'down.demo.localhost';

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let keyServer: KeyServerFixture;
let origin: DemoOrigin;
let edge: EdgeFixture;
let ca: Buffer;

beforeAll(async () => {
  keyServer = await startKeyServerFixture();
  const pki = keyServer.pki;
  origin = await startDemoOrigin({ cert: pki.origin.cert, key: pki.origin.key, port: 0 });
  const downPort = await closedPort();
  edge = await startEdgeFixture({
    pki,
    keyServers: [keyServer.address],
    extra: `origins:
  - hostnames: [localhost]
    url: ${origin.url}
    ca: ${pki.edge.ca}
    serverName: localhost
    timeouts: { connectMs: 2000, headersMs: ${HEADERS_MS}, bodyMs: 5000 }
  - hostnames: [${DOWN_HOST}]
    url: https://127.0.0.1:${downPort}
    ca: ${pki.edge.ca}
    serverName: localhost
    timeouts: { connectMs: 2000, headersMs: 2000, bodyMs: 5000 }
`,
  });
  ca = await (await import('node:fs/promises')).readFile(pki.edge.ca);
});
afterAll(async () => {
  await edge?.close();
  await origin?.close();
  await keyServer?.stop();
});

const get = (path: string, init: { accept?: string; servername?: string } = {}): Promise<SimpleResponse> =>
  request({ edge, ca }, path, { ...(init.servername ? { servername: init.servername } : {}), ...(init.accept ? { headers: { accept: init.accept } } : {}) });

/** The request id of an edge answer: "<16 hex digits of the handshake id>-<n>". */
function requestIdOf(response: SimpleResponse): string {
  const id = String(response.headers['x-request-id']);
  expect(id).toMatch(/^[0-9a-f]{16}-\d+$/);
  return id;
}

describe('an origin slower than timeouts.headersMs', () => {
  it('504 after the headers timeout, the request id in the plain-text body', async () => {
    const started = performance.now();
    const response = await get('/slow?ms=3000');
    const ms = performance.now() - started;
    expect(response.status).toBe(504);
    const id = requestIdOf(response);
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.text).toBe(`504 Gateway Timeout: the origin did not answer in time\nrequest id: ${id}\n`);
    // It waited for headersMs (and gave up before the origin's answer at 3 s: that would be a 200).
    expect(ms).toBeGreaterThanOrEqual(HEADERS_MS);
  });

  it('504 as JSON for an API client, and as HTML for a browser', async () => {
    const json = await get('/slow?ms=3000', { accept: 'application/json' });
    expect(json.status).toBe(504);
    expect(JSON.parse(json.text)).toEqual({ status: 504, error: 'Gateway Timeout', reason: 'the origin did not answer in time', requestId: requestIdOf(json) });
    const html = await get('/slow?ms=3000', { accept: 'text/html,application/xhtml+xml' });
    expect(html.status).toBe(504);
    expect(html.text).toContain(`<code>${requestIdOf(html)}</code>`);
  });

  it('an answer within the timeout is served', async () => {
    const response = await get(`/slow?ms=${Math.floor(HEADERS_MS / 4)}`);
    expect(response.status).toBe(200);
    expect(response.text).toBe(`answered after ${Math.floor(HEADERS_MS / 4)} ms\n`);
  });
});

describe('an origin that is down', () => {
  it('502 with the request id in the body, and nothing about the connection', async () => {
    const response = await get('/api/time', { servername: DOWN_HOST });
    expect(response.status).toBe(502);
    const id = requestIdOf(response);
    expect(response.text).toBe(`502 Bad Gateway: the origin is unreachable\nrequest id: ${id}\n`);
    expect(response.text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
    const json = await get('/api/time', { servername: DOWN_HOST, accept: 'application/json' });
    expect(json.status).toBe(502);
    expect(JSON.parse(json.text)).toEqual({ status: 502, error: 'Bad Gateway', reason: 'the origin is unreachable', requestId: requestIdOf(json) });
  });

  it('the origin that is up keeps serving', async () => {
    expect((await get('/api/time')).status).toBe(200);
  });
});

// `workers: 2` and session tickets: the primary gives every worker the same ticket secret, so a
// ticket one worker issued resumes on the other (node:cluster hands connections to the workers
// in turn), and no resumed connection asks the key server for a signature.
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClusterEdge, type ClusterEdge } from '../../helpers/cluster-edge.js';
import { startKeyServerFixture, type KeyServerFixture } from '../../helpers/keyserver-fixture.js';

describe('keyless edge with workers: 2, session tickets', () => {
  let keyServer: KeyServerFixture;
  let origin: https.Server;
  let cluster: ClusterEdge;
  let ca: Buffer;

  beforeAll(async () => {
    keyServer = await startKeyServerFixture();
    ca = await readFile(keyServer.pki.edge.ca);
    origin = https.createServer({ cert: await readFile(keyServer.pki.origin.cert), key: await readFile(keyServer.pki.origin.key) }, (_req, res) => res.end('ok\n'));
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    cluster = await startClusterEdge({ keyServer, originUrl: `https://127.0.0.1:${(origin.address() as AddressInfo).port}` });
  });
  afterAll(async () => {
    await cluster?.stop();
    await new Promise((r) => origin?.close(r));
    await keyServer?.stop();
  });

  /** One request on a new connection; whether it resumed, and the ticket it got. */
  function connect(session?: Buffer): Promise<{ reused: boolean; session: Buffer | undefined }> {
    return new Promise((resolve, reject) => {
      let ticket: Buffer | undefined;
      let reused = false;
      const socket = tls.connect({ host: '127.0.0.1', port: cluster.port, servername: 'localhost', ca, minVersion: 'TLSv1.3', ...(session ? { session } : {}) });
      socket.on('session', (s: Buffer) => (ticket = s));
      socket.once('secureConnect', () => {
        reused = socket.isSessionReused();
        socket.end('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
      });
      socket.resume();
      socket.once('error', reject);
      socket.once('close', () => resolve({ reused, session: ticket }));
    });
  }

  it('a ticket from one worker resumes on both', async () => {
    const first = await connect();
    expect(first.reused).toBe(false);
    const signatures = (await keyServer.auditLines()).length;
    const resumed: boolean[] = [];
    for (let i = 0; i < 6; i++) resumed.push((await connect(first.session!)).reused);
    expect(resumed).toEqual([true, true, true, true, true, true]);
    expect((await keyServer.auditLines()).length).toBe(signatures);
  });
});

// The origin connection through the real edge: Full (Strict) refuses a certificate for the wrong
// name, from an unknown CA, or with the wrong pin (502, the reason in the log only); authenticated
// origin pulls let only the edge in; the disk cache survives an edge restart.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueCert, loadDevCa } from '../../../certs/index.js';
import { pinOf } from '../../../edge/http/origin/index.js';
import { startDemoOrigin } from '../../../demo/origin/index.js';
import { startKeyServerFixture, type KeyServerFixture } from '../../helpers/keyserver-fixture.js';
import { request, startFullStack } from '../../helpers/full-stack.js';
import { tempDir } from '../../helpers/tmp.js';

let keyServer: KeyServerFixture;
let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  keyServer = await startKeyServerFixture();
  ({ dir, cleanup } = await tempDir('origin-modes'));
});
afterAll(async () => {
  await keyServer?.stop();
  await cleanup?.();
});

/** A certificate for the origin, from the dev CA or another one, for the given names. */
async function originCert(name: string, options: { names: string[]; otherCa?: boolean }): Promise<{ cert: string; key: string }> {
  const issuer = options.otherCa ? await createCa({ commonName: 'Some Other CA' }) : await loadDevCa(keyServer.pki.dir);
  const isIp = (n: string): boolean => /^\d/.test(n);
  const issued = await issueCert(issuer, { commonName: name, dnsNames: options.names.filter((n) => !isIp(n)), ipAddresses: options.names.filter(isIp), keyAlgorithm: 'ec-p256', usage: 'server' });
  const out = path.join(dir, name);
  await mkdir(out, { recursive: true });
  const cert = path.join(out, 'server.crt');
  const key = path.join(out, 'server.key');
  await writeFile(cert, issued.certPem);
  await writeFile(key, issued.keyPem, { mode: 0o600 });
  return { cert, key };
}

describe('Full (Strict) through the edge', () => {
  it('502 for an origin certificate for another name', async () => {
    const files = await originCert('wrong-name', { names: ['elsewhere.example'] });
    const stack = await startFullStack({ keyServer, origin: files });
    try {
      const response = await request(stack, '/api/time');
      expect(response.status).toBe(502);
      // The reason is the log's business, not the visitor's.
      expect(response.text).not.toMatch(/hostname|altname|elsewhere/i);
      expect(stack.origin.stats().total).toBe(0);
    } finally {
      await stack.stop();
    }
  });

  it('502 for an origin certificate from an unknown CA', async () => {
    const files = await originCert('other-ca', { names: ['localhost', '127.0.0.1'], otherCa: true });
    const stack = await startFullStack({ keyServer, origin: files });
    try {
      expect((await request(stack, '/api/time')).status).toBe(502);
      expect(stack.origin.stats().total).toBe(0);
    } finally {
      await stack.stop();
    }
  });

  it('pinned: the right pin passes, a wrong pin is 502 and the origin sees no request', async () => {
    const { readFile } = await import('node:fs/promises');
    const right = pinOf(await readFile(keyServer.pki.origin.cert, 'utf8'));
    const good = await startFullStack({ keyServer, originExtra: `      mode: pinned\n      pins: ['${right}']\n` });
    try {
      expect((await request(good, '/api/time')).status).toBe(200);
    } finally {
      await good.stop();
    }
    const wrong = await startFullStack({ keyServer, originExtra: `      mode: pinned\n      pins: ['${Buffer.alloc(32, 7).toString('base64')}']\n` });
    try {
      expect((await request(wrong, '/api/time')).status).toBe(502);
      expect(wrong.origin.stats().total).toBe(0);
    } finally {
      await wrong.stop();
    }
  });
});

describe('authenticated origin pulls', () => {
  it('the origin accepts the edge with its client certificate, and refuses it without', async () => {
    const pki = keyServer.pki;
    const client = pki.edge.clients['edge-1'];
    const withCert = await startFullStack({ keyServer, origin: { clientCa: pki.origin.edgePullCa }, originExtra: `      clientCert: ${client.cert}\n      clientKey: ${client.key}\n` });
    try {
      expect((await request(withCert, '/api/time')).status).toBe(200);
    } finally {
      await withCert.stop();
    }
    const without = await startFullStack({ keyServer, origin: { clientCa: pki.origin.edgePullCa } });
    try {
      expect((await request(without, '/api/time')).status).toBe(502);
    } finally {
      await without.stop();
    }
  });

  it('refuses a site key as the origin-pull key', async () => {
    const site = keyServer.pki.sites['site-ecdsa-p256'];
    await expect(startFullStack({ keyServer, originExtra: `      clientCert: ${site.cert}\n      clientKey: ${site.key}\n` })).rejects.toThrow(/clientKey/);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe('the disk cache (Cache Reserve)', () => {
  it('serves a HIT after the edge restarts, without asking the origin again', async () => {
    const cacheDir = path.join(dir, 'cache-reserve');
    await rm(cacheDir, { recursive: true, force: true });
    const origin = await startDemoOrigin({ cert: keyServer.pki.origin.cert, key: keyServer.pki.origin.key, port: 0, log: pino({ level: 'silent' }) });
    const { originSection } = await import('../../helpers/full-stack.js');
    const { startEdgeFixture } = await import('../../helpers/edge-fixture.js');
    const extra = `${originSection(keyServer.pki, origin)}cache:\n  store: { type: disk, dir: ${cacheDir} }\n`;
    // The same port both times: the Host header (with its port) is part of the cache key.
    const port = await freePort();
    const replace: [string, string][] = [['listen: 127.0.0.1:0', `listen: 127.0.0.1:${port}`]];
    try {
      const first = await startEdgeFixture({ pki: keyServer.pki, keyServers: [keyServer.address], extra, replace });
      const { readFile } = await import('node:fs/promises');
      const ca = await readFile(keyServer.pki.edge.ca);
      expect((await request({ edge: first, ca }, '/static/style.css')).headers['cache-status']).toMatch(/miss/);
      await first.edge.cache?.settled();
      await first.close();

      const second = await startEdgeFixture({ pki: keyServer.pki, keyServers: [keyServer.address], extra, replace });
      try {
        const again = await request({ edge: second, ca }, '/static/style.css');
        expect(again.status).toBe(200);
        expect(again.headers['cache-status']).toMatch(/hit/);
        expect(origin.stats().byPath['/static/style.css']).toBe(1);
      } finally {
        await second.close();
      }
    } finally {
      await origin.close();
    }
  });
});

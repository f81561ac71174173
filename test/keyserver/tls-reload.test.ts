// Reloading the key server's TLS material: a new server certificate (same CA, new serial and SAN)
// and a new edge CA (tls.clientCa) take effect for new connections; an edge certificate from the
// old edge CA is then refused, one from the new CA accepted. A server certificate renewed in place
// (same paths) is picked up too, and a key that does not match its certificate is rejected while
// the running certificate keeps serving.
import { createHash, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, generateDevPki, issueCert } from '../../certs/index.js';
import type { DevPkiLayout, IssuedCert } from '../../certs/index.js';
import { loadKeyServerConfig } from '../../keyserver/config.js';
import { KeyServer } from '../../keyserver/server.js';
import { RawKeyServerClient } from '../helpers/raw-keyserver-client.js';
import { parseJsonLines, tempDir } from '../helpers/tmp.js';

let dir: string;
let cleanup: () => Promise<void>;
let pki: DevPkiLayout;
let root: { certPem: string; keyPem: string };
let configFile: string;
let server: KeyServer;

function configText(tlsFiles: { cert: string; key: string; clientCa: string }): string {
  return [
    'listen: 127.0.0.1:0',
    'observability: { listen: 127.0.0.1:0 }',
    `tls: { cert: ${tlsFiles.cert}, key: ${tlsFiles.key}, clientCa: ${tlsFiles.clientCa} }`,
    `keyStores: [{ type: file, dir: ${pki.keyServer.keysDir}, signingThreads: 1 }]`,
    `audit: { dir: ${dir}/audit, maxBatchDelayMs: 1 }`,
    'log: { level: silent }',
    'policy: { edges: [{ identity: spiffe://keyless/edge/edge-1, keys: ["*"] }] }',
  ].join('\n');
}

/** The certificate the key server presents to a new TLS connection. */
function servedCertificate(): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: server.port, servername: 'localhost', ca: root.certPem, ALPNProtocols: ['h2'] });
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      socket.destroy();
      resolve(cert);
    });
    socket.once('error', reject);
  });
}

async function edgeClient(cert: { certPem: string; keyPem: string }): Promise<RawKeyServerClient> {
  return new RawKeyServerClient({ address: `127.0.0.1:${server.port}`, ca: await readFile(pki.edge.ca), cert: Buffer.from(cert.certPem), key: Buffer.from(cert.keyPem) });
}

const signReq = (id: string) => ({
  key_id: pki.sites['site-ecdsa-p256'].keyId,
  scheme: 0x0403,
  request_id: id,
  input: 'tls13_certificate_verify' as const,
  tls13_certificate_verify: { transcript_hash: createHash('sha256').update(id).digest() },
});

/** Signs once on a new connection; the outcome code. */
async function signOnNewConnection(cert: { certPem: string; keyPem: string }, id: string): Promise<string> {
  const client = await edgeClient(cert);
  try {
    return (await client.sign(signReq(id))).error;
  } finally {
    client.close();
  }
}

async function auditReason(requestId: string): Promise<string | undefined> {
  const text = await readFile(path.join(dir, 'audit', 'audit.jsonl'), 'utf8').catch(() => '');
  return parseJsonLines<{ requestId: string; reason?: string }>(text).find((l) => l.requestId === requestId)?.reason;
}

async function writeCert(name: string, cert: IssuedCert): Promise<{ cert: string; key: string }> {
  const files = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  await writeFile(files.cert, cert.certPem);
  await writeFile(files.key, cert.keyPem, { mode: 0o600 });
  return files;
}

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('ks-tls-reload'));
  pki = await generateDevPki(path.join(dir, 'pki'));
  root = { certPem: await readFile(pki.ca.cert, 'utf8'), keyPem: await readFile(pki.ca.key, 'utf8') };
  configFile = path.join(dir, 'keyserver.yaml');
  await writeFile(configFile, configText({ cert: pki.keyServer.cert, key: pki.keyServer.key, clientCa: pki.keyServer.edgeCa }));
  server = await KeyServer.start({ config: await loadKeyServerConfig(configFile), configFile, log: pino({ level: 'silent' }) });
});

afterAll(async () => {
  await server?.stop();
  await cleanup?.();
});

describe('reloading tls.cert, tls.key and tls.clientCa', () => {
  it('new connections get the new server certificate, and only edges of the new edge CA are accepted', async () => {
    const oldEdge = { certPem: await readFile(pki.edge.clients['edge-1'].cert, 'utf8'), keyPem: await readFile(pki.edge.clients['edge-1'].key, 'utf8') };
    const newEdgeCa = await createCa({ commonName: 'Keyless Edge CA 2' });
    const newEdge = await issueCert(newEdgeCa, { commonName: 'edge-1', keyAlgorithm: 'ec-p256', uris: ['spiffe://keyless/edge/edge-1'], usage: 'client' });
    const newServer = await issueCert(root, { commonName: 'keyless key server 2', keyAlgorithm: 'ec-p256', dnsNames: ['localhost', 'keyserver-2.test'], ipAddresses: ['127.0.0.1'], usage: 'server' });
    const newServerFiles = await writeCert('server-2', newServer);
    const newEdgeCaFile = path.join(dir, 'edge-ca-2.crt');
    await writeFile(newEdgeCaFile, newEdgeCa.certPem);

    const before = await servedCertificate();
    expect(before.subject.CN).toBe('keyless key server');
    expect(before.subjectaltname).not.toContain('keyserver-2.test');
    expect(await signOnNewConnection(oldEdge, 'tls-old-edge-before')).toBe('OK');
    expect(await signOnNewConnection(newEdge, 'tls-new-edge-before')).toBe('UNAUTHENTICATED');
    // A connection of the old CA that stays open across the reload.
    const openOld = await edgeClient(oldEdge);
    expect((await openOld.sign(signReq('tls-open-old-before'))).error).toBe('OK');

    await writeFile(configFile, configText({ ...newServerFiles, clientCa: newEdgeCaFile }));
    expect(await server.reload()).toBe(true);

    const after = await servedCertificate();
    expect(after.subject.CN).toBe('keyless key server 2');
    expect(after.subjectaltname).toContain('DNS:keyserver-2.test');
    expect(after.serialNumber).not.toBe(before.serialNumber);
    expect(after.fingerprint256).toBe(new X509Certificate(newServer.certPem).fingerprint256);

    // The open connection was closed by the reload (GOAWAY); its client reconnects, and is
    // verified against the new CA: refused, and audited.
    let openOutcome = '';
    for (let i = 0; i < 50 && openOutcome !== 'UNAUTHENTICATED'; i++) {
      openOutcome = await openOld.sign(signReq(`tls-open-old-after-${i}`)).then(
        (r) => r.error,
        () => 'transport error',
      );
      if (openOutcome !== 'UNAUTHENTICATED') await new Promise((r) => setTimeout(r, 100));
    }
    openOld.close();
    expect(openOutcome).toBe('UNAUTHENTICATED');

    expect(await signOnNewConnection(oldEdge, 'tls-old-edge-after')).toBe('UNAUTHENTICATED');
    expect(await auditReason('tls-old-edge-after')).toBe('no verified client certificate');
    expect(await signOnNewConnection(newEdge, 'tls-new-edge-after')).toBe('OK');
  });

  it('a server certificate renewed in place is picked up; a key that does not match is rejected and the running certificate keeps serving', async () => {
    const files = { cert: path.join(dir, 'server-2.crt'), key: path.join(dir, 'server-2.key') };
    // The configuration of the previous test stays: the same paths, new contents.
    expect(await readFile(configFile, 'utf8')).toContain('server-2.crt');
    const renewed = await issueCert(root, { commonName: 'keyless key server 2', keyAlgorithm: 'ec-p256', dnsNames: ['localhost', 'keyserver-3.test'], ipAddresses: ['127.0.0.1'], usage: 'server' });
    await writeCert('server-2', renewed);
    expect(await server.reload()).toBe(true);
    const served = await servedCertificate();
    expect(served.subjectaltname).toContain('DNS:keyserver-3.test');

    // A certificate whose key is another one: the whole reload is rejected.
    const other = await issueCert(root, { commonName: 'keyless key server 4', keyAlgorithm: 'ec-p256', dnsNames: ['localhost', 'keyserver-4.test'], usage: 'server' });
    await writeFile(files.cert, other.certPem);
    expect(await server.reload()).toBe(false);
    const still = await servedCertificate();
    expect(still.fingerprint256).toBe(served.fingerprint256);
  });
});

// A client certificate that expires while its connection stays open: TLS checked it once, at the
// handshake, so the key server checks it again for every request (unary Sign, each SignStream
// item, ListKeys) and refuses it as UNAUTHENTICATED, audited with the reason.
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { PeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueCert } from '../../certs/index.js';
import { certificateValidityProblem, identityFromPeerCertificate, IdentityCache } from '../../keyserver/identity.js';
import type { KeyServerFixture } from '../helpers/keyserver-fixture.js';
import { startKeyServerFixture } from '../helpers/keyserver-fixture.js';
import { KeyServiceClient } from './support/key-service-client.js';

let fixture: KeyServerFixture;
beforeAll(async () => {
  fixture = await startKeyServerFixture();
});
afterAll(() => fixture?.stop());

const signReq = (keyId: string, requestId: string) => ({
  key_id: keyId,
  scheme: 0x0403,
  request_id: requestId,
  input: 'tls13_certificate_verify' as const,
  tls13_certificate_verify: { transcript_hash: createHash('sha256').update(requestId).digest() },
});

async function issueEdge1(validity: { notBefore?: Date; notAfter: Date }) {
  const root = { certPem: await readFile(fixture.pki.ca.cert, 'utf8'), keyPem: await readFile(fixture.pki.ca.key, 'utf8') };
  return issueCert(root, { commonName: 'edge-1', keyAlgorithm: 'ec-p256', uris: ['spiffe://keyless/edge/edge-1'], usage: 'client', ...validity });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a client certificate that expires on an open connection', () => {
  it('signs before notAfter, and after it refuses Sign, SignStream items and ListKeys on the same connection as UNAUTHENTICATED, audited', async () => {
    // X.509 times have whole seconds: notAfter 8-9 s from now, room for the handshake and the
    // first signatures on a busy machine.
    const notAfter = new Date(Math.ceil((Date.now() + 8_000) / 1000) * 1000);
    const cert = await issueEdge1({ notAfter });
    expect(Date.parse(new X509Certificate(cert.certPem).validTo)).toBe(notAfter.getTime());
    const client = new KeyServiceClient(fixture.address, { ca: await readFile(fixture.pki.edge.ca), cert: Buffer.from(cert.certPem), key: Buffer.from(cert.keyPem) });
    const keyId = fixture.siteKey('site-ecdsa-p256').keyId;
    const tag = randomBytes(3).toString('hex');
    try {
      const before = await client.sign(signReq(keyId, `exp-before-${tag}`), 10_000).result;
      expect(before.error, before.message).toBe('OK');
      const stream = client.openStream();
      stream.write([signReq(keyId, `exp-stream-before-${tag}`)]);
      expect((await stream.resultsFor([`exp-stream-before-${tag}`]))[0]!.error).toBe('OK');

      // Past notAfter, with a second of margin.
      await sleep(notAfter.getTime() - Date.now() + 1_200);
      expect(Date.now()).toBeGreaterThan(notAfter.getTime());

      const after = await client.sign(signReq(keyId, `exp-after-${tag}`), 10_000).result;
      expect(after.error).toBe('UNAUTHENTICATED');
      expect(after.signature.length).toBe(0);
      expect(after.message).toMatch(/expired/);
      stream.write([signReq(keyId, `exp-stream-after-${tag}`)]);
      const streamAfter = (await stream.resultsFor([`exp-stream-after-${tag}`]))[0]!;
      expect(streamAfter.error).toBe('UNAUTHENTICATED');
      expect(streamAfter.signature.length).toBe(0);
      stream.end();
      await stream.ended;
      const listErr = (await client.listKeys().then(
        () => null,
        (e: unknown) => e,
      )) as { code?: number; details?: string } | null;
      expect(listErr?.code).toBe(16); // UNAUTHENTICATED
      expect(listErr?.details).toMatch(/expired/);
    } finally {
      client.close();
    }

    const lines = await fixture.auditLines();
    const row = (id: string) => lines.find((l) => l.requestId === id)!;
    const okRow = row(`exp-before-${tag}`);
    expect(okRow.outcome).toBe('OK');
    for (const id of [`exp-after-${tag}`, `exp-stream-after-${tag}`]) {
      const r = row(id);
      expect(r).toMatchObject({ decision: 'denied', outcome: 'UNAUTHENTICATED' });
      expect(r.reason).toMatch(/client certificate expired at .*notAfter/);
      // Still names the certificate, and it is the connection that signed before.
      expect(r.identity?.sans).toContain('URI:spiffe://keyless/edge/edge-1');
      expect(r.identity?.fingerprint).toBe(okRow.identity?.fingerprint);
      expect(r.peer).toBe(okRow.peer);
    }
    const listRow = lines.filter((l) => l.operation === 'list-keys' && l.identity?.fingerprint === okRow.identity?.fingerprint).at(-1)!;
    expect(listRow).toMatchObject({ decision: 'denied', outcome: 'UNAUTHENTICATED' });
    expect(listRow.reason).toMatch(/expired/);
  });

  it('a new connection with the expired certificate fails verification at the handshake', async () => {
    const cert = await issueEdge1({ notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() - 60_000) });
    const client = new KeyServiceClient(fixture.address, { ca: await readFile(fixture.pki.edge.ca), cert: Buffer.from(cert.certPem), key: Buffer.from(cert.keyPem) });
    const res = await client.sign(signReq(fixture.siteKey('site-ecdsa-p256').keyId, 'exp-new-conn'), 10_000).result;
    client.close();
    expect(res.error).toBe('UNAUTHENTICATED');
    expect(res.message).toBe('no verified client certificate');
  });
});

describe('the identity of a peer certificate', () => {
  async function peerCertificate(validity: { notBefore?: Date; notAfter: Date }): Promise<PeerCertificate> {
    const issued = await issueEdge1(validity);
    const x = new X509Certificate(issued.certPem);
    // What tls.TLSSocket#getPeerCertificate() gives, for the fields identity.ts reads.
    return {
      raw: x.raw,
      subject: { CN: 'edge-1' },
      subjectaltname: x.subjectAltName,
      valid_from: x.validFrom,
      valid_to: x.validTo,
      fingerprint256: x.fingerprint256,
    } as unknown as PeerCertificate;
  }

  it('carries notBefore and notAfter; refused before notBefore and after notAfter, accepted in between (both inclusive)', async () => {
    const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 + 3_600_000);
    const notAfter = new Date(notBefore.getTime() + 3_600_000);
    const identity = identityFromPeerCertificate(await peerCertificate({ notBefore, notAfter }));
    expect(identity.notBefore).toBe(notBefore.getTime());
    expect(identity.notAfter).toBe(notAfter.getTime());
    expect(certificateValidityProblem(identity, notBefore.getTime() - 1)).toMatch(/not valid before .*notBefore/);
    expect(certificateValidityProblem(identity, notBefore.getTime())).toBeUndefined();
    expect(certificateValidityProblem(identity, notAfter.getTime())).toBeUndefined();
    expect(certificateValidityProblem(identity, notAfter.getTime() + 1)).toMatch(/expired at .*notAfter/);
  });

  it('is parsed once per certificate (cached by fingerprint), and the cache is bounded', async () => {
    const a = await peerCertificate({ notAfter: new Date(Date.now() + 86_400_000) });
    const b = await peerCertificate({ notAfter: new Date(Date.now() + 86_400_000) });
    const cache = new IdentityCache(1);
    const first = cache.fromPeerCertificate(a);
    // A fresh PeerCertificate object for the same certificate, as each call gets.
    expect(cache.fromPeerCertificate({ ...a } as PeerCertificate)).toBe(first);
    const other = cache.fromPeerCertificate(b);
    expect(other.fingerprint).not.toBe(first.fingerprint);
    expect(cache.size).toBe(1);
    expect(cache.fromPeerCertificate(a)).not.toBe(first);
    expect(cache.fromPeerCertificate(a)).toEqual(first);
  });
});

// The pool's unary transport (one Sign call per operation) against a real key server: the same
// answers as over SignStream, refusals with their remote code, aborts, and an unavailable server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignatureScheme } from '../../../common/signature-scheme.js';
import { verifyTlsSignature } from '../../../common/verify-tls-signature.js';
import { KeyServerPool } from '../../../edge/keyserver-client/index.js';
import { signedMessage } from '../../../edge/keyserver-client/sign-request.js';
import { SignerError } from '../../../edge/signer.js';
import type { KeyServerFixture } from '../../helpers/keyserver-fixture.js';
import { startKeyServerFixture } from '../../helpers/keyserver-fixture.js';
import { contextFor, inputFor } from './inputs.js';

let fixture: KeyServerFixture;
let pool: KeyServerPool;

beforeAll(async () => {
  fixture = await startKeyServerFixture();
  pool = new KeyServerPool({
    servers: [{ address: fixture.address, serverName: 'localhost' }],
    ...(await fixture.edgeCredentials('edge-1')),
    deadlineMs: 10_000,
    healthCheckIntervalMs: 200,
    transport: 'unary',
  });
});

afterAll(async () => {
  pool?.close();
  await fixture?.stop();
});

async function signerError(promise: Promise<unknown>): Promise<SignerError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SignerError);
  return err as SignerError;
}

describe("KeyServerPool with transport: 'unary'", () => {
  it('signs through Sign calls, concurrently, and every signature verifies', async () => {
    const jobs = Array.from({ length: 40 }, (_, i) => {
      const k = fixture.siteKey(i % 2 === 0 ? 'site-ecdsa-p256' : 'site-rsa-2048');
      const scheme: SignatureScheme = i % 2 === 0 ? 0x0403 : 0x0804;
      const input = inputFor(scheme);
      return { k, scheme, input, done: pool.sign({ keyId: k.keyId, scheme, input, context: contextFor('unary') }) };
    });
    const signatures = await Promise.all(jobs.map((j) => j.done));
    jobs.forEach((j, i) => expect(verifyTlsSignature(j.k.publicKey, j.scheme, signedMessage(j.input), signatures[i]!)).toBe(true));
    expect(pool.status()[0]!.inFlight).toBe(0);
    // Every one is audited like a streamed one.
    const lines = await fixture.auditLines();
    expect(lines.filter((l) => l.requestId.startsWith('unary-') && l.outcome === 'OK')).toHaveLength(40);
  });

  it('reports refusals with the key server code', async () => {
    const err = await signerError(pool.sign({ keyId: '00'.repeat(32), scheme: 0x0403, input: inputFor(0x0403), context: contextFor('unknown') }));
    expect(err.code).toBe('SIGNER_REFUSED');
    expect(err.remoteCode).toBe('KEY_NOT_FOUND');
  });

  it('honours the AbortSignal of the caller, and the pool keeps working', async () => {
    const k = fixture.siteKey('site-ecdsa-p256');
    const op = { keyId: k.keyId, scheme: 0x0403 as SignatureScheme, input: inputFor(0x0403), context: contextFor('abort') };
    const controller = new AbortController();
    const pending = pool.sign(op, { signal: controller.signal });
    controller.abort();
    expect((await signerError(pending)).code).toBe('SIGNER_ABORTED');
    expect(pool.status()[0]!.inFlight).toBe(0);
    expect((await pool.sign(op)).length).toBeGreaterThan(0);
  });

  it('fails with SIGNER_UNAVAILABLE when the key server is down', async () => {
    await fixture.stopServer();
    try {
      const k = fixture.siteKey('site-ecdsa-p256');
      const err = await signerError(pool.sign({ keyId: k.keyId, scheme: 0x0403, input: inputFor(0x0403), context: contextFor('down') }, { deadlineMs: 3_000 }));
      expect(['SIGNER_UNAVAILABLE', 'SIGNER_DEADLINE']).toContain(err.code);
    } finally {
      await fixture.start();
    }
  });
});

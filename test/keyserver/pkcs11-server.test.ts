// The key server with a PKCS#11 store on a real SoftHSM2 token, end to end: the PIN from the
// environment or from a 0600 file (a readable one is refused), signatures over real gRPC and mTLS
// verified as a TLS client would, Ed25519 included (from the token and from a key file).
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevPki } from '../../certs/index.js';
import { SignatureScheme } from '../../common/signature-scheme.js';
import { verifyTlsSignature } from '../../common/verify-tls-signature.js';
import type { KeyServerConfig } from '../../keyserver/config.js';
import { keyServerConfigSchema } from '../../keyserver/config.js';
import { KeyServer } from '../../keyserver/server.js';
import { tls13ServerCertificateVerifyInput } from '../../keyserver/signing-input.js';
import { RawKeyServerClient } from '../helpers/raw-keyserver-client.js';
import { createSoftHsmToken, importKeyToToken, softHsmUnavailableReason } from '../helpers/softhsm.js';
import type { SoftHsmToken } from '../helpers/softhsm.js';
import { tempDir } from '../helpers/tmp.js';
import { certificateFor, expectedKeyId, generateTestKey } from './keystore/test-keys.js';
import type { TestKey } from './keystore/test-keys.js';

const unavailable = softHsmUnavailableReason();
if (unavailable) console.warn(`skipping the PKCS#11 key server tests: ${unavailable}`);

const PIN_ENV = 'KEYLESS_TEST_PKCS11_PIN';

describe.skipIf(unavailable !== undefined)('the key server with a PKCS#11 store (SoftHSM2)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let token: SoftHsmToken;
  let pki: string;
  const tokenP256 = generateTestKey('ec-p256');
  const tokenEd25519 = generateTestKey('ed25519');
  const fileEd25519 = generateTestKey('ed25519');

  function config(pkcs11: Record<string, unknown>): KeyServerConfig {
    return keyServerConfigSchema.parse({
      listen: '127.0.0.1:0',
      tls: { cert: path.join(pki, 'keyserver/server.crt'), key: path.join(pki, 'keyserver/server.key'), clientCa: path.join(pki, 'keyserver/edge-ca.crt') },
      observability: { listen: '127.0.0.1:0' },
      keyStores: [{ type: 'pkcs11', module: token.modulePath, tokenLabel: token.tokenLabel, ...pkcs11 }, { type: 'file', dir: path.join(dir, 'file-keys') }],
      audit: { dir: path.join(dir, `audit-${randomBytes(3).toString('hex')}`) },
      policy: { edges: [{ identity: 'spiffe://keyless/edge/edge-1', keys: ['*'] }] },
      log: { level: 'silent' },
    });
  }

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir('keyserver-pkcs11'));
    pki = path.join(dir, 'pki');
    await generateDevPki(pki);
    token = await createSoftHsmToken();
    await importKeyToToken(token, tokenP256.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, await certificateFor(tokenP256.publicKey, ['localhost']), 'site-p256', '01');
    await importKeyToToken(token, tokenEd25519.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, undefined, 'site-ed25519', '02');
    await mkdir(path.join(dir, 'file-keys'), { mode: 0o700 });
    await writeFile(path.join(dir, 'file-keys/site-ed25519.key'), fileEd25519.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    process.env[PIN_ENV] = token.pin;
  });
  afterAll(async () => {
    delete process.env[PIN_ENV];
    await token?.cleanup();
    await cleanup?.();
  });

  async function edge1(server: KeyServer): Promise<RawKeyServerClient> {
    const base = path.join(pki, 'edge', 'edge-1');
    return new RawKeyServerClient({
      address: `127.0.0.1:${server.port}`,
      ca: await readFile(path.join(pki, 'edge/ca.crt')),
      cert: await readFile(path.join(base, 'client.crt')),
      key: await readFile(path.join(base, 'client.key')),
    });
  }

  async function signAndVerify(client: RawKeyServerClient, key: TestKey, scheme: SignatureScheme): Promise<void> {
    const transcriptHash = createHash('sha256').update(randomBytes(16)).digest();
    const res = await client.sign({ key_id: expectedKeyId(key.publicKey), scheme, request_id: `p11-${scheme}-${randomBytes(3).toString('hex')}`, input: 'tls13_certificate_verify', tls13_certificate_verify: { transcript_hash: transcriptHash } });
    expect(res.error).toBe('OK');
    expect(verifyTlsSignature(key.publicKey, scheme, tls13ServerCertificateVerifyInput(transcriptHash), res.signature)).toBe(true);
  }

  it('signs with keys on the token (PIN from the environment), ECDSA and Ed25519, over gRPC; Ed25519 from a key file too', async () => {
    const server = await KeyServer.start({ config: config({ pinEnv: PIN_ENV }), log: pino({ level: 'silent' }) });
    try {
      const client = await edge1(server);
      const { keys } = await client.listKeys();
      expect(keys.find((k) => k.key_id === expectedKeyId(tokenP256.publicKey))?.hostnames).toContain('localhost');
      await signAndVerify(client, tokenP256, SignatureScheme.ecdsa_secp256r1_sha256);
      await signAndVerify(client, tokenEd25519, SignatureScheme.ed25519);
      await signAndVerify(client, fileEd25519, SignatureScheme.ed25519);
      client.close();
    } finally {
      await server.stop();
    }
  });

  it('reads the PIN from a 0600 file, and refuses a file others can read without printing the PIN', async () => {
    const pinFile = path.join(dir, 'pin');
    await writeFile(pinFile, `${token.pin}\n`, { mode: 0o600 });
    const server = await KeyServer.start({ config: config({ pinFile }), log: pino({ level: 'silent' }) });
    try {
      const client = await edge1(server);
      await signAndVerify(client, tokenP256, SignatureScheme.ecdsa_secp256r1_sha256);
      client.close();
    } finally {
      await server.stop();
    }
    await chmod(pinFile, 0o644);
    const err = (await KeyServer.start({ config: config({ pinFile }), log: pino({ level: 'silent' }) }).then(
      async (s) => {
        await s.stop();
        return undefined;
      },
      (e: unknown) => e,
    )) as Error | undefined;
    expect(err?.message).toContain('chmod 600');
    expect(err?.message).toContain(pinFile);
    expect(err?.message).not.toContain(token.pin);
  });
});

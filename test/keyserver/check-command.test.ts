// `keyless keyserver --config FILE --check` as a child process: it opens every key store as the
// server would, PKCS#11 ones included (a real SoftHSM2 token, the PIN from pinEnv or pinFile),
// lists each key (id, algorithm, source, hostnames), closes the stores and exits 0; a store that
// cannot open (a wrong PIN, a missing one) is an error naming the store, never showing the PIN.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSoftHsmToken, importKeyToToken, softHsmUnavailableReason } from '../helpers/softhsm.js';
import type { SoftHsmToken } from '../helpers/softhsm.js';
import { tempDir } from '../helpers/tmp.js';
import { certificateFor, expectedKeyId, generateTestKey } from './keystore/test-keys.js';
import { runCli } from './support/keyserver-process.js';

const unavailable = softHsmUnavailableReason();
if (unavailable) console.warn(`skipping the keyserver --check PKCS#11 tests: ${unavailable}`);

const PIN_ENV = 'KEYLESS_CHECK_TEST_PIN';

describe.skipIf(unavailable !== undefined)('keyless keyserver --check with a PKCS#11 store (SoftHSM2)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let token: SoftHsmToken;
  const tokenP256 = generateTestKey('ec-p256');
  const tokenEd25519 = generateTestKey('ed25519');
  const fileP384 = generateTestKey('ec-p384');

  async function configFile(name: string, pin: { pinEnv: string } | { pinFile: string }): Promise<string> {
    const file = path.join(dir, `${name}.yaml`);
    const pinLine = 'pinEnv' in pin ? `pinEnv: ${pin.pinEnv}` : `pinFile: ${pin.pinFile}`;
    await writeFile(
      file,
      [
        'listen: 127.0.0.1:0',
        // --check opens key stores; it does not read the TLS files.
        `tls: { cert: ${dir}/server.crt, key: ${dir}/server.key, clientCa: ${dir}/edge-ca.crt }`,
        'keyStores:',
        `  - { type: pkcs11, module: ${token.modulePath}, tokenLabel: ${token.tokenLabel}, ${pinLine} }`,
        `  - { type: file, dir: ${dir}/keys }`,
        `audit: { dir: ${dir}/audit }`,
        'log: { level: silent }',
        'policy: { edges: [] }',
      ].join('\n'),
    );
    return file;
  }

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir('keyserver-check'));
    token = await createSoftHsmToken();
    await importKeyToToken(token, tokenP256.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, await certificateFor(tokenP256.publicKey, ['www.example.test', '127.0.0.1']), 'site-p256', '01');
    await importKeyToToken(token, tokenEd25519.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, undefined, 'site-ed25519', '02');
    await mkdir(path.join(dir, 'keys'), { mode: 0o700 });
    await writeFile(path.join(dir, 'keys/file-p384.key'), fileP384.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
  });
  afterAll(async () => {
    await token?.cleanup();
    await cleanup?.();
  });

  function expectListing(stdout: string): void {
    expect(stdout).toContain(`keyStores[0]: pkcs11 store ${token.modulePath} (token "${token.tokenLabel}"): 2 keys (pkcs11:${token.tokenLabel})`);
    const p256 = stdout.split('\n').find((l) => l.includes(expectedKeyId(tokenP256.publicKey)));
    expect(p256).toMatch(/ec-p256 +pkcs11:token=[^;]+;object=site-p256;id=%01 +\[www\.example\.test, 127\.0\.0\.1\]$/);
    const ed = stdout.split('\n').find((l) => l.includes(expectedKeyId(tokenEd25519.publicKey)));
    expect(ed).toMatch(/ed25519 +pkcs11:token=[^;]+;object=site-ed25519;id=%02 +\[no certificate\]$/);
    expect(stdout).toContain(`keyStores[1]: file store ${dir}/keys: 1 key`);
    expect(stdout).toMatch(new RegExp(`${expectedKeyId(fileP384.publicKey)} +ec-p384 +\\S*file-p384\\.key`));
    expect(stdout).toMatch(/configuration .* is valid\n$/);
  }

  it('opens the token with the PIN from pinEnv, lists its keys with their hostnames, and exits 0', async () => {
    const file = await configFile('env', { pinEnv: PIN_ENV });
    const r = await runCli(['keyserver', '--config', file, '--check'], { ...token.env, [PIN_ENV]: token.pin });
    expect(r.code, r.stderr).toBe(0);
    expectListing(r.stdout);
    expect(r.stdout + r.stderr).not.toContain(token.pin);
    expect(r.stdout).not.toContain('opened at start');
  });

  it('reads the PIN from a 0600 pinFile; a pinFile others can read is refused', async () => {
    const pinFile = path.join(dir, `pin-${randomBytes(3).toString('hex')}`);
    await writeFile(pinFile, `${token.pin}\n`, { mode: 0o600 });
    const file = await configFile('file', { pinFile });
    const ok = await runCli(['keyserver', '--config', file, '--check'], token.env);
    expect(ok.code, ok.stderr).toBe(0);
    expectListing(ok.stdout);

    await chmod(pinFile, 0o644);
    const refused = await runCli(['keyserver', '--config', file, '--check'], token.env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/keyStores\[0\]: pkcs11 store .*PIN file .* has mode 0644.*\(chmod 600\)/);
    expect(refused.stdout + refused.stderr).not.toContain(token.pin);
  });

  it('a wrong PIN is a clear error naming the store, without the PIN; exit 1', async () => {
    const wrongPin = `${token.pin}9`;
    const file = await configFile('wrong', { pinEnv: PIN_ENV });
    const r = await runCli(['keyserver', '--config', file, '--check'], { ...token.env, [PIN_ENV]: wrongPin });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^keyless keyserver: KEYSTORE_PKCS11: keyStores\\[0\\]: pkcs11 store .*: login to token "${token.tokenLabel}" failed: wrong PIN \\(CKR_PIN_INCORRECT\\)`));
    expect(r.stdout + r.stderr).not.toContain(wrongPin);
    expect(r.stdout + r.stderr).not.toContain(token.pin);
    expect(r.stdout).not.toMatch(/is valid/);
  });

  it('an unset pinEnv variable is an error; exit 1', async () => {
    const file = await configFile('unset', { pinEnv: PIN_ENV });
    const env = { ...token.env };
    delete env[PIN_ENV];
    const r = await runCli(['keyserver', '--config', file, '--check'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`PKCS#11 PIN environment variable ${PIN_ENV} is not set`);
  });
});

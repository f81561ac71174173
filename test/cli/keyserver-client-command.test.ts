// `keyless keyserver-client` against a real key server: the keys an edge may use, a signature that
// goes through and verifies, refusals with the key server's code (exit 1), bad usage (exit 2).
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyServerFixture } from '../helpers/keyserver-fixture.js';
import { startKeyServerFixture } from '../helpers/keyserver-fixture.js';

let fixture: KeyServerFixture;
beforeAll(async () => {
  fixture = await startKeyServerFixture({
    policyEdges: [
      { identity: 'spiffe://keyless/edge/edge-1', keys: ['*'] },
      { identity: 'spiffe://keyless/edge/edge-2', keys: [{ id: '0'.repeat(63) + '1' }] },
    ],
  });
});
afterAll(() => fixture?.stop());

function client(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/keyless.js', 'keyserver-client', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

const conn = (): string[] => ['--pki', fixture.pki.dir, '--server', fixture.address];

describe('keyless keyserver-client', () => {
  it('list-keys: every key edge-1 may use, as text and as JSON', async () => {
    const [text, json] = await Promise.all([client(['list-keys', ...conn()]), client(['list-keys', ...conn(), '--json'])]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^4 keys this edge may use on /);
    for (const k of fixture.siteKeys) expect(text.stdout).toContain(k.keyId);
    const keys = JSON.parse(json.stdout) as Array<{ keyId: string; schemes: string[] }>;
    expect(keys.map((k) => k.keyId).sort()).toEqual(fixture.siteKeys.map((k) => k.keyId).sort());
    expect(keys.find((k) => k.keyId === fixture.siteKey('site-rsa-2048').keyId)!.schemes).toContain('rsa_pss_rsae_sha256');
  });

  it('sign: a verified signature for a dev site, audited under the printed request id; the signature is not printed', async () => {
    const r = await client(['sign', ...conn(), '--site', 'site-rsa-2048', '--sni', 'cli.demo.localhost', '--transport', 'unary']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/scheme +rsa_pss_rsae_sha256/);
    expect(r.stdout).toMatch(/signature +256 bytes, verified with the certificate's public key/);
    expect(r.stdout).not.toMatch(/[0-9a-f]{100}|[A-Za-z0-9+/]{100}/);
    const requestId = /request id +(\S+)/.exec(r.stdout)![1]!;
    const line = (await fixture.auditLines()).find((l) => l.requestId.startsWith(requestId));
    expect(line).toMatchObject({ outcome: 'OK', sni: 'cli.demo.localhost', keyId: fixture.siteKey('site-rsa-2048').keyId });

    const json = await client(['sign', ...conn(), '--key-id', fixture.siteKey('site-ecdsa-p384').keyId, '--json']);
    expect(json.status, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, scheme: 'ecdsa_secp384r1_sha384', verified: true });
  });

  it("reports a refusal with the key server's code and exits 1", async () => {
    const scheme = await client(['sign', ...conn(), '--site', 'site-rsa-2048', '--scheme', 'rsa_pkcs1_sha256']);
    expect(scheme.status).toBe(1);
    expect(scheme.stdout).toMatch(/^not signed: SIGNER_REFUSED \(UNSUPPORTED_SCHEME\)/);
    const denied = await client(['sign', ...conn(), '--edge', 'edge-2', '--site', 'site-ecdsa-p256', '--scheme', 'ecdsa_secp256r1_sha256']);
    expect(denied.status).toBe(1);
    expect(denied.stdout).toMatch(/\(NOT_ALLOWED\)/);
  });

  it('bad usage exits 2 with the help', async () => {
    const r = await client(['sign', ...conn()]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/give --site NAME or --key-id HEX/);
    expect(r.stderr).toMatch(/usage: keyless keyserver-client/);
  });
});

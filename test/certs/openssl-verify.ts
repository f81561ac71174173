// A second opinion on the certificates: OpenSSL's own path validation (`openssl verify`), run on
// files. Tests that use it are skipped, with the reason printed, when the binary is absent.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const hasOpenssl = spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0;
if (!hasOpenssl) console.log('openssl binary not found: the `openssl verify` / `openssl x509` checks are skipped');

export interface OpensslResult {
  readonly ok: boolean;
  /** stdout and stderr together, for error messages. */
  readonly output: string;
}

/**
 * `openssl verify -x509_strict` of the first certificate in `certPem` against `caPem`, with the
 * TLS purpose checked (extendedKeyUsage) when given.
 */
export function opensslVerify(caPem: string, certPem: string, purpose?: 'sslserver' | 'sslclient'): OpensslResult {
  return withFiles({ 'ca.pem': caPem, 'cert.pem': certPem }, (at) =>
    run(['verify', '-x509_strict', ...(purpose ? ['-purpose', purpose] : []), '-CAfile', at('ca.pem'), at('cert.pem')]),
  );
}

/** `openssl x509 -noout -text` of a certificate. */
export function opensslText(certPem: string): OpensslResult {
  return withFiles({ 'cert.pem': certPem }, (at) => run(['x509', '-noout', '-text', '-in', at('cert.pem')]));
}

function run(args: string[]): OpensslResult {
  const res = spawnSync('openssl', args, { encoding: 'utf8' });
  return { ok: res.status === 0, output: `${res.stdout}${res.stderr}` };
}

function withFiles<T>(files: Record<string, string>, fn: (at: (name: string) => string) => T): T {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'keyless-openssl-'));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
    return fn((name) => path.join(dir, name));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

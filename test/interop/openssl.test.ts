// OpenSSL's s_client against the real edge and key server: once per group, once per cipher
// suite, once per certificate key type (ECDSA P-256, P-384, RSA with PSS, an RSA-PSS key), the
// whole group × suite matrix for each of P-256, P-384 and RSA, and a HelloRetryRequest path. Each verifies the chain against the dev CA and fetches a page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edgeAnswer, hasTool, run, startRealStack, type RealStack } from './real-stack.js';

const REQUEST = 'GET /openssl HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';
const present = await hasTool('openssl', 'OpenSSL interop tests');

describe.skipIf(!present)('openssl s_client -tls1_3', () => {
  let stack: RealStack;
  beforeAll(async () => {
    stack = await startRealStack();
  });
  afterAll(async () => stack?.stop());

  async function sClient(args: string[]): Promise<{ output: string; answer: ReturnType<typeof edgeAnswer> }> {
    const result = await run(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${stack.port}`, '-servername', 'localhost', '-tls1_3', '-CAfile', stack.caFile, '-verify_return_error', '-ign_eof', ...args],
      { input: REQUEST },
    );
    const output = result.stdout + result.stderr;
    return { output, answer: edgeAnswer(result.stdout) };
  }

  it.each([
    ['X25519', 29],
    ['P-256', 23],
    ['P-384', 24],
  ])('group %s', async (group, code) => {
    const { output, answer } = await sClient(['-groups', group]);
    expect(output).toContain('Verify return code: 0 (ok)');
    expect(answer?.tls.group).toBe(code);
  });

  it.each(['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'])('cipher suite %s', async (suite) => {
    const { output, answer } = await sClient(['-ciphersuites', suite]);
    expect(output).toMatch(new RegExp(`Cipher is ${suite}|Cipher\\s+: ${suite}`));
    expect(answer?.tls.cipher).toBe(suite);
  });

  it.each([
    ['ecdsa_secp256r1_sha256', 'site-ecdsa-p256'],
    ['ecdsa_secp384r1_sha384', 'site-ecdsa-p384'],
    ['rsa_pss_rsae_sha256', 'site-rsa-2048'],
    ['rsa_pss_pss_sha256', 'site-rsa-pss'],
  ])('certificate for %s', async (sigalg, certificate) => {
    const { output, answer } = await sClient(['-sigalgs', sigalg]);
    expect(output).toContain('Verify return code: 0 (ok)');
    expect(answer?.tls.certificate).toBe(certificate);
  });

  // The full matrix: every group with every cipher suite, for each of the three key types the
  // issue names (the cases above vary one axis at a time).
  const MATRIX_KEYS = [
    ['ecdsa_secp256r1_sha256', 'site-ecdsa-p256'],
    ['ecdsa_secp384r1_sha384', 'site-ecdsa-p384'],
    ['rsa_pss_rsae_sha256', 'site-rsa-2048'],
  ] as const;
  const MATRIX_GROUPS = [
    ['X25519', 29],
    ['P-256', 23],
    ['P-384', 24],
  ] as const;
  const MATRIX_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'] as const;
  it.each(MATRIX_KEYS)('every group × cipher suite with the certificate for %s', async (sigalg, certificate) => {
    for (const [group, code] of MATRIX_GROUPS) {
      for (const suite of MATRIX_SUITES) {
        const { output, answer } = await sClient(['-sigalgs', sigalg, '-groups', group, '-ciphersuites', suite]);
        const where = `${certificate} ${group} ${suite}`;
        expect(output, where).toContain('Verify return code: 0 (ok)');
        expect({ certificate: answer?.tls.certificate, group: answer?.tls.group, cipher: answer?.tls.cipher }, where).toEqual({ certificate, group: code, cipher: suite });
      }
    }
  });

  it('HelloRetryRequest: first key share for a group the edge does not accept (P-521), then X25519', async () => {
    const { output, answer } = await sClient(['-groups', 'P-521:X25519']);
    expect(output).toContain('Verify return code: 0 (ok)');
    expect(answer?.tls.helloRetried).toBe(true);
    expect(answer?.tls.group).toBe(29);
  });

  it('refuses TLS 1.2 with protocol_version', async () => {
    const result = await run('openssl', ['s_client', '-connect', `127.0.0.1:${stack.port}`, '-servername', 'localhost', '-tls1_2'], { input: '' });
    expect(result.stdout + result.stderr).toMatch(/alert protocol version|tlsv1 alert protocol version/i);
  });

  it('audits each handshake on the key server', async () => {
    const lines = await stack.keyServer.auditLines();
    expect(lines.filter((l) => l.outcome === 'OK' && l.operation === 'tls13-certificate-verify').length).toBeGreaterThanOrEqual(11);
  });
});

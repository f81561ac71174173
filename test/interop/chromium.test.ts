// Headless Chromium (Debian's package, driven by playwright-core) loads a page through the real
// edge and key server. Chromium is told to trust the site's public key (an SPKI pin), so the
// TLS 1.3 handshake, the remote CertificateVerify and the record layer are all checked by a
// browser's own TLS stack (BoringSSL). A screenshot is saved as a test artifact.
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasTool, startRealStack, type RealStack } from './real-stack.js';

const CHROMIUM = '/usr/bin/chromium';
const present = await hasTool(CHROMIUM, 'Chromium interop test');
export const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts');

/** The flags a headless Chromium needs on a closed network (see the env notes on this machine kind). */
export function chromiumArgs(extra: readonly string[] = []): string[] {
  return ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extra];
}

/** Chromium's --ignore-certificate-errors-spki-list value for a certificate: base64 SHA-256 of its SPKI. */
export function spkiPin(publicKeyDer: Buffer): string {
  return createHash('sha256').update(publicKeyDer).digest('base64');
}

describe.skipIf(!present)('headless Chromium', () => {
  let stack: RealStack;
  beforeAll(async () => {
    stack = await startRealStack();
  });
  afterAll(async () => stack?.stop());

  it('loads a page through the edge over TLS 1.3 and saves a screenshot', async () => {
    const { chromium } = await import('playwright-core');
    const { X509Certificate } = await import('node:crypto');
    const { readFile } = await import('node:fs/promises');
    const leaf = new X509Certificate(await readFile(stack.keyServer.pki.sites['site-ecdsa-p256'].cert));
    const pin = spkiPin(leaf.publicKey.export({ type: 'spki', format: 'der' }));
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: chromiumArgs([`--ignore-certificate-errors-spki-list=${pin}`]) });
    try {
      const page = await browser.newPage();
      const response = await page.goto(`https://localhost:${stack.port}/chromium`, { waitUntil: 'load' });
      expect(response?.status()).toBe(200);
      const security = await response!.securityDetails();
      expect(security?.protocol).toBe('TLS 1.3');
      const text = await page.textContent('body');
      expect(text).toContain('"path":"/chromium"');
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'chromium-tls13.png') });
    } finally {
      await browser.close();
    }
    const lines = await stack.keyServer.auditLines();
    expect(lines.some((l) => l.outcome === 'OK' && l.sni === 'localhost')).toBe(true);
  });
});

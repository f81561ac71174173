// Debian's headless Chromium, driven by playwright-core, for tests that load pages through the
// edge. Chromium trusts the site's public key by an SPKI pin (--ignore-certificate-errors-spki-list),
// so its own TLS stack (BoringSSL) still checks the handshake and the CertificateVerify signature.
import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts');

/** The flags a headless Chromium needs on a closed network. */
export function chromiumArgs(extra: readonly string[] = []): string[] {
  return ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extra];
}

/** Chromium's --ignore-certificate-errors-spki-list value for a certificate file: base64 SHA-256 of its SPKI. */
export async function spkiPinOf(certFile: string): Promise<string> {
  const leaf = new X509Certificate(await readFile(certFile));
  return createHash('sha256').update(leaf.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
}

/** A headless Chromium trusting the given site certificates by their keys. */
export async function launchChromium(trustedCertFiles: readonly string[]): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const pins = await Promise.all(trustedCertFiles.map(spkiPinOf));
  return chromium.launch({ executablePath: CHROMIUM, args: chromiumArgs([`--ignore-certificate-errors-spki-list=${pins.join(',')}`]) });
}

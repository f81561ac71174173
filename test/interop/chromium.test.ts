// Headless Chromium (Debian's package, driven by playwright-core) loads pages through the real
// edge and key server: the TLS 1.3 handshake, the remote CertificateVerify and the record layer
// are all checked by a browser's own TLS stack. Screenshots are saved as test artifacts.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACTS, CHROMIUM, launchChromium } from '../helpers/chromium.js';
import { startFullStack, type FullStack } from '../helpers/full-stack.js';
import { hasTool, startRealStack, type RealStack } from './real-stack.js';

const present = await hasTool(CHROMIUM, 'Chromium interop tests');

describe.skipIf(!present)('headless Chromium', () => {
  let stack: RealStack;
  beforeAll(async () => {
    stack = await startRealStack();
  });
  afterAll(async () => stack?.stop());

  it('completes a TLS 1.3 handshake with the edge and reads its answer', async () => {
    const browser = await launchChromium([stack.keyServer.pki.sites['site-ecdsa-p256'].cert]);
    try {
      const page = await browser.newPage();
      const response = await page.goto(`https://localhost:${stack.port}/chromium`, { waitUntil: 'load' });
      expect(response?.status()).toBe(200);
      expect((await response!.securityDetails())?.protocol).toBe('TLS 1.3');
      expect(await page.textContent('body')).toContain('"path":"/chromium"');
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'chromium-tls13.png') });
    } finally {
      await browser.close();
    }
    const lines = await stack.keyServer.auditLines();
    expect(lines.some((l) => l.outcome === 'OK' && l.sni === 'localhost')).toBe(true);
  });
});

describe.skipIf(!present)('headless Chromium through the whole pipeline', () => {
  let full: FullStack;
  beforeAll(async () => {
    full = await startFullStack();
  });
  afterAll(async () => full?.stop());

  it('loads the demo page with its stylesheet and image from the origin through the edge', async () => {
    const browser = await launchChromium([full.keyServer.pki.sites['site-ecdsa-p256'].cert]);
    try {
      const page = await browser.newPage();
      const failed: string[] = [];
      page.on('requestfailed', (r) => failed.push(r.url()));
      const response = await page.goto(`${full.base}/`, { waitUntil: 'networkidle' });
      expect(response?.status()).toBe(200);
      expect(await page.title()).toMatch(/Keyless edge demo/);
      // The stylesheet and the image came through the edge too.
      const logo = await page.evaluate(() => (document.querySelector('img') as HTMLImageElement | null)?.naturalWidth ?? 0);
      expect(logo).toBeGreaterThan(0);
      expect(failed).toEqual([]);
      expect(full.origin.stats().byPath['/static/style.css']).toBe(1);
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'chromium-demo-page.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});

describe.skipIf(!present)('headless Chromium over HTTP/2 (tls.alpn: [h2, http/1.1])', () => {
  let full: FullStack;
  beforeAll(async () => {
    full = await startFullStack({ alpn: ['h2', 'http/1.1'] });
  });
  afterAll(async () => full?.stop());

  it('loads the demo page and its assets over h2, and a WebSocket from the page still works (over HTTP/1.1)', async () => {
    const browser = await launchChromium([full.keyServer.pki.sites['site-ecdsa-p256'].cert]);
    try {
      const page = await browser.newPage();
      const failed: string[] = [];
      page.on('requestfailed', (r) => failed.push(r.url()));
      const response = await page.goto(`${full.base}/`, { waitUntil: 'networkidle' });
      expect(response?.status()).toBe(200);
      expect(await page.title()).toMatch(/Keyless edge demo/);
      const protocols = await page.evaluate(() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource')).map((e) => (e as PerformanceResourceTiming).nextHopProtocol));
      expect(protocols.length).toBeGreaterThan(1);
      expect(protocols.every((p) => p === 'h2')).toBe(true);
      expect(failed).toEqual([]);
      // No RFC 8441 extended CONNECT is offered, so the browser opens an HTTP/1.1 connection for it.
      const echoed = await page.evaluate(
        (url) =>
          new Promise<string>((resolve, reject) => {
            const ws = new WebSocket(url);
            ws.onopen = () => ws.send('over h1 beside h2');
            ws.onmessage = (m) => {
              resolve(String(m.data));
              ws.close();
            };
            ws.onerror = () => reject(new Error('websocket failed'));
          }),
        `${full.base.replace('https:', 'wss:')}/ws`,
      );
      expect(echoed).toContain('over h1 beside h2');
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'chromium-demo-page-h2.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});

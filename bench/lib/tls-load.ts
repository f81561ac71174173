// The load generator of the TLS benchmarks, the same for every server measured: Node's tls
// client (OpenSSL), full TLS 1.3 handshakes (or, with `resume`, each caller resuming with the
// last ticket it got), or one long download.
import tls from 'node:tls';
import { LatencySamples } from './latency.js';

export interface HandshakeLoadOptions {
  readonly port: number;
  readonly ca: Buffer;
  /** e.g. 'ecdsa_secp256r1_sha256' or 'rsa_pss_rsae_sha256': chooses the certificate. */
  readonly sigalgs: string;
  readonly concurrency: number;
  readonly durationMs: number;
  /** Offer the ticket of the caller's previous handshake (its first one is full). */
  readonly resume?: boolean;
}

export interface HandshakeLoadResult {
  readonly handshakes: number;
  /** Handshakes the server resumed (with `resume`). */
  readonly resumed: number;
  readonly errors: number;
  readonly seconds: number;
  readonly latency: LatencySamples;
}

/**
 * One handshake: connect, and time until secureConnect (the server's Finished verified). Then a
 * graceful close (close_notify), waited for, so that the client's Finished reaches the server and
 * the server completes every handshake it is counted for (destroy() could drop it unsent).
 */
function handshakeOnce(options: HandshakeLoadOptions, session: Buffer | undefined): Promise<{ ms: number; reused: boolean; session: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let ms = NaN;
    let reused = false;
    let ticket: Buffer | undefined;
    // The chain is verified; the name check (which builds a JS object of the whole peer
    // certificate, ~1 ms per handshake) is left out: it costs the load generator, not the server.
    const socket = tls.connect(
      { host: '127.0.0.1', port: options.port, servername: 'localhost', secureContext: contextFor(options.ca), sigalgs: options.sigalgs, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined, ...(session ? { session } : {}) },
      () => {
        ms = performance.now() - started;
        reused = socket.isSessionReused();
        socket.end();
      },
    );
    // The ticket arrives after the handshake, before the server's close_notify.
    if (options.resume) socket.on('session', (s: Buffer) => (ticket = s));
    socket.resume();
    socket.once('close', () => (Number.isNaN(ms) ? reject(new Error('closed before the handshake completed')) : resolve({ ms, reused, session: ticket })));
    socket.once('error', reject);
  });
}

const contexts = new Map<Buffer, tls.SecureContext>();
/** One client context per CA: building one per connection would add to every handshake. */
function contextFor(ca: Buffer): tls.SecureContext {
  let context = contexts.get(ca);
  if (!context) contexts.set(ca, (context = tls.createSecureContext({ ca, minVersion: 'TLSv1.3' })));
  return context;
}

export async function handshakeLoad(options: HandshakeLoadOptions): Promise<HandshakeLoadResult> {
  const latency = new LatencySamples();
  let handshakes = 0;
  let resumed = 0;
  let errors = 0;
  const started = performance.now();
  const until = started + options.durationMs;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      let session: Buffer | undefined;
      while (performance.now() < until) {
        try {
          const done = await handshakeOnce(options, session);
          latency.add(done.ms);
          handshakes++;
          if (done.reused) resumed++;
          if (options.resume) session = done.session ?? session;
        } catch {
          errors++;
        }
      }
    }),
  );
  return { handshakes, resumed, errors, seconds: (performance.now() - started) / 1000, latency };
}

/** Downloads `bytes` over one TLS connection (GET /bytes?n=) and returns MiB/s of the body. */
export function download(port: number, ca: Buffer, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca, minVersion: 'TLSv1.3' }, () => {
      socket.write(`GET /bytes?n=${bytes} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
    });
    let received = 0;
    let started = 0;
    socket.on('data', (chunk: Buffer) => {
      if (started === 0) started = performance.now();
      received += chunk.length;
    });
    socket.on('end', () => {
      const seconds = (performance.now() - started) / 1000;
      if (received < bytes) reject(new Error(`received ${received} of ${bytes} bytes`));
      else resolve(bytes / (1024 * 1024) / seconds);
    });
    socket.on('error', reject);
  });
}

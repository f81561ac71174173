// A real edge TLS server for tests: the dev PKI's site chains, each with a signer, behind a
// TlsServer on 127.0.0.1 (ephemeral port), and a node http.Server on the decrypted connections
// that answers every request with what the TLS layer negotiated (JSON), or a handler of the test's.
//
// Signers are either the real key server (a KeyServerPool, see keyserver-fixture.ts) or, for
// tests of the TLS layer alone, the key server's own file key store used in-process.
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { DevPkiLayout, DevSiteName } from '../../certs/index.js';
import { DEV_SITES, generateDevPki } from '../../certs/index.js';
import type { KeyServerPool } from '../../edge/keyserver-client/index.js';
import type { Signer } from '../../edge/signer.js';
import { CertificateResolver, type CertificateResolverOptions } from '../../edge/tls/certificate-resolver.js';
import { loadCertifiedKeys } from '../../edge/tls/certified-key.js';
import type { TlsServerConnection } from '../../edge/tls/connection.js';
import type { HandshakeSettings } from '../../edge/tls/handshake/handshake-io.js';
import { handshakeSettings } from '../../edge/tls/settings.js';
import { TlsServer, type TlsServerLimits } from '../../edge/tls/server.js';
import { FileKeyStore } from '../../keyserver/keystore/file-store.js';
import { localSigners } from '../../keyserver/local-signer.js';
import { TestTlsClient } from './tls13-test-client.js';
import { tempDir } from './tmp.js';

/** The key server's file store, in this process: signs exactly what the key server would. */
export async function inProcessSigners(pki: DevPkiLayout): Promise<{ signers: Map<string, Signer>; close(): Promise<void> }> {
  const store = await FileKeyStore.load(pki.keyServer.keysDir);
  return { signers: localSigners(store), close: () => store.close() };
}

/** Signers for the dev sites from a running key server. */
export async function remoteSigners(pool: KeyServerPool, pki: DevPkiLayout): Promise<Map<string, Signer>> {
  await pool.listKeys();
  const signers = new Map<string, Signer>();
  for (const { name } of DEV_SITES) {
    const keyId = pki.sites[name].keyId;
    signers.set(keyId, pool.signerFor(keyId));
  }
  return signers;
}

export interface TlsServerFixtureOptions {
  readonly pki: DevPkiLayout;
  readonly signers: Map<string, Signer>;
  /** Which dev sites to serve, in resolver order; default: all four. */
  readonly sites?: readonly DevSiteName[];
  readonly resolver?: Partial<CertificateResolverOptions>;
  readonly settings?: Partial<Omit<HandshakeSettings, 'certificates'>>;
  readonly limits?: Partial<TlsServerLimits>;
  /** Answers requests on the decrypted connections; default: the TLS facts as JSON. */
  readonly handler?: http.RequestListener;
}

export interface TlsServerFixture {
  readonly server: TlsServer;
  readonly http: http.Server;
  readonly port: number;
  /** Connections that completed the handshake, in order. */
  readonly secured: TlsServerConnection[];
  /** Handshake failures (error, connection). */
  readonly failures: { error: unknown; connection: TlsServerConnection }[];
  close(): Promise<void>;
}

export const DEFAULT_TEST_LIMITS: TlsServerLimits = {
  handshakeTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
  maxConnections: 1_000,
  maxPendingSignatures: 256,
};

export async function buildResolver(pki: DevPkiLayout, signers: Map<string, Signer>, sites: readonly DevSiteName[], options: Partial<CertificateResolverOptions> = {}): Promise<CertificateResolver> {
  const keys = await loadCertifiedKeys(sites.map((name) => ({ name, file: pki.sites[name].chain })), signers);
  return new CertificateResolver(keys, { unknownServerName: 'default', ...options });
}

export async function startTlsServerFixture(options: TlsServerFixtureOptions): Promise<TlsServerFixture> {
  const sites = options.sites ?? DEV_SITES.map((s) => s.name);
  const certificates = await buildResolver(options.pki, options.signers, sites, options.resolver);
  const settings = handshakeSettings(certificates, options.settings);
  const server = new TlsServer({ settings, limits: { ...DEFAULT_TEST_LIMITS, ...options.limits } });
  const secured: TlsServerConnection[] = [];
  const failures: { error: unknown; connection: TlsServerConnection }[] = [];
  const handler: http.RequestListener =
    options.handler ??
    ((req, res) => {
      const socket = req.socket as unknown as TlsServerConnection;
      const p = socket.negotiatedParameters;
      const body = JSON.stringify({
        path: req.url,
        servername: socket.servername,
        alpn: socket.alpnProtocol,
        cipher: p?.cipherSuite.name,
        group: p?.group,
        scheme: p?.signatureScheme,
        certificate: p?.certificate,
        helloRetried: p?.helloRetried,
        resumed: p?.resumed,
        handshakeId: socket.handshakeId,
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  const httpServer = http.createServer(handler);
  server.on('secureConnection', (connection) => {
    secured.push(connection);
    httpServer.emit('connection', connection);
  });
  server.on('tlsClientError', (error, connection) => failures.push({ error, connection }));
  const address = await server.listen(0, '127.0.0.1');
  return {
    server,
    http: httpServer,
    port: address.port,
    secured,
    failures,
    async close() {
      httpServer.closeAllConnections();
      await server.close(200);
    },
  };
}

export interface TlsServerSuite {
  /** The dev PKI of the file's server (valid once its beforeAll ran). */
  readonly pki: DevPkiLayout;
  /** In-process signers for the PKI's sites. */
  readonly signers: Map<string, Signer>;
  /** The file's TLS server. */
  readonly fixture: TlsServerFixture;
  /** A scripted TLS 1.3 client to `port` (default: the file's server), closed after the file's tests. */
  client(port?: number): Promise<TestTlsClient>;
  /** Runs `fn` after the file's tests (in reverse order of registration). */
  onCleanup(fn: () => Promise<void> | void): void;
}

/**
 * The usual set-up of a TLS server test file: a dev PKI, in-process signers and a server with
 * the default test limits, made before the file's tests and torn down after them.
 */
export function useTlsServerSuite(name: string): TlsServerSuite {
  let pki: DevPkiLayout | undefined;
  let signers: Map<string, Signer> | undefined;
  let fixture: TlsServerFixture | undefined;
  const cleanups: (() => Promise<void> | void)[] = [];
  beforeAll(async () => {
    const t = await tempDir(name);
    cleanups.push(t.cleanup);
    const made = await generateDevPki(path.join(t.dir, 'pki'));
    pki = made;
    const s = await inProcessSigners(made);
    cleanups.push(s.close);
    signers = s.signers;
    fixture = await startTlsServerFixture({ pki: made, signers: s.signers });
    cleanups.push(() => fixture!.close());
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  const ready = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the TLS server suite is used before its beforeAll ran');
    return v;
  };
  return {
    get pki() {
      return ready(pki);
    },
    get signers() {
      return ready(signers);
    },
    get fixture() {
      return ready(fixture);
    },
    async client(port?: number) {
      const c = await TestTlsClient.connect(port ?? ready(fixture).port);
      cleanups.push(async () => c.close());
      return c;
    },
    onCleanup(fn) {
      cleanups.push(fn);
    },
  };
}

// A real edge TLS server for tests: the dev PKI's site chains, each with a signer, behind a
// TlsServer on 127.0.0.1 (ephemeral port), and a node http.Server on the decrypted connections
// that answers every request with what the TLS layer negotiated (JSON), or a handler of the test's.
//
// Signers are either the real key server (a KeyServerPool, see keyserver-fixture.ts) or, for
// tests of the TLS layer alone, the key server's own file key store used in-process.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { DevPkiLayout, DevSiteName } from '../../certs/index.js';
import { DEV_SITES } from '../../certs/index.js';
import type { SignatureScheme } from '../../common/signature-scheme.js';
import type { KeyServerPool } from '../../edge/keyserver-client/index.js';
import type { Signer, SigningContext, SigningInput } from '../../edge/signer.js';
import { CertificateResolver, type CertificateResolverOptions } from '../../edge/tls/certificate-resolver.js';
import { certifiedKey, parseChainPem } from '../../edge/tls/certified-key.js';
import type { TlsServerConnection } from '../../edge/tls/connection.js';
import { SUPPORTED_CIPHER_SUITES } from '../../edge/tls/crypto/cipher-suites.js';
import { SUPPORTED_GROUPS } from '../../edge/tls/crypto/key-exchange.js';
import { systemEntropy, type HandshakeSettings } from '../../edge/tls/handshake/handshake-io.js';
import { TlsServer, type TlsServerLimits } from '../../edge/tls/server.js';
import { FileKeyStore } from '../../keyserver/keystore/file-store.js';
import { tls13ServerCertificateVerifyInput, tls12ServerKeyExchangeInput } from '../../keyserver/signing-input.js';

/** The key server's file store, in this process: signs exactly what the key server would. */
export async function inProcessSigners(pki: DevPkiLayout): Promise<{ signers: Map<string, Signer>; close(): Promise<void> }> {
  const store = await FileKeyStore.load(pki.keyServer.keysDir);
  const signers = new Map<string, Signer>();
  for (const key of store.list()) {
    signers.set(key.keyId, {
      keyId: key.keyId,
      schemes: key.schemes,
      async sign(scheme: SignatureScheme, input: SigningInput, _context: SigningContext, signal: AbortSignal): Promise<Buffer> {
        signal.throwIfAborted();
        const message =
          input.kind === 'tls13-server-certificate-verify'
            ? tls13ServerCertificateVerifyInput(input.transcriptHash)
            : tls12ServerKeyExchangeInput(input.clientRandom, input.serverRandom, input.params);
        return key.sign(scheme, message);
      },
    });
  }
  return { signers, close: () => store.close() };
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
  const keys = await Promise.all(
    sites.map(async (name) => {
      const file = pki.sites[name].chain;
      const parsed = parseChainPem(await readFile(file, 'utf8'), path.basename(file));
      const signer = signers.get(parsed.keyId);
      if (!signer) throw new Error(`no signer for ${name}`);
      return certifiedKey(name, parsed, signer);
    }),
  );
  return new CertificateResolver(keys, { unknownServerName: 'default', ...options });
}

export async function startTlsServerFixture(options: TlsServerFixtureOptions): Promise<TlsServerFixture> {
  const sites = options.sites ?? DEV_SITES.map((s) => s.name);
  const certificates = await buildResolver(options.pki, options.signers, sites, options.resolver);
  const settings: HandshakeSettings = {
    certificates,
    cipherSuites: SUPPORTED_CIPHER_SUITES,
    groups: SUPPORTED_GROUPS,
    alpnProtocols: ['http/1.1'],
    signatureTimeoutMs: 2_000,
    entropy: systemEntropy,
    ...options.settings,
  };
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

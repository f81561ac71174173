// The edge's TLS stack with in-process signers (the key server's file store), behind an
// http.Server: what the bulk benchmark measures against node:tls.
import type http from 'node:http';
import { createServer } from 'node:http';
import type { DevPkiLayout } from '../../certs/index.js';
import { CertificateResolver } from '../../edge/tls/certificate-resolver.js';
import { loadCertifiedKeys } from '../../edge/tls/certified-key.js';
import { TlsServer } from '../../edge/tls/server.js';
import { handshakeSettings } from '../../edge/tls/settings.js';
import { FileKeyStore } from '../../keyserver/keystore/file-store.js';
import { localSigners } from '../../keyserver/local-signer.js';

export async function inProcessTlsServer(pki: DevPkiLayout, handler: http.RequestListener): Promise<number> {
  const store = await FileKeyStore.load(pki.keyServer.keysDir);
  const keys = await loadCertifiedKeys(
    [
      { name: 'site-ecdsa-p256', file: pki.sites['site-ecdsa-p256'].chain },
      { name: 'site-rsa-2048', file: pki.sites['site-rsa-2048'].chain },
    ],
    localSigners(store),
  );
  const server = new TlsServer({
    settings: handshakeSettings(new CertificateResolver(keys, { unknownServerName: 'default' })),
    limits: { handshakeTimeoutMs: 10_000, idleTimeoutMs: 60_000, maxConnections: 100_000, maxPendingSignatures: 10_000 },
  });
  const httpServer = createServer(handler);
  httpServer.keepAliveTimeout = 60_000;
  server.on('secureConnection', (connection) => httpServer.emit('connection', connection));
  return (await server.listen(0, '127.0.0.1')).port;
}

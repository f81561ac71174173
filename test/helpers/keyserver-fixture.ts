// A real key server for tests: a fresh dev PKI in a temporary directory, a KeyServer started
// in-process on 127.0.0.1 (ephemeral port) with a file key store, its own audit directory and a
// policy letting edge-1 use every key. Several fixtures can share one PKI (several key servers
// with the same keys), and a fixture can stop and start its server again on the same port.
import { X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { DEV_SITES, devEdgeIdentity, generateDevPki } from '../../certs/index.js';
import type { DevEdgeName, DevPkiLayout, DevSiteName } from '../../certs/index.js';
import type { EdgeRule, KeyServerConfig } from '../../keyserver/config.js';
import { keyServerConfigSchema } from '../../keyserver/config.js';
import { DEFAULT_FILE_NAME, listChainFiles } from '../../keyserver/audit/audit-files.js';
import type { AuditLine } from '../../keyserver/audit/audit-line.js';
import { isRecoveryLine, parseChainLine } from '../../keyserver/audit/audit-line.js';
import { KeyServer } from '../../keyserver/server.js';
import { tempDir } from './tmp.js';

/** One site key of the dev PKI, with the public key of its certificate. */
export interface DevSiteKey {
  readonly name: DevSiteName;
  /** Hex SHA-256 of the SPKI, the key id the key server uses. */
  readonly keyId: string;
  readonly publicKey: KeyObject;
}

/** The PEM material an edge needs to talk to the key server as one of the dev edges. */
export interface EdgeCredentials {
  readonly ca: Buffer;
  readonly clientCert: Buffer;
  readonly clientKey: Buffer;
}

/** A policy rule as written in the config file (operations default to both TLS handshakes). */
export type FixtureEdgeRule = Omit<EdgeRule, 'operations'> & { readonly operations?: EdgeRule['operations'] };

export interface KeyServerFixtureOptions {
  /** Reuse another fixture's PKI (same keys, same CAs) instead of generating one. Stop the fixtures that borrow it first. */
  readonly pki?: DevPkiLayout;
  /** Replaces the default policy (edge-1 may use every key). */
  readonly policyEdges?: readonly FixtureEdgeRule[];
  /** Port to listen on; default 0 (ephemeral). */
  readonly port?: number;
}

export interface KeyServerFixture {
  /** The running server; replaced by start(). */
  readonly server: KeyServer;
  readonly port: number;
  /** "127.0.0.1:<port>" */
  readonly address: string;
  readonly pki: DevPkiLayout;
  readonly auditDir: string;
  readonly siteKeys: readonly DevSiteKey[];
  siteKey(name: DevSiteName): DevSiteKey;
  /** The configuration the server runs with (its listen port filled in). */
  readonly config: KeyServerConfig;
  edgeCredentials(name: DevEdgeName): Promise<EdgeCredentials>;
  /** Every decision line written so far (all runs of this fixture's server), oldest first. */
  auditLines(): Promise<AuditLine[]>;
  /** Stops the server, keeps the files; start() brings it back on the same port. */
  stopServer(): Promise<void>;
  start(): Promise<KeyServer>;
  /** Stops the server and removes the temporary directory (and the PKI, when this fixture made it). */
  stop(): Promise<void>;
}

async function readAuditLines(dir: string): Promise<AuditLine[]> {
  const files = await listChainFiles(dir, DEFAULT_FILE_NAME);
  const paths = [...files.rotated.map((r) => r.path), ...(files.liveExists ? [files.live] : [])];
  const lines: AuditLine[] = [];
  for (const file of paths) {
    for (const text of (await readFile(file, 'utf8')).split('\n')) {
      if (text === '') continue;
      const line = parseChainLine(Buffer.from(text, 'utf8'));
      if ('error' in line) throw new Error(`${file}: ${line.error}`);
      if (!isRecoveryLine(line)) lines.push(line);
    }
  }
  return lines;
}

async function readSiteKeys(pki: DevPkiLayout): Promise<DevSiteKey[]> {
  return Promise.all(
    DEV_SITES.map(async ({ name }) => {
      const site = pki.sites[name];
      const publicKey = new X509Certificate(await readFile(site.cert)).publicKey;
      return { name, keyId: site.keyId, publicKey };
    }),
  );
}

export async function startKeyServerFixture(options: KeyServerFixtureOptions = {}): Promise<KeyServerFixture> {
  const { dir, cleanup } = await tempDir('keyserver-fixture');
  let server: KeyServer | undefined;
  try {
    const pki = options.pki ?? (await generateDevPki(path.join(dir, 'pki')));
    const auditDir = path.join(dir, 'audit');
    const siteKeys = await readSiteKeys(pki);
    const config = (port: number): KeyServerConfig =>
      keyServerConfigSchema.parse({
        listen: `127.0.0.1:${port}`,
        tls: { cert: pki.keyServer.cert, key: pki.keyServer.key, clientCa: pki.keyServer.edgeCa },
        observability: { listen: '127.0.0.1:0' },
        keyStores: [{ type: 'file', dir: pki.keyServer.keysDir }],
        audit: { dir: auditDir, maxBatchDelayMs: 1 },
        policy: { edges: options.policyEdges ?? [{ identity: devEdgeIdentity('edge-1'), keys: ['*'] }] },
        log: { level: 'silent' },
      });
    const log = pino({ level: 'silent' });
    server = await KeyServer.start({ config: config(options.port ?? 0), log });
    const port = server.port;
    let running: KeyServer | undefined = server;

    const fixture: KeyServerFixture = {
      get server() {
        return server!;
      },
      port,
      address: `127.0.0.1:${port}`,
      pki,
      auditDir,
      siteKeys,
      siteKey: (name) => siteKeys.find((k) => k.name === name)!,
      config: config(port),
      async edgeCredentials(name) {
        const client = pki.edge.clients[name];
        const [ca, clientCert, clientKey] = await Promise.all([readFile(pki.edge.ca), readFile(client.cert), readFile(client.key)]);
        return { ca, clientCert, clientKey };
      },
      auditLines: () => readAuditLines(auditDir),
      async stopServer() {
        const s = running;
        running = undefined;
        await s?.stop();
      },
      async start() {
        if (running) return running;
        server = await KeyServer.start({ config: config(port), log });
        running = server;
        return server;
      },
      async stop() {
        await fixture.stopServer();
        await cleanup();
      },
    };
    return fixture;
  } catch (err) {
    await server?.stop().catch(() => undefined);
    await cleanup();
    throw err;
  }
}

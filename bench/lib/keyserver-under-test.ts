// A key server for a benchmark, run the way it is deployed: its own process (`keyless keyserver
// --config`), a dev PKI and the demo configuration (keyserver/dev-config.ts) in a temporary
// directory, the audit log on and fsync'ed. Only edge-1's rate limit is raised, so that the
// limiter still runs on every request but never refuses one.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { generateDevPki } from '../../certs/index.js';
import type { DevPkiLayout } from '../../certs/index.js';
import { KeylessProcess } from '../../cli/keyless-process.js';
import { devKeyServerConfigYaml } from '../../keyserver/dev-config.js';

export interface KeyServerUnderTest {
  readonly pki: DevPkiLayout;
  readonly address: string;
  /** host:port of /healthz, /readyz and /metrics. */
  readonly observability: string;
  readonly auditDir: string;
  readonly pid: number;
  /** The PEM files edge-1 talks to the key server with. */
  edgeCredentials(): Promise<{ ca: Buffer; clientCert: Buffer; clientKey: Buffer }>;
  /** Stops the key server (SIGTERM: it flushes the audit log) and removes the directory unless `keep`. */
  stop(options?: { keep?: boolean }): Promise<void>;
}

export interface KeyServerUnderTestOptions {
  /** Write a V8 CPU profile of the key server into this directory (node --cpu-prof). */
  readonly profileDir?: string;
  /** keyStores[0].signingThreads; default: the configuration's default (one per core). */
  readonly signingThreads?: number;
  /** keyStores[0].inlineBudgetMs; default: the configuration's default. */
  readonly inlineBudgetMs?: number;
  /** audit.maxBatchDelayMs; default: the configuration's default. */
  readonly auditBatchDelayMs?: number;
  /** audit.checkpointBeforeReply; default false, as in the configuration. */
  readonly checkpointBeforeReply?: boolean;
  /** audit.checkpointSyncMs; default: the configuration's default. */
  readonly checkpointSyncMs?: number;
  /** Extra environment for the key server, e.g. UV_THREADPOOL_SIZE. */
  readonly env?: NodeJS.ProcessEnv;
}

export async function startKeyServerUnderTest(options: KeyServerUnderTestOptions = {}): Promise<KeyServerUnderTest> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'keyless-bench-'));
  try {
    const pki = await generateDevPki(path.join(dir, 'pki'));
    const auditDir = path.join(dir, 'audit');
    const doc = parseDocument(devKeyServerConfigYaml({ pkiDir: pki.dir, auditDir, listen: '127.0.0.1:0', observability: '127.0.0.1:0' }));
    doc.setIn(['policy', 'edges', 0, 'rateLimit'], doc.createNode({ perSecond: 1_000_000, burst: 10_000_000 }));
    if (options.signingThreads !== undefined) doc.setIn(['keyStores', 0, 'signingThreads'], options.signingThreads);
    if (options.inlineBudgetMs !== undefined) doc.setIn(['keyStores', 0, 'inlineBudgetMs'], options.inlineBudgetMs);
    if (options.auditBatchDelayMs !== undefined) doc.setIn(['audit', 'maxBatchDelayMs'], options.auditBatchDelayMs);
    if (options.checkpointBeforeReply === true) doc.setIn(['audit', 'checkpointBeforeReply'], true);
    if (options.checkpointSyncMs !== undefined) doc.setIn(['audit', 'checkpointSyncMs'], options.checkpointSyncMs);
    const configFile = path.join(dir, 'keyserver.yaml');
    await writeFile(configFile, doc.toString());

    const { process: child, ready } = await KeylessProcess.start({
      args: ['keyserver', '--config', configFile],
      nodeArgs: options.profileDir ? ['--cpu-prof', '--cpu-prof-dir', options.profileDir] : [],
      env: { ...process.env, ...options.env },
      // Logged at level info; the key server logs nothing per request at that level.
      readyMessage: 'key server ready',
    });
    const address = String(ready.listen);
    return {
      pki,
      address,
      observability: String(ready.observability),
      auditDir,
      pid: child.pid,
      async edgeCredentials() {
        const client = pki.edge.clients['edge-1'];
        const [ca, clientCert, clientKey] = await Promise.all([readFile(pki.edge.ca), readFile(client.cert), readFile(client.key)]);
        return { ca, clientCert, clientKey };
      },
      async stop({ keep = false } = {}) {
        await child.stop('SIGTERM');
        if (!keep) await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

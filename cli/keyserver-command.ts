// `keyless keyserver --config FILE`: runs the key server until SIGINT/SIGTERM; SIGHUP reloads.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { KeyServerConfig, KeyStoreConfig } from '../keyserver/config.js';
import { loadKeyServerConfig } from '../keyserver/config.js';
import type { KeyStore } from '../keyserver/keystore/key-store.js';
import { KeyServer, openKeyStore } from '../keyserver/server.js';
import type { Command } from './command.js';
import { UsageError } from './command.js';
import { untilStopSignal } from './stop-signal.js';

export const keyserverCommand: Command = {
  name: 'keyserver',
  summary: 'run the key server',
  help: `usage: keyless keyserver --config FILE

Runs the key server: gRPC over mutually authenticated TLS 1.3 (edges present client
certificates from the configured edge CA), per-edge key policy, key stores (PEM files,
PKCS#11), and a hash-chained audit log of every decision.

options:
  --config FILE   YAML configuration (see README: "Key server configuration")
  --check         validate the configuration, open the key stores, print the keys, and exit

signals:
  SIGHUP          reload keys, certificates and policy; a bad new config is rejected and the
                  old one keeps serving
  SIGINT/SIGTERM  stop: finish running calls (up to 2 s), flush the audit log, exit`,

  async run(args) {
    const { values } = parseArgs({
      args,
      options: { config: { type: 'string' }, check: { type: 'boolean', default: false } },
      strict: true,
      allowPositionals: false,
    });
    if (!values.config) throw new UsageError('--config FILE is required');
    const configFile = values.config;
    const config = await loadKeyServerConfig(configFile);
    const log = pino({ level: config.log.level, base: { service: 'keyless-keyserver' } });
    if (values.check) {
      await checkKeyStores(config);
      process.stdout.write(`configuration ${configFile} is valid\n`);
      return 0;
    }
    // Installed before the server starts: a SIGHUP's default action would end the process. One
    // that arrives while starting is applied once the server is up.
    let server: KeyServer | undefined;
    let reloadWhenStarted = false;
    process.on('SIGHUP', () => {
      if (!server) {
        log.info('SIGHUP while starting: reloading once the key server is ready');
        reloadWhenStarted = true;
        return;
      }
      log.info('SIGHUP: reloading configuration');
      void server.reload();
    });
    server = await KeyServer.start({ config, configFile, log, processMetrics: true });
    if (reloadWhenStarted) void server.reload();
    await untilStopSignal((signal) => log.info({ signal }, 'stopping'));
    await server.stop();
    return 0;
  },
};

/** A key store that --check could not open, named by its place in the configuration. */
class KeyStoreCheckError extends Error {
  constructor(
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

function describeStore(store: KeyStoreConfig): string {
  if (store.type === 'file') return `file store ${store.dir}`;
  const token = [store.tokenLabel !== undefined ? `token "${store.tokenLabel}"` : '', store.slot !== undefined ? `slot ${store.slot}` : ''].filter(Boolean).join(', ');
  return `pkcs11 store ${store.module} (${token})`;
}

/**
 * Opens every key store as the server would (PKCS#11 stores log in with the PIN from pinEnv or
 * pinFile, and self-test each key), prints its keys, and closes it. Signs nothing a caller asked for.
 */
async function checkKeyStores(config: KeyServerConfig): Promise<void> {
  const { FileKeyStore } = await import('../keyserver/keystore/file-store.js');
  const { Pkcs11KeyStore } = await import('../keyserver/keystore/pkcs11-store.js');
  for (const [index, storeConfig] of config.keyStores.entries()) {
    const what = `keyStores[${index}]: ${describeStore(storeConfig)}`;
    let store: KeyStore;
    try {
      // Listing file keys signs nothing: no signing threads.
      store = storeConfig.type === 'file' ? await FileKeyStore.load(storeConfig.dir, { signingThreads: 0 }) : await openKeyStore(storeConfig);
    } catch (err) {
      // The store's messages never contain the PIN (the PKCS#11 store scrubs what a module echoes).
      const code = (err as { code?: unknown }).code;
      throw new KeyStoreCheckError(typeof code === 'string' ? code : undefined, `${what}: ${(err as Error).message}`);
    }
    try {
      const keys = store.list();
      process.stdout.write(`${what}: ${keys.length} ${keys.length === 1 ? 'key' : 'keys'} (${store.name})\n`);
      for (const key of keys) {
        const hostnames = key.hostnames === undefined ? 'no certificate' : key.hostnames.length > 0 ? key.hostnames.join(', ') : 'no hostnames';
        process.stdout.write(`  ${key.keyId}  ${key.algorithm.padEnd(12)} ${key.source}  [${hostnames}]\n`);
      }
      if (store instanceof Pkcs11KeyStore) for (const s of store.skipped) process.stdout.write(`  skipped ${s.source}: ${s.reason}\n`);
    } finally {
      await store.close();
    }
  }
}

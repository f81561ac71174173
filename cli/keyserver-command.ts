// `keyless keyserver --config FILE`: runs the key server until SIGINT/SIGTERM; SIGHUP reloads.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadKeyServerConfig } from '../keyserver/config.js';
import { KeyServer } from '../keyserver/server.js';
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
      const { FileKeyStore } = await import('../keyserver/keystore/file-store.js');
      for (const store of config.keyStores) {
        if (store.type !== 'file') {
          process.stdout.write(`pkcs11 store ${store.module}: opened at start\n`);
          continue;
        }
        // Listing keys signs nothing: no signing threads.
        const loaded = await FileKeyStore.load(store.dir, { signingThreads: 0 });
        for (const key of loaded.list()) process.stdout.write(`${key.keyId}  ${key.algorithm.padEnd(8)} ${key.source}\n`);
        await loaded.close();
      }
      process.stdout.write(`configuration ${configFile} is valid\n`);
      return 0;
    }
    const server = await KeyServer.start({ config, configFile, log, processMetrics: true });
    process.on('SIGHUP', () => {
      log.info('SIGHUP: reloading configuration');
      void server.reload();
    });
    await untilStopSignal((signal) => log.info({ signal }, 'stopping'));
    await server.stop();
    return 0;
  },
};

// `keyless demo` (what `npm start` runs): a development PKI in certs/dev/ (made if missing), and
// the demo's components as processes of their own, for now the key server. It prints where
// everything is and commands that work as printed, then runs until Ctrl-C (SIGINT) or SIGTERM,
// and stops the components in reverse order. If a component stops on its own, the demo stops the
// rest and exits 1.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateDevPki } from '../certs/index.js';
import type { Command } from './command.js';
import { UsageError } from './command.js';
import { startComponents } from './demo/component.js';
import type { DemoComponent } from './demo/component.js';
import { KeyServerComponent } from './demo/keyserver-component.js';
import { KEYLESS_BIN, describeExit } from './keyless-process.js';

const DEFAULT_DIR = 'certs/dev';
const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_KEYSERVER_PORT = 2407;
const DEFAULT_METRICS_PORT = 2406;

const help = `usage: keyless demo [--dir DIR] [--keyserver-port N] [--metrics-port N]

Runs the demo on this machine: generates the development PKI into DIR if it is not there yet
(see 'keyless certs'), writes DIR/keyserver.yaml and runs the key server with it on ${DEFAULT_HOST},
in its own process, with its audit log in DIR/audit/. Prints where everything is and commands to
sign through the key server and to check its audit log. Ctrl-C (or SIGTERM) stops it.

options:
  --dir DIR            the PKI and demo files (default ${DEFAULT_DIR})
  --keyserver-port N   the key server's gRPC port (default ${DEFAULT_KEYSERVER_PORT}; 0 picks a free one)
  --metrics-port N     its /metrics, /healthz and /readyz port (default ${DEFAULT_METRICS_PORT}; 0 picks a free one)

Development credentials only: never use them in production.`;

interface DemoOptions {
  readonly dir: string;
  readonly keyServerPort: number;
  readonly metricsPort: number;
}

function port(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new UsageError(`${flag} needs a port number (0 to 65535)`);
  return n;
}

function parseDemoArgs(args: string[]): DemoOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: { dir: { type: 'string' }, 'keyserver-port': { type: 'string' }, 'metrics-port': { type: 'string' } },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.dir === '') throw new UsageError('--dir needs a directory');
  return {
    dir: values.dir ?? DEFAULT_DIR,
    keyServerPort: port(values['keyserver-port'], DEFAULT_KEYSERVER_PORT, '--keyserver-port'),
    metricsPort: port(values['metrics-port'], DEFAULT_METRICS_PORT, '--metrics-port'),
  };
}

/** A path as the user can type it from here: relative when under the working directory. */
function shown(file: string): string {
  const relative = path.relative(process.cwd(), path.resolve(file));
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : path.resolve(file);
}

/** Waits for SIGINT or SIGTERM (once), without leaving listeners behind. */
function signalled(): { promise: Promise<NodeJS.Signals>; dispose: () => void } {
  let dispose = (): void => undefined;
  const promise = new Promise<NodeJS.Signals>((resolve) => {
    const on = (signal: NodeJS.Signals): void => resolve(signal);
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
    dispose = () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    };
  });
  return { promise, dispose };
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'the demo: dev PKI and key server on 127.0.0.1, until Ctrl-C',
  help,
  async run(args: string[]): Promise<number> {
    const options = parseDemoArgs(args);
    const out = (line: string): void => void process.stdout.write(`${line}\n`);
    // From the first moment: Ctrl-C during start-up stops what has started.
    const stopSignal = signalled();
    try {
      const pki = await generateDevPki(options.dir);
      out(pki.created ? `keyless demo: wrote a development PKI to ${shown(options.dir)}` : `keyless demo: using the development PKI in ${shown(options.dir)}`);

      const keyServer = new KeyServerComponent({
        dir: shown(options.dir),
        listen: `${DEFAULT_HOST}:${options.keyServerPort}`,
        observability: `${DEFAULT_HOST}:${options.metricsPort}`,
        show: (line) => out(`  keyserver | ${line}`),
      });
      // The edge and the demo origin join this list when they exist.
      const components: DemoComponent[] = [keyServer];
      const starting = startComponents(components);
      const first = await Promise.race([starting.then((r) => ({ running: r })), stopSignal.promise.then((signal) => ({ signal }))]);
      if ('signal' in first) {
        // Interrupted while starting: let the start finish (or fail), then stop what it started.
        out(`keyless demo: ${first.signal} while starting, stopping`);
        const started = await starting.catch(() => undefined);
        return (await started?.stopAll()) === false ? 1 : 0;
      }
      const running = first.running;

      const keyless = `node ${shown(KEYLESS_BIN)}`;
      const dir = shown(options.dir);
      out('');
      out('keyless demo: ready');
      for (const { lines } of running.ready) for (const line of lines) out(`  ${line}`);
      out('');
      out('try:');
      out(`  sign:    ${keyless} keyserver-client sign --pki ${dir} --server ${keyServer.address} --site site-ecdsa-p256`);
      out(`  keys:    ${keyless} keyserver-client list-keys --pki ${dir} --server ${keyServer.address}`);
      out(`  audit:   ${keyless} audit verify ${shown(keyServer.auditDir)}`);
      out(`           ${keyless} audit summary ${shown(keyServer.auditDir)}`);
      out(`  metrics: curl -s http://${keyServer.metricsAddress}/metrics | grep keyless_keyserver_operations_total`);
      out('');
      out('Ctrl-C stops the demo.');

      const ended = await Promise.race([stopSignal.promise.then((signal) => ({ signal })), running.firstExit.then((first) => ({ first }))]);
      if ('first' in ended) {
        out(`keyless demo: ${ended.first.name} stopped on its own (${describeExit(ended.first.exit)}); stopping the rest`);
        await running.stopAll();
        return 1;
      }
      out(`keyless demo: ${ended.signal}, stopping`);
      const clean = await running.stopAll();
      out(clean ? 'keyless demo: stopped' : 'keyless demo: stopped; a component did not exit cleanly');
      return clean ? 0 : 1;
    } finally {
      stopSignal.dispose();
    }
  },
};

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
import { ProcessComponent } from './demo/process-component.js';
import { writeDemoEdgeConfig } from './demo/edge-config.js';
import { KEYLESS_BIN, describeExit } from './keyless-process.js';

const DEFAULT_DIR = 'certs/dev';
const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_KEYSERVER_PORT = 2407;
const DEFAULT_METRICS_PORT = 2406;
const DEFAULT_EDGE_PORT = 8443;
const DEFAULT_ADMIN_PORT = 9090;
const DEFAULT_ORIGIN_PORT = 9443;

const help = `usage: keyless demo [--dir DIR] [--edge-port N] [--admin-port N] [--origin-port N] [--keyserver-port N] [--metrics-port N]

Runs the whole system on this machine, each part in its own process on ${DEFAULT_HOST}: generates the
development PKI into DIR if it is not there yet (see 'keyless certs'), then starts
  the key server   (DIR/keyserver.yaml; audit log in DIR/audit/)
  the demo origin  (HTTPS with its own certificate from the dev CA)
  the edge         (DIR/edge.yaml: TLS 1.3 signed by the key server, cache, WAF, admin API)
and prints the URLs and commands that work as printed. Ctrl-C (or SIGTERM) stops all three.

options:
  --dir DIR            the PKI and demo files (default ${DEFAULT_DIR})
  --edge-port N        the edge's HTTPS port (default ${DEFAULT_EDGE_PORT})
  --admin-port N       the edge's admin API (default ${DEFAULT_ADMIN_PORT})
  --origin-port N      the demo origin (default ${DEFAULT_ORIGIN_PORT})
  --keyserver-port N   the key server's gRPC port (default ${DEFAULT_KEYSERVER_PORT})
  --metrics-port N     its /metrics, /healthz and /readyz port (default ${DEFAULT_METRICS_PORT})
(0 for any port picks a free one.)

Development credentials only: never use them in production.`;

interface DemoOptions {
  readonly dir: string;
  readonly keyServerPort: number;
  readonly metricsPort: number;
  readonly edgePort: number;
  readonly adminPort: number;
  readonly originPort: number;
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
      options: {
        dir: { type: 'string' },
        'keyserver-port': { type: 'string' },
        'metrics-port': { type: 'string' },
        'edge-port': { type: 'string' },
        'admin-port': { type: 'string' },
        'origin-port': { type: 'string' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.dir === '') throw new UsageError('--dir needs a directory');
  return {
    dir: values.dir ?? DEFAULT_DIR,
    keyServerPort: port(values['keyserver-port'], DEFAULT_KEYSERVER_PORT, '--keyserver-port'),
    metricsPort: port(values['metrics-port'], DEFAULT_METRICS_PORT, '--metrics-port'),
    edgePort: port(values['edge-port'], DEFAULT_EDGE_PORT, '--edge-port'),
    adminPort: port(values['admin-port'], DEFAULT_ADMIN_PORT, '--admin-port'),
    originPort: port(values['origin-port'], DEFAULT_ORIGIN_PORT, '--origin-port'),
  };
}

function portOf(listen: unknown): string {
  return String(listen).split(':').pop() ?? '';
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
  summary: 'the demo: key server, origin and edge on 127.0.0.1, until Ctrl-C',
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
      const dir = shown(options.dir);
      const origin = new ProcessComponent({
        name: 'origin',
        args: ['demo-origin', '--cert', path.join(dir, 'origin/server.crt'), '--key', path.join(dir, 'origin/server.key'), '--listen', `${DEFAULT_HOST}:${options.originPort}`],
        readyMessage: 'demo origin ready',
        show: (line) => out(`  origin    | ${line}`),
        describe: (ready) => [`origin       ${String(ready.url)}  (the demo site, its own certificate from the dev CA)`],
      });
      const edgeConfig = path.join(dir, 'edge.yaml');
      const edge = new ProcessComponent({
        name: 'edge',
        args: ['edge', '--config', edgeConfig],
        readyMessage: 'edge ready',
        show: (line) => out(`  edge      | ${line}`),
        prepare: () => writeDemoEdgeConfig(edgeConfig, dir, keyServer.address, String(origin.ready.url), `${DEFAULT_HOST}:${options.edgePort}`, `${DEFAULT_HOST}:${options.adminPort}`),
        describe: (ready) => [
          `edge         https://localhost:${portOf(ready.listen)}/  (TLS 1.3; the CertificateVerify is signed by the key server)`,
          `WAF          ${String(ready.waf).replace(/^WAF /, "")}`,
          `admin API    http://${String(ready.admin)}/readyz  (token in ${path.join(dir, 'admin.token')})`,
          `edge config  ${edgeConfig}`,
        ],
      });
      const components: DemoComponent[] = [keyServer, origin, edge];
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
      const edgeUrl = `https://localhost:${portOf(edge.ready.listen)}`;
      const curl = `curl --cacert ${path.join(dir, 'edge/ca.crt')} --resolve localhost:${portOf(edge.ready.listen)}:127.0.0.1`;
      out('');
      out('keyless demo: ready');
      for (const { lines } of running.ready) for (const line of lines) out(`  ${line}`);
      out('');
      out('try:');
      out(`  page:    ${edgeUrl}/  (in a browser that trusts ${path.join(dir, 'ca.crt')})`);
      out(`  fetch:   ${curl} -si ${edgeUrl}/cacheable | grep -i -e '^HTTP' -e cache-status -e x-request-id`);
      out(`  twice:   ${curl} -s -o /dev/null -w '%{http_code}\\n' ${edgeUrl}/cacheable  (MISS, then HIT; the origin sees one request)`);
      // The SQL injection example only where the CRS is active (the edge's ready line says); the
      // example custom rule and rate limit work either way.
      const crsActive = /^WAF blocking: (?!no managed rules)/.test(String(edge.ready.waf ?? ''));
      if (crsActive) out(`  blocked: ${curl} -s -o /dev/null -w '%{http_code}\\n' "${edgeUrl}/?id=1'%20OR%20'1'='1"  (403: the OWASP CRS)`);
      out(`  rule:    ${curl} -s -o /dev/null -w '%{http_code}\\n' ${edgeUrl}/wp-admin/  (403: the example custom rule no-wp-admin)`);
      out(`  limit:   for i in $(seq 61); do ${curl} -s -o /dev/null -w '%{http_code} ' ${edgeUrl}/api/time; done; echo  (the 61st is 429: the example rate limit)`);
      out(`  purge:   curl -s -H "Authorization: Bearer $(cat ${path.join(dir, 'admin.token')})" -H 'content-type: application/json' -d '{"tags":["demo"]}' http://${String(edge.ready.admin)}/purge`);
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
      out(clean ? 'keyless demo: stopped' : `keyless demo: stopped; not cleanly: ${running.unclean.join(', ')}`);
      return clean ? 0 : 1;
    } finally {
      stopSignal.dispose();
    }
  },
};

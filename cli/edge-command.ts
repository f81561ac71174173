// `keyless edge --config FILE`: runs the edge until SIGINT/SIGTERM; SIGHUP reloads.
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadEdgeConfig } from '../edge/config.js';
import { Edge } from '../edge/edge.js';
import type { EdgeCluster } from '../edge/cluster/edge-cluster.js';
import type { Command } from './command.js';
import { UsageError } from './command.js';
import { untilStopSignal } from './stop-signal.js';

export const edgeCommand: Command = {
  name: 'edge',
  summary: 'run the edge: TLS 1.3 termination with remote signing, then the HTTP pipeline',
  help: `usage: keyless edge --config FILE [--check]

Runs the edge: a TLS 1.3 server whose one private-key operation per handshake (the
CertificateVerify signature) is made by the key servers over mutually authenticated gRPC.
The edge holds certificate chains only, never a site private key.

With 'workers: N' (or auto) in the config, N processes run the whole edge on the shared
listener and this one runs the admin API.

options:
  --config FILE   YAML configuration (see README: "Edge configuration")
  --check         validate the configuration and the chains, print what would be served, exit

signals:
  SIGHUP          reload certificates (and the HTTP pipeline's origins, cache rules, WAF);
                  a bad new config is rejected and the old one keeps serving. With workers,
                  the primary reloads them all; a worker ignores a SIGHUP of its own
  SIGINT/SIGTERM  stop: refuse new connections, close open ones with close_notify, exit`,

  async run(args) {
    const { values } = parseArgs({ args, options: { config: { type: 'string' }, check: { type: 'boolean', default: false } }, strict: true, allowPositionals: false });
    if (!values.config) throw new UsageError('--config FILE is required');
    // SIGHUP's default action ends the process, so the handler is in place from the start: a
    // hangup while the edge starts (a terminal closed, `kill -HUP` right after "edge ready") is
    // applied once it runs. A worker ignores it: a hangup of the whole process group reaches the
    // primary too, which reloads every worker over IPC.
    let edge: Edge | EdgeCluster | undefined;
    let hangupWhileStarting = false;
    process.on('SIGHUP', () => {
      if (cluster.isWorker) return;
      if (edge) reload(edge);
      else hangupWhileStarting = true;
    });
    const config = await loadEdgeConfig(values.config);
    const log = pino({ level: config.log.level, base: { service: 'keyless-edge' } });
    if (values.check) {
      const { checkClientCredential, loadServedChains } = await import('../edge/served-chains.js');
      const chains = await loadServedChains(config, { sign: () => Promise.reject(new Error('--check does not sign')) });
      await checkClientCredential(config, chains);
      for (const c of chains) process.stdout.write(`${c.name}  key ${c.parsed.keyId}  ${c.hostnames.join(', ')}\n`);
      process.stdout.write(`configuration ${values.config} is valid\n`);
      return 0;
    }
    const workers = config.workers === 'auto' ? availableParallelism() : config.workers;
    if (cluster.isWorker) {
      const { runEdgeWorker } = await import('../edge/cluster/edge-worker.js');
      await runEdgeWorker(config, values.config, Number(process.env.KEYLESS_EDGE_WORKER ?? 0), log);
      // The worker runs until the primary stops it.
      await new Promise(() => undefined);
      return 0;
    }
    function reload(running: Edge | EdgeCluster): void {
      log.info('SIGHUP: reloading configuration');
      // The edge logs what it applied or why it refused; a cluster may also fail to ask a worker.
      running.reload().then(
        (result) => {
          if (running instanceof Edge) return;
          if (result.applied) log.info('configuration reloaded in every worker');
          else log.error({ reason: result.reason }, 'configuration reload rejected; the previous configuration keeps serving');
        },
        (err: unknown) => log.error({ err: { message: (err as Error).message } }, 'configuration reload failed'),
      );
    }
    edge = workers > 1 ? await (await import('../edge/cluster/edge-cluster.js')).EdgeCluster.start({ config, workers, log }) : await Edge.start({ config, configFile: values.config, log, processMetrics: true });
    if (hangupWhileStarting) reload(edge);
    const failure = edge instanceof Edge ? new Promise<never>(() => undefined) : edge.failed;
    const code = await Promise.race([
      untilStopSignal((signal) => log.info({ signal }, 'stopping')).then(() => 0),
      failure.then((err) => {
        log.error({ err: { message: err.message } }, 'stopping');
        return 1;
      }),
    ]);
    await edge.stop();
    return code;
  },
};

// Full TLS 1.3 handshakes per second and p50/p99 handshake latency, ECDSA P-256 and RSA-2048, at
// concurrency 1 and 16:
//   keyless   `keyless edge` in its own process, signing through `keyless keyserver` in another
//   node:tls  an https server holding the same keys itself (the baseline)
// with the same load generator (Node's tls client, no resumption) in this process, in the same run.
// CPU seconds are read from /proc for each server process: "per CPU-second" divides by the
// edge's (or node:tls's) own CPU time, which is where an edge saves by not signing.
//
//   npm run bench:handshake [-- --seconds 4] [--quick] [--json]
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { KeylessProcess } from '../cli/keyless-process.js';
import { devEdgeConfigYaml } from '../edge/dev-config.js';
import { startBenchServer } from './lib/bench-server-process.js';
import { processCpuSeconds } from './lib/cpu-time.js';
import { startKeyServerUnderTest } from './lib/keyserver-under-test.js';
import { renderTable } from './lib/table.js';
import { handshakeLoad } from './lib/tls-load.js';

interface Cell {
  readonly server: 'keyless' | 'node:tls';
  readonly key: 'ecdsa-p256' | 'rsa-2048';
  readonly concurrency: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  /** Handshakes per CPU-second of the TLS server process (the edge, or node:tls). */
  readonly perServerCpuSecond: number;
  /** For keyless: per CPU-second of edge + key server together. */
  readonly perTotalCpuSecond: number;
}

const KEYS = [
  ['ecdsa-p256', 'ecdsa_secp256r1_sha256'],
  ['rsa-2048', 'rsa_pss_rsae_sha256'],
] as const;

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { seconds: { type: 'string' }, quick: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } }, strict: true });
  const durationMs = values.quick ? 300 : Number(values.seconds ?? 4) * 1000;
  const concurrencies = values.quick ? [1, 4] : [1, 16];

  const keyServer = await startKeyServerUnderTest();
  const pkiDir = keyServer.pki.dir;
  const edgeConfig = path.join(pkiDir, '..', 'edge.yaml');
  await writeFile(
    edgeConfig,
    devEdgeConfigYaml({ pkiDir, listen: '127.0.0.1:0', keyServers: [keyServer.address], extra: 'limits: { maxPendingSignatures: 100000, maxConnections: 100000 }\nlog: { level: info }\n' }),
  );
  const { process: edge, ready } = await KeylessProcess.start({ args: ['edge', '--config', edgeConfig], readyMessage: 'edge ready' });
  const edgePort = Number(String(ready.listen).split(':').pop());
  const baseline = await startBenchServer('node', pkiDir);
  const ca = await readFile(keyServer.pki.edge.ca);
  const cells: Cell[] = [];
  try {
    for (const [key, sigalgs] of KEYS) {
      for (const concurrency of concurrencies) {
        for (const server of ['node:tls', 'keyless'] as const) {
          const port = server === 'keyless' ? edgePort : baseline.port;
          const serverPid = server === 'keyless' ? edge.pid : baseline.pid;
          // Warm-up: JIT, connection paths, the key server's stream.
          await handshakeLoad({ port, ca, sigalgs, concurrency, durationMs: Math.min(500, durationMs) });
          const cpu0 = await processCpuSeconds(serverPid);
          const ks0 = server === 'keyless' ? await processCpuSeconds(keyServer.pid) : 0;
          const result = await handshakeLoad({ port, ca, sigalgs, concurrency, durationMs });
          const serverCpu = ((await processCpuSeconds(serverPid)) ?? NaN) - (cpu0 ?? NaN);
          const keyServerCpu = server === 'keyless' ? ((await processCpuSeconds(keyServer.pid)) ?? NaN) - (ks0 ?? NaN) : 0;
          cells.push({
            server,
            key,
            concurrency,
            perSecond: result.handshakes / result.seconds,
            p50: result.latency.percentile(50),
            p99: result.latency.percentile(99),
            errors: result.errors,
            perServerCpuSecond: result.handshakes / serverCpu,
            perTotalCpuSecond: result.handshakes / (serverCpu + keyServerCpu),
          });
        }
      }
    }
  } finally {
    await Promise.allSettled([edge.stop(), baseline.stop()]);
    await keyServer.stop();
  }
  if (values.json) {
    process.stdout.write(JSON.stringify(cells, null, 2) + '\n');
    return 0;
  }
  const baselineOf = (c: Cell): Cell | undefined => cells.find((b) => b.server === 'node:tls' && b.key === c.key && b.concurrency === c.concurrency);
  const f0 = (n: number): string => (Number.isFinite(n) ? n.toFixed(0) : '-');
  const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '-');
  const rows = cells.map((c) => {
    const b = baselineOf(c)!;
    return [
      c.server,
      c.key,
      String(c.concurrency),
      f0(c.perSecond),
      f2(c.p50),
      f2(c.p99),
      f0(c.perServerCpuSecond),
      c.server === 'keyless' ? f0(c.perTotalCpuSecond) : '-',
      c.server === 'keyless' ? f2(c.perSecond / b.perSecond) : '',
      c.server === 'keyless' ? f2(c.perServerCpuSecond / b.perServerCpuSecond) : '',
      c.server === 'keyless' ? f2(c.p50 - b.p50) : '',
      String(c.errors),
    ];
  });
  process.stdout.write(
    renderTable(
      [
        { title: 'server' },
        { title: 'key' },
        { title: 'conc', align: 'right' },
        { title: 'hs/s', align: 'right' },
        { title: 'p50 ms', align: 'right' },
        { title: 'p99 ms', align: 'right' },
        { title: 'hs/server-CPU-s', align: 'right' },
        { title: 'hs/(edge+ks)-CPU-s', align: 'right' },
        { title: 'ratio hs/s', align: 'right' },
        { title: 'ratio per CPU-s', align: 'right' },
        { title: '+p50 ms', align: 'right' },
        { title: 'errors', align: 'right' },
      ],
      rows,
    ) + '\n',
  );
  process.stdout.write('ratio = keyless / node:tls with the same key and concurrency; +p50 = added median latency of the remote signature.\n');
  return 0;
}

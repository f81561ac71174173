// Full TLS 1.3 handshakes per second and p50/p99 handshake latency, ECDSA P-256 and RSA-2048, at
// concurrency 1 and 16:
//   keyless   `keyless edge` in its own process, signing through `keyless keyserver` in another
//   node:tls  an https server holding the same keys itself (the baseline)
// with the same load generator (Node's tls client, no resumption) in this process, in the same run.
// With --passes N each cell is measured N times, node:tls and keyless alternating (the order
// swapped every pass), and the table shows medians, with the range of the per-pass ratios: on a
// shared VM whose speed drifts within minutes, one pass of each can differ by a third.
// CPU seconds are read from /proc for each server process: "per CPU-second" divides by the
// edge's (or node:tls's) own CPU time, which is where an edge saves by not signing.
//
// With --resume every caller resumes with the ticket of its previous handshake (RFC 8446 §2.2):
// no certificate and no signature, so the key server is out of the path; the "resumed" column
// says what share of the handshakes each server did resume.
//
//   npm run bench:handshake [-- --seconds 4] [--passes 3] [--resume] [--quick] [--json] [--profile DIR]
//   --profile DIR writes a V8 CPU profile of the edge and one of the key server to DIR (node --cpu-prof).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { KeylessProcess } from '../cli/keyless-process.js';
import { devEdgeConfigYaml } from '../edge/dev-config.js';
import { startBenchServer } from './lib/bench-server-process.js';
import { processCpuSeconds } from './lib/cpu-time.js';
import { startKeyServerUnderTest } from './lib/keyserver-under-test.js';
import { median } from './lib/latency.js';
import { renderTable } from './lib/table.js';
import { handshakeLoad } from './lib/tls-load.js';

interface Cell {
  readonly server: 'keyless' | 'node:tls';
  readonly key: 'ecdsa-p256' | 'rsa-2048';
  readonly concurrency: number;
  /** 0-based; with --passes N every cell is measured N times. */
  readonly pass: number;
  readonly perSecond: number;
  /** Share of the handshakes the server resumed. */
  readonly resumedShare: number;
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
  const { values } = parseArgs({
    args,
    options: { seconds: { type: 'string' }, passes: { type: 'string' }, resume: { type: 'boolean', default: false }, quick: { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, profile: { type: 'string' } },
    strict: true,
  });
  const durationMs = values.quick ? 300 : Number(values.seconds ?? 4) * 1000;
  const passes = Number(values.passes ?? 1);
  if (!Number.isInteger(passes) || passes < 1 || passes > 20) throw new Error('--passes: an integer from 1 to 20');
  const concurrencies = values.quick ? [1, 4] : [1, 16];
  const resume = values.resume;

  const keyServer = await startKeyServerUnderTest(values.profile !== undefined ? { profileDir: values.profile } : {});
  const pkiDir = keyServer.pki.dir;
  const edgeConfig = path.join(pkiDir, '..', 'edge.yaml');
  await writeFile(
    edgeConfig,
    devEdgeConfigYaml({ pkiDir, listen: '127.0.0.1:0', keyServers: [keyServer.address], extra: 'limits: { maxPendingSignatures: 100000, maxConnections: 100000 }\nlog: { level: info }\n' }),
  );
  const profileArgs = values.profile !== undefined ? ['--cpu-prof', '--cpu-prof-dir', values.profile] : [];
  const { process: edge, ready } = await KeylessProcess.start({ args: ['edge', '--config', edgeConfig], readyMessage: 'edge ready', nodeArgs: profileArgs });
  const edgePort = Number(String(ready.listen).split(':').pop());
  const baseline = await startBenchServer('node', pkiDir);
  const ca = await readFile(keyServer.pki.edge.ca);
  const cells: Cell[] = [];
  try {
    for (const [key, sigalgs] of KEYS) {
      for (const concurrency of concurrencies) {
        for (let pass = 0; pass < passes; pass++) {
        for (const server of pass % 2 === 0 ? (['node:tls', 'keyless'] as const) : (['keyless', 'node:tls'] as const)) {
          const port = server === 'keyless' ? edgePort : baseline.port;
          const serverPid = server === 'keyless' ? edge.pid : baseline.pid;
          // Warm-up: JIT, connection paths, the key server's stream.
          await handshakeLoad({ port, ca, sigalgs, concurrency, resume, durationMs: Math.min(500, durationMs) });
          const cpu0 = await processCpuSeconds(serverPid);
          const ks0 = server === 'keyless' ? await processCpuSeconds(keyServer.pid) : 0;
          const result = await handshakeLoad({ port, ca, sigalgs, concurrency, resume, durationMs });
          const serverCpu = ((await processCpuSeconds(serverPid)) ?? NaN) - (cpu0 ?? NaN);
          const keyServerCpu = server === 'keyless' ? ((await processCpuSeconds(keyServer.pid)) ?? NaN) - (ks0 ?? NaN) : 0;
          cells.push({
            server,
            key,
            concurrency,
            pass,
            perSecond: result.handshakes / result.seconds,
            resumedShare: result.handshakes > 0 ? result.resumed / result.handshakes : 0,
            p50: result.latency.percentile(50),
            p99: result.latency.percentile(99),
            errors: result.errors,
            perServerCpuSecond: result.handshakes / serverCpu,
            perTotalCpuSecond: result.handshakes / (serverCpu + keyServerCpu),
          });
        }
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
  const f0 = (n: number): string => (Number.isFinite(n) ? n.toFixed(0) : '-');
  const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '-');
  const rows: string[][] = [];
  for (const [key] of KEYS) {
    for (const concurrency of concurrencies) {
      const of = (server: Cell['server']): Cell[] => cells.filter((c) => c.server === server && c.key === key && c.concurrency === concurrency).sort((a, b) => a.pass - b.pass);
      const base = of('node:tls');
      const ours = of('keyless');
      const ratios = ours.map((c, i) => c.perSecond / base[i]!.perSecond);
      const cpuRatios = ours.map((c, i) => c.perServerCpuSecond / base[i]!.perServerCpuSecond);
      const added = ours.map((c, i) => c.p50 - base[i]!.p50);
      const pick = (list: Cell[], field: 'perSecond' | 'p50' | 'p99' | 'perServerCpuSecond' | 'perTotalCpuSecond'): number => median(list.map((c) => c[field]));
      const errors = (list: Cell[]): string => String(list.reduce((n, c) => n + c.errors, 0));
      const range = (list: number[]): string => (list.length > 1 ? `${f2(Math.min(...list))}–${f2(Math.max(...list))}` : '');
      const resumedPercent = (list: Cell[]): string => `${(median(list.map((c) => c.resumedShare)) * 100).toFixed(0)}%`;
      rows.push(['node:tls', key, String(concurrency), f0(pick(base, 'perSecond')), f2(pick(base, 'p50')), f2(pick(base, 'p99')), f0(pick(base, 'perServerCpuSecond')), '-', '', '', '', '', resumedPercent(base), errors(base)]);
      rows.push([
        'keyless',
        key,
        String(concurrency),
        f0(pick(ours, 'perSecond')),
        f2(pick(ours, 'p50')),
        f2(pick(ours, 'p99')),
        f0(pick(ours, 'perServerCpuSecond')),
        f0(pick(ours, 'perTotalCpuSecond')),
        f2(median(ratios)),
        range(ratios),
        f2(median(cpuRatios)),
        f2(median(added)),
        resumedPercent(ours),
        errors(ours),
      ]);
    }
  }
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
        { title: 'ratio range', align: 'right' },
        { title: 'ratio per CPU-s', align: 'right' },
        { title: '+p50 ms', align: 'right' },
        { title: 'resumed', align: 'right' },
        { title: 'errors', align: 'right' },
      ],
      rows,
    ) + '\n',
  );
  process.stdout.write(
    resume
      ? 'ratio = keyless / node:tls with the same key and concurrency, every caller resuming its last session (no certificate, no signature); +p50 = added median latency.\n'
      : 'ratio = keyless / node:tls with the same key and concurrency; +p50 = added median latency of the remote signature.\n',
  );
  if (passes > 1) process.stdout.write(`${passes} passes per cell, alternating: medians of the passes; "ratio range" is the lowest and highest per-pass ratio.\n`);
  return 0;
}

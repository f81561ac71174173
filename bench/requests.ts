// Small requests: requests per second of 1 KiB responses over keep-alive TLS 1.3 from
//   keyless   the edge's TLS stack (edge/tls) under node's http.Server, in its own process
//   node:tls  an https server (OpenSSL) with the same handler, in its own process
// with the same load generator (wrk -c32) in the same run, passes alternating. It is the floor
// of the proxy benchmark: the same response as a cache hit, without the edge's pipeline, so
// `bench:proxy` minus this is what the pipeline and the cache cost.
//
//   npm run bench:requests [-- --seconds 5] [--passes 2] [--connections 32] [--quick] [--json]
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateDevPki } from '../certs/index.js';
import { startBenchServer } from './lib/bench-server-process.js';
import { processCpuSeconds } from './lib/cpu-time.js';
import { median } from './lib/latency.js';
import { renderTable } from './lib/table.js';
import { runWrk } from './lib/wrk.js';

interface Row {
  readonly server: 'keyless' | 'node:tls';
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  /** Server-process CPU per request, µs. */
  readonly cpuMicrosPerRequest: number;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { seconds: { type: 'string' }, passes: { type: 'string' }, connections: { type: 'string' }, quick: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
    strict: true,
  });
  const seconds = values.quick ? 1 : Number(values.seconds ?? 5);
  const passes = values.quick ? 1 : Number(values.passes ?? 2);
  const connections = Number(values.connections ?? 32);
  if (!(seconds > 0) || !(passes >= 1) || !(connections >= 1)) {
    process.stderr.write('--seconds, --passes and --connections must be positive numbers\n');
    return 2;
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'keyless-requests-'));
  const samples = new Map<Row['server'], { rps: number[]; p50: number[]; cpu: number[] }>([
    ['node:tls', { rps: [], p50: [], cpu: [] }],
    ['keyless', { rps: [], p50: [], cpu: [] }],
  ]);
  try {
    const pki = await generateDevPki(path.join(dir, 'pki'));
    const servers = { 'node:tls': await startBenchServer('node', pki.dir), keyless: await startBenchServer('keyless', pki.dir) };
    try {
      for (let pass = 0; pass < passes; pass++) {
        for (const name of ['node:tls', 'keyless'] as const) {
          const server = servers[name];
          const url = `https://127.0.0.1:${server.port}/1k`;
          await runWrk({ url, host: 'localhost', connections, threads: 1, seconds: 1 });
          const cpu0 = (await processCpuSeconds(server.pid)) ?? NaN;
          const r = await runWrk({ url, host: 'localhost', connections, threads: 1, seconds });
          const cpu = ((await processCpuSeconds(server.pid)) ?? NaN) - cpu0;
          const s = samples.get(name)!;
          s.rps.push(r.requestsPerSecond);
          s.p50.push(r.p50Ms);
          s.cpu.push(r.requests > 0 ? (cpu * 1e6) / r.requests : NaN);
        }
      }
    } finally {
      await servers['node:tls'].stop();
      await servers.keyless.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const rows: Row[] = [...samples].map(([server, s]) => ({ server, requestsPerSecond: median(s.rps), p50Ms: median(s.p50), cpuMicrosPerRequest: median(s.cpu) }));
  if (values.json) {
    process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    return 0;
  }
  const base = rows.find((r) => r.server === 'node:tls')!;
  process.stdout.write(
    renderTable(
      [{ title: 'server' }, { title: 'req/s', align: 'right' }, { title: 'p50 ms', align: 'right' }, { title: 'server CPU µs/req', align: 'right' }, { title: 'ratio req/s', align: 'right' }],
      rows.map((r) => [r.server, r.requestsPerSecond.toFixed(0), r.p50Ms.toFixed(2), r.cpuMicrosPerRequest.toFixed(0), r.server === 'keyless' ? (r.requestsPerSecond / base.requestsPerSecond).toFixed(2) : '']),
    ) + `\nwrk -t1 -c${connections}, ${seconds} s per cell, medians of ${passes} alternating pass${passes === 1 ? '' : 'es'}; 1 KiB responses with a cache hit's headers, keep-alive TLS 1.3.\n`,
  );
  return 0;
}

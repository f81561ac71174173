// Requests per second and p50/p99 latency over keep-alive TLS 1.3, 1 KiB responses, for cache
// hits and for pass-through to the origin, through
//   keyless   `keyless edge` (its key server in its own process; handshakes are few with keep-alive)
//   nginx     Debian's nginx with TLS 1.3 and proxy_cache, holding the same site key itself
// in front of the same origin (bench/lib/proxy-origin.ts), with the same load generator (wrk),
// in the same run. Access logs are off on both.
//
//   npm run bench:proxy [-- --seconds 5] [--connections 32] [--threads 1] [--workers N] [--quick] [--json]
//                       [--profile DIR]   a V8 CPU profile of the edge into DIR (node --cpu-prof)
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startBenchScript } from './lib/bench-server-process.js';
import { startEdgeUnderTest, type EdgeUnderTest } from './lib/edge-under-test.js';
import { startKeyServerUnderTest } from './lib/keyserver-under-test.js';
import { startNginx } from './lib/nginx.js';
import { renderTable } from './lib/table.js';
import { runWrk, type WrkResult } from './lib/wrk.js';

interface Cell extends WrkResult {
  readonly server: 'keyless' | 'nginx';
  readonly route: 'cache hit' | 'pass-through';
}

/** One cell: wrk against a route after a one-second warm-up (fills the cache, opens origin connections, JIT). */
export async function measureRoute(port: number, route: 'cache hit' | 'pass-through', load: { connections: number; threads: number; seconds: number }): Promise<WrkResult> {
  const url = `https://127.0.0.1:${port}/${route === 'cache hit' ? 'cached' : 'pass'}/1k`;
  await runWrk({ url, host: 'localhost', connections: load.connections, threads: load.threads, seconds: 1 });
  return runWrk({ url, host: 'localhost', ...load });
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      seconds: { type: 'string' },
      connections: { type: 'string' },
      threads: { type: 'string' },
      workers: { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'extra-config': { type: 'string' },
      profile: { type: 'string' },
    },
    strict: true,
  });
  const seconds = values.quick ? 1 : Number(values.seconds ?? 5);
  const connections = Number(values.connections ?? 32);
  const threads = Number(values.threads ?? 1);
  const workers = values.workers ?? '1';

  const keyServer = await startKeyServerUnderTest();
  const pki = keyServer.pki;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'keyless-proxy-bench-'));
  const origin = await startBenchScript('proxy-origin.ts', ['--pki', pki.dir]);
  const cells: Cell[] = [];
  let edge: EdgeUnderTest | undefined;
  let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;
  try {
    edge = await startEdgeUnderTest({ pki, keyServer: keyServer.address, originPort: origin.port, dir, name: 'edge', workers, ...(values['extra-config'] ? { extra: values['extra-config'] } : {}), ...(values.profile ? { profileDir: values.profile } : {}) });
    nginx = await startNginx(path.join(dir, 'nginx'), pki, origin.port);
    for (const route of ['cache hit', 'pass-through'] as const) {
      for (const [server, port] of [
        ['nginx', nginx.port],
        ['keyless', edge.port],
      ] as const) {
        cells.push({ server, route, ...(await measureRoute(port, route, { connections, threads, seconds })) });
      }
    }
  } finally {
    await edge?.stop();
    await nginx?.stop();
    await origin.stop();
    await keyServer.stop();
    await rm(dir, { recursive: true, force: true });
  }
  if (values.json) {
    process.stdout.write(JSON.stringify(cells, null, 2) + '\n');
    return 0;
  }
  const baseline = (c: Cell): Cell => cells.find((b) => b.server === 'nginx' && b.route === c.route)!;
  process.stdout.write(
    renderTable(
      [{ title: 'route' }, { title: 'server' }, { title: 'req/s', align: 'right' }, { title: 'p50 ms', align: 'right' }, { title: 'p99 ms', align: 'right' }, { title: 'vs nginx', align: 'right' }, { title: 'errors', align: 'right' }],
      cells.map((c) => [c.route, c.server === 'keyless' ? `keyless (${workers} worker${workers === '1' ? '' : 's'})` : 'nginx (1 worker)', c.requestsPerSecond.toFixed(0), c.p50Ms.toFixed(2), c.p99Ms.toFixed(2), c.server === 'keyless' ? (c.requestsPerSecond / baseline(c).requestsPerSecond).toFixed(2) : '', String(c.errors)]),
    ) + '\n',
  );
  process.stdout.write(`wrk -t${threads} -c${connections}, ${seconds} s per cell, 1 KiB bodies, keep-alive TLS 1.3.\n`);
  return 0;
}

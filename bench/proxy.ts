// Requests per second and p50/p99 latency over keep-alive TLS 1.3, 1 KiB responses, for cache
// hits and for pass-through to the origin, through
//   keyless   `keyless edge` (its key server in its own process; handshakes are few with keep-alive)
//   nginx     Debian's nginx with TLS 1.3 and proxy_cache, holding the same site key itself
// in front of the same origin (bench/lib/proxy-origin.ts), with the same load generator (wrk),
// in the same run. Access logs are off on both.
//
//   npm run bench:proxy [-- --seconds 5] [--connections 32] [--threads 1] [--workers N] [--quick] [--json]
//                       [--profile DIR]   a V8 CPU profile of the edge into DIR (node --cpu-prof)
//                       [--origin-http2]  the origin serves h2 too, and the edge speaks it (origins[].http2);
//                                         nginx 1.22 proxies over HTTP/1.1 only
//                       [--http2]         HTTP/2 for both servers, with h2load (nghttp2-client) instead
//                                         of wrk: --connections TLS connections (default 8), each with
//                                         --streams requests in flight (default 8); latency is the mean.
//                                         No request limit per connection on either server (h2load does
//                                         not reconnect after GOAWAY).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startBenchScript } from './lib/bench-server-process.js';
import { startEdgeUnderTest, type EdgeUnderTest } from './lib/edge-under-test.js';
import { startKeyServerUnderTest } from './lib/keyserver-under-test.js';
import { startNginx } from './lib/nginx.js';
import { renderTable } from './lib/table.js';
import { runH2load } from './lib/h2load.js';
import { runWrk, type WrkResult } from './lib/wrk.js';

interface Cell extends WrkResult {
  readonly server: 'keyless' | 'nginx';
  readonly route: 'cache hit' | 'pass-through';
}

function routeUrl(port: number, route: 'cache hit' | 'pass-through'): string {
  return `https://127.0.0.1:${port}/${route === 'cache hit' ? 'cached' : 'pass'}/1k`;
}

/**
 * One HTTP/2 cell: a warm-up of 2,000 requests, then as many requests as the warm-up's rate
 * makes in `seconds`. p50/p99 are not measured: the mean stands in for p50.
 */
async function measureRouteHttp2(port: number, route: 'cache hit' | 'pass-through', load: { connections: number; streams: number; threads: number; seconds: number }): Promise<WrkResult> {
  const options = { url: routeUrl(port, route), authority: 'localhost', clients: load.connections, streams: load.streams, threads: load.threads };
  const warm = await runH2load({ ...options, requests: 2_000 });
  const r = await runH2load({ ...options, requests: warm.requestsPerSecond * load.seconds });
  return { requestsPerSecond: r.requestsPerSecond, p50Ms: r.meanMs, p99Ms: Number.NaN, requests: r.requests, errors: r.errors };
}

/** One cell: wrk against a route after a one-second warm-up (fills the cache, opens origin connections, JIT). */
export async function measureRoute(port: number, route: 'cache hit' | 'pass-through', load: { connections: number; threads: number; seconds: number }): Promise<WrkResult> {
  const url = routeUrl(port, route);
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
      http2: { type: 'boolean', default: false },
      streams: { type: 'string' },
      'origin-http2': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const http2 = values.http2;
  const seconds = values.quick ? 1 : Number(values.seconds ?? 5);
  const connections = Number(values.connections ?? (http2 ? 8 : 32));
  const streams = Number(values.streams ?? 8);
  const threads = Number(values.threads ?? 1);
  const workers = values.workers ?? '1';

  const keyServer = await startKeyServerUnderTest();
  const pki = keyServer.pki;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'keyless-proxy-bench-'));
  const originHttp2 = values['origin-http2'];
  const origin = await startBenchScript('proxy-origin.ts', ['--pki', pki.dir, ...(originHttp2 ? ['--http2'] : [])]);
  const cells: Cell[] = [];
  let edge: EdgeUnderTest | undefined;
  let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;
  try {
    const extra = `${http2 ? 'http: { maxRequestsPerConnection: 0 }\n' : ''}${values['extra-config'] ?? ''}`;
    edge = await startEdgeUnderTest({ pki, keyServer: keyServer.address, originPort: origin.port, dir, name: 'edge', workers, originHttp2, ...(extra ? { extra } : {}), ...(values.profile ? { profileDir: values.profile } : {}) });
    nginx = await startNginx(path.join(dir, 'nginx'), pki, origin.port, 1, { http2 });
    for (const route of ['cache hit', 'pass-through'] as const) {
      for (const [server, port] of [
        ['nginx', nginx.port],
        ['keyless', edge.port],
      ] as const) {
        const result = http2 ? await measureRouteHttp2(port, route, { connections, streams, threads, seconds }) : await measureRoute(port, route, { connections, threads, seconds });
        cells.push({ server, route, ...result });
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
      [{ title: 'route' }, { title: 'server' }, { title: 'req/s', align: 'right' }, { title: http2 ? 'mean ms' : 'p50 ms', align: 'right' }, { title: 'p99 ms', align: 'right' }, { title: 'vs nginx', align: 'right' }, { title: 'errors', align: 'right' }],
      cells.map((c) => [c.route, c.server === 'keyless' ? `keyless (${workers} worker${workers === '1' ? '' : 's'})` : 'nginx (1 worker)', c.requestsPerSecond.toFixed(0), c.p50Ms.toFixed(2), Number.isNaN(c.p99Ms) ? '-' : c.p99Ms.toFixed(2), c.server === 'keyless' ? (c.requestsPerSecond / baseline(c).requestsPerSecond).toFixed(2) : '', String(c.errors)]),
    ) + '\n',
  );
  process.stdout.write(
    http2
      ? `HTTP/2: h2load -t${threads} -c${connections} -m${streams}, about ${seconds} s per cell (requests sized from a warm-up of 2,000), 1 KiB bodies, TLS 1.3.\n`
      : `wrk -t${threads} -c${connections}, ${seconds} s per cell, 1 KiB bodies, keep-alive TLS 1.3.\n`,
  );
  if (originHttp2) process.stdout.write('Origin: HTTP/2 toward the edge (origins[].http2: true); nginx proxies to it over HTTP/1.1.\n');
  return 0;
}

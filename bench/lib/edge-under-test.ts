// The edge for the proxy benchmarks, run as deployed (`keyless edge --config`, its own process),
// in front of the benchmark origin (bench/lib/proxy-origin.ts), signing through a key server in
// its own process. Access logs are off: one JSON line per request would dominate a 1 KiB response.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KeylessProcess } from '../../cli/keyless-process.js';
import type { DevPkiLayout } from '../../certs/index.js';
import { devEdgeConfigYaml } from '../../edge/dev-config.js';

export interface EdgeUnderTest {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface EdgeUnderTestOptions {
  readonly pki: DevPkiLayout;
  readonly keyServer: string;
  readonly originPort: number;
  /** Where its config file goes. */
  readonly dir: string;
  readonly name: string;
  readonly workers?: string;
  /** More top-level YAML (a waf: section, say). */
  readonly extra?: string;
  /** Write a V8 CPU profile of the edge into this directory (node --cpu-prof). */
  readonly profileDir?: string;
  /** Offer h2 to the origin (origins[].http2). */
  readonly originHttp2?: boolean;
}

export async function startEdgeUnderTest(options: EdgeUnderTestOptions): Promise<EdgeUnderTest> {
  const file = path.join(options.dir, `${options.name}.yaml`);
  await writeFile(
    file,
    devEdgeConfigYaml({
      pkiDir: options.pki.dir,
      listen: '127.0.0.1:0',
      keyServers: [options.keyServer],
      extra: `${options.workers && options.workers !== '1' ? `workers: ${options.workers}\n` : ''}origins:
  - hostnames: [localhost]
    url: https://127.0.0.1:${options.originPort}
    ca: ${options.pki.edge.ca}
    serverName: localhost
    connections: 64
${options.originHttp2 ? '    http2: true\n' : ''}cache: { store: { type: memory } }
log: { level: info, access: false }
${options.extra ?? ''}`,
    }),
  );
  const { process: edge, ready } = await KeylessProcess.start({
    args: ['edge', '--config', file],
    nodeArgs: options.profileDir ? ['--cpu-prof', '--cpu-prof-dir', options.profileDir] : [],
    readyMessage: 'edge ready', readyTimeoutMs: 60_000 });
  return { port: Number(String(ready.listen).split(':').pop()), pid: edge.pid, stop: async () => void (await edge.stop()) };
}

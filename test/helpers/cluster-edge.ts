// `keyless edge` with `workers: 2` as a child process, in front of one origin with a memory cache:
// the set-up the cluster tests share.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KeylessProcess } from '../../cli/keyless-process.js';
import type { DemoOrigin } from '../../demo/origin/index.js';
import { devEdgeConfigYaml } from '../../edge/dev-config.js';
import { originSection } from './full-stack.js';
import type { KeyServerFixture } from './keyserver-fixture.js';
import { tempDir } from './tmp.js';

export interface ClusterEdge {
  readonly process: KeylessProcess;
  readonly ready: Record<string, unknown>;
  /** The TLS port. */
  readonly port: number;
  /** Stops the edge and removes its directory. */
  stop(): Promise<void>;
}

export async function startClusterEdge(options: {
  readonly keyServer: KeyServerFixture;
  readonly originUrl: string;
  /** Top-level YAML appended to the config (admin: ..., say). */
  readonly extra?: string;
  readonly env?: NodeJS.ProcessEnv;
}): Promise<ClusterEdge> {
  const { keyServer } = options;
  const t = await tempDir('edge-cluster');
  try {
    const file = path.join(t.dir, 'edge.yaml');
    await writeFile(
      file,
      devEdgeConfigYaml({
        pkiDir: keyServer.pki.dir,
        listen: '127.0.0.1:0',
        keyServers: [keyServer.address],
        extra: `workers: 2\n${originSection(keyServer.pki, { url: options.originUrl } as DemoOrigin)}cache: { store: { type: memory } }\n${options.extra ?? ''}log: { level: info, access: false }\n`,
      }),
    );
    const started = await KeylessProcess.start({ args: ['edge', '--config', file], readyMessage: 'edge ready', env: { ...process.env, ...options.env }, readyTimeoutMs: 60_000 });
    return {
      process: started.process,
      ready: started.ready,
      port: Number(String(started.ready.listen).split(':').pop()),
      async stop() {
        await started.process.stop();
        await t.cleanup();
      },
    };
  } catch (err) {
    await t.cleanup();
    throw err;
  }
}

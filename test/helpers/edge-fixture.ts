// A real edge in this process: the dev config written to a temporary file, loaded and validated
// like `keyless edge --config` does, started on 127.0.0.1 (ephemeral port) against real key servers.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import type { DevPkiLayout } from '../../certs/index.js';
import { loadEdgeConfig } from '../../edge/config.js';
import { devEdgeConfigYaml } from '../../edge/dev-config.js';
import { Edge } from '../../edge/edge.js';
import { tempDir } from './tmp.js';

export interface EdgeFixtureOptions {
  readonly pki: DevPkiLayout;
  /** "host:port" of each key server. */
  readonly keyServers: readonly string[];
  readonly edge?: 'edge-1' | 'edge-2';
  /** YAML appended to the dev config (top-level sections). */
  readonly extra?: string;
  /** Replaces lines of the generated config: [search, replacement]. */
  readonly replace?: readonly [string | RegExp, string][];
  /** tls.alpn (default: HTTP/1.1 only). */
  readonly alpn?: readonly ('h2' | 'http/1.1')[];
  readonly log?: Logger;
}

export interface EdgeFixture {
  readonly edge: Edge;
  readonly port: number;
  readonly configFile: string;
  close(): Promise<void>;
}

export async function writeEdgeConfig(dir: string, options: EdgeFixtureOptions): Promise<string> {
  let yaml = devEdgeConfigYaml({ pkiDir: options.pki.dir, listen: '127.0.0.1:0', keyServers: options.keyServers, ...(options.edge ? { edge: options.edge } : {}), ...(options.extra ? { extra: options.extra } : {}), ...(options.alpn ? { alpn: options.alpn } : {}) });
  for (const [search, replacement] of options.replace ?? []) yaml = yaml.replace(search, replacement);
  const file = path.join(dir, 'edge.yaml');
  await writeFile(file, yaml);
  return file;
}

export async function startEdgeFixture(options: EdgeFixtureOptions): Promise<EdgeFixture> {
  const { dir, cleanup } = await tempDir('edge');
  try {
    const configFile = await writeEdgeConfig(dir, options);
    const config = await loadEdgeConfig(configFile);
    const edge = await Edge.start({ config, configFile, log: options.log ?? pino({ level: 'silent' }) });
    return {
      edge,
      port: edge.port,
      configFile,
      async close() {
        await edge.stop();
        await cleanup();
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

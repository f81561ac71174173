// The whole system for end-to-end tests: a real key server, the demo HTTPS origin (its own
// certificate from the dev CA), and the real edge in front with origins, cache and admin API
// configured, all on loopback.
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { DevPkiLayout } from '../../certs/index.js';
import { startDemoOrigin, type DemoOrigin, type DemoOriginOptions } from '../../demo/origin/index.js';
import { startEdgeFixture, type EdgeFixture } from './edge-fixture.js';
import { startKeyServerFixture, type KeyServerFixture } from './keyserver-fixture.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';
const TOKEN_ENV = 'KEYLESS_TEST_ADMIN_TOKEN';

export interface FullStackOptions {
  readonly origin?: Partial<DemoOriginOptions>;
  /** YAML of the origins entry's extra fields (indented for the list item), e.g. "      mode: pinned\n". */
  readonly originExtra?: string;
  /** The `cache:` section's YAML body (indented by two), default a memory store. */
  readonly cache?: string | null;
  /** Top-level YAML appended to the config. */
  readonly extra?: string;
  readonly pki?: DevPkiLayout;
  /** Reuse a running key server. */
  readonly keyServer?: KeyServerFixture;
  /** The edge's logger (default: silent). */
  readonly log?: Logger;
  /** tls.alpn (default: HTTP/1.1 only). */
  readonly alpn?: readonly ('h2' | 'http/1.1')[];
}

export interface FullStack {
  readonly keyServer: KeyServerFixture;
  readonly origin: DemoOrigin;
  readonly edge: EdgeFixture;
  readonly ca: Buffer;
  /** https://localhost:<edge port> */
  readonly base: string;
  stop(): Promise<void>;
}

export function originSection(pki: DevPkiLayout, origin: DemoOrigin, extra = ''): string {
  return `origins:
    - hostnames: [localhost, '*.demo.localhost']
      url: ${origin.url}
      ca: ${pki.edge.ca}
      serverName: localhost
      timeouts: { connectMs: 2000, headersMs: 2000, bodyMs: 5000 }
${extra}`;
}

export async function startFullStack(options: FullStackOptions = {}): Promise<FullStack> {
  process.env[TOKEN_ENV] = ADMIN_TOKEN;
  const keyServer = options.keyServer ?? (await startKeyServerFixture(options.pki ? { pki: options.pki } : {}));
  const pki = keyServer.pki;
  const origin = await startDemoOrigin({ cert: pki.origin.cert, key: pki.origin.key, port: 0, ...options.origin });
  const cache = options.cache === null ? '' : `cache:\n${options.cache ?? '  store: { type: memory }\n'}`;
  const extra = `${originSection(pki, origin, options.originExtra)}${cache}admin: { listen: 127.0.0.1:0, tokenEnv: ${TOKEN_ENV} }\n${options.extra ?? ''}`;
  let edge: EdgeFixture;
  try {
    edge = await startEdgeFixture({ pki, keyServers: [keyServer.address], extra, ...(options.log ? { log: options.log } : {}), ...(options.alpn ? { alpn: options.alpn } : {}) });
  } catch (err) {
    await origin.close();
    if (!options.keyServer) await keyServer.stop();
    throw err;
  }
  return {
    keyServer,
    origin,
    edge,
    ca: await readFile(pki.edge.ca),
    base: `https://localhost:${edge.port}`,
    async stop() {
      await edge.close();
      await origin.close();
      if (!options.keyServer) await keyServer.stop();
    },
  };
}

export interface SimpleResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  readonly text: string;
}

/** One HTTPS request through the edge with Node's client, the dev CA trusted. */
export function request(stack: Pick<FullStack, 'edge' | 'ca'>, path: string, init: { method?: string; headers?: Record<string, string>; body?: Buffer | string; servername?: string } = {}): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    import('node:https').then(({ request: httpsRequest }) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: stack.edge.port,
          servername: init.servername ?? 'localhost',
          path,
          method: init.method ?? 'GET',
          headers: { host: `${init.servername ?? 'localhost'}:${stack.edge.port}`, ...init.headers },
          ca: stack.ca,
          agent: false,
          minVersion: 'TLSv1.3',
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const body = Buffer.concat(chunks);
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString() });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(init.body);
    }, reject);
  });
}

/** The admin API of the stack's edge. */
export async function admin(stack: Pick<FullStack, 'edge'>, method: 'GET' | 'POST', path: string, body?: unknown, token = ADMIN_TOKEN): Promise<{ status: number; json: unknown; text: string }> {
  const response = await fetch(`http://127.0.0.1:${stack.edge.edge.adminPort}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}


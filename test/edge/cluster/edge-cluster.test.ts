// `workers: 2`: `keyless edge` as deployed, a primary with the admin API and two workers on one
// listener, each running the whole stack; the admin API answers for all of them.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeylessProcess } from '../../../cli/keyless-process.js';
import { startDemoOrigin, type DemoOrigin } from '../../../demo/origin/index.js';
import { devEdgeConfigYaml } from '../../../edge/dev-config.js';
import { ADMIN_TOKEN, originSection, request } from '../../helpers/full-stack.js';
import { startKeyServerFixture, type KeyServerFixture } from '../../helpers/keyserver-fixture.js';
import { tempDir } from '../../helpers/tmp.js';

describe('keyless edge with workers: 2', () => {
  let keyServer: KeyServerFixture;
  let origin: DemoOrigin;
  let edge: KeylessProcess;
  let port: number;
  let adminPort: number;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    keyServer = await startKeyServerFixture();
    origin = await startDemoOrigin({ cert: keyServer.pki.origin.cert, key: keyServer.pki.origin.key, port: 0 });
    const t = await tempDir('edge-cluster');
    cleanup = t.cleanup;
    const file = path.join(t.dir, 'edge.yaml');
    await writeFile(
      file,
      devEdgeConfigYaml({
        pkiDir: keyServer.pki.dir,
        listen: '127.0.0.1:0',
        keyServers: [keyServer.address],
        extra: `workers: 2\n${originSection(keyServer.pki, origin)}cache: { store: { type: memory } }\nadmin: { listen: 127.0.0.1:0, tokenEnv: KEYLESS_CLUSTER_TEST_TOKEN }\nlog: { level: info, access: false }\n`,
      }),
    );
    const started = await KeylessProcess.start({ args: ['edge', '--config', file], readyMessage: 'edge ready', env: { ...process.env, KEYLESS_CLUSTER_TEST_TOKEN: ADMIN_TOKEN }, readyTimeoutMs: 60_000 });
    edge = started.process;
    port = Number(String(started.ready.listen).split(':').pop());
    adminPort = Number(String(started.ready.admin).split(':').pop());
    expect(started.ready.workers).toBe(2);
  });
  afterAll(async () => {
    await edge?.stop();
    await origin?.close();
    await keyServer?.stop();
    await cleanup?.();
  });

  const ca = async (): Promise<Buffer> => (await import('node:fs/promises')).readFile(keyServer.pki.edge.ca);
  const adminCall = async (method: string, route: string, body?: unknown): Promise<{ status: number; text: string }> => {
    const response = await fetch(`http://127.0.0.1:${adminPort}${route}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, text: await response.text() };
  };

  it('serves through both workers, and the admin API sums their metrics', async () => {
    const stack = { edge: { port } as never, ca: await ca() };
    const answers = await Promise.all(Array.from({ length: 40 }, () => request(stack, '/api/time')));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const metrics = await adminCall('GET', '/metrics');
    const total = [...metrics.text.matchAll(/^keyless_edge_http_requests_total\{host="localhost",status="200"\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    expect(total).toBe(40);
  });

  it('is ready when every worker is, and purges in every worker', async () => {
    const ready = await adminCall('GET', '/readyz');
    expect(JSON.parse(ready.text)).toMatchObject({ checks: { workers: '2/2 ready' } });
    expect((await adminCall('POST', '/purge', { all: true })).status).toBe(200);
  });

  it('replaces a worker that dies', async () => {
    const { stdout } = await promisify(execFile)('pgrep', ['-P', String(edge.pid), '-f', 'keyless.js edge']);
    const workerPids = stdout.trim().split('\n').map(Number);
    expect(workerPids.length).toBe(2);
    process.kill(workerPids[0]!, 'SIGKILL');
    let workers = '';
    for (let i = 0; i < 50 && workers !== '2/2 ready'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      workers = (JSON.parse((await adminCall('GET', '/readyz')).text) as { checks: { workers: string } }).checks.workers;
    }
    expect(workers).toBe('2/2 ready');
    const stack = { edge: { port } as never, ca: await ca() };
    expect((await request(stack, '/api/time')).status).toBe(200);
  });
});

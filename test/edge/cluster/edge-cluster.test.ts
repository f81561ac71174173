// `workers: 2`: `keyless edge` as deployed, a primary with the admin API and two workers on one
// listener, each running the whole stack; the admin API answers for all of them.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeylessProcess } from '../../../cli/keyless-process.js';
import { startDemoOrigin, type DemoOrigin } from '../../../demo/origin/index.js';
import { startClusterEdge, type ClusterEdge } from '../../helpers/cluster-edge.js';
import { ADMIN_TOKEN, request } from '../../helpers/full-stack.js';
import { startKeyServerFixture, type KeyServerFixture } from '../../helpers/keyserver-fixture.js';

describe('keyless edge with workers: 2', () => {
  let keyServer: KeyServerFixture;
  let origin: DemoOrigin;
  let edge: KeylessProcess;
  let port: number;
  let adminPort: number;
  let cluster: ClusterEdge;

  beforeAll(async () => {
    keyServer = await startKeyServerFixture();
    origin = await startDemoOrigin({ cert: keyServer.pki.origin.cert, key: keyServer.pki.origin.key, port: 0 });
    cluster = await startClusterEdge({ keyServer, originUrl: origin.url, extra: 'admin: { listen: 127.0.0.1:0, tokenEnv: KEYLESS_CLUSTER_TEST_TOKEN }\n', env: { KEYLESS_CLUSTER_TEST_TOKEN: ADMIN_TOKEN } });
    edge = cluster.process;
    port = cluster.port;
    adminPort = Number(String(cluster.ready.admin).split(':').pop());
    expect(cluster.ready.workers).toBe(2);
  });
  afterAll(async () => {
    await cluster?.stop();
    await origin?.close();
    await keyServer?.stop();
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

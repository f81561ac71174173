// Reloading a running edge: `keyless edge` as a process, reloaded by SIGHUP (new cache rules and a
// new origin applied, a broken file refused while the old configuration keeps serving), and a
// keep-alive TLS connection that carries requests on both sides of a reload, with a request in
// flight across it.
import { readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeylessProcess } from '../../../cli/keyless-process.js';
import { startDemoOrigin, type DemoOrigin } from '../../../demo/origin/index.js';
import { devEdgeConfigYaml } from '../../../edge/dev-config.js';
import { admin, originSection, request, startFullStack, type FullStack } from '../../helpers/full-stack.js';
import { startKeyServerFixture, type KeyServerFixture } from '../../helpers/keyserver-fixture.js';
import { tempDir } from '../../helpers/tmp.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('keyless edge reloads on SIGHUP', () => {
  let keyServer: KeyServerFixture;
  let first: DemoOrigin;
  let second: DemoOrigin;
  let edge: KeylessProcess;
  let port: number;
  let ca: Buffer;
  let file: string;
  let cleanup: () => Promise<void>;
  const lines: string[] = [];

  /** The config file with this origin and cache section (the rest as `keyless demo` writes it). */
  const configFor = (origin: DemoOrigin, cache = 'cache:\n  store: { type: memory }\n'): string =>
    devEdgeConfigYaml({ pkiDir: keyServer.pki.dir, listen: '127.0.0.1:0', keyServers: [keyServer.address], extra: `${originSection(keyServer.pki, origin)}${cache}log: { level: info, access: false }\n` });

  /** Sends SIGHUP and resolves with the `msg` of the first reload outcome logged after it. */
  async function hangUp(): Promise<string> {
    const from = lines.length;
    process.kill(edge.pid, 'SIGHUP');
    for (let i = 0; i < 200; i++) {
      for (const line of lines.slice(from)) {
        const msg = line.startsWith('{') ? (JSON.parse(line) as { msg?: string }).msg : undefined;
        if (msg === 'configuration reloaded' || msg?.startsWith('configuration reload rejected')) return msg;
      }
      await sleep(50);
    }
    throw new Error(`no reload outcome logged after SIGHUP:\n${lines.slice(from).join('\n')}`);
  }

  const get = (p: string): ReturnType<typeof request> => request({ edge: { port } as never, ca }, p);

  beforeAll(async () => {
    keyServer = await startKeyServerFixture();
    const files = { cert: keyServer.pki.origin.cert, key: keyServer.pki.origin.key, port: 0 };
    first = await startDemoOrigin(files);
    second = await startDemoOrigin(files);
    ca = await readFile(keyServer.pki.edge.ca);
    const t = await tempDir('edge-sighup');
    cleanup = t.cleanup;
    file = path.join(t.dir, 'edge.yaml');
    await writeFile(file, configFor(first));
    const started = await KeylessProcess.start({ args: ['edge', '--config', file], readyMessage: 'edge ready', onLine: (line) => lines.push(line), readyTimeoutMs: 60_000 });
    edge = started.process;
    port = Number(String(started.ready.listen).split(':').pop());
  });
  afterAll(async () => {
    await edge?.stop();
    await first?.close();
    await second?.close();
    await keyServer?.stop();
    await cleanup?.();
  });

  it('applies a new origin and cache rules, refuses a broken file and keeps serving the last good one', async () => {
    // Before: the first origin, and the stylesheet cached.
    expect((await get('/static/style.css')).headers['cache-status']).toMatch(/fwd=uri-miss/);
    expect((await get('/static/style.css')).headers['cache-status']).toMatch(/hit/);
    expect(first.stats().total).toBe(1);
    expect(second.stats().total).toBe(0);

    // The second origin, and a rule that bypasses the cache for /static/.
    await writeFile(file, configFor(second, 'cache:\n  store: { type: memory }\n  rules: [{ name: no-static, pathPrefix: /static/, action: bypass }]\n'));
    expect(await hangUp()).toBe('configuration reloaded');
    const bypassed = await get('/static/style.css');
    expect(bypassed.status).toBe(200);
    expect(bypassed.headers['cache-status']).toMatch(/fwd=bypass;.*detail=rule:no-static/);
    expect((await get('/api/time')).status).toBe(200);
    expect(second.stats().total).toBe(2);
    expect(first.stats().total).toBe(1);

    // Broken files: a rule the schema refuses, YAML that does not parse, a file that is gone.
    const broken = [
      configFor(first, 'cache:\n  store: { type: memory }\n  rules: [{ action: sometimes }]\n'),
      'listen: [127.0.0.1\n  tls: {\n',
      null,
    ];
    for (const text of broken) {
      if (text === null) await rm(file);
      else await writeFile(file, text);
      expect(await hangUp()).toMatch(/^configuration reload rejected/);
      expect(edge.running).toBe(true);
      // Still the second origin and its rule: the previous configuration serves.
      const still = await get('/static/style.css');
      expect(still.status).toBe(200);
      expect(still.headers['cache-status']).toMatch(/detail=rule:no-static/);
    }
    expect(second.stats().total).toBe(2 + broken.length);
    expect(first.stats().total).toBe(1);

    // A good file again is applied: the first origin, no rule, the stylesheet cached again.
    await writeFile(file, configFor(first));
    expect(await hangUp()).toBe('configuration reloaded');
    await get('/static/style.css');
    expect((await get('/static/style.css')).headers['cache-status']).toMatch(/hit/);
    expect((await get('/api/time')).status).toBe(200);
    // The cache kept the stylesheet fetched from it at the start; /api/time reached it again.
    expect(first.stats().byPath).toEqual({ '/static/style.css': 1, '/api/time': 1 });
    expect(edge.running).toBe(true);
  });
});

describe('a reload keeps open connections', () => {
  let stack: FullStack;
  beforeAll(async () => {
    stack = await startFullStack();
  });
  afterAll(async () => stack?.stop());

  interface AgentResponse {
    readonly status: number;
    readonly headers: Record<string, string | string[] | undefined>;
    readonly text: string;
    readonly reusedSocket: boolean;
    readonly socket: unknown;
  }

  /** GET through `agent` (keep-alive, one socket). */
  function get(agent: https.Agent, p: string): Promise<AgentResponse> {
    return new Promise((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port: stack.edge.port, servername: 'localhost', path: p, headers: { host: `localhost:${stack.edge.port}` }, ca: stack.ca, agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, reusedSocket: req.reusedSocket, socket: res.socket }));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
  }

  it('serves the next request on the same TLS connection with the new configuration, and finishes one in flight', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, keepAliveMsecs: 1_000 });
    let sockets = 0;
    const createConnection = agent.createConnection.bind(agent);
    agent.createConnection = ((...args: Parameters<typeof createConnection>) => {
      sockets++;
      return createConnection(...args);
    }) as typeof agent.createConnection;
    try {
      const one = await get(agent, '/static/style.css');
      const two = await get(agent, '/static/style.css');
      expect(one.status).toBe(200);
      expect(two.headers['cache-status']).toMatch(/hit/);
      // The request id is the TLS handshake id and the request's number on that connection.
      const [, handshakeId] = /^([0-9a-f]+)-1$/.exec(String(one.headers['x-request-id'])) ?? [];
      expect(handshakeId).toBeDefined();
      expect(two.headers['x-request-id']).toBe(`${handshakeId}-2`);
      expect(two.reusedSocket).toBe(true);

      // A slow request on another connection, in flight while the configuration changes.
      const inFlight = request(stack, '/slow?ms=1500');
      await sleep(300);
      const original = await readFile(stack.edge.configFile, 'utf8');
      await writeFile(stack.edge.configFile, original.replace('cache:\n', 'cache:\n  rules: [{ name: no-static, pathPrefix: /static/, action: bypass }]\n'));
      const reloaded = await admin(stack, 'POST', '/reload');
      expect(reloaded.json).toEqual({ applied: true });

      // The same connection, its third request, under the new rules.
      const three = await get(agent, '/static/style.css');
      expect(three.status).toBe(200);
      expect(three.reusedSocket).toBe(true);
      expect(three.socket).toBe(one.socket);
      expect(three.headers['x-request-id']).toBe(`${handshakeId}-3`);
      expect(three.headers['cache-status']).toMatch(/fwd=bypass;.*detail=rule:no-static/);

      // And a reload from edge.reload() (what SIGHUP calls) too, back to no rule.
      await writeFile(stack.edge.configFile, original);
      expect(await stack.edge.edge.reload()).toEqual({ applied: true });
      const four = await get(agent, '/static/style.css');
      expect(four.headers['x-request-id']).toBe(`${handshakeId}-4`);
      expect(four.headers['cache-status']).not.toMatch(/bypass/);
      expect(sockets).toBe(1);

      const slow = await inFlight;
      expect(slow.status).toBe(200);
      expect(slow.text).toBe('answered after 1500 ms\n');
    } finally {
      agent.destroy();
    }
  });
});

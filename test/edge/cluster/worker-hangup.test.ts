// `workers: 2` and SIGHUP: a hangup sent to a worker is ignored (the worker lives on, nothing is
// restarted), and a hangup of the whole process group (a closed terminal, `kill -HUP -<pgid>`)
// reloads every worker through the primary instead of killing them. The edge runs as deployed,
// in a process group of its own so that the group signal reaches only it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYLESS_BIN } from '../../../cli/keyless-process.js';
import { startDemoOrigin, type DemoOrigin } from '../../../demo/origin/index.js';
import { devEdgeConfigYaml } from '../../../edge/dev-config.js';
import { ADMIN_TOKEN, originSection, request } from '../../helpers/full-stack.js';
import { startKeyServerFixture, type KeyServerFixture } from '../../helpers/keyserver-fixture.js';
import { tempDir } from '../../helpers/tmp.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const TOKEN_ENV = 'KEYLESS_HANGUP_TEST_TOKEN';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('keyless edge with workers: 2, on SIGHUP', () => {
  let keyServer: KeyServerFixture;
  let origin: DemoOrigin;
  let child: ChildProcess;
  let exited: Promise<void>;
  let port: number;
  let adminPort: number;
  let ca: Buffer;
  let file: string;
  let cleanup: () => Promise<void>;
  const messages: string[] = [];

  const configFor = (cache: string): string =>
    devEdgeConfigYaml({
      pkiDir: keyServer.pki.dir,
      listen: '127.0.0.1:0',
      keyServers: [keyServer.address],
      extra: `workers: 2\n${originSection(keyServer.pki, origin)}cache:\n  store: { type: memory }\n${cache}admin: { listen: 127.0.0.1:0, tokenEnv: ${TOKEN_ENV} }\nlog: { level: info, access: false }\n`,
    });

  const workerPids = async (): Promise<number[]> => {
    const { stdout } = await promisify(execFile)('pgrep', ['-P', String(child.pid), '-f', 'keyless.js edge']);
    return stdout.trim().split('\n').map(Number).sort();
  };
  const workersReady = async (): Promise<string> => {
    const response = await fetch(`http://127.0.0.1:${adminPort}/readyz`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    return ((await response.json()) as { checks: { workers: string } }).checks.workers;
  };
  const get = (p: string): ReturnType<typeof request> => request({ edge: { port } as never, ca }, p);
  /** Waits for a log message (logged after index `from`). */
  const logged = async (msg: string | RegExp, from: number): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      if (messages.slice(from).some((m) => (typeof msg === 'string' ? m === msg : msg.test(m)))) return;
      await sleep(50);
    }
    throw new Error(`"${String(msg)}" was not logged; since then: ${messages.slice(from).join(' | ')}`);
  };

  beforeAll(async () => {
    keyServer = await startKeyServerFixture();
    origin = await startDemoOrigin({ cert: keyServer.pki.origin.cert, key: keyServer.pki.origin.key, port: 0 });
    ca = await readFile(keyServer.pki.edge.ca);
    const t = await tempDir('edge-hangup');
    cleanup = t.cleanup;
    file = path.join(t.dir, 'edge.yaml');
    await writeFile(file, configFor(''));
    // detached: the edge leads a process group of its own, as under a terminal or a supervisor.
    child = spawn(process.execPath, [KEYLESS_BIN, 'edge', '--config', file], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, [TOKEN_ENV]: ADMIN_TOKEN } });
    exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const stderr: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
    const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the edge was not ready within 60 s: ${stderr.join('\n')}`)), 60_000);
      child.once('exit', (code, signal) => reject(new Error(`the edge exited (${code ?? signal}) before it was ready: ${stderr.join('\n')}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (!line.startsWith('{')) return;
        const fields = JSON.parse(line) as Record<string, unknown>;
        messages.push(String(fields.msg));
        if (fields.msg === 'edge ready') {
          clearTimeout(timer);
          resolve(fields);
        }
      });
    });
    port = Number(String(ready.listen).split(':').pop());
    adminPort = Number(String(ready.admin).split(':').pop());
  });
  afterAll(async () => {
    if (child?.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await origin?.close();
    await keyServer?.stop();
    await cleanup?.();
  });

  it('a worker that gets SIGHUP lives on, and the edge keeps serving', async () => {
    const before = await workerPids();
    expect(before.length).toBe(2);
    const from = messages.length;
    process.kill(before[0]!, 'SIGHUP');
    // The primary would restart a dead worker 500 ms after its death: give it time to show.
    await sleep(1_500);
    expect(alive(before[0]!)).toBe(true);
    expect(await workerPids()).toEqual(before);
    expect(messages.slice(from)).not.toContain('edge worker died');
    expect(await workersReady()).toBe('2/2 ready');
    const answers = await Promise.all(Array.from({ length: 20 }, () => get('/api/time')));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
  });

  it('a hangup of the whole process group reloads every worker through the primary; none dies', async () => {
    const before = await workerPids();
    await get('/static/style.css');
    await writeFile(file, configFor('  rules: [{ name: no-static, pathPrefix: /static/, action: bypass }]\n'));
    let from = messages.length;
    process.kill(-child.pid!, 'SIGHUP');
    await logged('configuration reloaded in every worker', from);
    expect(messages.slice(from).filter((m) => m === 'configuration reloaded').length).toBe(2);
    // Both workers answer with the new rule (40 connections spread over the shared listener).
    const answers = await Promise.all(Array.from({ length: 40 }, () => get('/static/style.css')));
    expect(answers.every((a) => a.status === 200 && /detail=rule:no-static/.test(String(a.headers['cache-status'])))).toBe(true);

    // A broken file on a group hangup: refused, the workers keep the last good configuration.
    await writeFile(file, configFor('  rules: [{ action: sometimes }]\n'));
    from = messages.length;
    process.kill(-child.pid!, 'SIGHUP');
    await logged(/^configuration reload rejected/, from);
    await sleep(500);
    expect(await workerPids()).toEqual(before);
    expect(messages).not.toContain('edge worker died');
    expect(child.exitCode).toBeNull();
    expect(await workersReady()).toBe('2/2 ready');
    expect((await get('/static/style.css')).headers['cache-status']).toMatch(/detail=rule:no-static/);
  });
});

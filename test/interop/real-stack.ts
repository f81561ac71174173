// What every interop test runs against: a real key server (gRPC over mTLS, file key store,
// audit log) and the real edge in front of it, on loopback; plus helpers to run real client
// programs and to skip, with a printed reason, when one is not installed.
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { startEdgeFixture, type EdgeFixture, type EdgeFixtureOptions } from '../helpers/edge-fixture.js';
import { startKeyServerFixture, type KeyServerFixture } from '../helpers/keyserver-fixture.js';

export interface RealStack {
  readonly keyServer: KeyServerFixture;
  readonly edge: EdgeFixture;
  readonly port: number;
  /** The dev CA the site chains are issued by (PEM path and contents). */
  readonly caFile: string;
  readonly ca: Buffer;
  stop(): Promise<void>;
}

export async function startRealStack(options: Partial<Omit<EdgeFixtureOptions, 'pki' | 'keyServers'>> = {}): Promise<RealStack> {
  const keyServer = await startKeyServerFixture();
  try {
    const edge = await startEdgeFixture({ pki: keyServer.pki, keyServers: [keyServer.address], ...options });
    const caFile = keyServer.pki.edge.ca;
    return {
      keyServer,
      edge,
      port: edge.port,
      caFile,
      ca: await readFile(caFile),
      async stop() {
        await edge.close();
        await keyServer.stop();
      },
    };
  } catch (err) {
    await keyServer.stop();
    throw err;
  }
}

const toolCache = new Map<string, boolean>();

/** Whether a program is on PATH; the first miss prints why the tests that need it are skipped. */
export async function hasTool(name: string, why = 'interop tests'): Promise<boolean> {
  if (!toolCache.has(name)) {
    const found = await promisify(execFile)('sh', ['-c', `command -v ${name}`]).then(
      () => true,
      () => false,
    );
    if (!found) console.warn(`SKIP ${why}: '${name}' is not installed (.ci/run installs it with apt-get)`);
    toolCache.set(name, found);
  }
  return toolCache.get(name)!;
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program with `input` on stdin (then closed, or kept open `holdStdinMs`), killed after `timeoutMs`. */
export function run(command: string, args: readonly string[], options: { input?: string; timeoutMs?: number; holdStdinMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin.write(options.input);
    if (options.holdStdinMs) setTimeout(() => child.stdin.end(), options.holdStdinMs);
    else child.stdin.end();
  });
}

/** The JSON the edge's built-in handler answers with, out of a raw HTTP response. */
export function edgeAnswer(output: string): { tls: Record<string, unknown>; path: string } | undefined {
  const match = /\{"edge":"keyless".*\}/.exec(output);
  return match ? (JSON.parse(match[0]) as { tls: Record<string, unknown>; path: string }) : undefined;
}

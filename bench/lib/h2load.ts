// h2load (Debian's nghttp2-client) as the HTTP/2 load generator of the proxy benchmark: `clients`
// TLS connections, each with up to `streams` requests in flight, for a fixed number of requests
// (h2load 1.52's timing mode, -D, stops counting after its first 8,000 requests, or counts none
// with a warm-up; so the caller sizes `requests` from a warm-up's rate). It prints no
// percentiles, so the latency figure is the mean time per request.
import { spawn } from 'node:child_process';

export interface H2loadResult {
  readonly requestsPerSecond: number;
  readonly meanMs: number;
  readonly requests: number;
  /** Requests that failed, errored or timed out, plus non-2xx/3xx answers. */
  readonly errors: number;
}

function toMs(value: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec((value ?? '').trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
}

export function parseH2load(output: string): H2loadResult {
  const rps = Number(/finished in [\d.]+\w*, ([\d.]+) req\/s/.exec(output)?.[1] ?? NaN);
  const counts = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(output);
  const statuses = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(output);
  const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(output)?.[1];
  const done = Number(counts?.[2] ?? 0);
  const failed = counts ? Number(counts[4]) + Number(counts[5]) + Number(counts[6]) : 0;
  const bad = statuses ? Number(statuses[3]) + Number(statuses[4]) : 0;
  return { requestsPerSecond: rps, meanMs: toMs(mean), requests: done, errors: failed + bad };
}

export interface H2loadOptions {
  readonly url: string;
  /** Sent as :authority (the edge and nginx route by it). */
  readonly authority: string;
  readonly clients: number;
  readonly streams: number;
  readonly threads: number;
  /** Requests in all (at least `clients`). */
  readonly requests: number;
}

export function runH2load(options: H2loadOptions): Promise<H2loadResult> {
  return new Promise((resolve, reject) => {
    const args = ['-c', String(options.clients), '-m', String(options.streams), '-t', String(options.threads), '-n', String(Math.max(options.clients, Math.round(options.requests))), '-H', `:authority: ${options.authority}`, options.url];
    const child = spawn('h2load', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', () => {
      const result = parseH2load(out);
      if (!Number.isFinite(result.requestsPerSecond) || result.requests === 0) reject(new Error(`h2load printed no result:\n${out}`));
      else resolve(result);
    });
  });
}

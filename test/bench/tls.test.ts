// The handshake and bulk benchmarks in their tiny mode, so the scripts cannot rot: each starts its
// servers in their own processes and prints its table. The figures of a --quick run mean nothing.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runKeyless } from '../helpers/run-keyless.js';
import { tempDir } from '../helpers/tmp.js';

const runBench = (args: string[]) => runKeyless(['bench', ...args]);

describe('keyless bench handshake --quick --passes 2', () => {
  it('measures the keyless edge and node:tls for both key types, twice each, without errors', async () => {
    const { code, stdout, stderr } = await runBench(['handshake', '--quick', '--passes', '2']);
    expect(code, stderr).toBe(0);
    for (const key of ['ecdsa-p256', 'rsa-2048']) {
      // server, key, concurrency, hs/s ... errors = 0 at the end of the row; one row per server and cell.
      expect(stdout.match(new RegExp(`^node:tls +${key} +\\d+ +\\d+ .* 0$`, 'gm'))).toHaveLength(2);
      // keyless rows carry the median ratio and the range of the two passes' ratios.
      expect(stdout.match(new RegExp(`^keyless +${key} +\\d+ +\\d+ .* [\\d.]+ +[\\d.]+–[\\d.]+ +[\\d.]+ +-?[\\d.]+ +0% +0$`, 'gm'))).toHaveLength(2);
    }
    expect(stdout).toContain('2 passes per cell, alternating');
  });

  it('--resume: both servers resume (nearly) every handshake after each caller’s first', async () => {
    const { code, stdout, stderr } = await runBench(['handshake', '--quick', '--resume']);
    expect(code, stderr).toBe(0);
    const shares = [...stdout.matchAll(/^(?:node:tls|keyless) +\S+ +\d+ .* (\d+)% +0$/gm)].map((m) => Number(m[1]));
    expect(shares).toHaveLength(8);
    // Each caller's first handshake is a full one; a quick cell has a few dozen.
    for (const share of shares) expect(share).toBeGreaterThanOrEqual(50);
    expect(stdout).toContain('every caller resuming its last session');
  });

  it('--profile DIR: a V8 CPU profile of the edge and one of the key server', async () => {
    const { dir, cleanup } = await tempDir('keyless-bench-profile-');
    try {
      const { code, stderr } = await runBench(['handshake', '--quick', '--profile', dir]);
      expect(code, stderr).toBe(0);
      const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
      const texts = await Promise.all(files.map((f) => readFile(path.join(dir, f), 'utf8')));
      // Each process's main thread profile names its own code (the key server's signing threads add theirs).
      expect(texts.some((t) => t.includes('edge/tls/handshake/server-flight.ts'))).toBe(true);
      expect(texts.some((t) => t.includes('keyserver/sign-pipeline.ts'))).toBe(true);
    } finally {
      await cleanup();
    }
  });
});

describe('keyless bench bulk --quick', () => {
  it('downloads through both stacks and prints the ratio', async () => {
    const { code, stdout, stderr } = await runBench(['bulk', '--quick']);
    expect(code, stderr).toBe(0);
    // The CPU columns read n/a when a quick download takes less CPU than /proc can count (10 ms).
    expect(stdout).toMatch(/^node:tls +\d+ +(?:\d+|n\/a) +1\.00 +(?:1\.00|n\/a)$/m);
    expect(stdout).toMatch(/^keyless +\d+ +(?:\d+|n\/a) +[\d.]+ +(?:[\d.]+|n\/a)$/m);
  });
});

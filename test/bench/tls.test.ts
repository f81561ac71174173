// The handshake and bulk benchmarks in their tiny mode, so the scripts cannot rot: each starts its
// servers in their own processes and prints its table. The figures of a --quick run mean nothing.
import { describe, expect, it } from 'vitest';
import { runKeyless } from '../helpers/run-keyless.js';

const runBench = (args: string[]) => runKeyless(['bench', ...args]);

describe('keyless bench handshake --quick', () => {
  it('measures the keyless edge and node:tls for both key types, without errors', async () => {
    const { code, stdout, stderr } = await runBench(['handshake', '--quick']);
    expect(code, stderr).toBe(0);
    for (const server of ['node:tls', 'keyless']) {
      for (const key of ['ecdsa-p256', 'rsa-2048']) {
        // server, key, concurrency, hs/s ... errors = 0 at the end of the row.
        expect(stdout).toMatch(new RegExp(`^${server} +${key} +\\d+ +\\d+ .* 0$`, 'm'));
      }
    }
  });
});

describe('keyless bench bulk --quick', () => {
  it('downloads through both stacks and prints the ratio', async () => {
    const { code, stdout, stderr } = await runBench(['bulk', '--quick']);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^node:tls +\d+ +\d+ +1\.00 +1\.00$/m);
    expect(stdout).toMatch(/^keyless +\d+ +\d+ +[\d.]+ +[\d.]+$/m);
  });
});

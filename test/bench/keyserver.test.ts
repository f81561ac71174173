// The key-server benchmark in its tiny mode, so the script cannot rot: it starts a key server in
// its own process, signs a few hundred times through the edge client, and prints its table. The
// figures of a --quick run mean nothing and are not looked at.
import { describe, expect, it } from 'vitest';
import { runKeyless } from '../helpers/run-keyless.js';

const runBench = (args: string[]) => runKeyless(['bench', 'keyserver', ...args]);

describe('keyless bench keyserver --quick', () => {
  it('prints the raw baseline and one row per algorithm, RPC and concurrency, with an intact audit chain', async () => {
    const { code, stdout, stderr } = await runBench(['--quick']);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/raw crypto\.sign, one thread/);
    expect(stdout).toMatch(/^algorithm +rpc +concurrency +signatures\/s +p50 ms +p99 ms +vs raw/m);
    for (const algorithm of ['ECDSA P-256', 'RSA-2048 PSS']) {
      for (const rpc of ['Sign', 'SignStream']) {
        for (const concurrency of [1, 16, 64]) {
          expect(stdout).toMatch(new RegExp(`^${algorithm} +${rpc} +${concurrency} +[\\d,]+ +[\\d.]+ +[\\d.]+ +[\\d.]+ .* 0$`, 'm'));
        }
      }
    }
    expect(stdout).toMatch(/audit log: \d+ lines, chain intact/);
    expect(stdout).toMatch(/a signature waits for its line\)/);
  });

  it('--checkpoint-before-reply runs the key server with audit.checkpointBeforeReply and says so', async () => {
    const { code, stdout, stderr } = await runBench(['--quick', '--algorithms', 'ecdsa-p256', '--rpc', 'sign-stream', '--concurrency', '4', '--checkpoint-before-reply', '--json']);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout) as { settings: { checkpointBeforeReply: boolean }; cells: unknown[]; audit: { chainIntact: boolean } };
    expect(report.settings.checkpointBeforeReply).toBe(true);
    expect(report.cells).toHaveLength(1);
    expect(report.audit.chainIntact).toBe(true);
  });
});

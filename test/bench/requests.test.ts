// The small-requests benchmark in its tiny mode, so the script cannot rot: both TLS servers in
// their own processes, wrk against each. The figures of a --quick run mean nothing.
import { describe, expect, it } from 'vitest';
import { runKeyless } from '../helpers/run-keyless.js';
import { hasTool } from '../interop/real-stack.js';

const present = await hasTool('wrk', 'the small-requests benchmark smoke test');

describe.skipIf(!present)('keyless bench requests --quick', () => {
  it('prints a row for node:tls and one for the edge stack with its ratio, whatever the figures', async () => {
    const { code, stdout, stderr } = await runKeyless(['bench', 'requests', '--quick']);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^node:tls +\d+ +[\d.]+ +\d+ *$/m);
    expect(stdout).toMatch(/^keyless +\d+ +[\d.]+ +\d+ +[\d.]+$/m);
  });

  it('refuses a bad option value with exit code 2', async () => {
    const { code, stderr } = await runKeyless(['bench', 'requests', '--seconds', '0']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--seconds/);
  });
});

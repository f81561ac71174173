// The WAF benchmark in its tiny mode, so the script cannot rot: per-request times with the CRS,
// detection results, and the proxy comparison through two real edges. Figures mean nothing here.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runKeyless } from '../helpers/run-keyless.js';
import { hasTool } from '../interop/real-stack.js';

const crs = existsSync('/usr/share/modsecurity-crs/rules');
if (!crs) console.warn('SKIP the WAF benchmark smoke test: the OWASP CRS is not installed (.ci/run installs modsecurity-crs)');
const wrk = await hasTool('wrk', 'the WAF benchmark proxy comparison');

describe.skipIf(!crs)('keyless bench waf --quick', () => {
  it('prints detection, per-request times and the proxy comparison', async () => {
    const { code, stdout, stderr } = await runKeyless(['bench', 'waf', '--quick', ...(wrk ? [] : ['--no-proxy'])]);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^detection: (\d+)\/\1 attacks blocked, (\d+)\/\2 benign requests passed$/m);
    expect(stdout).toMatch(/^CRS PL1 \+ our rules +\d+/m);
    if (wrk) {
      expect(stdout).toMatch(/^cache hit +\d+ +\d+ +[\d.]+ +[\d.]+$/m);
      expect(stdout).toMatch(/^pass-through +\d+ +\d+ +[\d.]+ +[\d.]+$/m);
    }
  });
});

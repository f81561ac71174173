// The WAF benchmark in its tiny mode, so the script cannot rot: per-request times with the CRS,
// detection results, and the proxy comparison through two real edges. Figures mean nothing here.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hasTool } from '../interop/real-stack.js';

const crs = existsSync('/usr/share/modsecurity-crs/rules');
if (!crs) console.warn('SKIP the WAF benchmark smoke test: the OWASP CRS is not installed (.ci/run installs modsecurity-crs)');
const wrk = await hasTool('wrk', 'the WAF benchmark proxy comparison');

describe.skipIf(!crs)('keyless bench waf --quick', () => {
  it('prints detection, per-request times and the proxy comparison', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['bin/keyless.js', 'bench', 'waf', '--quick', ...(wrk ? [] : ['--no-proxy'])], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('exit', (c) => resolve({ code: c, stdout: out, stderr: err }));
    });
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^detection: (\d+)\/\1 attacks blocked, (\d+)\/\2 benign requests passed$/m);
    expect(stdout).toMatch(/^CRS PL1 \+ our rules +\d+/m);
    if (wrk) {
      expect(stdout).toMatch(/^cache hit +\d+ +\d+ +[\d.]+ +[\d.]+$/m);
      expect(stdout).toMatch(/^pass-through +\d+ +\d+ +[\d.]+ +[\d.]+$/m);
    }
  });
});

// The proxy benchmark in its tiny mode, so the script cannot rot: key server, origin, edge and
// nginx in their own processes, wrk against both. The figures of a --quick run mean nothing.
import { describe, expect, it } from 'vitest';
import { runKeyless } from '../helpers/run-keyless.js';
import { hasTool } from '../interop/real-stack.js';

const present = (await hasTool('wrk', 'the proxy benchmark smoke test')) && (await hasTool('nginx', 'the proxy benchmark smoke test'));

describe.skipIf(!present)('keyless bench proxy --quick', () => {
  it('prints cache-hit and pass-through rows for the edge and nginx, whatever the figures', async () => {
    const { code, stdout, stderr } = await runKeyless(['bench', 'proxy', '--quick']);
    expect(code, stderr).toBe(0);
    for (const route of ['cache hit', 'pass-through']) {
      expect(stdout).toMatch(new RegExp(`^${route} +nginx \\(1 worker\\) +\\d+ .* \\d+$`, 'm'));
      expect(stdout).toMatch(new RegExp(`^${route} +keyless \\(1 worker\\) +\\d+ .* \\d+$`, 'm'));
    }
  });

  it('--origin-http2: runs with the origin serving h2 and the edge configured for it, pass-through without errors', async () => {
    const { code, stdout, stderr } = await runKeyless(['bench', 'proxy', '--quick', '--origin-http2']);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^Origin: HTTP\/2 toward the edge/m);
    expect(stdout).toMatch(/^pass-through +keyless \(1 worker\) +\d+ .* 0$/m);
  });
});

const h2load = (await hasTool('h2load', 'the HTTP/2 proxy benchmark smoke test')) && (await hasTool('nginx', 'the HTTP/2 proxy benchmark smoke test'));

describe.skipIf(!h2load)('keyless bench proxy --http2 --quick', () => {
  it('prints HTTP/2 cache-hit and pass-through rows for the edge and nginx, with no failed request', async () => {
    const { code, stdout, stderr } = await runKeyless(['bench', 'proxy', '--http2', '--quick']);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^HTTP\/2: h2load /m);
    for (const route of ['cache hit', 'pass-through']) {
      expect(stdout).toMatch(new RegExp(`^${route} +nginx \\(1 worker\\) +\\d+ .* 0$`, 'm'));
      expect(stdout).toMatch(new RegExp(`^${route} +keyless \\(1 worker\\) +\\d+ .* 0$`, 'm'));
    }
  });
});

// WAF time per request with the OWASP CRS at paranoia level 1: p50/p99 over a mix of ordinary browsing and attacks, against our own rules alone as the baseline, in the same run.
//
// The requests are the ones the CRS tests use (test/edge/http/waf/corpus.ts): pages and assets
// with real browser headers, a JSON API POST, a form POST, a file upload, a GraphQL query, and
// SQL injection, XSS, path traversal, command injection, PHP injection and protocol attacks.
// Each request is one call of waf.evaluate() (headers and body phases), timed alone. A second
// CRS cell makes every query value and session cookie unique, so that the engine's per-value
// caches cannot make repeated traffic look cheaper than new traffic is.
//
// Then proxy requests per second through the real edge with the WAF on and off, in the same run.
//
// Run: keyless bench waf [options]      (node bin/keyless.js bench waf)
//   --no-proxy      skip the proxy comparison
//   --seconds N     measured time per configuration (default 5; plus a warm-up of a fifth of it)
//   --benign-share F  fraction of benign requests in the mix (default 0.8)
//   --paranoia N    CRS paranoia level (default 1)
//   --quick         a few hundred requests, for a smoke test; the figures mean nothing
//   --json          the results as JSON
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createWaf, parseWafConfig } from '../edge/http/waf/index.js';
import type { Waf, WafConfigInput } from '../edge/http/waf/index.js';
import { attackRequests, benignRequests } from '../test/edge/http/waf/corpus.js';
import type { CorpusRequest } from '../test/edge/http/waf/corpus.js';

interface Sample {
  readonly ms: number;
  readonly benign: boolean;
}

interface CellResult {
  readonly name: string;
  readonly requests: number;
  readonly p50: number;
  readonly p99: number;
  readonly benignP50: number;
  readonly attackP50: number;
  readonly mean: number;
  /** CPU time of the process per request (less sensitive to a busy machine than wall time). */
  readonly cpuMicrosPerRequest: number;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** A fixed interleaving: `share` of benign requests, the rest attacks, spread evenly. */
function mix(share: number): { req: CorpusRequest; benign: boolean }[] {
  const benign = benignRequests();
  const attacks = attackRequests().map((a) => a.req);
  const perAttack = Math.max(1, Math.round((share / (1 - share)) * (attacks.length / benign.length)));
  const out: { req: CorpusRequest; benign: boolean }[] = [];
  let a = 0;
  for (let round = 0; round < perAttack; round++) for (const b of benign) out.push({ req: b, benign: true });
  // Interleave the attacks evenly among the benign ones.
  const step = Math.max(1, Math.floor(out.length / attacks.length));
  for (let i = 0; i < attacks.length; i++) out.splice(Math.min(out.length, i * (step + 1)), 0, { req: attacks[a++]!, benign: false });
  return out;
}

/**
 * Makes every request's query values and session cookie unique, so that no value has been seen
 * before: the per-value caches (transformations, RE2.Set answers, operator results) only help
 * with the headers every browser sends alike. The honest worst case for new traffic.
 */
function freshen(req: CorpusRequest, i: number): CorpusRequest['request'] {
  const r = req.request;
  const nonce = `${i.toString(36)}x${Math.random().toString(36).slice(2, 10)}`;
  const url = r.url.includes('?') ? `${r.url}&v=${nonce}` : `${r.url}?v=${nonce}`;
  const headers = { ...r.headers };
  if (typeof headers.cookie === 'string') headers.cookie = headers.cookie.replace(/session=[^;]*/, `session=${nonce}`);
  return { ...r, url, headers };
}

async function measure(name: string, waf: Waf, requests: ReturnType<typeof mix>, budget: { ms: number } | { count: number }, fresh = false): Promise<CellResult> {
  const samples: Sample[] = [];
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  let i = 0;
  for (;;) {
    if ('ms' in budget ? performance.now() - started >= budget.ms : samples.length >= budget.count) break;
    const { req, benign } = requests[i++ % requests.length]!;
    // A fresh request id per call, as the edge gives them.
    const request = { ...(fresh ? freshen(req, i) : req.request), requestId: `bench-${i}` };
    const t = performance.now();
    await waf.evaluate(request, req.body);
    samples.push({ ms: performance.now() - t, benign });
  }
  const cpu = process.cpuUsage(cpu0);
  const all = samples.map((s) => s.ms);
  return {
    name,
    requests: samples.length,
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    benignP50: percentile(samples.filter((s) => s.benign).map((s) => s.ms), 50),
    attackP50: percentile(samples.filter((s) => !s.benign).map((s) => s.ms), 50),
    mean: all.reduce((a, b) => a + b, 0) / Math.max(1, all.length),
    cpuMicrosPerRequest: (cpu.user + cpu.system) / Math.max(1, samples.length),
  };
}

/**
 * Proxy requests per second through two edges in their own processes, one without a WAF and one
 * with CRS at the given paranoia level, in front of the same origin and key server, with wrk.
 */
async function proxyWithAndWithoutWaf(seconds: number, paranoiaLevel: number): Promise<{ route: string; off: number; on: number; p50On: number }[] | undefined> {
  const { execFileSync } = await import('node:child_process');
  try {
    execFileSync('sh', ['-c', 'command -v wrk'], { stdio: 'ignore' });
  } catch {
    process.stderr.write('bench waf: wrk is not installed; the proxy comparison is skipped (.ci/run installs it)\n');
    return undefined;
  }
  const { mkdtemp, rm } = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const { startKeyServerUnderTest } = await import('./lib/keyserver-under-test.js');
  const { startBenchScript } = await import('./lib/bench-server-process.js');
  const { startEdgeUnderTest } = await import('./lib/edge-under-test.js');
  const { measureRoute } = await import('./proxy.js');
  const keyServer = await startKeyServerUnderTest();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'keyless-waf-proxy-'));
  const origin = await startBenchScript('proxy-origin.ts', ['--pki', keyServer.pki.dir]);
  const edges: { stop(): Promise<void> }[] = [];
  try {
    const common = { pki: keyServer.pki, keyServer: keyServer.address, originPort: origin.port, dir };
    const off = await startEdgeUnderTest({ ...common, name: 'waf-off' });
    edges.push(off);
    const on = await startEdgeUnderTest({ ...common, name: 'waf-on', extra: `waf: { managed: { crs: auto, required: true, paranoiaLevel: ${paranoiaLevel} } }\n` });
    edges.push(on);
    const load = { connections: 32, threads: 1, seconds };
    const rows: { route: string; off: number; on: number; p50On: number }[] = [];
    for (const route of ['cache hit', 'pass-through'] as const) {
      const a = await measureRoute(off.port, route, load);
      const b = await measureRoute(on.port, route, load);
      rows.push({ route, off: a.requestsPerSecond, on: b.requestsPerSecond, p50On: b.p50Ms });
    }
    return rows;
  } finally {
    for (const e of edges) await e.stop();
    await origin.stop();
    await keyServer.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      seconds: { type: 'string', default: '5' },
      'benign-share': { type: 'string', default: '0.8' },
      paranoia: { type: 'string', default: '1' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'no-proxy': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const seconds = Number(values.seconds);
  const share = Number(values['benign-share']);
  const paranoiaLevel = Number(values.paranoia);
  if (!(seconds > 0) || !(share > 0 && share < 1) || ![1, 2, 3, 4].includes(paranoiaLevel)) {
    process.stderr.write('bench waf: --seconds > 0, 0 < --benign-share < 1, --paranoia 1..4\n');
    return 2;
  }
  const log = pino({ level: 'silent' });
  const make = (config: WafConfigInput) => createWaf(parseWafConfig(config, `${process.cwd()}/bench.yaml`), { log });
  const ours: WafConfigInput = {
    rules: [
      { name: 'admin-only-from-office', expression: 'http.request.uri.path starts_with "/admin" and not ip.src in { 10.0.0.0/8 }', action: 'block' },
      { name: 'webmention', expression: 'http.request.uri.path eq "/webmention"', action: 'skip', skip: { managed: true } },
    ],
    // High enough that the benchmark's own traffic is never limited.
    rateLimits: [{ name: 'per-ip', limit: 1_000_000_000, windowSeconds: 60 }],
  };

  const loadStarted = performance.now();
  const withCrs = await make({ ...ours, managed: { paranoiaLevel } });
  const loadMs = performance.now() - loadStarted;
  const description = withCrs.describe();
  if (!description.managed.active) {
    process.stderr.write(`bench waf: the CRS is not available: ${description.managed.reason}\n`);
    return 1;
  }
  const baseline = await make({ ...ours, managed: { enabled: false } });

  // Detection: each request once.
  const benign = benignRequests();
  const attacks = attackRequests();
  let falsePositives = 0;
  const missed: string[] = [];
  for (const b of benign) if ((await withCrs.evaluate(b.request, b.body)).action !== 'pass') falsePositives++;
  for (const a of attacks) if ((await withCrs.evaluate(a.req.request, a.req.body)).action !== 'block') missed.push(`${a.kind}: ${a.req.name}`);

  const requests = mix(share);
  const budget = values.quick ? { count: 300 } : { ms: seconds * 1000 };
  const warmup = values.quick ? { count: 100 } : { ms: (seconds * 1000) / 5 };
  await measure('warm-up', withCrs, requests, warmup);
  await measure('warm-up', baseline, requests, warmup);
  const cells = [
    await measure(`CRS PL${paranoiaLevel} + our rules`, withCrs, requests, budget),
    await measure(`  same, every value new`, withCrs, requests, budget, true),
    await measure('our rules only (baseline)', baseline, requests, budget),
  ];
  const [crs, , base] = cells as [CellResult, CellResult, CellResult];

  const result = {
    ruleSet: description.managed.ruleSet,
    rules: description.managed.rules,
    paranoiaLevel,
    loadMs: Math.round(loadMs),
    mix: { benignShare: share, distinctBenign: benign.length, distinctAttacks: attacks.length },
    detection: { attacksBlocked: attacks.length - missed.length, attacks: attacks.length, missed, benignPassed: benign.length - falsePositives, benign: benign.length },
    cells,
    ratioP50: crs.p50 / base.p50,
    targetP50Ms: 0.3,
    quick: values.quick,
    proxy: values['no-proxy'] ? undefined : await proxyWithAndWithoutWaf(values.quick ? 1 : Math.max(2, Math.round(seconds)), paranoiaLevel),
  };
  if (values.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return 0;
  }
  const f = (n: number, d = 3) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  const lines = [
    `WAF benchmark: ${result.ruleSet} (${result.rules} rules, loaded in ${result.loadMs} ms) at paranoia level ${paranoiaLevel}`,
    `mix: ${Math.round(share * 100)}% benign (${benign.length} distinct requests), ${Math.round((1 - share) * 100)}% attacks (${attacks.length} distinct)${values.quick ? '   [quick: figures mean nothing]' : ''}`,
    `detection: ${result.detection.attacksBlocked}/${attacks.length} attacks blocked, ${result.detection.benignPassed}/${benign.length} benign requests passed${missed.length > 0 ? `; missed: ${missed.join('; ')}` : ''}`,
    '',
    `${'configuration'.padEnd(30)} ${'requests'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'benign p50'.padStart(11)} ${'attack p50'.padStart(11)} ${'mean ms'.padStart(8)} ${'CPU µs/req'.padStart(11)}`,
    ...cells.map((c) => `${c.name.padEnd(30)} ${String(c.requests).padStart(9)} ${f(c.p50).padStart(8)} ${f(c.p99).padStart(8)} ${f(c.benignP50).padStart(11)} ${f(c.attackP50).padStart(11)} ${f(c.mean).padStart(8)} ${f(c.cpuMicrosPerRequest, 0).padStart(11)}`),
    '',
    `CRS p50 is ${f(result.ratioP50, 1)}× the baseline's; target p50 ≤ ${result.targetP50Ms} ms: ${crs.p50 <= result.targetP50Ms ? 'met' : 'NOT met'}`,
    ...(result.proxy
      ? [
          '',
          `proxy through the edge (wrk -t1 -c32, keep-alive TLS 1.3, 1 KiB; the WAF with CRS PL${paranoiaLevel} vs no WAF):`,
          `${'route'.padEnd(14)} ${'WAF off req/s'.padStart(14)} ${'WAF on req/s'.padStart(13)} ${'on/off'.padStart(7)} ${'p50 on ms'.padStart(10)}`,
          ...result.proxy.map((r) => `${r.route.padEnd(14)} ${r.off.toFixed(0).padStart(14)} ${r.on.toFixed(0).padStart(13)} ${(r.on / r.off).toFixed(2).padStart(7)} ${r.p50On.toFixed(2).padStart(10)}`),
        ]
      : []),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

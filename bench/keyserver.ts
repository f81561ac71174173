// Key server throughput and latency: signatures per second and p50/p99 for ECDSA P-256 and RSA-2048
// through Sign (unary) and SignStream at several concurrencies, against a key server in its own
// process (audit log on: every signature waits for its fsync'ed line), with the edge's own client
// (KeyServerPool) as the load generator, next to raw crypto.sign on one thread measured in the
// same run. Each cell is a closed loop: `concurrency` callers, each sending its next request when
// the previous one is answered.
//
// Run: npm run bench:keyserver [-- options]     (or: node bin/keyless.js bench keyserver [options])
//   --seconds N        measured time per pass of a cell (default 3; each cell warms up for a tenth of it)
//   --passes N         passes per cell, the best one reported (default 3): the machine may be shared
//   --concurrency L    comma-separated list (default 1,16,64)
//   --algorithms L     ecdsa-p256,rsa-2048 (default both)
//   --rpc L            sign,sign-stream (default both)
//   --quick            a few hundred signatures in all, for a smoke test; the figures mean nothing
//   --json             the results as JSON instead of the table
//   --audit-delay MS   the key server's audit.maxBatchDelayMs (default: the configuration default)
//   --signing-threads N  the file store's signingThreads (default: one per core; 0: libuv's pool)
//   --inline-budget-ms MS  the file store's inlineBudgetMs (P-256/Ed25519 signing time per event-loop turn on the event loop; 0: none)
//   --checkpoint-before-reply  the key server's audit.checkpointBeforeReply: each signature also waits for the truncation checkpoint
//   --checkpoint-sync-ms MS    the key server's audit.checkpointSyncMs (0: every checkpoint update a durable write of its own)
//   --profile DIR      write a V8 CPU profile of the key server to DIR (node --cpu-prof)
import { constants, createPrivateKey, createPublicKey, randomBytes, sign as cryptoSign } from 'node:crypto';
import type { KeyObject, SignKeyObjectInput } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { SignatureScheme } from '../common/signature-scheme.js';
import { KeyServerPool } from '../edge/keyserver-client/index.js';
import { SignerError } from '../edge/signer.js';
import { verifyAuditFiles } from '../keyserver/audit/verify.js';
import { tls13ServerCertificateVerifyInput } from '../keyserver/signing-input.js';
import type { DevSiteName } from '../certs/index.js';
import { machineBusySeconds, ownCpuSeconds, processCpuSeconds } from './lib/cpu-time.js';
import { startKeyServerUnderTest } from './lib/keyserver-under-test.js';
import type { KeyServerUnderTest } from './lib/keyserver-under-test.js';
import { LatencySamples } from './lib/latency.js';
import { formatCount, formatFixed, renderTable } from './lib/table.js';

const ALGORITHMS = [
  { id: 'ecdsa-p256', label: 'ECDSA P-256', site: 'site-ecdsa-p256', scheme: SignatureScheme.ecdsa_secp256r1_sha256 },
  { id: 'rsa-2048', label: 'RSA-2048 PSS', site: 'site-rsa-2048', scheme: SignatureScheme.rsa_pss_rsae_sha256 },
] as const satisfies readonly { id: string; label: string; site: DevSiteName; scheme: SignatureScheme }[];
type Algorithm = (typeof ALGORITHMS)[number];

const RPCS = [
  { id: 'sign', label: 'Sign', transport: 'unary' },
  { id: 'sign-stream', label: 'SignStream', transport: 'sign-stream' },
] as const;
type Rpc = (typeof RPCS)[number];

/** How long a cell runs: a time, or (quick mode) a number of signatures. */
type Budget = { readonly seconds: number } | { readonly signatures: number };

interface Settings {
  readonly budget: Budget;
  readonly passes: number;
  readonly warmup: Budget;
  readonly rawBudget: Budget;
  readonly concurrency: readonly number[];
  readonly algorithms: readonly Algorithm[];
  readonly rpcs: readonly Rpc[];
  readonly json: boolean;
  readonly profileDir: string | undefined;
  readonly auditBatchDelayMs: number | undefined;
  readonly signingThreads: number | undefined;
  readonly inlineBudgetMs: number | undefined;
  readonly checkpointBeforeReply: boolean;
  readonly checkpointSyncMs: number | undefined;
}

export interface CellResult {
  readonly algorithm: string;
  readonly rpc: string;
  readonly concurrency: number;
  readonly signatures: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** perSecond over raw crypto.sign on one thread for the same algorithm. */
  readonly ratioToRaw: number;
  /** Failed operations by SignerError code (none expected). */
  readonly errors: Readonly<Record<string, number>>;
  /** CPU cores the key server process kept busy on average (undefined without /proc). */
  readonly keyServerCores: number | undefined;
  /** CPU cores this process (the load generator) kept busy. */
  readonly loadGeneratorCores: number;
  /** CPU cores the rest of the machine (other processes) kept busy meanwhile: a disturbed cell shows here. */
  readonly otherCores: number | undefined;
}

export interface BenchReport {
  readonly machine: { readonly cpus: number; readonly cpuModel: string; readonly node: string };
  readonly quick: boolean;
  /** How it was run: per cell, the seconds of each pass (or the signatures, in quick mode) and the passes; key-server overrides. */
  readonly settings: {
    readonly secondsPerPass: number | null;
    readonly signaturesPerCell: number | null;
    readonly passes: number;
    readonly auditBatchDelayMs: number | null;
    readonly signingThreads: number | null;
    readonly inlineBudgetMs: number | null;
    readonly checkpointBeforeReply: boolean;
    readonly checkpointSyncMs: number | null;
  };
  readonly raw: Readonly<Record<string, number>>;
  readonly cells: readonly CellResult[];
  readonly audit: { readonly lines: number; readonly chainIntact: boolean };
}

function parseSettings(args: string[]): Settings {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      seconds: { type: 'string' },
      passes: { type: 'string' },
      concurrency: { type: 'string' },
      algorithms: { type: 'string' },
      rpc: { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      profile: { type: 'string' },
      'audit-delay': { type: 'string' },
      'signing-threads': { type: 'string' },
      'inline-budget-ms': { type: 'string' },
      'checkpoint-before-reply': { type: 'boolean', default: false },
      'checkpoint-sync-ms': { type: 'string' },
    },
  });
  const list = <T extends { id: string }>(value: string | undefined, all: readonly T[], flag: string): T[] => {
    if (value === undefined) return [...all];
    return value.split(',').map((id) => {
      const found = all.find((a) => a.id === id.trim());
      if (!found) throw new Error(`${flag}: unknown '${id}' (choose from ${all.map((a) => a.id).join(', ')})`);
      return found;
    });
  };
  const concurrency = (values.concurrency ?? '1,16,64').split(',').map((c) => Number(c));
  if (concurrency.some((c) => !Number.isInteger(c) || c < 1 || c > 4096)) throw new Error('--concurrency: integers from 1 to 4096, comma-separated');
  const seconds = Number(values.seconds ?? 3);
  if (!(seconds > 0)) throw new Error('--seconds: a positive number');
  const quick = values.quick === true;
  const passes = Number(values.passes ?? (quick ? 1 : 3));
  if (!(Number.isInteger(passes) && passes >= 1 && passes <= 20)) throw new Error('--passes: an integer from 1 to 20');
  const signingThreads = values['signing-threads'] === undefined ? undefined : Number(values['signing-threads']);
  if (signingThreads !== undefined && !(Number.isInteger(signingThreads) && signingThreads >= 0 && signingThreads <= 256)) throw new Error('--signing-threads: an integer from 0 to 256');
  const inlineBudgetMs = values['inline-budget-ms'] === undefined ? undefined : Number(values['inline-budget-ms']);
  if (inlineBudgetMs !== undefined && !(inlineBudgetMs >= 0 && inlineBudgetMs <= 100)) throw new Error('--inline-budget-ms: milliseconds from 0 to 100');
  const auditDelay = values['audit-delay'] === undefined ? undefined : Number(values['audit-delay']);
  if (auditDelay !== undefined && !(auditDelay >= 0 && auditDelay <= 1000)) throw new Error('--audit-delay: milliseconds from 0 to 1000');
  const checkpointSyncMs = values['checkpoint-sync-ms'] === undefined ? undefined : Number(values['checkpoint-sync-ms']);
  if (checkpointSyncMs !== undefined && !(Number.isInteger(checkpointSyncMs) && checkpointSyncMs >= 0 && checkpointSyncMs <= 60_000)) throw new Error('--checkpoint-sync-ms: an integer from 0 to 60000');
  return {
    budget: quick ? { signatures: 24 } : { seconds },
    passes,
    warmup: quick ? { signatures: 4 } : { seconds: seconds / 10 },
    rawBudget: quick ? { signatures: 50 } : { seconds: Math.min(2, seconds) },
    concurrency,
    algorithms: list(values.algorithms, ALGORITHMS, '--algorithms'),
    rpcs: list(values.rpc, RPCS, '--rpc'),
    json: values.json === true,
    profileDir: values.profile,
    auditBatchDelayMs: auditDelay,
    signingThreads,
    inlineBudgetMs,
    checkpointBeforeReply: values['checkpoint-before-reply'] === true,
    checkpointSyncMs,
  };
}

export async function run(args: string[]): Promise<number> {
  const settings = parseSettings(args);
  const progress = (line: string): void => {
    // With --json, stdout carries the JSON alone.
    (settings.json ? process.stderr : process.stdout).write(`${line}\n`);
  };
  progress('starting a key server in its own process (dev PKI in a temporary directory, audit log on)...');
  const server = await startKeyServerUnderTest({
    ...(settings.profileDir !== undefined ? { profileDir: settings.profileDir } : {}),
    ...(settings.auditBatchDelayMs !== undefined ? { auditBatchDelayMs: settings.auditBatchDelayMs } : {}),
    ...(settings.signingThreads !== undefined ? { signingThreads: settings.signingThreads } : {}),
    ...(settings.inlineBudgetMs !== undefined ? { inlineBudgetMs: settings.inlineBudgetMs } : {}),
    checkpointBeforeReply: settings.checkpointBeforeReply,
    ...(settings.checkpointSyncMs !== undefined ? { checkpointSyncMs: settings.checkpointSyncMs } : {}),
  });
  let report: BenchReport;
  try {
    report = await measure(server, settings, progress);
  } finally {
    await server.stop();
  }
  if (settings.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(renderReport(report, settings));
  const failed = report.cells.some((c) => Object.keys(c.errors).length > 0) || !report.audit.chainIntact;
  return failed ? 1 : 0;
}

async function measure(server: KeyServerUnderTest, settings: Settings, progress: (line: string) => void): Promise<BenchReport> {
  const privateKeys = new Map<string, KeyObject>();
  for (const algorithm of settings.algorithms) {
    privateKeys.set(algorithm.id, createPrivateKey(await readFile(server.pki.sites[algorithm.site].key)));
  }
  // Raw first, while the key server sits idle.
  const raw: Record<string, number> = {};
  for (const algorithm of settings.algorithms) {
    const key = privateKeys.get(algorithm.id)!;
    raw[algorithm.id] = Math.max(...Array.from({ length: settings.passes }, () => rawSignaturesPerSecond(key, algorithm, settings.rawBudget)));
  }

  const credentials = await server.edgeCredentials();
  const cells: CellResult[] = [];
  for (const rpc of settings.rpcs) {
    const pool = new KeyServerPool({
      servers: [{ address: server.address, serverName: 'localhost' }],
      ...credentials,
      deadlineMs: 10_000,
      healthCheckIntervalMs: 5_000,
      transport: rpc.transport,
    });
    try {
      if (!(await pool.checkHealth())) throw new Error(`the key server at ${server.address} is not serving`);
      await pool.listKeys();
      for (const algorithm of settings.algorithms) {
        const publicKey = createPublicKey(privateKeys.get(algorithm.id)!);
        const keyId = server.pki.sites[algorithm.site].keyId;
        // One checked signature first: the figures are for signatures that verify.
        await pool.sign(operation(keyId, algorithm, 0), { verifyWith: publicKey });
        for (const concurrency of settings.concurrency) {
          await runCell(pool, keyId, algorithm, concurrency, settings.warmup, server.pid);
          let cell = await runCell(pool, keyId, algorithm, concurrency, settings.budget, server.pid);
          for (let pass = 1; pass < settings.passes; pass++) {
            const again = await runCell(pool, keyId, algorithm, concurrency, settings.budget, server.pid);
            if (again.perSecond > cell.perSecond) cell = again;
          }
          const result: CellResult = { ...cell, algorithm: algorithm.id, rpc: rpc.id, ratioToRaw: cell.perSecond / raw[algorithm.id]! };
          cells.push(result);
          progress(`  ${algorithm.label.padEnd(12)} ${rpc.label.padEnd(10)} x${String(concurrency).padEnd(3)} ${formatCount(result.perSecond).padStart(7)}/s`);
        }
      }
    } finally {
      pool.close();
    }
  }
  await server.stop({ keep: true });
  const audit = await verifyAuditFiles([server.auditDir], {});
  return {
    machine: { cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version },
    quick: 'signatures' in settings.budget,
    settings: {
      secondsPerPass: 'seconds' in settings.budget ? settings.budget.seconds : null,
      signaturesPerCell: 'signatures' in settings.budget ? settings.budget.signatures : null,
      passes: settings.passes,
      auditBatchDelayMs: settings.auditBatchDelayMs ?? null,
      signingThreads: settings.signingThreads ?? null,
      inlineBudgetMs: settings.inlineBudgetMs ?? null,
      checkpointBeforeReply: settings.checkpointBeforeReply,
      checkpointSyncMs: settings.checkpointSyncMs ?? null,
    },
    raw,
    cells,
    audit: { lines: audit.ok ? audit.lines : 0, chainIntact: audit.ok },
  };
}

const TRANSCRIPT_HASHES = Array.from({ length: 256 }, () => randomBytes(32));

function operation(keyId: string, algorithm: Algorithm, n: number) {
  return {
    keyId,
    scheme: algorithm.scheme,
    input: { kind: 'tls13-server-certificate-verify', transcriptHash: TRANSCRIPT_HASHES[n % TRANSCRIPT_HASHES.length]! } as const,
    context: { sni: 'localhost', clientIp: '192.0.2.1', requestId: `bench-${n}` },
  };
}

/** crypto.sign on this thread, synchronously, with the parameters the file key store uses. */
function rawSignaturesPerSecond(key: KeyObject, algorithm: Algorithm, budget: Budget): number {
  const params: SignKeyObjectInput =
    algorithm.id === 'rsa-2048' ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : { key, dsaEncoding: 'der' };
  const messages = TRANSCRIPT_HASHES.map((h) => tls13ServerCertificateVerifyInput(h));
  for (let i = 0; i < 20; i++) cryptoSign('sha256', messages[i]!, params);
  const started = performance.now();
  const endAt = 'seconds' in budget ? started + budget.seconds * 1000 : Infinity;
  const limit = 'signatures' in budget ? budget.signatures : Infinity;
  let n = 0;
  while (n < limit && (n % 16 !== 0 || performance.now() < endAt)) {
    cryptoSign('sha256', messages[n % messages.length]!, params);
    n++;
  }
  return n / ((performance.now() - started) / 1000);
}

type CellMeasurement = Omit<CellResult, 'algorithm' | 'rpc' | 'ratioToRaw'>;

let requestCounter = 1;

async function runCell(pool: KeyServerPool, keyId: string, algorithm: Algorithm, concurrency: number, budget: Budget, serverPid: number): Promise<CellMeasurement> {
  const samples = new LatencySamples();
  const errors: Record<string, number> = {};
  const serverCpuBefore = await processCpuSeconds(serverPid);
  const machineBefore = await machineBusySeconds();
  const ownCpuBefore = ownCpuSeconds();
  const started = performance.now();
  const endAt = 'seconds' in budget ? started + budget.seconds * 1000 : Infinity;
  let remaining = 'signatures' in budget ? budget.signatures : Infinity;
  const caller = async (): Promise<void> => {
    while (remaining > 0 && performance.now() < endAt) {
      remaining--;
      const sent = performance.now();
      try {
        await pool.sign(operation(keyId, algorithm, requestCounter++));
        samples.add(performance.now() - sent);
      } catch (err) {
        const code = err instanceof SignerError ? (err.remoteCode ?? err.code) : 'ERROR';
        errors[code] = (errors[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  const seconds = (performance.now() - started) / 1000;
  const ownCpu = ownCpuSeconds() - ownCpuBefore;
  const serverCpuAfter = await processCpuSeconds(serverPid);
  const machineAfter = await machineBusySeconds();
  const serverCpu = serverCpuBefore !== undefined && serverCpuAfter !== undefined ? serverCpuAfter - serverCpuBefore : undefined;
  const otherCpu = machineBefore !== undefined && machineAfter !== undefined && serverCpu !== undefined ? Math.max(0, machineAfter - machineBefore - serverCpu - ownCpu) : undefined;
  return {
    concurrency,
    signatures: samples.count,
    seconds,
    perSecond: samples.count / seconds,
    p50Ms: samples.percentile(50),
    p99Ms: samples.percentile(99),
    errors,
    keyServerCores: serverCpu === undefined ? undefined : serverCpu / seconds,
    loadGeneratorCores: ownCpu / seconds,
    otherCores: otherCpu === undefined ? undefined : otherCpu / seconds,
  };
}

function renderReport(report: BenchReport, settings: Settings): string {
  const label = (id: string): string => ALGORITHMS.find((a) => a.id === id)?.label ?? id;
  const rpcLabel = (id: string): string => RPCS.find((r) => r.id === id)?.label ?? id;
  const { machine } = report;
  const per = 'seconds' in settings.budget ? `best of ${settings.passes} passes of ${settings.budget.seconds} s per cell` : `${settings.budget.signatures} signatures per cell (--quick: not a measurement)`;
  const rows = report.cells.map((c) => [
    label(c.algorithm),
    rpcLabel(c.rpc),
    String(c.concurrency),
    formatCount(c.perSecond),
    formatFixed(c.p50Ms, 2),
    formatFixed(c.p99Ms, 2),
    formatFixed(c.ratioToRaw, 2),
    c.keyServerCores === undefined ? '-' : formatFixed(c.keyServerCores, 2),
    formatFixed(c.loadGeneratorCores, 2),
    c.otherCores === undefined ? '-' : formatFixed(c.otherCores, 2),
    Object.entries(c.errors)
      .map(([code, n]) => `${code}:${n}`)
      .join(' ') || '0',
  ]);
  return [
    '',
    `key server benchmark: ${machine.cpus} CPUs (${machine.cpuModel}), Node ${machine.node}, ${per}`,
    `key server in its own process, audit log on (fsync, group commit; a signature waits for its line${settings.checkpointBeforeReply ? ' and the checkpoint' : ''}); load from the edge client (KeyServerPool) in this process`,
    '',
    `raw crypto.sign, one thread, this process (best of ${settings.passes}):`,
    ...Object.entries(report.raw).map(([id, rate]) => `  ${label(id).padEnd(14)} ${formatCount(rate).padStart(8)} signatures/s`),
    '',
    renderTable(
      [
        { title: 'algorithm' },
        { title: 'rpc' },
        { title: 'concurrency', align: 'right' },
        { title: 'signatures/s', align: 'right' },
        { title: 'p50 ms', align: 'right' },
        { title: 'p99 ms', align: 'right' },
        { title: 'vs raw', align: 'right' },
        { title: 'key server CPU', align: 'right' },
        { title: 'client CPU', align: 'right' },
        { title: 'other CPU', align: 'right' },
        { title: 'errors' },
      ],
      rows,
    ),
    '',
    `audit log: ${report.audit.lines} lines, ${report.audit.chainIntact ? 'chain intact' : 'CHAIN BROKEN'}`,
    'CPU columns: cores kept busy on average (1.00 = one core); "other" is the rest of the machine, a disturbed cell shows there.',
    '',
  ].join('\n');
}

// Bulk transfer: MiB/s of a 256 MiB download over one TLS 1.3 connection, AES-128-GCM, from
//   keyless   the edge's TLS stack (edge/tls) behind an http.Server, in its own process
//   node:tls  an https server (OpenSSL), in its own process
// with the same handler and the same client (Node's tls) in this process, in the same run. Each
// figure is the best of a few downloads: the machine is shared, the best is the least disturbed.
//
//   npm run bench:bulk [-- --mib 256] [--rounds 3] [--quick] [--json]
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { startBenchServer } from './lib/bench-server-process.js';
import { processCpuSeconds } from './lib/cpu-time.js';
import { renderTable } from './lib/table.js';
import { download } from './lib/tls-load.js';
import { generateDevPki } from '../certs/index.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

interface Row {
  readonly server: 'keyless' | 'node:tls';
  readonly mibPerSecond: number;
  /** MiB sent per CPU-second of the server process. */
  readonly mibPerServerCpuSecond: number;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { mib: { type: 'string' }, rounds: { type: 'string' }, quick: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } }, strict: true });
  const mib = values.quick ? 16 : Number(values.mib ?? 256);
  const rounds = values.quick ? 1 : Number(values.rounds ?? 3);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'keyless-bulk-'));
  const rows: Row[] = [];
  try {
    const pki = await generateDevPki(path.join(dir, 'pki'));
    const ca = await readFile(pki.edge.ca);
    for (const stack of ['node', 'keyless'] as const) {
      const server = await startBenchServer(stack, pki.dir);
      try {
        await download(server.port, ca, 8 * 1024 * 1024);
        let best = 0;
        let bestPerCpu = 0;
        for (let i = 0; i < rounds; i++) {
          const cpu0 = (await processCpuSeconds(server.pid)) ?? NaN;
          const started = performance.now();
          const rate = await download(server.port, ca, mib * 1024 * 1024);
          const seconds = (performance.now() - started) / 1000;
          const cpu = ((await processCpuSeconds(server.pid)) ?? NaN) - cpu0;
          best = Math.max(best, rate);
          // /proc counts CPU in clock ticks (10 ms): a --quick download on a fast machine can read 0.
          if (cpu > 0) bestPerCpu = Math.max(bestPerCpu, (rate * seconds) / cpu);
        }
        rows.push({ server: stack === 'node' ? 'node:tls' : 'keyless', mibPerSecond: best, mibPerServerCpuSecond: bestPerCpu });
      } finally {
        await server.stop();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  if (values.json) {
    process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    return 0;
  }
  const base = rows.find((r) => r.server === 'node:tls')!;
  process.stdout.write(
    renderTable(
      [{ title: 'server' }, { title: `MiB/s (${mib} MiB)`, align: 'right' }, { title: 'MiB/server-CPU-s', align: 'right' }, { title: 'ratio MiB/s', align: 'right' }, { title: 'ratio per CPU-s', align: 'right' }],
      rows.map((r) => [
        r.server,
        r.mibPerSecond.toFixed(0),
        r.mibPerServerCpuSecond > 0 ? r.mibPerServerCpuSecond.toFixed(0) : 'n/a',
        (r.mibPerSecond / base.mibPerSecond).toFixed(2),
        r.mibPerServerCpuSecond > 0 && base.mibPerServerCpuSecond > 0 ? (r.mibPerServerCpuSecond / base.mibPerServerCpuSecond).toFixed(2) : 'n/a',
      ]),
    ) + '\n',
  );
  return 0;
}

// CPU time of a process, to show where the cores went during a benchmark cell: on a 2-core
// machine the load generator and the key server compete for the same two.
import { readFile } from 'node:fs/promises';

/** CPU seconds (user + system) the process `pid` has used so far; undefined where /proc is not available. */
export async function processCpuSeconds(pid: number): Promise<number | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces; the fields after its closing parenthesis do not.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name; in clock ticks (USER_HZ, 100 on Linux).
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? ticks / 100 : undefined;
}

/** CPU seconds this process has used so far (its own threads included: libuv pool, gRPC). */
export function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** CPU seconds the whole machine has spent busy so far (all cores, every process); undefined without /proc. */
export async function machineBusySeconds(): Promise<number | undefined> {
  let stat: string;
  try {
    stat = await readFile('/proc/stat', 'utf8');
  } catch {
    return undefined;
  }
  // cpu  user nice system idle iowait irq softirq steal ...: busy is everything but idle and iowait.
  const fields = stat.slice(0, stat.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number);
  const busy = fields.slice(0, 8).reduce((sum, v, i) => (i === 3 || i === 4 ? sum : sum + v), 0);
  return Number.isFinite(busy) ? busy / 100 : undefined;
}

// Log lines of the demo's components, shown one per line.

const PINO_LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
/** Fields every pino line has; the rest are worth showing. */
const PINO_HOUSEKEEPING = new Set(['level', 'time', 'pid', 'hostname', 'service', 'msg']);

/** A pino JSON line as "info key server ready listen=127.0.0.1:2407 ..."; other lines as they are. */
export function formatLogLine(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    const fields = Object.entries(entry)
      .filter(([k]) => !PINO_HOUSEKEEPING.has(k))
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
    return [PINO_LEVELS[entry.level as number] ?? String(entry.level), String(entry.msg ?? ''), ...fields].join(' ');
  } catch {
    return line;
  }
}

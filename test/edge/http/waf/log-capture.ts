// A pino logger whose lines the test can read.
import { pino } from 'pino';
import type { Logger } from 'pino';

export function captureLog(level = 'debug'): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}

// `keyless audit summary`: what a security reviewer reads. Counts operations per edge identity,
// key, operation and outcome, then lists the denials and failures. Files are streamed line by
// line, so a log of many rotated 64 MiB files summarizes in bounded memory (the table grows with
// the number of distinct identity/key/operation/outcome combinations, the denial list is capped).
// It does not check the chain: run `verify` for that; malformed lines are counted and skipped.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { resolveChainFiles } from './audit-files.js';
import type { AuditIdentity, AuditLine, Decision } from './audit-line.js';
import { isRecoveryLine, parseChainLine } from './audit-line.js';

export interface SummaryFilter {
  /** Lines at or after this time. */
  since?: Date;
  /** Lines before this time. */
  until?: Date;
  /** Matches the identity label, the certificate subject, any SAN (with or without its "URI:" prefix) or the fingerprint. */
  identity?: string;
  /** A key id or a prefix of one (hex). */
  keyId?: string;
}

export interface SummaryOptions {
  /** Most denials kept in the list; the rest are only counted. Default 1000. */
  denialLimit?: number;
}

export interface SummaryRow {
  readonly identity: string;
  readonly keyId: string;
  readonly operation: string;
  readonly outcome: string;
  readonly count: number;
}

export interface DenialRow {
  readonly time: string;
  readonly seq: number;
  readonly identity: string;
  readonly keyId: string;
  readonly operation: string;
  readonly decision: Decision;
  readonly outcome: string;
  readonly reason: string;
  readonly requestId: string;
  readonly peer: string;
}

export interface Summary {
  readonly files: string[];
  readonly linesRead: number;
  /** Lines that passed the filter. */
  readonly matched: number;
  /** Lines that are not audit lines (not JSON, wrong shape, a crash fragment). */
  readonly malformed: number;
  /** Recovery markers (restarts after a crash cut a line). */
  readonly recoveries: number;
  /** Time of the first and last matching line. */
  readonly firstTime: string | null;
  readonly lastTime: string | null;
  readonly decisions: Readonly<Record<Decision, number>>;
  /** Sorted by identity, key, operation, outcome. */
  readonly rows: SummaryRow[];
  /** Denied and failed decisions, in log order, at most `denialLimit`. */
  readonly denials: DenialRow[];
  readonly denialsOmitted: number;
}

export const NO_CERTIFICATE = '(no client certificate)';

/** How an edge is named in a summary: its first URI SAN (the SPIFFE id), else its subject. */
export function identityLabel(identity: AuditIdentity | null): string {
  if (!identity) return NO_CERTIFICATE;
  const uri = identity.sans.find((s) => s.startsWith('URI:'));
  if (uri) return uri.slice('URI:'.length);
  return identity.subject || `sha256:${identity.fingerprint.slice(0, 16)}`;
}

function identityMatches(line: AuditLine, wanted: string): boolean {
  const id = line.identity;
  if (identityLabel(id) === wanted) return true;
  if (!id) return false;
  return id.subject === wanted || id.fingerprint === wanted.toLowerCase() || id.sans.some((s) => s === wanted || s.slice(s.indexOf(':') + 1) === wanted);
}

export async function summarizeAuditFiles(paths: string[], filter: SummaryFilter = {}, options: SummaryOptions = {}): Promise<Summary> {
  const { files } = await resolveChainFiles(paths);
  const denialLimit = options.denialLimit ?? 1000;
  const keyPrefix = filter.keyId?.toLowerCase();
  const since = filter.since?.getTime();
  const until = filter.until?.getTime();
  const counts = new Map<string, SummaryRow>();
  const denials: DenialRow[] = [];
  const decisions: Record<Decision, number> = { allowed: 0, denied: 0, failed: 0 };
  let linesRead = 0;
  let matched = 0;
  let malformed = 0;
  let recoveries = 0;
  let denialsOmitted = 0;
  let firstTime: string | null = null;
  let lastTime: string | null = null;

  for (const file of files) {
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    for await (const text of lines) {
      if (text === '') continue;
      linesRead++;
      const parsed = parseChainLine(Buffer.from(text));
      if ('error' in parsed) {
        malformed++;
        continue;
      }
      if (isRecoveryLine(parsed)) {
        recoveries++;
        continue;
      }
      const t = Date.parse(parsed.time);
      if (since !== undefined && t < since) continue;
      if (until !== undefined && t >= until) continue;
      if (keyPrefix !== undefined && !parsed.keyId.startsWith(keyPrefix)) continue;
      if (filter.identity !== undefined && !identityMatches(parsed, filter.identity)) continue;

      matched++;
      firstTime ??= parsed.time;
      lastTime = parsed.time;
      decisions[parsed.decision]++;
      const identity = identityLabel(parsed.identity);
      const key = JSON.stringify([identity, parsed.keyId, parsed.operation, parsed.outcome]);
      const row = counts.get(key);
      counts.set(key, { identity, keyId: parsed.keyId, operation: parsed.operation, outcome: parsed.outcome, count: (row?.count ?? 0) + 1 });
      if (parsed.decision !== 'allowed') {
        if (denials.length < denialLimit) {
          denials.push({
            time: parsed.time,
            seq: parsed.seq,
            identity,
            keyId: parsed.keyId,
            operation: parsed.operation,
            decision: parsed.decision,
            outcome: parsed.outcome,
            reason: parsed.reason ?? '',
            requestId: parsed.requestId,
            peer: parsed.peer,
          });
        } else {
          denialsOmitted++;
        }
      }
    }
  }

  const rows = [...counts.values()].sort(
    (a, b) => a.identity.localeCompare(b.identity) || a.keyId.localeCompare(b.keyId) || a.operation.localeCompare(b.operation) || a.outcome.localeCompare(b.outcome),
  );
  return { files, linesRead, matched, malformed, recoveries, firstTime, lastTime, decisions, rows, denials, denialsOmitted };
}

/** Key ids are 64 hex digits; 16 tell keys apart in a table. */
export function shortKeyId(keyId: string): string {
  if (keyId === '') return '-';
  return keyId.length > 16 ? keyId.slice(0, 16) : keyId;
}

/** Log fields reach a terminal: control characters (newlines, escape sequences) are shown as '?'. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

function table(header: readonly string[], cells: ReadonlyArray<readonly string[]>, rightAligned: ReadonlySet<number>): string[] {
  const rows = cells.map((r) => r.map(printable));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const format = (row: readonly string[]): string =>
    row
      .map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [format(header), ...rows.map(format)];
}

/** The summary as text for a terminal. */
export function renderSummary(summary: Summary): string {
  const out: string[] = [];
  const span = summary.firstTime ? ` from ${summary.firstTime} to ${summary.lastTime}` : '';
  out.push(`${summary.matched} of ${summary.linesRead} lines in ${summary.files.length} file(s)${span}`);
  const d = summary.decisions;
  out.push(`allowed ${d.allowed}, denied ${d.denied}, failed ${d.failed}`);
  if (summary.recoveries > 0) out.push(`recoveries after a crash: ${summary.recoveries}`);
  if (summary.malformed > 0) out.push(`malformed lines skipped: ${summary.malformed} (run 'keyless audit verify')`);
  out.push('');
  if (summary.rows.length === 0) {
    out.push('no matching operations');
  } else {
    out.push(
      ...table(
        ['IDENTITY', 'KEY', 'OPERATION', 'OUTCOME', 'COUNT'],
        summary.rows.map((r) => [r.identity, shortKeyId(r.keyId), r.operation, r.outcome, String(r.count)]),
        new Set([4]),
      ),
    );
  }
  const total = summary.denials.length + summary.denialsOmitted;
  out.push('', `Denials and failures: ${total}`);
  if (summary.denials.length > 0) {
    out.push(
      ...table(
        ['TIME', 'IDENTITY', 'KEY', 'OUTCOME', 'REASON'],
        summary.denials.map((r) => [r.time, r.identity, shortKeyId(r.keyId), r.outcome, r.reason]),
        new Set(),
      ),
    );
  }
  if (summary.denialsOmitted > 0) out.push(`... and ${summary.denialsOmitted} more (narrow with --since/--until/--identity/--key)`);
  return out.join('\n');
}

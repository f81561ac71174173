// `keyless audit verify|summary`: check the audit log's hash chain, or summarize it for review.
// Reads files only; it never needs the key server to be running.
import { parseArgs } from 'node:util';
import { verifyAuditFiles } from '../keyserver/audit/verify.js';
import { renderSummary, summarizeAuditFiles } from '../keyserver/audit/summary.js';
import type { SummaryFilter } from '../keyserver/audit/summary.js';
import type { Command } from './command.js';
import { UsageError } from './command.js';

const help = `usage: keyless audit verify FILE|DIR... [--allow-pruned]
       keyless audit summary FILE|DIR... [--since ISO] [--until ISO] [--identity X] [--key KEYID] [--json]

verify   walk the hash chain and report the first bad line.
         Prints "OK: N lines, chain intact" and exits 0, or "FAIL: <file>:<line>: <reason>" and exits 1.
         Give the log directory, the live file (its rotated files are found beside it), or a list of
         files (files of one log are put in chain order: audit.jsonl.000001, ..., audit.jsonl).
         The end of the chain is checked against the checkpoint (audit.head) beside the live file.
  --allow-pruned   the oldest rotated files were deleted by retention: start from the first line present

summary  operations per edge identity, key, operation and outcome, then the denials and failures.
  --since ISO      only lines at or after this time (e.g. 2025-01-31T00:00:00Z)
  --until ISO      only lines before this time
  --identity X     one edge: its SPIFFE id / URI SAN, certificate subject or fingerprint
  --key KEYID      one key: its id or a prefix of it
  --json           the summary as JSON`;

/** parseArgs reports bad flags by throwing; they are usage errors. */
function asUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function isoDate(value: string | undefined, flag: string): Date | undefined {
  if (value === undefined) return undefined;
  const d = /^\d{4}-\d{2}-\d{2}/.test(value) ? new Date(value) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw new UsageError(`${flag} needs an ISO 8601 time, e.g. 2025-01-31T00:00:00Z`);
  return d;
}

async function verify(args: string[]): Promise<number> {
  const { values, positionals } = asUsage(() => parseArgs({ args, allowPositionals: true, strict: true, options: { 'allow-pruned': { type: 'boolean' } } }));
  if (positionals.length === 0) throw new UsageError('verify needs at least one file or directory');
  const result = await verifyAuditFiles(positionals, { allowPruned: values['allow-pruned'] === true });
  if (!result.ok) {
    process.stdout.write(`FAIL: ${result.file}:${result.line}: ${result.reason} (${result.code})\n`);
    return 1;
  }
  process.stdout.write(`OK: ${result.lines} lines, chain intact\n`);
  process.stdout.write(
    result.checkpoint === 'matched'
      ? `last hash ${result.lastHash}, matches the checkpoint\n`
      : `last hash ${result.lastHash}; no checkpoint: lines cut from the end would not be detected\n`,
  );
  return 0;
}

async function summary(args: string[]): Promise<number> {
  const { values, positionals } = asUsage(() =>
    parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        since: { type: 'string' },
        until: { type: 'string' },
        identity: { type: 'string' },
        key: { type: 'string' },
        json: { type: 'boolean' },
      },
    }),
  );
  if (positionals.length === 0) throw new UsageError('summary needs at least one file or directory');
  const filter: SummaryFilter = {};
  const since = isoDate(values.since, '--since');
  const until = isoDate(values.until, '--until');
  if (since) filter.since = since;
  if (until) filter.until = until;
  if (values.identity !== undefined) filter.identity = values.identity;
  if (values.key !== undefined) {
    if (!/^[0-9a-fA-F]+$/.test(values.key)) throw new UsageError('--key needs a key id (hex) or a prefix of one');
    filter.keyId = values.key;
  }
  const result = await summarizeAuditFiles(positionals, filter);
  process.stdout.write(values.json === true ? `${JSON.stringify(result, null, 2)}\n` : `${renderSummary(result)}\n`);
  return 0;
}

export const auditCommand: Command = {
  name: 'audit',
  summary: 'verify the audit log hash chain, or summarize it for review',
  help,
  async run(args: string[]): Promise<number> {
    const [sub, ...rest] = args;
    if (sub === 'verify') return verify(rest);
    if (sub === 'summary') return summary(rest);
    throw new UsageError(sub === undefined ? 'missing subcommand: verify or summary' : `unknown subcommand '${sub}': verify or summary`);
  },
};

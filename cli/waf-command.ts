// `keyless waf test --config FILE --request FILE`: runs the WAF of a config over one raw HTTP
// request, offline, and prints the verdict and every rule that matched — with the variable and
// data it matched, where the rule is defined, and the exclusion that would silence it. What a
// security engineer needs to tell an attack from a false positive and to write the exclusion.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { Command } from './command.js';
import { UsageError } from './command.js';

const HELP = `usage: keyless waf test --config FILE --request FILE [options]

Evaluates one raw HTTP request (request line, headers, blank line, body) with the WAF of a config
file (its waf: section; the rest is ignored) and prints the verdict and which rules matched, why,
and how to exclude them.

options:
  --config FILE     the edge config (or a file with only the waf section)
  --request FILE    the raw request; "-" reads standard input
  --ip ADDRESS      the client address to assume (default 192.0.2.10)
  --json            print the verdict as JSON
  --verbose         also print every load-time report of the rule files (disabled rules, regex decisions)

exit status: 0 the request passes (or is allowed), 1 it is blocked or rate limited, 2 usage, config or
request file errors`;

export const wafCommand: Command = {
  name: 'waf',
  summary: 'test the WAF offline: which rules a raw HTTP request matches, and why',
  help: HELP,
  async run(args: string[]): Promise<number> {
    const [sub, ...rest] = args;
    if (sub !== 'test') throw new UsageError(sub === undefined ? 'missing subcommand (test)' : `unknown subcommand '${sub}'`);
    let parsed;
    try {
      parsed = parseArgs({
        args: rest,
        options: {
          config: { type: 'string' },
          request: { type: 'string' },
          ip: { type: 'string' },
          json: { type: 'boolean', default: false },
          verbose: { type: 'boolean', default: false },
        },
        strict: true,
        allowPositionals: false,
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const { config: configFile, request: requestFile, ip, json, verbose } = parsed.values;
    if (configFile === undefined) throw new UsageError('--config is required');
    if (requestFile === undefined) throw new UsageError('--request is required');

    // Loaded here, not at the top: `keyless --help` should not pay for the WAF.
    const { createWaf, loadWafConfigFile } = await import('../edge/http/waf/index.js');
    const { parseRawRequest } = await import('../edge/http/waf/raw-request.js');
    let config;
    let parsedRequest;
    let waf;
    try {
      config = await loadWafConfigFile(configFile);
      const raw = requestFile === '-' ? await readStdin() : await readFile(requestFile);
      parsedRequest = parseRawRequest(raw, ip !== undefined ? { clientIp: ip } : {});
      // Load reports go to the printout, not to a log: silence the logger.
      waf = await createWaf(config, { log: pino({ level: 'silent' }) });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      process.stderr.write(`keyless waf test: ${typeof code === 'string' ? `${code}: ` : ''}${(err as Error).message}\n`);
      return 2;
    }
    const { request, body } = parsedRequest;
    const description = waf.describe();
    const verdict = await waf.evaluate(request, body, { truncated: body !== null && body.length > waf.bodyLimit });

    if (json) {
      process.stdout.write(JSON.stringify({ waf: { ...description, diagnostics: verbose ? description.diagnostics : undefined }, request: { method: request.method, url: request.url, host: request.host }, verdict }, null, 2) + '\n');
      return verdict.action === 'block' || verdict.action === 'rate-limit' ? 1 : 0;
    }
    const out: string[] = [];
    out.push(description.summary);
    const loadErrors = description.diagnostics.filter((d) => d.level === 'error');
    if (loadErrors.length > 0 && !verbose) out.push(`  (${loadErrors.length} load error(s) in the rule files; --verbose lists them)`);
    if (verbose) for (const d of description.diagnostics) out.push(`  ${d.level}: ${d.file ?? ''}${d.line !== undefined ? `:${d.line}` : ''}: ${d.message}`);
    out.push('');
    out.push(`request: ${request.method} ${request.url} (host ${request.host || '-'}, client ${request.clientIp}${body ? `, body ${body.length} bytes` : ''})`);
    const verdictLine =
      verdict.action === 'block' || verdict.action === 'rate-limit'
        ? `${verdict.action.toUpperCase()} ${verdict.status}`
        : verdict.action === 'allow'
          ? 'ALLOW'
          : verdict.wouldBlock
            ? `PASS (detect mode: would block with ${verdict.wouldBlock.status}, by ${verdict.wouldBlock.reason})`
            : 'PASS';
    out.push(`verdict: ${verdictLine}; anomaly score ${verdict.anomalyScore}${verdict.incomplete ? '; some values were not fully examined (regex fallback budget)' : ''}`);
    if (verdict.matches.length === 0) out.push('no rule matched');
    else out.push('', 'matched:');
    for (const m of verdict.matches) {
      const id = m.source === 'managed' ? `rule ${m.rule}` : `${m.source} ${m.rule}`;
      out.push(`  ${m.action.padEnd(10)} ${id}${m.severity ? ` [${m.severity}]` : ''}${m.phase ? ` phase ${m.phase}` : ''}: ${m.message}`);
      // Every variable the rule matched, each with its own value: an exclusion must name them all.
      const variables = m.variables ?? (m.variable !== undefined ? [{ name: m.variable, data: m.data ?? '' }] : []);
      const many = variables.length > 1;
      for (const v of variables) {
        out.push(`             variable: ${v.name}`);
        const data = many ? v.data : (m.data ?? v.data);
        if (data !== '') out.push(`             data:     ${data}`);
      }
      if (many && m.data !== undefined && m.data !== '') out.push(`             logdata:  ${m.data}`);
      if (m.location !== undefined) out.push(`             defined:  ${m.location}`);
      if (m.source === 'managed' && m.rule !== '949110') {
        const targets = variables.map((v) => v.name).filter(excludable);
        for (const t of targets) out.push(`             exclude:  SecRuleUpdateTargetById ${m.rule} "!${t}"   (in a waf.managed.after file)`);
        if (targets.length > 1) out.push(`             (the request matched ${targets.length} variables: exclude all of them to let it through)`);
      }
    }
    process.stdout.write(out.join('\n') + '\n');
    return verdict.action === 'block' || verdict.action === 'rate-limit' ? 1 : 0;
  },
};

/**
 * A variable SecRuleUpdateTargetById can name as "!COLLECTION:key": a collection and a key
 * without the characters that would end the target list or the quoted argument.
 */
function excludable(variable: string): boolean {
  return /^[A-Z_]+:[^|"\\\s,]+$/.test(variable);
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

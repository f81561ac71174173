// Runs SecLang text over a request, for the engine, variable and action tests.
import { DEFAULT_BODY_LIMITS, parseBody, processorFor } from '../../../../../edge/http/waf/body/index.js';
import type { Clock } from '../../../../../edge/http/waf/clock.js';
import { DEFAULT_FALLBACK_LIMITS } from '../../../../../edge/http/waf/regex/compile.js';
import { requestData } from '../../../../../edge/http/waf/request.js';
import { MemoryCollectionStore } from '../../../../../edge/http/waf/seclang/collections.js';
import type { CollectionStore } from '../../../../../edge/http/waf/seclang/collections.js';
import { runPhase } from '../../../../../edge/http/waf/seclang/engine.js';
import { loadRuleset } from '../../../../../edge/http/waf/seclang/loader.js';
import type { Ruleset } from '../../../../../edge/http/waf/seclang/loader.js';
import type { RuleEngineMode } from '../../../../../edge/http/waf/seclang/rule.js';
import { Transaction } from '../../../../../edge/http/waf/seclang/transaction.js';

export interface TestRequest {
  method?: string;
  url?: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  clientIp?: string;
}

export function rules(text: string): Ruleset {
  return loadRuleset([{ kind: 'text', name: 'test.conf', text }]);
}

export const fixedClock: Clock = { now: () => 1_700_000_000_000 };

export function transact(ruleset: Ruleset | string, req: TestRequest = {}, options: { mode?: RuleEngineMode; store?: CollectionStore; clock?: Clock; env?: Map<string, string> } = {}): Transaction {
  const rs = typeof ruleset === 'string' ? rules(ruleset) : ruleset;
  const errors = rs.diagnostics.filter((d) => d.level === 'error');
  if (errors.length > 0) throw new Error(errors.map((d) => `${d.line}: ${d.message}`).join('\n'));
  const headers: Record<string, string | string[]> = { host: 'example.com', ...(req.headers ?? {}) };
  const r = requestData({
    requestId: 'req-1',
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    host: 'example.com',
    httpVersion: '1.1',
    headers,
    clientIp: req.clientIp ?? '192.0.2.1',
    clientPort: 1234,
    servername: 'example.com',
  });
  const clock = options.clock ?? fixedClock;
  const ct = typeof headers['content-type'] === 'string' ? headers['content-type'] : undefined;
  const tx = new Transaction({
    request: r,
    clock,
    store: options.store ?? new MemoryCollectionStore(clock),
    fallbackLimits: DEFAULT_FALLBACK_LIMITS,
    engineMode: options.mode ?? 'On',
    env: options.env ?? new Map(),
    bodyProcessor: processorFor(ct),
  });
  runPhase(rs, tx, 1);
  if (tx.interruption === null) {
    if (req.body !== undefined) {
      const buf = typeof req.body === 'string' ? Buffer.from(req.body, 'latin1') : req.body;
      tx.setBody(buf.toString('latin1'), parseBody(buf, ct, tx.bodyProcessor, DEFAULT_BODY_LIMITS));
    }
    runPhase(rs, tx, 2);
  }
  return tx;
}

/** Ids of the rules that matched and were logged. */
export function matched(tx: Transaction): number[] {
  return tx.matches.map((m) => m.ruleId);
}

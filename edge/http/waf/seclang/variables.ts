// SecLang variables (Reference Manual v2.x, "Variables"): what a rule target or a macro names,
// read from the request and the transaction. Collections yield one value per entry, keyed by
// name (compared case-insensitively, as ModSecurity's tables do); plain variables yield one value,
// or none when the thing does not exist (no body, no such header), so that a rule — even a
// negated one — does not run against it. "&" counts values instead.
import type { MacroRef } from './macros.js';
import type { CompiledRegex } from '../regex/compile.js';
import type { Exclusion, Rule, Selector, Target } from './rule.js';
import { SEVERITIES } from './rule.js';
import type { Transaction } from './transaction.js';
import type { TargetValue } from './transform-chain.js';

/** Every variable the engine knows; a rule naming another one does not compile. */
export const KNOWN_VARIABLES = new Set([
  'ARGS', 'ARGS_GET', 'ARGS_POST', 'ARGS_NAMES', 'ARGS_GET_NAMES', 'ARGS_POST_NAMES', 'ARGS_COMBINED_SIZE',
  'REQUEST_HEADERS', 'REQUEST_HEADERS_NAMES', 'REQUEST_COOKIES', 'REQUEST_COOKIES_NAMES',
  'FILES', 'FILES_NAMES', 'FILES_SIZES', 'FILES_COMBINED_SIZE', 'FILES_TMPNAMES', 'FILES_TMP_CONTENT',
  'MULTIPART_PART_HEADERS', 'MULTIPART_STRICT_ERROR', 'MULTIPART_UNMATCHED_BOUNDARY', 'MULTIPART_BOUNDARY_QUOTED',
  'MULTIPART_BOUNDARY_WHITESPACE', 'MULTIPART_DATA_BEFORE', 'MULTIPART_DATA_AFTER', 'MULTIPART_HEADER_FOLDING',
  'MULTIPART_LF_LINE', 'MULTIPART_MISSING_SEMICOLON', 'MULTIPART_SEMICOLON_MISSING', 'MULTIPART_INVALID_QUOTING',
  'MULTIPART_INVALID_PART', 'MULTIPART_INVALID_HEADER_FOLDING', 'MULTIPART_FILE_LIMIT_EXCEEDED', 'MULTIPART_CRLF_LF_LINES',
  'MULTIPART_NAME', 'MULTIPART_FILENAME',
  'REQUEST_URI', 'REQUEST_URI_RAW', 'REQUEST_FILENAME', 'REQUEST_BASENAME', 'REQUEST_LINE', 'REQUEST_METHOD',
  'REQUEST_PROTOCOL', 'QUERY_STRING', 'REQUEST_BODY', 'REQUEST_BODY_LENGTH', 'FULL_REQUEST', 'FULL_REQUEST_LENGTH',
  'REMOTE_ADDR', 'REMOTE_HOST', 'REMOTE_PORT', 'REMOTE_USER', 'SERVER_NAME', 'SERVER_ADDR', 'SERVER_PORT',
  'UNIQUE_ID', 'DURATION', 'TIME', 'TIME_DAY', 'TIME_EPOCH', 'TIME_HOUR', 'TIME_MIN', 'TIME_MON', 'TIME_SEC',
  'TIME_WDAY', 'TIME_YEAR', 'REQBODY_PROCESSOR', 'REQBODY_ERROR', 'REQBODY_ERROR_MSG', 'REQBODY_PROCESSOR_ERROR',
  'REQBODY_PROCESSOR_ERROR_MSG', 'INBOUND_DATA_ERROR', 'OUTBOUND_DATA_ERROR', 'XML', 'TX', 'ENV', 'IP', 'GLOBAL',
  'SESSION', 'USER', 'RESOURCE', 'RULE', 'GEO', 'MATCHED_VAR', 'MATCHED_VAR_NAME', 'MATCHED_VARS', 'MATCHED_VARS_NAMES',
  'HIGHEST_SEVERITY', 'AUTH_TYPE', 'PATH_INFO', 'USERID', 'SESSIONID', 'WEBAPPID', 'WEBSERVER_ERROR_LOG', 'SCRIPT_FILENAME',
  'SCRIPT_BASENAME', 'SCRIPT_UID', 'SCRIPT_GID', 'SCRIPT_USERNAME', 'SCRIPT_GROUPNAME', 'SCRIPT_MODE',
  // Response variables: known, and empty at the edge, which does not run the response phases.
  'RESPONSE_BODY', 'RESPONSE_HEADERS', 'RESPONSE_HEADERS_NAMES', 'RESPONSE_STATUS', 'RESPONSE_PROTOCOL',
  'RESPONSE_CONTENT_TYPE', 'RESPONSE_CONTENT_LENGTH', 'STATUS_LINE', 'STREAM_INPUT_BODY', 'STREAM_OUTPUT_BODY',
]);

/**
 * The engine's own string for a known variable name. Names parsed from rule text are new strings;
 * the engine compares them against its literals on every rule (the switch below, PERSISTENT), and
 * a comparison of two different string objects reads their characters, where one of the same
 * object is a pointer comparison.
 */
const CANONICAL = new Map([...KNOWN_VARIABLES].map((name) => [name, name]));

export function canonicalVariable(name: string): string {
  return CANONICAL.get(name) ?? name;
}

const NONE: TargetValue[] = [];

const PERSISTENT = new Set(['TX', 'ENV', 'IP', 'GLOBAL', 'SESSION', 'USER', 'RESOURCE']);

/** MATCHED_VAR_NAME of a collection's value: "ARGS:q", or the variable alone ("REQUEST_URI"). */
export function valueName(collection: string, key: string): string {
  return key === '' ? collection : `${collection}:${key}`;
}

/** MATCHED_VAR_NAME of a count (&ARGS:q): the target as written, without its "&". */
export function countName(target: Target): string {
  return target.text.slice(1);
}

function value(collection: string, key: string, v: string, name?: string): TargetValue {
  return { name: name ?? valueName(collection, key), collection, key, value: v };
}

function stable(v: TargetValue, tx?: Transaction): TargetValue {
  v.stable = true;
  tx?.memo?.attach(v);
  return v;
}

function pairs(tx: Transaction, collection: string, list: readonly (readonly [string, string])[]): TargetValue[] {
  let cached = tx.collectionCache.get(collection);
  if (!cached) {
    cached = list.map(([k, v]) => stable(value(collection, k, v), tx));
    tx.collectionCache.set(collection, cached);
  }
  return cached;
}

function names(tx: Transaction, collection: string, list: readonly (readonly [string, string])[]): TargetValue[] {
  let cached = tx.collectionCache.get(collection);
  if (!cached) {
    cached = list.map(([k]) => stable(value(collection, k, k), tx));
    tx.collectionCache.set(collection, cached);
  }
  return cached;
}

function scalar(tx: Transaction, name: string, v: string | undefined): TargetValue[] {
  if (v === undefined) return [];
  let cached = tx.collectionCache.get(name);
  if (!cached || cached[0]!.value !== v) {
    cached = [stable(value(name, '', v), tx)];
    tx.collectionCache.set(name, cached);
  }
  return cached;
}

function flag(on: boolean | undefined): string {
  return on ? '1' : '0';
}

/** Every value of a collection or variable, before selectors and exclusions. */
export function collectionValues(tx: Transaction, collection: string): TargetValue[] {
  const r = tx.request;
  const body = tx.body;
  switch (collection) {
    case 'ARGS_GET':
      return pairs(tx, 'ARGS_GET', r.queryArgs);
    case 'ARGS_POST':
      return pairs(tx, 'ARGS_POST', body?.args ?? []);
    case 'ARGS':
    case 'ARGS_NAMES': {
      // GET then POST. The query's entries are kept apart so that phase 2 reuses the very
      // objects (and transformation caches) phase 1 built.
      let cached = tx.collectionCache.get(collection);
      if (!cached) {
        const isNames = collection === 'ARGS_NAMES';
        const make = (list: readonly (readonly [string, string])[]) => list.map(([k, v]) => stable(value(collection, k, isNames ? k : v), tx));
        const getKey = `${collection} GET`;
        let get = tx.collectionCache.get(getKey);
        if (!get) {
          get = make(r.queryArgs);
          tx.collectionCache.set(getKey, get);
        }
        cached = body === null || body.args.length === 0 ? get : get.concat(make(body.args));
        tx.collectionCache.set(collection, cached);
      }
      return cached;
    }
    case 'ARGS_GET_NAMES':
      return names(tx, 'ARGS_GET_NAMES', r.queryArgs);
    case 'ARGS_POST_NAMES':
      return names(tx, 'ARGS_POST_NAMES', body?.args ?? []);
    case 'ARGS_COMBINED_SIZE': {
      let size = 0;
      for (const [k, v] of [...r.queryArgs, ...(body?.args ?? [])]) size += k.length + v.length;
      return [value(collection, '', String(size))];
    }
    case 'REQUEST_HEADERS':
      return pairs(tx, 'REQUEST_HEADERS', r.headers);
    case 'REQUEST_HEADERS_NAMES':
      return names(tx, 'REQUEST_HEADERS_NAMES', r.headers);
    case 'REQUEST_COOKIES':
      return pairs(tx, 'REQUEST_COOKIES', r.cookies);
    case 'REQUEST_COOKIES_NAMES':
      return names(tx, 'REQUEST_COOKIES_NAMES', r.cookies);
    case 'FILES':
      return (body?.files ?? []).map((f) => value('FILES', f.field, f.filename));
    case 'FILES_NAMES':
      return (body?.files ?? []).map((f) => value('FILES_NAMES', f.field, f.field));
    case 'FILES_SIZES':
      return (body?.files ?? []).map((f) => value('FILES_SIZES', f.field, String(f.size)));
    case 'FILES_COMBINED_SIZE':
      return [value(collection, '', String((body?.files ?? []).reduce((n, f) => n + f.size, 0)))];
    case 'FILES_TMPNAMES':
    case 'FILES_TMP_CONTENT':
      return [];
    case 'MULTIPART_PART_HEADERS':
      return pairs(tx, 'MULTIPART_PART_HEADERS', body?.partHeaders ?? []);
    case 'MULTIPART_NAME':
    case 'MULTIPART_FILENAME':
      return [];
    case 'XML':
      return (body?.xml ?? []).map((v) => value('XML', '', v, 'XML'));
    case 'REQUEST_URI':
      return scalar(tx, collection, r.uri);
    case 'REQUEST_URI_RAW':
      return scalar(tx, collection, r.rawUri);
    case 'REQUEST_FILENAME':
      return scalar(tx, collection, r.path);
    case 'REQUEST_BASENAME':
      return scalar(tx, collection, r.basename);
    case 'REQUEST_LINE':
      return scalar(tx, collection, r.requestLine);
    case 'REQUEST_METHOD':
      return scalar(tx, collection, r.method);
    case 'REQUEST_PROTOCOL':
      return scalar(tx, collection, r.protocol);
    case 'QUERY_STRING':
      return scalar(tx, collection, r.query);
    case 'REQUEST_BODY': {
      // As in ModSecurity: there for URL-encoded bodies, for bodies no processor handled, and
      // when a rule forced it (ctl:forceRequestBodyVariable, as CRS 901340 does).
      if (tx.rawBody === null) return [];
      const p = tx.body?.processor ?? null;
      if (p !== null && p !== 'URLENCODED' && !tx.forceRequestBodyVariable) return [];
      return scalar(tx, collection, tx.rawBody);
    }
    case 'REQUEST_BODY_LENGTH':
      return tx.rawBody === null ? [] : [value(collection, '', String(tx.rawBody.length))];
    case 'FULL_REQUEST': {
      const head = `${r.requestLine}\r\n${r.headers.map(([n, v]) => `${n}: ${v}`).join('\r\n')}\r\n\r\n`;
      return [value(collection, '', head + (tx.rawBody ?? ''))];
    }
    case 'FULL_REQUEST_LENGTH':
      return [value(collection, '', String(collectionValues(tx, 'FULL_REQUEST')[0]!.value.length))];
    case 'REMOTE_ADDR':
    case 'REMOTE_HOST':
      return scalar(tx, collection, r.clientIp);
    case 'REMOTE_PORT':
      return scalar(tx, collection, String(r.clientPort));
    case 'SERVER_NAME':
      return scalar(tx, collection, r.host);
    case 'UNIQUE_ID':
      return scalar(tx, collection, r.requestId);
    case 'DURATION':
      return [value(collection, '', String(Math.round((tx.clock.now() - tx.startedAt) * 1000)))];
    case 'TIME':
    case 'TIME_DAY':
    case 'TIME_EPOCH':
    case 'TIME_HOUR':
    case 'TIME_MIN':
    case 'TIME_MON':
    case 'TIME_SEC':
    case 'TIME_WDAY':
    case 'TIME_YEAR':
      return [value(collection, '', timeVariable(collection, new Date(tx.clock.now())))];
    case 'REQBODY_PROCESSOR':
      return tx.bodyProcessor === null ? [] : scalar(tx, collection, tx.bodyProcessor);
    case 'REQBODY_ERROR':
    case 'REQBODY_PROCESSOR_ERROR':
      return [value(collection, '', flag(tx.body?.error != null))];
    case 'REQBODY_ERROR_MSG':
    case 'REQBODY_PROCESSOR_ERROR_MSG':
      return tx.body?.error != null ? [value(collection, '', tx.body.error)] : [];
    case 'INBOUND_DATA_ERROR':
      return [value(collection, '', flag(tx.bodyTruncated))];
    case 'MULTIPART_STRICT_ERROR': {
      const m = tx.body?.multipart;
      const strict = m ? tx.body?.error != null || Object.values(m).some((v) => v === true) : false;
      return [value(collection, '', flag(strict))];
    }
    case 'MULTIPART_UNMATCHED_BOUNDARY':
      return [value(collection, '', flag(tx.body?.multipart?.unmatchedBoundary))];
    case 'MULTIPART_BOUNDARY_QUOTED':
      return [value(collection, '', flag(tx.body?.multipart?.boundaryQuoted))];
    case 'MULTIPART_BOUNDARY_WHITESPACE':
      return [value(collection, '', flag(tx.body?.multipart?.boundaryWhitespace))];
    case 'MULTIPART_DATA_BEFORE':
      return [value(collection, '', flag(tx.body?.multipart?.dataBefore))];
    case 'MULTIPART_DATA_AFTER':
      return [value(collection, '', flag(tx.body?.multipart?.dataAfter))];
    case 'MULTIPART_HEADER_FOLDING':
      return [value(collection, '', flag(tx.body?.multipart?.headerFolding))];
    case 'MULTIPART_LF_LINE':
    case 'MULTIPART_CRLF_LF_LINES':
      return [value(collection, '', flag(tx.body?.multipart?.lfLine))];
    case 'MULTIPART_MISSING_SEMICOLON':
    case 'MULTIPART_SEMICOLON_MISSING':
      return [value(collection, '', flag(tx.body?.multipart?.missingSemicolon))];
    case 'MULTIPART_INVALID_QUOTING':
      return [value(collection, '', flag(tx.body?.multipart?.invalidQuoting))];
    case 'MULTIPART_INVALID_PART':
      return [value(collection, '', flag(tx.body?.multipart?.invalidPart))];
    case 'MULTIPART_INVALID_HEADER_FOLDING':
      return [value(collection, '', flag(tx.body?.multipart?.invalidHeaderFolding))];
    case 'MULTIPART_FILE_LIMIT_EXCEEDED':
      return [value(collection, '', flag(tx.body?.multipart?.fileLimitExceeded))];
    case 'MATCHED_VAR':
      return tx.matchedVar === null ? [] : [value('MATCHED_VAR', '', tx.matchedValue)];
    case 'MATCHED_VAR_NAME':
      return tx.matchedVar === null ? [] : [value('MATCHED_VAR_NAME', '', tx.matchedVar.name)];
    case 'MATCHED_VARS':
      // The values as they matched (after that rule's transformations), named as they were.
      return tx.matchedVars.map((m) => ({ name: m.target.name, collection: m.target.collection, key: m.target.key, value: m.value }));
    case 'MATCHED_VARS_NAMES':
      return tx.matchedVars.map((m) => value('MATCHED_VARS_NAMES', m.target.name, m.target.name));
    case 'HIGHEST_SEVERITY':
      return [value(collection, '', String(tx.highestSeverity))];
    case 'AUTH_TYPE': {
      const auth = r.header('authorization');
      return auth === undefined ? [] : [value(collection, '', auth.split(/\s+/, 1)[0]!)];
    }
    case 'RULE':
      return ruleValues(tx.currentRule);
    case 'TX':
    case 'ENV':
    case 'IP':
    case 'GLOBAL':
    case 'SESSION':
    case 'USER':
    case 'RESOURCE': {
      const map = tx.persistent(collection);
      if (!map) return [];
      return [...map].map(([k, v]) => value(collection, k, v));
    }
    default:
      // GEO, response variables and the rest: known, and empty here.
      return [];
  }
}

function ruleValues(rule: Rule | null): TargetValue[] {
  if (rule === null) return [];
  const out = [value('RULE', 'id', String(rule.id)), value('RULE', 'phase', String(rule.phase))];
  if (rule.msg) out.push(value('RULE', 'msg', rule.msg.text));
  if (rule.severity !== null) out.push(value('RULE', 'severity', String(rule.severity)));
  if (rule.ver !== null) out.push(value('RULE', 'ver', rule.ver));
  if (rule.logdata) out.push(value('RULE', 'logdata', rule.logdata.text));
  return out;
}

function timeVariable(name: string, d: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  switch (name) {
    case 'TIME':
      return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
    case 'TIME_DAY':
      return String(d.getDate());
    case 'TIME_EPOCH':
      return String(Math.floor(d.getTime() / 1000));
    case 'TIME_HOUR':
      return two(d.getHours());
    case 'TIME_MIN':
      return two(d.getMinutes());
    case 'TIME_MON':
      return String(d.getMonth());
    case 'TIME_SEC':
      return two(d.getSeconds());
    case 'TIME_WDAY':
      return String(d.getDay());
    default:
      return String(d.getFullYear());
  }
}

const selectorMemo = new WeakMap<object, Map<string, boolean>>();

/** A regex selector's answers by key: names repeat across rules and requests (CRS excludes /__utm/ cookies in dozens of rules). */
function memoOf(re: CompiledRegex): Map<string, boolean> {
  let memo = selectorMemo.get(re);
  if (!memo) {
    memo = new Map();
    selectorMemo.set(re, memo);
  }
  return memo;
}

function regexMatches(re: CompiledRegex, memo: Map<string, boolean>, key: string, tx: Transaction): boolean {
  let hit = memo.get(key);
  if (hit === undefined) {
    hit = re.test(key, tx.budget);
    if (memo.size >= 1024) memo.clear();
    memo.set(key, hit);
  }
  return hit;
}

function selectorMatches(selector: Selector, key: string, tx: Transaction): boolean {
  switch (selector.kind) {
    case 'key':
      return key.length === selector.key.length && key.toLowerCase() === selector.key;
    case 'regex':
      return regexMatches(selector.re, memoOf(selector.re), key, tx);
    case 'xpath':
      return true;
  }
}

function excluded(v: TargetValue, exclusions: readonly Exclusion[], tx: Transaction): boolean {
  for (const e of exclusions) {
    if (e.collection !== v.collection) continue;
    if (e.selector === null || selectorMatches(e.selector, v.key, tx)) return true;
  }
  return false;
}

/** The values a rule's target list yields, in order, with exclusions applied. */
export function resolveTargets(tx: Transaction, rule: Rule): TargetValue[] {
  const runtime = tx.runtimeExclusions(rule);
  if (rule.targetKey !== null && runtime.length === 0) {
    let list = tx.targetCache.get(rule.targetKey);
    if (list === undefined) {
      list = resolveUncached(tx, rule, rule.exclusions);
      tx.targetCache.set(rule.targetKey, list);
    }
    return list;
  }
  return resolveUncached(tx, rule, runtime.length === 0 ? rule.exclusions : [...rule.exclusions, ...runtime]);
}

function resolveUncached(tx: Transaction, rule: Rule, exclusions: readonly Exclusion[]): TargetValue[] {
  // The common case: one target, nothing excluded — the collection's own (cached) list.
  if (exclusions.length === 0 && rule.targets.length === 1 && !rule.targets[0]!.count) return selectTarget(tx, rule.targets[0]!);
  const out: TargetValue[] = [];
  for (const target of rule.targets) {
    if (exclusions.length > 0 && exclusions.some((e) => e.collection === target.collection && e.selector === null) && !target.count) continue;
    const values = selectTarget(tx, target);
    if (target.count) {
      const kept = exclusions.length === 0 ? values : values.filter((v) => !excluded(v, exclusions, tx));
      out.push(value(target.collection, '', String(kept.length), countName(target)));
      continue;
    }
    for (const v of values) if (exclusions.length === 0 || !excluded(v, exclusions, tx)) out.push(v);
  }
  return out;
}

export function selectTarget(tx: Transaction, target: Target): TargetValue[] {
  const sel = target.selector;
  if (sel !== null && sel.kind === 'key' && PERSISTENT.has(target.collection)) {
    // Direct lookup: TX:foo is read on almost every rule (CRS's paranoia-level skips alone are
    // dozens per request); the one-value list is reused while the value stays the same.
    const map = tx.persistent(target.collection);
    const v = map?.get(sel.key);
    if (v === undefined) return NONE;
    // target.text ("TX:foo" as written) is the same string object every time: a cheap key.
    const cached = tx.keyedValues.get(target.text);
    if (cached !== undefined && cached[0]!.value === v) return cached;
    const list = [value(target.collection, sel.key, v)];
    tx.keyedValues.set(target.text, list);
    return list;
  }
  if (sel !== null && sel.kind === 'regex' && PERSISTENT.has(target.collection)) {
    // TX:/^HEADER_NAME_/ and the like: test the keys first and build values only for those that
    // match (usually none), rather than a value for every one of the hundred-odd TX entries.
    const map = tx.persistent(target.collection);
    if (!map) return NONE;
    const memo = memoOf(sel.re);
    let out: TargetValue[] | null = null;
    for (const k of map.keys()) if (regexMatches(sel.re, memo, k, tx)) (out ??= []).push(value(target.collection, k, map.get(k)!));
    return out ?? NONE;
  }
  const all = collectionValues(tx, target.collection);
  if (sel === null || sel.kind === 'xpath') return all;
  if (sel.kind === 'key') return byKey(tx, target.collection, all).get(sel.key) ?? [];
  return all.filter((v) => selectorMatches(sel, v.key, tx));
}

/** A collection indexed by lower-case key, built once per request (REQUEST_HEADERS:User-Agent is read by many rules). */
function byKey(tx: Transaction, collection: string, all: TargetValue[]): Map<string, TargetValue[]> {
  const cached = tx.keyIndex.get(collection);
  if (cached !== undefined && cached.list === all) return cached.index;
  const index = new Map<string, TargetValue[]>();
  for (const v of all) {
    const k = v.key.toLowerCase();
    const list = index.get(k);
    if (list) list.push(v);
    else index.set(k, [v]);
  }
  tx.keyIndex.set(collection, { list: all, index });
  return index;
}

/** %{...} in an action or operator parameter. Unknown or absent: the empty string. */
export function resolveMacro(tx: Transaction, ref: MacroRef): string {
  const c = ref.collection;
  if (ref.key !== null && PERSISTENT.has(c)) return tx.persistent(c)?.get(ref.key) ?? '';
  if (c === 'MATCHED_VAR') return tx.matchedValue;
  if (c === 'MATCHED_VAR_NAME') return tx.matchedVar?.name ?? '';
  if (c === 'RULE' && ref.key !== null) {
    const rule = tx.currentRule;
    if (!rule) return '';
    switch (ref.key) {
      case 'id':
        return String(rule.id);
      case 'msg':
        return rule.msg?.text ?? '';
      case 'severity':
        return rule.severity === null ? '' : (SEVERITIES[rule.severity] ?? '');
      case 'ver':
        return rule.ver ?? '';
      case 'phase':
        return String(rule.phase);
      default:
        return '';
    }
  }
  const target: Target = { collection: c, selector: ref.key === null ? null : { kind: 'key', key: ref.key }, count: false, text: c };
  return selectTarget(tx, target)[0]?.value ?? '';
}

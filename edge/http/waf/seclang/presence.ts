// Which request collections a request leaves empty, and which rules read nothing else: those rules
// cannot match it. A rule whose target list yields no value does not run its operator — not even
// a negated one — and so does nothing (ModSecurity v2, variables.ts); an ordinary GET has no
// arguments, cookies, files or body, and about a third of CRS PL1's request rules read only those.
// The engine passes such a rule over with one bitwise test instead of resolving its empty targets
// (engine.ts).
//
// What a phase can change is not in here: TX, ENV and the persistent collections change as rules
// run, and so do MATCHED_VAR(S), RULE, DURATION, the TIME variables, HIGHEST_SEVERITY and
// REQBODY_PROCESSOR; a rule that reads any of them, or counts (&) anything, is always evaluated.
// The request collections below are fixed for the length of a phase: the body arrives between
// phases 1 and 2 (Transaction.setBody). REQUEST_BODY counts as present whenever there is a raw
// body, whatever processor and ctl:forceRequestBodyVariable say, so the test never hides a value.
import type { Rule } from './rule.js';
import type { Transaction } from './transaction.js';

const ARGS_GET = 1 << 0;
const ARGS_POST = 1 << 1;
const HEADERS = 1 << 2;
const COOKIES = 1 << 3;
const FILES = 1 << 4;
const PART_HEADERS = 1 << 5;
const XML = 1 << 6;
const BODY = 1 << 7;

/** The bits a collection's values come from; 0: always empty at the edge. */
const SOURCES: ReadonlyMap<string, number> = new Map([
  ['ARGS', ARGS_GET | ARGS_POST],
  ['ARGS_NAMES', ARGS_GET | ARGS_POST],
  ['ARGS_GET', ARGS_GET],
  ['ARGS_GET_NAMES', ARGS_GET],
  ['ARGS_POST', ARGS_POST],
  ['ARGS_POST_NAMES', ARGS_POST],
  ['REQUEST_HEADERS', HEADERS],
  ['REQUEST_HEADERS_NAMES', HEADERS],
  ['REQUEST_COOKIES', COOKIES],
  ['REQUEST_COOKIES_NAMES', COOKIES],
  ['FILES', FILES],
  ['FILES_NAMES', FILES],
  ['FILES_SIZES', FILES],
  ['MULTIPART_PART_HEADERS', PART_HEADERS],
  ['XML', XML],
  ['REQUEST_BODY', BODY],
  ['REQUEST_BODY_LENGTH', BODY],
  // Never filled at the edge: no temporary files, and the response phases do not run.
  ['FILES_TMPNAMES', 0],
  ['FILES_TMP_CONTENT', 0],
  ['MULTIPART_NAME', 0],
  ['MULTIPART_FILENAME', 0],
  ['GEO', 0],
  ['RESPONSE_BODY', 0],
  ['RESPONSE_HEADERS', 0],
  ['RESPONSE_HEADERS_NAMES', 0],
]);

/** When a rule can be passed over: none of `sources` is present and none of `headers` was sent. */
export interface RuleInputs {
  readonly sources: number;
  /** Lower-case names of the REQUEST_HEADERS:name targets (the header collection itself is not in `sources`). */
  readonly headers: readonly string[];
}

/**
 * What the rule's target list can draw from, or null when it may yield a value whatever the
 * request (a target outside the table, a count, or no operator at all: SecAction always runs).
 * Chained rules only run after their starter matched, so only the starter's targets count.
 */
export function ruleInputs(rule: Rule): RuleInputs | null {
  if (rule.operator === null) return null;
  let sources = 0;
  const headers: string[] = [];
  for (const t of rule.targets) {
    if (t.count) return null;
    const bits = SOURCES.get(t.collection);
    if (bits === undefined) return null;
    if (t.collection === 'REQUEST_HEADERS' && t.selector?.kind === 'key') headers.push(t.selector.key);
    else sources |= bits;
  }
  return { sources, headers };
}

/** The sources that have at least one value in this request, as the phase about to run sees it. */
export function presentSources(tx: Transaction): number {
  const r = tx.request;
  const body = tx.body;
  let present = 0;
  if (r.queryArgs.length > 0) present |= ARGS_GET;
  if (r.headers.length > 0) present |= HEADERS;
  if (r.cookies.length > 0) present |= COOKIES;
  if (tx.rawBody !== null) present |= BODY;
  if (body !== null) {
    if (body.args.length > 0) present |= ARGS_POST;
    if (body.files.length > 0) present |= FILES;
    if (body.partHeaders.length > 0) present |= PART_HEADERS;
    if (body.xml !== null && body.xml.length > 0) present |= XML;
  }
  return present;
}

/** True when the rule's targets can yield no value in this request. */
export function nothingToRead(inputs: RuleInputs, present: number, tx: Transaction): boolean {
  if ((inputs.sources & present) !== 0) return false;
  for (const name of inputs.headers) if (tx.headerNames.has(name)) return false;
  return true;
}

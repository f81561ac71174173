// Gives meaning to a SecRule / SecAction directive: variables become targets and exclusions,
// the operator is compiled, actions are sorted into metadata, flow, disruptive and run-time
// actions, and the rule is merged with the SecDefaultAction of its phase (Reference Manual
// v2.x, "SecDefaultAction": a rule's transformations follow the default's unless the rule says
// t:none; "block" means the default's disruptive action).
import { compilePcre, UnsafeRegexError } from '../regex/compile.js';
import type { FallbackLimits } from '../regex/compile.js';
import type { BodyProcessorName } from '../body/index.js';
import { compileMacro } from './macros.js';
import type { Macro } from './macros.js';
import { compileOperator, OperatorError } from './operators.js';
import type { OperatorCompileOptions } from './operators.js';
import type { CtlAction, Disruptive, Exclusion, Rule, RuntimeAction, Selector, Target } from './rule.js';
import { parseIdRanges, SEVERITIES } from './rule.js';
import { parseActions, parseOperator, parseVariables, SyntaxProblem } from './syntax.js';
import type { ActionSyntax, VariableSyntax } from './syntax.js';
import { TRANSFORMATIONS } from './transformations.js';
import { canonicalVariable, KNOWN_VARIABLES } from './variables.js';
import type { Transformation } from './transformations.js';
import type { ChainNode, TransformTrie } from './transform-chain.js';

export interface DefaultActions {
  readonly disruptive: Disruptive;
  readonly transforms: readonly { readonly name: string; readonly fn: Transformation }[];
  readonly log: boolean;
}

/** ModSecurity's built-in default: "phase:2,log,auditlog,pass". */
export const BUILTIN_DEFAULT: DefaultActions = { disruptive: { kind: 'pass' }, transforms: [], log: true };

export class RuleCompileError extends Error {
  constructor(
    message: string,
    /** 'unsupported': valid SecLang we choose not to run (the rule is disabled and reported). */
    readonly kind: 'invalid' | 'unsupported',
  ) {
    super(message);
    this.name = 'RuleCompileError';
  }
}

export interface RuleCompileContext {
  readonly trie: TransformTrie;
  readonly defaults: ReadonlyMap<number, DefaultActions>;
  readonly operatorOptions: (file: string) => OperatorCompileOptions;
  readonly fallbackLimits: FallbackLimits;
  /** Non-fatal remarks about the rule (ignored actions), reported by the loader. */
  readonly warn: (message: string) => void;
}

export interface RuleSource {
  readonly kind: 'SecRule' | 'SecAction';
  readonly variables: string | null;
  readonly operator: string | null;
  readonly actions: string;
  readonly file: string;
  readonly line: number;
}

export interface CompiledDirective {
  readonly rule: Rule;
  /** The rule has the chain action: the next SecRule belongs to it. */
  readonly chain: boolean;
}

/** Actions that are accepted and have no effect at the edge (audit log, response bodies, debugging). */
const IGNORED_ACTIONS = new Set([
  'auditlog', 'noauditlog', 'sanitisearg', 'sanitisematched', 'sanitisematchedbytes', 'sanitiserequestheader',
  'sanitiseresponseheader', 'sanitizearg', 'sanitizematched', 'sanitizematchedbytes', 'sanitizerequestheader',
  'sanitizeresponseheader', 'rev', 'maturity', 'accuracy', 'xmlns', 'append', 'prepend', 'pause', 'deprecatevar',
  'setuid', 'setsid', 'setrsc',
]);

export function compileRuleDirective(src: RuleSource, ctx: RuleCompileContext, parent: Rule | null): CompiledDirective {
  let actions: ActionSyntax[];
  let variables: VariableSyntax[] = [];
  try {
    actions = parseActions(src.actions);
    if (src.kind === 'SecRule') variables = parseVariables(src.variables ?? '');
  } catch (err) {
    if (err instanceof SyntaxProblem) throw new RuleCompileError(err.message, 'invalid');
    throw err;
  }

  // Phase first: the defaults depend on it. A chained rule runs in its starter's phase.
  let phase = parent?.phase ?? 2;
  let id = 0;
  for (const a of actions) {
    if (a.name === 'phase') {
      const p = parsePhase(a.value);
      if (p === null) throw new RuleCompileError(`bad phase "${a.value ?? ''}"`, 'invalid');
      if (parent === null) phase = p;
    } else if (a.name === 'id') {
      if (a.value === null || !/^\d{1,10}$/.test(a.value)) throw new RuleCompileError(`bad id "${a.value ?? ''}"`, 'invalid');
      id = Number(a.value);
    }
  }
  if (parent === null && id === 0) throw new RuleCompileError('a rule needs an id', 'invalid');
  if (parent !== null && id !== 0) ctx.warn(`a chained rule's id:${id} is ignored`);
  const defaults = ctx.defaults.get(phase) ?? BUILTIN_DEFAULT;

  let node: ChainNode = ctx.trie.root;
  let transformsReset = false;
  const ruleTransforms: { name: string; fn: Transformation }[] = [];
  let disruptive: Disruptive | null = null;
  let usesBlock = false;
  let status: number | null = null;
  let redirectUrl: Macro | null = null;
  let chain = false;
  let capture = false;
  let multiMatch = false;
  let log: boolean | null = null;
  let msg: Macro | null = null;
  let logdata: Macro | null = null;
  const tags: string[] = [];
  let severity: number | null = null;
  let ver: string | null = null;
  let skip = 0;
  let skipAfter: string | null = null;
  const runtime: RuntimeAction[] = [];

  for (const a of actions) {
    const v = a.value;
    switch (a.name) {
      case 'id':
      case 'phase':
        break;
      case 't': {
        if (v === null) throw new RuleCompileError('t: needs a transformation name', 'invalid');
        if (v.toLowerCase() === 'none') {
          transformsReset = true;
          ruleTransforms.length = 0;
          break;
        }
        const fn = TRANSFORMATIONS.get(v.toLowerCase());
        if (!fn) throw new RuleCompileError(`unknown transformation t:${v}`, 'invalid');
        ruleTransforms.push({ name: v, fn });
        break;
      }
      case 'deny':
        disruptive = { kind: 'deny', status: 403 };
        break;
      case 'drop':
        disruptive = { kind: 'drop', status: 403 };
        break;
      case 'pass':
        disruptive = { kind: 'pass' };
        break;
      case 'block':
        usesBlock = true;
        disruptive = null;
        break;
      case 'allow':
        disruptive = { kind: 'allow', scope: v === 'phase' ? 'phase' : v === 'request' ? 'request' : 'all' };
        break;
      case 'redirect':
        if (v === null) throw new RuleCompileError('redirect needs a URL', 'invalid');
        redirectUrl = compileMacro(v);
        disruptive = { kind: 'redirect', status: 302, url: redirectUrl };
        break;
      case 'proxy':
        throw new RuleCompileError('the proxy action is not supported', 'unsupported');
      case 'status': {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 100 || n > 599) throw new RuleCompileError(`bad status "${v ?? ''}"`, 'invalid');
        status = n;
        break;
      }
      case 'chain':
        chain = true;
        break;
      case 'capture':
        capture = true;
        break;
      case 'multimatch':
        multiMatch = true;
        break;
      case 'log':
        log = true;
        break;
      case 'nolog':
        log = false;
        break;
      case 'msg':
        msg = compileMacro(v ?? '');
        break;
      case 'logdata':
        logdata = compileMacro(v ?? '');
        break;
      case 'tag':
        if (v !== null) tags.push(v);
        break;
      case 'severity':
        severity = parseSeverity(v);
        break;
      case 'ver':
        ver = v;
        break;
      case 'skip': {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new RuleCompileError(`bad skip "${v ?? ''}"`, 'invalid');
        skip = n;
        break;
      }
      case 'skipafter':
        if (v === null || v === '') throw new RuleCompileError('skipAfter needs a marker or rule id', 'invalid');
        skipAfter = v;
        break;
      case 'setvar':
        runtime.push(parseSetvar(v));
        break;
      case 'ctl':
        runtime.push({ kind: 'ctl', ctl: parseCtl(v, ctx) });
        break;
      case 'initcol': {
        const m = /^([A-Za-z]+)=(.*)$/.exec(v ?? '');
        if (!m) throw new RuleCompileError(`bad initcol "${v ?? ''}"`, 'invalid');
        runtime.push({ kind: 'initcol', collection: m[1]!.toUpperCase(), key: compileMacro(m[2]!) });
        break;
      }
      case 'expirevar': {
        const m = /^([A-Za-z]+)\.([^=]+)=(.*)$/.exec(v ?? '');
        if (!m) throw new RuleCompileError(`bad expirevar "${v ?? ''}"`, 'invalid');
        runtime.push({ kind: 'expirevar', collection: m[1]!.toUpperCase(), name: compileMacro(m[2]!.toLowerCase()), seconds: compileMacro(m[3]!) });
        break;
      }
      case 'setenv': {
        const text = v ?? '';
        const unset = text.startsWith('!');
        const eq = text.indexOf('=');
        const name = unset ? text.slice(1) : eq < 0 ? text : text.slice(0, eq);
        runtime.push({ kind: 'setenv', name: compileMacro(name.toLowerCase()), value: compileMacro(eq < 0 ? '1' : text.slice(eq + 1)), unset });
        break;
      }
      case 'exec':
        ctx.warn('the exec action is not supported and is ignored');
        break;
      default:
        if (IGNORED_ACTIONS.has(a.name)) break;
        throw new RuleCompileError(`unknown action "${a.name}"`, 'invalid');
    }
  }

  for (const t of transformsReset ? [] : defaults.transforms) node = ctx.trie.extend(node, t.name.toLowerCase(), t.fn);
  for (const t of ruleTransforms) node = ctx.trie.extend(node, t.name.toLowerCase(), t.fn);

  let resolved: Disruptive = disruptive ?? (usesBlock ? defaults.disruptive : parent === null ? defaults.disruptive : { kind: 'pass' });
  if (status !== null && (resolved.kind === 'deny' || resolved.kind === 'drop' || resolved.kind === 'redirect')) resolved = { ...resolved, status };

  let operator = null;
  if (src.kind === 'SecRule') {
    const op = parseOperator(src.operator ?? '');
    try {
      operator = compileOperator(op.name, op.negated, op.param, ctx.operatorOptions(src.file));
    } catch (err) {
      if (err instanceof OperatorError) throw new RuleCompileError(err.message, err.kind);
      // A pattern refused as a ReDoS risk is valid SecLang we choose not to run: disabled, reported.
      if (err instanceof UnsafeRegexError) throw new RuleCompileError(err.message, 'unsupported');
      if (err instanceof Error && (err as { code?: string }).code === 'WAF_ERR_REGEX') throw new RuleCompileError(err.message, 'invalid');
      throw err;
    }
  }

  const targets: Target[] = [];
  const exclusions: Exclusion[] = [];
  for (const vs of variables) {
    if (vs.exclude) exclusions.push(toExclusion(vs));
    else targets.push(toTarget(vs));
  }

  const rule: Rule = {
    id,
    phase,
    file: src.file,
    line: src.line,
    text: src.kind === 'SecRule' ? `${src.variables} "${src.operator}"` : 'SecAction',
    targets,
    exclusions,
    operator,
    transforms: node,
    multiMatch,
    capture,
    actions: runtime,
    disruptive: resolved,
    usesBlock,
    msg,
    logdata,
    tags,
    severity,
    ver,
    log: log ?? defaults.log,
    skip,
    skipAfter,
    chained: null,
    isChained: parent !== null,
    regexSlot: null,
    targetKey: null,
    inputs: null,
    txProbe: null,
  };
  return { rule, chain };
}

function parsePhase(v: string | null): number | null {
  if (v === null) return null;
  const named: Record<string, number> = { request: 2, response: 4, logging: 5 };
  if (named[v.toLowerCase()] !== undefined) return named[v.toLowerCase()]!;
  const n = Number(v);
  return Number.isInteger(n) && n >= 1 && n <= 5 ? n : null;
}

function parseSeverity(v: string | null): number | null {
  if (v === null) return null;
  if (/^\d$/.test(v)) return Math.min(7, Number(v));
  const i = SEVERITIES.indexOf(v.toUpperCase() as (typeof SEVERITIES)[number]);
  if (i < 0) throw new RuleCompileError(`bad severity "${v}"`, 'invalid');
  return i;
}

/**
 * One string object per key name across the rules: setvar:tx.foo=... stores TX under the very
 * string that TX:foo later looks up, so the Map compares pointers, not characters. It grows with
 * the distinct names of the rule files loaded (CRS 3.3: a few hundred), kept for the process's
 * life across reloads, at most MAX_SHARED_KEYS: past that a name is used as it is, which is only
 * slower.
 */
const KEYS = new Map<string, string>();
const MAX_SHARED_KEYS = 100_000;

function sameKey(name: string): string {
  const known = KEYS.get(name);
  if (known !== undefined) return known;
  if (KEYS.size < MAX_SHARED_KEYS) KEYS.set(name, name);
  return name;
}

/** setvar:tx.a=1, setvar:tx.a=+%{tx.b}, setvar:!tx.a, setvar:tx.a (= 1) */
export function parseSetvar(v: string | null): RuntimeAction {
  if (v === null || v === '') throw new RuleCompileError('setvar needs a variable', 'invalid');
  const del = v.startsWith('!');
  const body = del ? v.slice(1) : v;
  const eq = body.indexOf('=');
  const target = eq < 0 ? body : body.slice(0, eq);
  const dot = target.indexOf('.');
  if (dot <= 0) throw new RuleCompileError(`setvar "${v}" does not name a collection (tx.name)`, 'invalid');
  const collection = canonicalVariable(target.slice(0, dot).toUpperCase());
  const name = compileMacro(sameKey(target.slice(dot + 1).toLowerCase()));
  if (del) return { kind: 'setvar', collection, name, op: 'delete', value: compileMacro('') };
  if (eq < 0) return { kind: 'setvar', collection, name, op: 'set', value: compileMacro('1') };
  const raw = body.slice(eq + 1);
  // A value that starts with + or - is arithmetic (Reference Manual v2.x, setvar).
  if (raw.startsWith('+') && raw.length > 1) return { kind: 'setvar', collection, name, op: 'add', value: compileMacro(raw.slice(1)) };
  if (raw.startsWith('-') && raw.length > 1) return { kind: 'setvar', collection, name, op: 'sub', value: compileMacro(raw.slice(1)) };
  return { kind: 'setvar', collection, name, op: 'set', value: compileMacro(raw) };
}

const CTL_IGNORED = new Set([
  'auditengine', 'auditlogparts', 'debugloglevel', 'requestbodylimit', 'responsebodyaccess', 'responsebodylimit',
  'hashengine', 'hashenforcement', 'parsexmlintoargs', 'forceresponsebodyvariable',
]);

function parseCtl(v: string | null, ctx: RuleCompileContext): CtlAction {
  const m = /^([A-Za-z]+)\s*=\s*(.*)$/s.exec(v ?? '');
  if (!m) throw new RuleCompileError(`bad ctl "${v ?? ''}"`, 'invalid');
  const name = m[1]!;
  const value = m[2]!.trim();
  const lname = name.toLowerCase();
  const onOff = (): boolean => {
    if (/^on$/i.test(value)) return true;
    if (/^off$/i.test(value)) return false;
    throw new RuleCompileError(`ctl:${name} wants On or Off, not "${value}"`, 'invalid');
  };
  const regex = (text: string) => {
    try {
      return compilePcre(text, { limits: ctx.fallbackLimits });
    } catch (err) {
      throw new RuleCompileError(`ctl:${name}: ${(err as Error).message}`, 'invalid');
    }
  };
  const split = (): [string, Exclusion[]] => {
    const semi = value.indexOf(';');
    if (semi < 0) throw new RuleCompileError(`ctl:${name} wants "what;TARGET"`, 'invalid');
    let vars: VariableSyntax[];
    try {
      vars = parseVariables(value.slice(semi + 1));
    } catch (err) {
      throw new RuleCompileError(`ctl:${name}: ${(err as Error).message}`, 'invalid');
    }
    return [value.slice(0, semi), vars.map((vs) => toExclusion({ ...vs, exclude: true }))];
  };
  switch (lname) {
    case 'ruleremovebyid': {
      const ids = parseIdRanges(value);
      if (!ids) throw new RuleCompileError(`ctl:ruleRemoveById wants ids, not "${value}"`, 'invalid');
      return { op: 'ruleRemoveById', ids };
    }
    case 'ruleremovebytag':
      return { op: 'ruleRemoveByTag', re: regex(value) };
    case 'ruleremovebymsg':
      return { op: 'ruleRemoveByMsg', re: regex(value) };
    case 'ruleremovetargetbyid': {
      const [what, exclusions] = split();
      const ids = parseIdRanges(what);
      if (!ids) throw new RuleCompileError(`ctl:ruleRemoveTargetById wants ids, not "${what}"`, 'invalid');
      return { op: 'ruleRemoveTargetById', ids, exclusions };
    }
    case 'ruleremovetargetbytag': {
      const [what, exclusions] = split();
      return { op: 'ruleRemoveTargetByTag', re: regex(what), exclusions };
    }
    case 'ruleremovetargetbymsg': {
      const [what, exclusions] = split();
      return { op: 'ruleRemoveTargetByMsg', re: regex(what), exclusions };
    }
    case 'ruleengine': {
      const mode = ({ on: 'On', off: 'Off', detectiononly: 'DetectionOnly' } as const)[value.toLowerCase() as 'on' | 'off' | 'detectiononly'];
      if (!mode) throw new RuleCompileError(`ctl:ruleEngine wants On, Off or DetectionOnly, not "${value}"`, 'invalid');
      return { op: 'ruleEngine', mode };
    }
    case 'requestbodyprocessor': {
      const p = value.toUpperCase();
      if (p !== 'URLENCODED' && p !== 'MULTIPART' && p !== 'JSON' && p !== 'XML') throw new RuleCompileError(`ctl:requestBodyProcessor: unknown processor "${value}"`, 'invalid');
      return { op: 'requestBodyProcessor', processor: p as BodyProcessorName };
    }
    case 'requestbodyaccess':
      return { op: 'requestBodyAccess', on: onOff() };
    case 'forcerequestbodyvariable':
      return { op: 'forceRequestBodyVariable', on: onOff() };
    default:
      if (CTL_IGNORED.has(lname)) return { op: 'ignored', name };
      throw new RuleCompileError(`unknown ctl option "${name}"`, 'invalid');
  }
}

function toSelector(vs: VariableSyntax): Selector | null {
  if (!KNOWN_VARIABLES.has(vs.name)) throw new RuleCompileError(`unknown variable ${vs.name}`, 'invalid');
  const sel = vs.selector;
  if (sel === null) return null;
  if (sel.kind === 'xpath') return { kind: 'xpath', path: sel.path };
  if (sel.kind === 'key') return { kind: 'key', key: sameKey(sel.key.toLowerCase()) };
  try {
    // Selector regexes are case-insensitive: collection keys are (header and argument names).
    return { kind: 'regex', re: compilePcre(sel.source, { caseInsensitive: true }) };
  } catch (err) {
    throw new RuleCompileError(`selector /${sel.source}/: ${(err as Error).message}`, 'invalid');
  }
}

export function toTarget(vs: VariableSyntax): Target {
  return { collection: canonicalVariable(vs.name), selector: toSelector(vs), count: vs.count, text: vs.text };
}

export function toExclusion(vs: VariableSyntax): Exclusion {
  const selector = toSelector(vs);
  const collection = canonicalVariable(vs.name);
  if (selector?.kind === 'xpath') return { collection, selector: null, text: vs.text };
  return { collection, selector, text: vs.text };
}

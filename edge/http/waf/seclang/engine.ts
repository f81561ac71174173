// Runs one phase of a Ruleset over a Transaction, with ModSecurity v2's semantics:
//   - rules run in file order; SecMarker, skip and skipAfter move within the phase;
//   - for every target value that matches, the rule's non-disruptive actions (setvar, ctl, ...)
//     run once, after MATCHED_VAR and the captures are set — so a rule that matches three
//     arguments adds its anomaly score three times, as in ModSecurity;
//   - a chained rule runs only when the rule before it matched; the chain's disruptive action,
//     flow action and log record (msg, logdata) belong to its first rule and happen only when the
//     whole chain matched;
//   - DetectionOnly records what would have been done; Off runs nothing.
// Reference: ModSecurity Reference Manual v2.x, "Processing phases", "Actions" (chain, setvar).
import type { Macro } from './macros.js';
import type { OperatorMatch } from './operators.js';
import type { TargetValue } from './transform-chain.js';
import type { PatternSet } from './regex-sets.js';
import type { PhaseProgram, Ruleset } from './loader.js';
import type { CtlAction, Rule, RuntimeAction, TxProbe } from './rule.js';
import { idInRanges, isMarker } from './rule.js';
import type { Transaction } from './transaction.js';
import { everyForm, transformed } from './transform-chain.js';
import { resolveTargets } from './variables.js';
import { nothingToRead, presentSources } from './presence.js';

/** At most this many matched variables are kept per rule match for the record. */
const MAX_RECORDED_VARS = 8;

export function runPhase(ruleset: Ruleset, tx: Transaction, phase: number): void {
  const program = ruleset.phases.get(phase);
  if (!program || tx.interruption !== null || tx.allowed === 'request') return;
  if (tx.allowed === 'phase') tx.allowed = 'none';
  const entries = program.entries;
  // The request collections are fixed for the phase (presence.ts).
  const present = presentSources(tx);
  for (let i = 0; i < entries.length; i++) {
    if (tx.engineMode === 'Off') return;
    const entry = entries[i]!;
    if (isMarker(entry)) continue;
    // Nothing for its targets to read: the rule cannot match, so it changes nothing.
    if (entry.inputs !== null && nothingToRead(entry.inputs, present, tx)) continue;
    if (tx.isRemoved(entry)) continue;
    tx.currentRule = entry;
    if (tx.matchedVars.length > 0) tx.matchedVars = [];
    const matched = evaluate(entry, tx);
    tx.currentRule = null;
    if (!matched) continue;
    const next = afterMatch(entry, tx, program, i);
    // allow:phase ends this phase only; runPhase of the next one clears it.
    if (tx.interruption !== null || tx.allowed !== 'none') return;
    i = next;
  }
}

/** True when the rule (and its whole chain) matched. Runs non-disruptive actions per match. */
function evaluate(rule: Rule, tx: Transaction): boolean {
  if (rule.operator === null) {
    runActions(rule, tx);
    return rule.chained === null || evaluate(rule.chained, tx);
  }
  const op = rule.operator;
  const ctx = tx.operatorContext;
  const testOnly = op.test !== undefined && (!rule.capture || op.negated);
  // One TX variable, read directly (a third of CRS's request rules: paranoia-level gates, setup
  // defaults); the general path below gives the same answer, through target lists and caches.
  if (rule.txProbe !== null && tx.targetRemovals.length === 0) return evaluateTxProbe(rule, rule.txProbe, tx, testOnly);
  let any = false;
  const slot = rule.multiMatch ? null : rule.regexSlot;
  const needCaptures = rule.capture && !op.negated;
  const targets = resolveTargets(tx, rule);
  if (slot !== null && slot.unionKey !== null && !op.negated && tx.targetCache.get(rule.targetKey!) === targets) {
    // Rules that share targets and a set: one pass over the values tells which patterns match
    // any of them; a rule whose pattern matches none is done without looking at each value.
    const any = unionOfHits(tx, slot.unionKey, slot.set, targets, rule);
    if (any !== null && !any.includes(slot.index)) return false;
  }
  for (const target of targets) {
    if (slot !== null && target.stable === true) {
      // The shared RE2.Set answers for this value (see regex-sets.ts).
      const hits = target.setHits?.[slot.set.id] ?? slot.set.hits(target, () => transformed(target, rule.transforms));
      if (hits !== null) {
        if (hits.includes(slot.index) === op.negated) continue;
        if (!needCaptures) {
          any = true;
          recordMatch(rule, tx, target, transformed(target, rule.transforms), null);
          continue;
        }
      }
    }
    if (!rule.multiMatch) {
      const form = transformed(target, rule.transforms);
      if (op.id >= 0 && target.stable === true) {
        // The operator's answer for this value, remembered across requests (ValueMemo).
        const answers = (target.opAnswers ??= []);
        let answer = answers[op.id];
        if (answer === undefined) {
          answer = op.run(form, ctx);
          if (!tx.budget.exhausted) answers[op.id] = answer;
        }
        if ((answer !== null) === op.negated) continue;
        any = true;
        recordMatch(rule, tx, target, form, answer);
        continue;
      }
      if (testOnly) {
        if (op.test!(form, ctx) === op.negated) continue;
        any = true;
        recordMatch(rule, tx, target, form, null);
        continue;
      }
      const m = op.run(form, ctx);
      if ((m !== null) === op.negated) continue;
      any = true;
      recordMatch(rule, tx, target, form, m);
      continue;
    }
    for (const form of everyForm(target, rule.transforms)) {
      if (testOnly) {
        if (op.test!(form, ctx) === op.negated) continue;
        any = true;
        recordMatch(rule, tx, target, form, null);
        break;
      }
      const m = op.run(form, ctx);
      if ((m !== null) === op.negated) continue;
      any = true;
      recordMatch(rule, tx, target, form, m);
      break;
    }
  }
  if (!any) return false;
  return rule.chained === null || evaluate(rule.chained, tx);
}

/** evaluate() for a rule with a TxProbe: its one value read from TX. */
function evaluateTxProbe(rule: Rule, probe: TxProbe, tx: Transaction, testOnly: boolean): boolean {
  const op = rule.operator!;
  const raw = tx.tx.get(probe.key);
  // &TX:key counts 0 or 1; TX:key alone is no value at all when unset (nothing to run on).
  if (raw === undefined && !probe.count) return false;
  const form = probe.count ? (raw === undefined ? '0' : '1') : raw!;
  const ctx = tx.operatorContext;
  let m: OperatorMatch | null = null;
  if (testOnly) {
    if (op.test!(form, ctx) === op.negated) return false;
  } else {
    m = op.run(form, ctx);
    if ((m !== null) === op.negated) return false;
  }
  const target: TargetValue = { name: probe.name, collection: 'TX', key: probe.count ? '' : probe.key, value: form };
  recordMatch(rule, tx, target, form, m);
  return rule.chained === null || evaluate(rule.chained, tx);
}

/** The indexes of the set's patterns that match any of the values; null when a value has no set answer. */
function unionOfHits(tx: Transaction, id: string, set: PatternSet, targets: readonly TargetValue[], rule: Rule): readonly number[] | null {
  const cached = tx.hitUnions.get(id);
  if (cached !== undefined) return cached;
  // A few indexes at most for real traffic: a short array, not a typed array of the set's size
  // (allocating one was most of this function's time).
  let union: number[] | null = null;
  // Once the union is longer than 32, membership by index: many values that each hit many
  // patterns must not cost values × patterns² (the union is at most the set's size).
  let seen: Uint8Array | null = null;
  for (const target of targets) {
    if (target.stable !== true) return remember(tx, id, null);
    const hits = target.setHits?.[set.id] ?? set.hits(target, () => transformed(target, rule.transforms));
    if (hits === null) return remember(tx, id, null);
    for (const i of hits) {
      union ??= [];
      if (seen !== null) {
        if (seen[i] === 0) {
          seen[i] = 1;
          union.push(i);
        }
      } else if (!union.includes(i)) {
        union.push(i);
        if (union.length > 32) {
          seen = new Uint8Array(set.size);
          for (const j of union) seen[j] = 1;
        }
      }
    }
  }
  // NOTHING: no value matched any pattern of the set.
  return remember(tx, id, union ?? NOTHING);
}

const NOTHING: readonly number[] = Object.freeze([]);

function remember(tx: Transaction, id: string, union: readonly number[] | null): readonly number[] | null {
  tx.hitUnions.set(id, union);
  return union;
}

function recordMatch(rule: Rule, tx: Transaction, target: TargetValue, form: string, m: OperatorMatch | null): void {
  tx.matchedVar = target;
  tx.matchedValue = form;
  tx.matchedVars.push({ target, value: form });
  if (rule.capture && m !== null && m.captures.length > 0) setCaptures(tx, m.captures);
  runActions(rule, tx);
}

const CAPTURE_KEYS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** TX:0–9 from the match; groups that did not take part are removed, as ModSecurity does. */
function setCaptures(tx: Transaction, captures: readonly (string | undefined)[]): void {
  const n = Math.min(10, Math.max(captures.length, tx.captureCount));
  for (let i = 0; i < n; i++) {
    const c = captures[i];
    if (c === undefined) tx.tx.delete(CAPTURE_KEYS[i]!);
    else tx.tx.set(CAPTURE_KEYS[i]!, c);
  }
  tx.captureCount = Math.min(10, captures.length);
}

function expand(tx: Transaction, macro: Macro): string {
  return macro.constant ? macro.text : tx.operatorContext.expand(macro);
}

function runActions(rule: Rule, tx: Transaction): void {
  for (const action of rule.actions) runAction(action, tx);
}

function runAction(action: RuntimeAction, tx: Transaction): void {
  switch (action.kind) {
    case 'setvar': {
      const target = tx.persistentForWrite(action.collection);
      if (!target) return;
      const name = expand(tx, action.name);
      if (action.op === 'delete') {
        target.values.delete(name);
        return;
      }
      const v = expand(tx, action.value);
      if (action.op === 'set') target.values.set(name, v);
      else {
        const current = Number.parseInt(target.values.get(name) ?? '0', 10) || 0;
        const delta = Number.parseInt(v, 10) || 0;
        target.values.set(name, String(action.op === 'add' ? current + delta : current - delta));
      }
      return;
    }
    case 'ctl':
      return runCtl(action.ctl, tx);
    case 'initcol':
      tx.bound.set(action.collection, expand(tx, action.key));
      return;
    case 'expirevar': {
      const target = tx.persistentForWrite(action.collection);
      const seconds = Number.parseInt(expand(tx, action.seconds), 10);
      if (target?.expires && Number.isFinite(seconds)) target.expires.set(expand(tx, action.name), tx.clock.now() + seconds * 1000);
      return;
    }
    case 'setenv': {
      const name = expand(tx, action.name);
      if (action.unset) tx.env.delete(name);
      else tx.env.set(name, expand(tx, action.value));
      return;
    }
  }
}

function runCtl(ctl: CtlAction, tx: Transaction): void {
  const budget = { windowsLeft: 1 << 30, exhausted: false };
  switch (ctl.op) {
    case 'ruleRemoveById':
      tx.removedIds.push(ctl.ids);
      return;
    case 'ruleRemoveByTag':
      tx.removedByTag.push(ctl.re);
      return;
    case 'ruleRemoveByMsg':
      tx.removedByMsg.push(ctl.re);
      return;
    case 'ruleRemoveTargetById': {
      const ids = ctl.ids;
      tx.targetRemovals.push({ applies: (r) => idInRanges(r.id, ids), exclusions: ctl.exclusions });
      return;
    }
    case 'ruleRemoveTargetByTag': {
      const re = ctl.re;
      tx.targetRemovals.push({ applies: (r) => r.tags.some((t) => re.test(t, budget)), exclusions: ctl.exclusions });
      return;
    }
    case 'ruleRemoveTargetByMsg': {
      const re = ctl.re;
      tx.targetRemovals.push({ applies: (r) => r.msg !== null && re.test(r.msg.text, budget), exclusions: ctl.exclusions });
      return;
    }
    case 'ruleEngine':
      tx.engineMode = ctl.mode;
      return;
    case 'requestBodyProcessor':
      tx.bodyProcessor = ctl.processor;
      return;
    case 'requestBodyAccess':
      tx.requestBodyAccess = ctl.on;
      return;
    case 'forceRequestBodyVariable':
      tx.forceRequestBodyVariable = ctl.on;
      return;
    case 'ignored':
      return;
  }
}

/** Records the match, carries out the disruptive action, and returns the index to continue after. */
function afterMatch(rule: Rule, tx: Transaction, program: PhaseProgram, index: number): number {
  const d = rule.disruptive;
  const enforcing = tx.engineMode === 'On';
  if (rule.severity !== null && rule.severity < tx.highestSeverity) tx.highestSeverity = rule.severity;
  if (rule.log) {
    tx.currentRule = rule;
    const msg = rule.msg ? expand(tx, rule.msg) : '';
    const logdata = rule.logdata ? expand(tx, rule.logdata) : '';
    tx.currentRule = null;
    tx.matches.push({
      ruleId: rule.id,
      phase: rule.phase,
      msg,
      logdata,
      severity: rule.severity,
      tags: rule.tags,
      matched: tx.matchedVars.slice(0, MAX_RECORDED_VARS).map((m) => ({ name: m.target.name, value: m.value })),
      action: d.kind,
      suppressed: !enforcing && d.kind !== 'pass',
      file: rule.file,
      line: rule.line,
    });
  }
  if (enforcing) {
    switch (d.kind) {
      case 'deny':
      case 'drop':
        tx.interruption = { ruleId: rule.id, action: d.kind, status: d.status };
        return index;
      case 'redirect':
        tx.interruption = { ruleId: rule.id, action: 'redirect', status: d.status, url: expand(tx, d.url) };
        return index;
      case 'allow':
        tx.allowed = d.scope === 'phase' ? 'phase' : 'request';
        return index;
      case 'pass':
        break;
    }
  }
  if (rule.skipAfter !== null) return program.skipTo[index]!;
  if (rule.skip > 0) {
    let skipped = 0;
    let i = index;
    while (skipped < rule.skip && i + 1 < program.entries.length) {
      i++;
      if (!isMarker(program.entries[i]!)) skipped++;
    }
    return i;
  }
  return index;
}

// Runs many @rx rules over one value in one pass. The rules that look at a value through the
// same transformation pipeline (a node of the TransformTrie) have their RE2 patterns gathered
// into one RE2.Set; a value's transformed form is matched against the set once per request, and
// each rule then only looks up whether its pattern was among the hits. The answer is the same
// as running each pattern alone (the set holds the very same patterns): it is a cache, not an
// approximation. Only when the rule needs captures does its own regex run, and only on a hit.
//
// RE2.Set throws when its DFA runs out of memory on an input; the engine then runs the rules'
// own regexes for that value, so the worst case is the speed of not having sets at all.
import RE2 from 're2';
import type { Ruleset } from './loader.js';
import type { Rule } from './rule.js';
import type { TargetValue } from './transform-chain.js';
import { transformed } from './transform-chain.js';

export interface RegexSlot {
  readonly set: PatternSet;
  readonly index: number;
}

let nextSetId = 0;

/** Values up to this length have their set answers remembered across requests... */
const SHARED_MAX_LENGTH = 512;
/** ...in at most this many entries per set (about 0.5 MiB for the largest CRS set). */
const SHARED_MAX_ENTRIES = 4096;

export class PatternSet {
  private readonly set: InstanceType<typeof RE2.Set>;
  /** Index into TargetValue.setHits. */
  readonly id = nextSetId++;
  private readonly shared = new Map<string, Uint8Array>();

  constructor(
    /** The TransformTrie node whose output the set is matched against. */
    readonly nodeId: number,
    sources: readonly string[],
  ) {
    this.set = new RE2.Set(sources);
  }

  /** Indices of the patterns that match `target` at this node; cached on the target. null: the set failed. */
  hits(target: TargetValue, form: string): Uint8Array | null {
    const cache = (target.setHits ??= []);
    const cached = cache[this.id];
    if (cached !== undefined) return cached;
    // Across requests: header names, common header values, methods and paths repeat all the
    // time. The answer is a pure function of the string, so it can be remembered; the memory is
    // bounded, and an attacker who churns it only costs us the set call we would make anyway.
    const shared = form.length <= SHARED_MAX_LENGTH ? this.shared.get(form) : undefined;
    if (shared !== undefined) {
      cache[this.id] = shared;
      return shared;
    }
    let result: Uint8Array | null;
    try {
      result = new Uint8Array(this.set.size);
      // A Buffer (the UTF-8 of the byte string, which is what RE2 sees of a string anyway) is
      // several times cheaper to hand to RE2.Set than a string.
      for (const i of this.set.match(Buffer.from(form, 'utf8'))) result[i] = 1;
    } catch {
      result = null;
    }
    cache[this.id] = result;
    if (result !== null && form.length <= SHARED_MAX_LENGTH) {
      if (this.shared.size >= SHARED_MAX_ENTRIES) this.shared.clear();
      this.shared.set(form, result);
    }
    return result;
  }
}

/** Gives every eligible rule (and chained rule) a slot in the set of its transformation node. */
export function attachRegexSets(ruleset: Ruleset): number {
  const groups = new Map<number, Rule[]>();
  for (const head of ruleset.rulesById.values()) {
    for (let r: Rule | null = head; r !== null; r = r.chained) {
      const re = r.operator?.regex;
      if (!re || re.re2Source === null || r.multiMatch) continue;
      const list = groups.get(r.transforms.id) ?? [];
      list.push(r);
      groups.set(r.transforms.id, list);
    }
  }
  let sets = 0;
  for (const [nodeId, rules] of groups) {
    // A set of one still pays: its answers are remembered across requests.
    const set = new PatternSet(nodeId, rules.map((r) => r.operator!.regex!.re2Source!));
    rules.forEach((r, index) => {
      r.regexSlot = { set, index };
    });
    sets++;
  }
  return sets;
}

/** The set's answer for this rule and value, or undefined when the set cannot say. */
export function setAnswer(rule: Rule, target: TargetValue): boolean | undefined {
  const slot = rule.regexSlot;
  if (slot === null || target.stable !== true) return undefined;
  const hits = slot.set.hits(target, transformed(target, rule.transforms));
  return hits === null ? undefined : hits[slot.index] === 1;
}

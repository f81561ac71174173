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

export interface RegexSlot {
  readonly set: PatternSet;
  readonly index: number;
  /** Key of the per-request union of hits over the rule's shared target list (set id and Rule.targetKey). */
  unionKey: string | null;
}

let nextSetId = 0;

const NO_HITS: readonly number[] = Object.freeze([]);


export class PatternSet {
  private readonly set: InstanceType<typeof RE2.Set>;
  /** Index into TargetValue.setHits. */
  readonly id = nextSetId++;

  /** Number of patterns. */
  readonly size: number;

  constructor(
    /** The TransformTrie node whose output the set is matched against. */
    readonly nodeId: number,
    sources: readonly string[],
  ) {
    this.set = new RE2.Set(sources);
    this.size = sources.length;
  }

  /**
   * Indices of the patterns that match `target` at this node, cached on the target. null: the
   * set could not answer (it ran out of memory).
   */
  hits(target: TargetValue, form: () => string): readonly number[] | null {
    const cache = (target.setHits ??= []);
    const cached = cache[this.id];
    if (cached !== undefined) return cached;
    // (Across requests, the target's caches are its value's: see ValueMemo.)
    let result: readonly number[] | null;
    try {
      // A Buffer (the UTF-8 of the byte string, which is what RE2 sees of a string anyway) is
      // several times cheaper to hand to RE2.Set than a string. The answer is the (sorted)
      // indices that matched; nearly always none.
      const matched = this.set.match(Buffer.from(form(), 'utf8'));
      result = matched.length === 0 ? NO_HITS : matched;
    } catch {
      result = null;
    }
    cache[this.id] = result;
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
  // RE2 refuses a set whose program is too big (CRS 4 has large phrase lists); such a group is
  // split in halves until each part compiles. A pattern that cannot join any set runs alone.
  const build = (nodeId: number, rules: Rule[]): void => {
    let set: PatternSet;
    try {
      set = new PatternSet(nodeId, rules.map((r) => r.operator!.regex!.re2Source!));
    } catch {
      if (rules.length === 1) return;
      const half = rules.length >> 1;
      build(nodeId, rules.slice(0, half));
      build(nodeId, rules.slice(half));
      return;
    }
    rules.forEach((r, index) => {
      r.regexSlot = { set, index, unionKey: null };
    });
    sets++;
  };
  for (const [nodeId, rules] of groups) build(nodeId, rules);
  return sets;
}

// Transformation pipelines as a trie: every rule's t: list is a path from the root, and rules
// that share a prefix (CRS rules mostly start with t:none,t:utf8toUnicode,t:urlDecodeUni,...)
// share nodes. A value keeps, per request, the result at each node it has reached, so a prefix
// is computed once per value however many rules use it — the cache ModSecurity itself keeps.
import type { Transformation } from './transformations.js';

export interface ChainNode {
  /** Unique per ruleset; the cache key. */
  readonly id: number;
  readonly parent: ChainNode | null;
  readonly name: string;
  readonly fn: Transformation | null;
  /** Names from the root, for reports. */
  readonly path: readonly string[];
}

export class TransformTrie {
  private nextId = 1;
  readonly root: ChainNode = { id: 0, parent: null, name: '', fn: null, path: [] };
  private readonly children = new Map<ChainNode, Map<string, ChainNode>>();

  extend(node: ChainNode, name: string, fn: Transformation): ChainNode {
    let map = this.children.get(node);
    if (!map) {
      map = new Map();
      this.children.set(node, map);
    }
    let child = map.get(name);
    if (!child) {
      child = { id: this.nextId++, parent: node, name, fn, path: [...node.path, name] };
      map.set(name, child);
    }
    return child;
  }
}

/** What an operator answered for a value: the captures of a match (empty when it has none). */
export interface OperatorAnswer {
  readonly captures: readonly (string | undefined)[];
}

/** A value seen by rules, with its per-request cache of transformed forms. */
export interface TargetValue {
  /** MATCHED_VAR_NAME, e.g. "ARGS:q", "REQUEST_HEADERS:user-agent", "REQUEST_URI". */
  readonly name: string;
  /** The collection (upper case) and the key (as sent; compared case-insensitively). */
  readonly collection: string;
  readonly key: string;
  readonly value: string;
  /** Transformed forms by TransformTrie node id. */
  cache?: (string | undefined)[];
  /** Built once per request (a request collection), so per-value caches are worth keeping. */
  stable?: boolean;
  /** Answers of pure operators by Operator.id (engine.ts): a match, or null for none. */
  opAnswers?: (OperatorAnswer | null | undefined)[];
  /** RE2.Set results per set (see regex-sets.ts). */
  setHits?: (readonly number[] | null | undefined)[];
}

export function transformed(target: TargetValue, node: ChainNode): string {
  if (node.fn === null) return target.value;
  const cache = (target.cache ??= []);
  const hit = cache[node.id];
  if (hit !== undefined) return hit;
  const input = transformed(target, node.parent!);
  let out: string;
  try {
    out = node.fn(input);
  } catch {
    // Transformations are total; this is a last line of defence against a bug, never the network.
    out = input;
  }
  cache[node.id] = out;
  return out;
}

/** The forms a value takes along a chain (for multiMatch): the original, then each one that changed. */
export function everyForm(target: TargetValue, node: ChainNode): string[] {
  const nodes: ChainNode[] = [];
  for (let n: ChainNode | null = node; n !== null; n = n.parent) nodes.push(n);
  nodes.reverse();
  const forms: string[] = [];
  let previous: string | undefined;
  for (const n of nodes) {
    const v = transformed(target, n);
    if (v !== previous) forms.push(v);
    previous = v;
  }
  return forms;
}

/**
 * The same header names and values, cookie names, paths and arguments come in request after
 * request, and what is computed from a value — its transformed forms, its RE2.Set answers — is a
 * pure function of it (for one ruleset: node and set ids are the ruleset's). So the caches of a
 * request's values are kept across requests, by value: one Map lookup per value per request
 * instead of a transformation and a set match per rule group. Bounded; an attacker who churns it
 * only costs us the work we would do without it.
 */
export class ValueMemo {
  private readonly records = new Map<string, { cache: (string | undefined)[]; setHits: (readonly number[] | null | undefined)[]; opAnswers: (OperatorAnswer | null | undefined)[] }>();

  constructor(
    private readonly maxEntries = 8192,
    private readonly maxLength = 256,
  ) {}

  /** Gives `target` the shared caches of its value (creating them). */
  attach(target: TargetValue): void {
    const v = target.value;
    if (v.length > this.maxLength) return;
    let rec = this.records.get(v);
    if (rec === undefined) {
      if (this.records.size >= this.maxEntries) this.records.clear();
      rec = { cache: [], setHits: [], opAnswers: [] };
      this.records.set(v, rec);
    }
    target.cache = rec.cache;
    target.setHits = rec.setHits;
    target.opAnswers = rec.opAnswers;
  }
}

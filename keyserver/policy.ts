// Which edge may use which key for what. Anything not allowed is denied: an edge with no rule
// can do nothing, unlike gokeyless where any authenticated client may use every key.
import type { EdgeRule, KeySelector, OperationName } from './config.js';
import type { EdgeIdentity } from './identity.js';
import { identityMatches } from './identity.js';

export interface PolicyKey {
  readonly keyId: string;
  /** DNS names and IP addresses from the key's certificate; empty when the key server has no certificate for it. */
  readonly hostnames?: readonly string[] | undefined;
}

/** RFC 6125 §6.4.3-style match: "*" stands for exactly one whole left-most label. */
export function hostnamePatternCovers(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase();
  const n = name.toLowerCase();
  if (p === n) return true;
  if (!p.startsWith('*.')) return false;
  const suffix = p.slice(1); // ".example.com"
  if (!n.endsWith(suffix)) return false;
  const label = n.slice(0, n.length - suffix.length);
  return label.length > 0 && !label.includes('.') && label !== '*';
}

export class Policy {
  constructor(private readonly rules: readonly EdgeRule[]) {}

  /** Every rule naming this edge applies; an edge may have several. */
  rulesFor(identity: EdgeIdentity): EdgeRule[] {
    return this.rules.filter((r) => identityMatches(identity, r.identity));
  }

  /**
   * A key is allowed when a selector names it by id, or when *every* name in its certificate is
   * covered by the rule's hostname selectors: an edge allowed a.example.com must not get a key
   * whose certificate also speaks for b.example.com.
   */
  static ruleCoversKey(rule: EdgeRule, key: PolicyKey): boolean {
    const hostnamePatterns: string[] = [];
    for (const selector of rule.keys as readonly KeySelector[]) {
      if (selector === '*') return true;
      if ('id' in selector && selector.id === key.keyId) return true;
      if ('hostname' in selector) hostnamePatterns.push(selector.hostname);
    }
    const names = key.hostnames ?? [];
    if (hostnamePatterns.length === 0 || names.length === 0) return false;
    return names.every((name) => hostnamePatterns.some((pattern) => hostnamePatternCovers(pattern, name)));
  }

  /** The operations this edge may perform with this key (union over its rules). */
  operationsFor(identity: EdgeIdentity, key: PolicyKey): Set<OperationName> {
    const ops = new Set<OperationName>();
    for (const rule of this.rulesFor(identity)) {
      if (Policy.ruleCoversKey(rule, key)) for (const op of rule.operations) ops.add(op);
    }
    return ops;
  }

  allows(identity: EdgeIdentity, key: PolicyKey, operation: OperationName): boolean {
    return this.operationsFor(identity, key).has(operation);
  }

  /** The rate limit for an edge: the first rule that sets one. */
  rateLimitFor(identity: EdgeIdentity): EdgeRule['rateLimit'] {
    return this.rulesFor(identity).find((r) => r.rateLimit !== undefined)?.rateLimit;
  }
}

// What the WAF answers for a request, and why.

/**
 * allow: let the request through without further inspection (an allow list or an allow rule);
 * block: answer with `status`, `headers`, `body` instead of forwarding (403, or 400/413 for bodies);
 * rate-limit: answer 429 with Retry-After;
 * pass: nothing stopped the request; forward it.
 */
export type WafAction = 'allow' | 'block' | 'rate-limit' | 'pass';

export interface WafMatch {
  /** What kind of rule: our IP lists, our custom rules, our rate limits, the managed rule set, or body processing. */
  readonly source: 'ip-list' | 'rule' | 'rate-limit' | 'managed' | 'body';
  /** A custom rule or rate limit's name, "ip-allow"/"ip-block", "body", or a managed rule's id. */
  readonly rule: string;
  /**
   * What the rule did: block / allow / skip / log / rate-limit for our rules; for managed rules,
   * block for the rule that decided (949110 and the like) and pass for those that added to the
   * anomaly score.
   */
  readonly action: 'block' | 'allow' | 'skip' | 'log' | 'rate-limit' | 'pass';
  readonly message: string;
  /** The variable that matched, e.g. ARGS:q or REQUEST_HEADERS:user-agent. */
  readonly variable?: string;
  /** The matched data, as text, truncated, with secrets redacted. */
  readonly data?: string;
  readonly severity?: string;
  readonly tags?: readonly string[];
  /** 1: request headers, 2: request body (managed rules). */
  readonly phase?: number;
  /** Where a managed rule is defined: file:line. */
  readonly location?: string;
}

export interface WafVerdict {
  readonly action: WafAction;
  /** For block and rate-limit: the response to send. */
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly matches: readonly WafMatch[];
  /** The managed rules' inbound anomaly score (0 without managed rules). */
  readonly anomalyScore: number;
  /** In detect mode: the block that was not carried out. */
  readonly wouldBlock?: { readonly status: number; readonly reason: string };
  /** Parts of the request the bounded regex fallback did not examine (its budget ran out). */
  readonly incomplete?: boolean;
}

// What the WAF answers for a request, and why.

/**
 * allow: let the request through without further inspection (an allow list or an allow rule);
 * block: answer with `status`, `headers`, `body` instead of forwarding (403, or 400/413 for bodies);
 * rate-limit: answer 429 with Retry-After;
 * pass: nothing stopped the request; forward it.
 */
export type WafAction = 'allow' | 'block' | 'rate-limit' | 'pass';

export interface WafMatch {
  /**
   * What kind of rule: our IP lists, our custom rules, our rate limits, the managed rule set, or
   * request parsing and its limits (body-limit, body-parse, query-args).
   */
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
  /** The (first) variable that matched, e.g. ARGS:q or REQUEST_HEADERS:user-agent. */
  readonly variable?: string;
  /**
   * The matched data, as text, truncated, with secrets redacted: the rule's logdata, or the first
   * variable's value; "[redacted]" when any matched variable is a secret (logdata may quote it).
   */
  readonly data?: string;
  /**
   * Managed rules: every variable that matched (at most 8, each once), each with its value
   * redacted on its own — an exclusion has to name all of them to unblock the request.
   */
  readonly variables?: readonly WafMatchedVariable[];
  readonly severity?: string;
  readonly tags?: readonly string[];
  /** 1: request headers, 2: request body (managed rules). */
  readonly phase?: number;
  /** Where a managed rule is defined: file:line. */
  readonly location?: string;
}

export interface WafMatchedVariable {
  /** e.g. ARGS:q */
  readonly name: string;
  /** The value that matched (after the rule's transformations), truncated; "[redacted]" for a secret. */
  readonly data: string;
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
  /**
   * The body was longer than waf.body.limit and only its first body.limit bytes were inspected
   * (onLimit: inspect-partial, or detect mode); the rest was not looked at.
   */
  readonly bodyTruncated?: boolean;
}

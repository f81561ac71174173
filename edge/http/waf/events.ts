// The WAF's log events: one structured line per request on which a rule acted (pino), with the
// request id, host, rule ids, messages, anomaly score and action — matched data truncated, and
// secrets (credentials in headers, cookie values, password-like arguments) never written.
import type { Logger } from 'pino';
import { displayText } from './bytes.js';
import type { RequestData } from './request.js';
import type { WafMatch, WafVerdict } from './verdict.js';

/** Headers whose values are credentials. */
const SECRET_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'x-auth-token', 'x-csrf-token', 'x-xsrf-token', 'x-amz-security-token'];
/** Argument (and JSON member) names that hold secrets. */
const SECRET_ARG = /(?:^|[._-])(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|access[_-]?key|auth(?:orization)?|session(?:id)?|otp|pin|cvv|cvc|card(?:number)?|ssn|private[_-]?key)$/i;

export const MAX_DATA = 200;

export interface RedactionConfig {
  readonly headers: readonly string[];
  readonly args: readonly string[];
}

/** Knows the secrets of one request and removes them from text bound for a log. */
export class Redactor {
  private readonly secretHeaders: Set<string>;
  private readonly secretArgs: Set<string>;
  private secrets: string[] | null = null;

  constructor(
    private readonly request: RequestData,
    private readonly bodyArgs: readonly (readonly [string, string])[],
    config: RedactionConfig,
  ) {
    this.secretHeaders = new Set([...SECRET_HEADERS, ...config.headers.map((h) => h.toLowerCase())]);
    this.secretArgs = new Set(config.args.map((a) => a.toLowerCase()));
  }

  isSecretArg(name: string): boolean {
    const lname = name.toLowerCase();
    return SECRET_ARG.test(lname) || this.secretArgs.has(lname) || this.secretArgs.has(lname.split('.').pop() ?? lname);
  }

  /** Is a variable (as MATCHED_VAR_NAME names it) a secret? */
  isSecretVariable(variable: string): boolean {
    const colon = variable.indexOf(':');
    const collection = colon < 0 ? variable : variable.slice(0, colon);
    const key = colon < 0 ? '' : variable.slice(colon + 1);
    if (collection === 'REQUEST_HEADERS') return this.secretHeaders.has(key.toLowerCase());
    if (collection === 'REQUEST_COOKIES') return true;
    if (collection === 'ARGS' || collection === 'ARGS_GET' || collection === 'ARGS_POST') return this.isSecretArg(key);
    return false;
  }

  /** Every secret value of the request, longest first (so a value inside another is not left half-shown). */
  private secretValues(): string[] {
    if (this.secrets !== null) return this.secrets;
    const values = new Set<string>();
    for (const [name, value] of this.request.headers) {
      if (!this.secretHeaders.has(name)) continue;
      values.add(value);
      // "Bearer abc": the credential without its scheme appears on its own too.
      const space = value.indexOf(' ');
      if (space > 0) values.add(value.slice(space + 1));
    }
    for (const [, value] of this.request.cookies) values.add(value);
    for (const [name, value] of [...this.request.queryArgs, ...this.bodyArgs]) if (this.isSecretArg(name)) values.add(value);
    this.secrets = [...values].filter((v) => v.length >= 3).sort((a, b) => b.length - a.length);
    return this.secrets;
  }

  /** Text for a log: secrets replaced, then shown as UTF-8 and truncated. */
  clean(bytes: string, max = MAX_DATA): string {
    let s = bytes;
    for (const secret of this.secretValues()) {
      if (s.includes(secret)) s = s.split(secret).join('[redacted]');
      const encoded = encodeURIComponent(displayText(secret));
      if (encoded !== secret && s.includes(encoded)) s = s.split(encoded).join('[redacted]');
    }
    const text = displayText(s);
    return text.length > max ? `${text.slice(0, max)}…` : text;
  }
}

export interface EventContext {
  readonly log: Logger;
  readonly request: RequestData;
  readonly verdict: WafVerdict;
  readonly mode: 'block' | 'detect';
  readonly durationMs: number;
}

/** Logs the verdict if any rule acted on the request: warn for blocks, info for logging rules, debug otherwise. */
export function logVerdict({ log, request, verdict, mode, durationMs }: EventContext): void {
  if (verdict.matches.length === 0) return;
  const acted = verdict.action === 'block' || verdict.action === 'rate-limit' || verdict.wouldBlock !== undefined;
  const logged = verdict.matches.some((m) => m.action !== 'pass');
  const level = acted ? 'warn' : logged ? 'info' : 'debug';
  if (!log.isLevelEnabled(level)) return;
  const decisive = verdict.matches.find((m) => m.action === 'block' || m.action === 'rate-limit' || m.action === 'allow');
  const what =
    verdict.action === 'block' ? 'blocked' : verdict.action === 'rate-limit' ? 'rate limited' : verdict.wouldBlock ? 'would block (detect mode)' : verdict.action === 'allow' ? 'allowed' : 'matched';
  log[level](
    {
      event: 'waf',
      requestId: request.requestId,
      host: request.host,
      clientIp: request.clientIp,
      method: request.method,
      path: displayText(request.path).slice(0, MAX_DATA),
      action: verdict.action,
      mode,
      ...(verdict.status !== undefined ? { status: verdict.status } : {}),
      ...(verdict.wouldBlock ? { wouldBlock: verdict.wouldBlock } : {}),
      anomalyScore: verdict.anomalyScore,
      rules: verdict.matches.map((m) => m.rule),
      matches: verdict.matches.map(eventMatch),
      durationMs: Math.round(durationMs * 1000) / 1000,
      ...(verdict.incomplete ? { incomplete: true } : {}),
      ...(verdict.bodyTruncated ? { bodyTruncated: true } : {}),
    },
    `waf: ${what}${decisive ? ` by ${decisive.source === 'managed' ? 'rule ' : ''}${decisive.rule}` : ''}`,
  );
}

function eventMatch(m: WafMatch): Record<string, unknown> {
  return {
    source: m.source,
    rule: m.rule,
    action: m.action,
    message: m.message,
    ...(m.variable !== undefined ? { variable: m.variable } : {}),
    ...(m.data !== undefined ? { data: m.data } : {}),
    ...(m.variables !== undefined ? { variables: m.variables } : {}),
    ...(m.severity !== undefined ? { severity: m.severity } : {}),
  };
}

// Errors of the WAF, each with a stable code. Load-time problems (config, rule files, patterns)
// are errors with a place (file and line, or line and column of an expression); nothing the
// network sends is ever thrown: a request that cannot be parsed is a verdict, not an exception.

export const WafErrorCode = {
  /** The `waf:` section of the config is invalid (the message names the field). */
  CONFIG: 'WAF_ERR_CONFIG',
  /** A custom rule expression does not parse; `line` and `column` say where. */
  EXPRESSION_SYNTAX: 'WAF_ERR_EXPRESSION_SYNTAX',
  /** A custom rule expression parses but compares things that cannot be compared (e.g. `ip.src contains 1`). */
  EXPRESSION_TYPE: 'WAF_ERR_EXPRESSION_TYPE',
  /** A SecLang directive could not be parsed (bad quoting, missing arguments, bad variable or action). */
  SECLANG_SYNTAX: 'WAF_ERR_SECLANG_SYNTAX',
  /** A SecLang file could not be read, or an Include matched nothing. */
  SECLANG_INCLUDE: 'WAF_ERR_SECLANG_INCLUDE',
  /** A regular expression could not be compiled by any engine we allow. */
  REGEX: 'WAF_ERR_REGEX',
  /** The managed rule set was asked for but could not be found or loaded. */
  MANAGED_RULES: 'WAF_ERR_MANAGED_RULES',
  /** A raw HTTP request file (for `keyless waf test`) could not be parsed. */
  RAW_REQUEST: 'WAF_ERR_RAW_REQUEST',
} as const;
export type WafErrorCode = (typeof WafErrorCode)[keyof typeof WafErrorCode];

/** Where a problem is: a file and line (SecLang), or a line and column (an expression). */
export interface WafErrorPlace {
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
}

export class WafError extends Error {
  constructor(
    readonly code: WafErrorCode,
    message: string,
    readonly place: WafErrorPlace = {},
  ) {
    super(placeText(place) + message);
    this.name = 'WafError';
  }
}

function placeText(place: WafErrorPlace): string {
  const parts: string[] = [];
  if (place.file !== undefined) parts.push(place.file);
  if (place.line !== undefined) parts.push(place.file !== undefined ? `${place.line}` : `line ${place.line}`);
  if (place.column !== undefined) parts.push(place.file !== undefined ? `${place.column}` : `column ${place.column}`);
  if (parts.length === 0) return '';
  return place.file !== undefined ? `${parts.join(':')}: ` : `${parts.join(', ')}: `;
}

/** An error in a custom rule expression; `line` and `column` are 1-based. */
export class WafExpressionError extends WafError {
  constructor(
    code: typeof WafErrorCode.EXPRESSION_SYNTAX | typeof WafErrorCode.EXPRESSION_TYPE,
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(code, message, { line, column });
    this.name = 'WafExpressionError';
  }
}

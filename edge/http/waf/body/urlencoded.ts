// application/x-www-form-urlencoded bodies and query strings, split the way ModSecurity does:
// "&" separates arguments, the first "=" separates name from value, both are URL-decoded with
// "+" as a blank and invalid %-sequences kept as they are (Reference Manual v2.x, ARGS).
import { urlDecode } from '../seclang/transformations.js';

export interface UrlEncodedResult {
  readonly args: (readonly [string, string])[];
  /** Set when more than maxArgs arguments were present (the rest are dropped). */
  readonly truncated: boolean;
}

export function parseUrlEncoded(text: string, maxArgs: number): UrlEncodedResult {
  const args: (readonly [string, string])[] = [];
  if (text === '') return { args, truncated: false };
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('&', start);
    if (end < 0) end = text.length;
    if (end > start) {
      if (args.length >= maxArgs) return { args, truncated: true };
      const pair = text.slice(start, end);
      const eq = pair.indexOf('=');
      args.push(eq < 0 ? [urlDecode(pair), ''] : [urlDecode(pair.slice(0, eq)), urlDecode(pair.slice(eq + 1))]);
    }
    start = end + 1;
  }
  return { args, truncated: false };
}

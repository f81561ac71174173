// JSON bodies, flattened into arguments the way libmodsecurity names them: the root is "json",
// an object member adds ".name", an array element adds ".array_N"; only scalars become
// arguments (strings as their UTF-8 bytes, numbers and booleans as text, null as "").
// {"a":{"b":[1,"x"]}} gives json.a.b.array_0 = "1" and json.a.b.array_1 = "x".
import { utf8Bytes } from '../bytes.js';
import type { BodyLimits, ParsedBody } from './types.js';
import { emptyBody } from './types.js';

export function parseJsonBody(bytes: string, limits: BodyLimits): ParsedBody {
  if (bytes.trim() === '') return emptyBody('JSON');
  // Depth is checked on the text first, so that flattening (recursive) has a bound and a deeply
  // nested document is an error rather than a stack overflow.
  const depth = maxDepth(bytes);
  if (depth > limits.maxJsonDepth) return emptyBody('JSON', `JSON nesting deeper than ${limits.maxJsonDepth}`);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes, 'latin1').toString('utf8'));
  } catch (err) {
    return emptyBody('JSON', `JSON parsing error: ${(err as Error).message.slice(0, 120)}`);
  }
  const args: (readonly [string, string])[] = [];
  let overflow = false;
  const add = (name: string, value: string): void => {
    if (args.length >= limits.maxArgs) overflow = true;
    else args.push([utf8Bytes(name), value]);
  };
  const walk = (value: unknown, prefix: string): void => {
    if (overflow) return;
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${prefix}.array_${i}`));
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) walk(v, `${prefix}.${k}`);
    } else if (typeof value === 'string') {
      add(prefix, utf8Bytes(value));
    } else if (value === null) {
      add(prefix, '');
    } else {
      add(prefix, String(value));
    }
  };
  walk(doc, 'json');
  if (overflow) return { ...emptyBody('JSON', `more than ${limits.maxArgs} JSON values`), args };
  return { ...emptyBody('JSON'), args };
}

/** Deepest nesting of [ and { outside strings. Linear; tolerant of invalid text (JSON.parse judges it). */
function maxDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

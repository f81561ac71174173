// Cache keys (RFC 9111 §4.1, §2). The primary key is the target URI; the edge only speaks https
// so the scheme is implied: "host" + request target, e.g. "example.com/a/b?c=d". The target is
// kept exactly as the client sent it (no decoding or normalisation), so purging a URL means
// naming it the same way. The secondary key (the "variant") is the values of the request fields
// the response's Vary names.
import type { FieldMap } from './headers.js';

/** A lower-case host name or address with an optional port; nothing that could contain "/". */
const HOST = /^[a-z0-9._~!$&'()*+,;=:[\]-]+$/;

/** The primary key of a request, or null when its target cannot be cached (not origin-form, odd host). */
export function primaryKey(host: string, target: string): string | null {
  const h = host.toLowerCase();
  if (!HOST.test(h) || !target.startsWith('/')) return null;
  return `${h}${target}`;
}

/** The host and target a primary key was made from. */
export function splitKey(key: string): { host: string; target: string } {
  const slash = key.indexOf('/');
  return slash < 0 ? { host: key, target: '' } : { host: key.slice(0, slash), target: key.slice(slash) };
}

/** The path part of a request target (no query). */
export function targetPath(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

/**
 * The field names a Vary value nominates, lower-case, sorted, without duplicates; '*' when the
 * response varies on something outside the request (RFC 9110 §12.5.5): it can never be reused.
 */
export function varyFields(vary: string | undefined): readonly string[] | '*' {
  if (vary === undefined) return [];
  const names = new Set<string>();
  for (const part of vary.split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '*') return '*';
    if (name !== '') names.add(name);
  }
  return [...names].sort();
}

/**
 * The secondary key: each nominated field with its value as the request had it, or absent.
 * http-cache-semantics compares the same strings, so a variant selected by this key is one the
 * library will also accept; it only saves asking the library about every variant.
 */
export function variantKey(fields: readonly string[], requestFields: FieldMap): string {
  if (fields.length === 0) return '';
  return JSON.stringify(fields.map((name) => [name, Object.hasOwn(requestFields, name) ? requestFields[name] : null]));
}

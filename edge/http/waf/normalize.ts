// The forms of the host and the path that our rules (custom rules, rate limits, per-host
// sections) judge. Two spellings of what the origin serves as one thing must not be two things
// to the WAF, or the second spelling walks past the rules written for the first.

/**
 * The host name a Host header (or :authority) names, as origin routing reads it
 * (edge/http/origin/origin-client.ts): lower case, without a port, without one trailing dot.
 * "API.example.com.:8443" → "api.example.com". IPv6 literals keep their brackets
 * ("[2001:db8::1]:8443" → "[2001:db8::1]"); an unbracketed address with more than one colon is
 * an IPv6 literal without a port and is kept whole, as origin routing does.
 */
export function normalizeHostName(host: string): string {
  const h = host.trim().toLowerCase();
  let name: string;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    name = end > 0 ? h.slice(0, end + 1) : h;
  } else {
    const colon = h.lastIndexOf(':');
    name = colon > 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
  }
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * The path custom rules see as http.request.uri.path, normalised the way Cloudflare's edge
 * normalises incoming URLs before its rules run ("Normalize incoming URLs", on by default, type
 * "Cloudflare"): RFC 3986 §6.2.2 syntax-based normalisation —
 *   1. "\" becomes "/" (Cloudflare does this; many servers treat them alike),
 *   2. percent-encoded unreserved characters are decoded ("%61" → "a", "%2e" → "."), other
 *      escapes get upper-case hex ("%2f" → "%2F"; "%2F" stays encoded, as does "%25"),
 *   3. runs of "/" are merged into one ("//admin" → "/admin"),
 *   4. dot segments are removed (RFC 3986 §5.2.4: "/x/../admin" → "/admin").
 * The request is forwarded unchanged (and the managed rules see the raw path, REQUEST_FILENAME,
 * with their own transformations); raw.http.request.uri.path is the path as received.
 * A target that is not a path (OPTIONS "*", authority-form) is returned as it is.
 */
export function normalizePath(path: string): string {
  if (!path.startsWith('/') && !path.startsWith('\\')) return path;
  // Most paths have nothing to normalise.
  if (!/[%\\]|\/\/|\/\.\.?(?:\/|$)/.test(path)) return path;
  let p = path.replaceAll('\\', '/');
  p = p.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => {
    const c = String.fromCharCode(Number.parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : `%${hex.toUpperCase()}`;
  });
  p = p.replace(/\/{2,}/g, '/');
  return removeDotSegments(p);
}

/** RFC 3986 §5.2.4, for an absolute path. */
export function removeDotSegments(path: string): string {
  let input = path;
  const output: string[] = [];
  while (input.length > 0) {
    if (input.startsWith('../')) input = input.slice(3);
    else if (input.startsWith('./')) input = input.slice(2);
    else if (input.startsWith('/./')) input = input.slice(2);
    else if (input === '/.') input = '/';
    else if (input.startsWith('/../')) {
      input = input.slice(3);
      output.pop();
    } else if (input === '/..') {
      input = '/';
      output.pop();
    } else if (input === '.' || input === '..') input = '';
    else {
      const next = input.indexOf('/', input.startsWith('/') ? 1 : 0);
      const segment = next < 0 ? input : input.slice(0, next);
      output.push(segment);
      input = next < 0 ? '' : input.slice(next);
    }
  }
  return output.join('') || '/';
}

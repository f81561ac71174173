// Who is calling: the edge's identity comes from its verified client certificate only, never
// from anything in a request. TLS checks the certificate's validity period once, at the
// handshake; a connection (and a SignStream) can outlive the certificate, so every request
// checks it again against the validity period kept here as numbers.
import { createHash } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';

export interface EdgeIdentity {
  /** The certificate subject as one line, e.g. "CN=edge-1,O=Keyless". */
  readonly subject: string;
  readonly commonName: string | undefined;
  /** Every subjectAltName entry as Node prints it: "URI:spiffe://...", "DNS:...". */
  readonly sans: readonly string[];
  readonly uris: readonly string[];
  /** SHA-256 of the certificate DER, lowercase hex. */
  readonly fingerprint: string;
  /** The name used in metrics and summaries: the first URI SAN, else "cn:<CN>". */
  readonly name: string;
  /** The certificate's notBefore and notAfter, ms since the epoch (X.509 has second precision). */
  readonly notBefore: number;
  readonly notAfter: number;
}

function subjectLine(subject: PeerCertificate['subject'] | undefined): string {
  if (!subject) return '';
  return Object.entries(subject)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
    .join(',');
}

/** Splits Node's subjectaltname string ("DNS:a, URI:b") into entries, respecting quoted commas. */
function splitSans(text: string | undefined): string[] {
  if (!text) return [];
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      if (current.trim()) out.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

export function identityFromPeerCertificate(cert: PeerCertificate): EdgeIdentity {
  const sans = splitSans(cert.subjectaltname);
  const uris = sans.filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
  const cnValue = cert.subject?.CN;
  const commonName = Array.isArray(cnValue) ? cnValue[0] : cnValue;
  return {
    subject: subjectLine(cert.subject),
    commonName,
    sans,
    uris,
    fingerprint: createHash('sha256').update(cert.raw).digest('hex'),
    name: uris[0] ?? `cn:${commonName ?? ''}`,
    // Node prints the validity as "Sep  3 20:09:25 2025 GMT"; unparsable (never seen) means never valid.
    notBefore: parseCertTime(cert.valid_from, Number.POSITIVE_INFINITY),
    notAfter: parseCertTime(cert.valid_to, Number.NEGATIVE_INFINITY),
  };
}

function parseCertTime(text: string | undefined, fallback: number): number {
  const ms = text ? Date.parse(text) : Number.NaN;
  return Number.isFinite(ms) ? ms : fallback;
}

/**
 * Why the edge's certificate does not authenticate it at `now` (ms since the epoch), or undefined
 * while it does. notBefore and notAfter are both inclusive (RFC 5280 §4.1.2.5).
 */
export function certificateValidityProblem(identity: EdgeIdentity, now: number = Date.now()): string | undefined {
  if (now > identity.notAfter) return `client certificate expired at ${isoTime(identity.notAfter)} (notAfter)`;
  if (now < identity.notBefore) return `client certificate not valid before ${isoTime(identity.notBefore)} (notBefore)`;
  return undefined;
}

function isoTime(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : 'an unreadable time';
}

/**
 * Identities by certificate, so that a call costs a map lookup rather than parsing the names and
 * hashing the certificate again: keyed by the SHA-256 fingerprint Node computes for every peer
 * certificate anyway. Bounded; the least recently used entry goes first.
 */
export class IdentityCache {
  private readonly entries = new Map<string, EdgeIdentity>();

  constructor(private readonly maxEntries = 1024) {}

  get size(): number {
    return this.entries.size;
  }

  fromPeerCertificate(cert: PeerCertificate): EdgeIdentity {
    const key = cert.fingerprint256;
    if (!key) return identityFromPeerCertificate(cert);
    const cached = this.entries.get(key);
    if (cached) {
      // Most recently used last.
      this.entries.delete(key);
      this.entries.set(key, cached);
      return cached;
    }
    const identity = identityFromPeerCertificate(cert);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, identity);
    return identity;
  }
}

/** True when a policy rule's identity string names this edge: a URI SAN, or "cn:<Common Name>". */
export function identityMatches(identity: EdgeIdentity, ruleIdentity: string): boolean {
  if (ruleIdentity.startsWith('cn:')) return identity.commonName !== undefined && ruleIdentity.slice(3) === identity.commonName;
  return identity.uris.includes(ruleIdentity);
}

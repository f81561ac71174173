// Who is calling: the edge's identity comes from its verified client certificate only, never
// from anything in a request.
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
  };
}

/** True when a policy rule's identity string names this edge: a URI SAN, or "cn:<Common Name>". */
export function identityMatches(identity: EdgeIdentity, ruleIdentity: string): boolean {
  if (ruleIdentity.startsWith('cn:')) return identity.commonName !== undefined && ruleIdentity.slice(3) === identity.commonName;
  return identity.uris.includes(ruleIdentity);
}

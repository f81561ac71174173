// The names a certificate speaks for, as the policy matches them: subjectAltName DNS names and IP
// addresses (RFC 5280 §4.2.1.6). The subject CN is ignored, as browsers ignore it (RFC 6125 §6.4.4).
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs the Reflect polyfill loaded first.
import * as x509 from '@peculiar/x509';
import type { X509Certificate } from 'node:crypto';

/** DNS names lower-cased, IP addresses in their usual text form ("192.0.2.1", "::1"), in certificate order, without duplicates. */
export function certificateHostnames(cert: X509Certificate): string[] {
  const parsed = new x509.X509Certificate(cert.raw);
  const san = parsed.getExtension(x509.SubjectAlternativeNameExtension);
  if (!san) return [];
  const names = new Set<string>();
  for (const item of san.names.items) {
    if (item.type === 'dns') names.add(item.value.toLowerCase());
    else if (item.type === 'ip') names.add(item.value);
  }
  return [...names];
}

// Handshake settings with the defaults of this TLS stack: every suite and group it implements,
// in its order of preference, HTTP/1.1 over ALPN, and a 2 s signature deadline.
import type { CertificateResolver } from './certificate-resolver.js';
import { SUPPORTED_CIPHER_SUITES } from './crypto/cipher-suites.js';
import { SUPPORTED_GROUPS } from './crypto/key-exchange.js';
import { systemEntropy, type HandshakeSettings } from './handshake/handshake-io.js';

export function handshakeSettings(certificates: CertificateResolver, overrides: Partial<Omit<HandshakeSettings, 'certificates'>> = {}): HandshakeSettings {
  return {
    certificates,
    cipherSuites: SUPPORTED_CIPHER_SUITES,
    groups: SUPPORTED_GROUPS,
    alpnProtocols: ['http/1.1'],
    signatureTimeoutMs: 2_000,
    entropy: systemEntropy,
    ...overrides,
  };
}

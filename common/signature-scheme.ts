// TLS SignatureScheme code points (RFC 8446 §4.2.3) and what each means for a signer.
// Both halves of the system use this table: the key server to sign, the edge to offer only
// what a key can produce.

export const SignatureScheme = {
  rsa_pkcs1_sha256: 0x0401,
  rsa_pkcs1_sha384: 0x0501,
  rsa_pkcs1_sha512: 0x0601,
  ecdsa_secp256r1_sha256: 0x0403,
  ecdsa_secp384r1_sha384: 0x0503,
  ecdsa_secp521r1_sha512: 0x0603,
  rsa_pss_rsae_sha256: 0x0804,
  rsa_pss_rsae_sha384: 0x0805,
  rsa_pss_rsae_sha512: 0x0806,
  ed25519: 0x0807,
  rsa_pss_pss_sha256: 0x0809,
  rsa_pss_pss_sha384: 0x080a,
  rsa_pss_pss_sha512: 0x080b,
} as const;

export type SignatureScheme = (typeof SignatureScheme)[keyof typeof SignatureScheme];

export type KeyAlgorithm = 'rsa' | 'rsa-pss' | 'ec-p256' | 'ec-p384' | 'ed25519';

export type HashName = 'sha256' | 'sha384' | 'sha512';

export interface SchemeInfo {
  readonly name: string;
  readonly code: SignatureScheme;
  /** Which key algorithms can produce it. */
  readonly keyAlgorithms: readonly KeyAlgorithm[];
  /** Hash applied to the message; null for Ed25519, which signs the message itself. */
  readonly hash: HashName | null;
  readonly padding: 'pkcs1' | 'pss' | 'none';
  /** RSASSA-PKCS1-v1_5 is forbidden for TLS 1.3 handshake signatures (RFC 8446 §4.2.3). */
  readonly allowedInTls13: boolean;
  /** Schemes that exist in TLS 1.2 (RFC 5246 §7.4.1.4.1 and RFC 8422; PSS and Ed25519 via RFC 8446 §4.2.3). */
  readonly allowedInTls12: boolean;
}

const table: readonly SchemeInfo[] = [
  { name: 'rsa_pkcs1_sha256', code: 0x0401, keyAlgorithms: ['rsa'], hash: 'sha256', padding: 'pkcs1', allowedInTls13: false, allowedInTls12: true },
  { name: 'rsa_pkcs1_sha384', code: 0x0501, keyAlgorithms: ['rsa'], hash: 'sha384', padding: 'pkcs1', allowedInTls13: false, allowedInTls12: true },
  { name: 'rsa_pkcs1_sha512', code: 0x0601, keyAlgorithms: ['rsa'], hash: 'sha512', padding: 'pkcs1', allowedInTls13: false, allowedInTls12: true },
  // In TLS 1.3 the ECDSA code points also pin the curve (RFC 8446 §4.2.3).
  { name: 'ecdsa_secp256r1_sha256', code: 0x0403, keyAlgorithms: ['ec-p256'], hash: 'sha256', padding: 'none', allowedInTls13: true, allowedInTls12: true },
  { name: 'ecdsa_secp384r1_sha384', code: 0x0503, keyAlgorithms: ['ec-p384'], hash: 'sha384', padding: 'none', allowedInTls13: true, allowedInTls12: true },
  { name: 'ecdsa_secp521r1_sha512', code: 0x0603, keyAlgorithms: [], hash: 'sha512', padding: 'none', allowedInTls13: true, allowedInTls12: true },
  { name: 'rsa_pss_rsae_sha256', code: 0x0804, keyAlgorithms: ['rsa'], hash: 'sha256', padding: 'pss', allowedInTls13: true, allowedInTls12: true },
  { name: 'rsa_pss_rsae_sha384', code: 0x0805, keyAlgorithms: ['rsa'], hash: 'sha384', padding: 'pss', allowedInTls13: true, allowedInTls12: true },
  { name: 'rsa_pss_rsae_sha512', code: 0x0806, keyAlgorithms: ['rsa'], hash: 'sha512', padding: 'pss', allowedInTls13: true, allowedInTls12: true },
  { name: 'ed25519', code: 0x0807, keyAlgorithms: ['ed25519'], hash: null, padding: 'none', allowedInTls13: true, allowedInTls12: true },
  { name: 'rsa_pss_pss_sha256', code: 0x0809, keyAlgorithms: ['rsa-pss'], hash: 'sha256', padding: 'pss', allowedInTls13: true, allowedInTls12: true },
  { name: 'rsa_pss_pss_sha384', code: 0x080a, keyAlgorithms: ['rsa-pss'], hash: 'sha384', padding: 'pss', allowedInTls13: true, allowedInTls12: true },
  { name: 'rsa_pss_pss_sha512', code: 0x080b, keyAlgorithms: ['rsa-pss'], hash: 'sha512', padding: 'pss', allowedInTls13: true, allowedInTls12: true },
];

const byCode = new Map<number, SchemeInfo>(table.map((s) => [s.code, s]));
const byName = new Map<string, SchemeInfo>(table.map((s) => [s.name, s]));

export function schemeInfo(code: number): SchemeInfo | undefined {
  return byCode.get(code);
}

export function schemeByName(name: string): SchemeInfo | undefined {
  return byName.get(name);
}

export function schemeName(code: number): string {
  return byCode.get(code)?.name ?? `unknown_0x${code.toString(16).padStart(4, '0')}`;
}

/** Every scheme a key of this algorithm can produce, strongest hash last, as a key server advertises them. */
export function schemesForAlgorithm(algorithm: KeyAlgorithm): SignatureScheme[] {
  return table.filter((s) => s.keyAlgorithms.includes(algorithm)).map((s) => s.code);
}

export function hashLength(hash: HashName): number {
  return hash === 'sha256' ? 32 : hash === 'sha384' ? 48 : 64;
}

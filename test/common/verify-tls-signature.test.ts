// verifyTlsSignature is what the edge trusts to check a remote signature, so its refusals matter
// as much as its acceptances: PSS salt length, key kind per scheme, ECDSA curve per scheme.
import { constants, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SignatureScheme } from '../../common/signature-scheme.js';
import { verifyTlsSignature } from '../../common/verify-tls-signature.js';

const message = randomBytes(130);
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 });
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const ed25519 = generateKeyPairSync('ed25519');

describe('verifyTlsSignature', () => {
  it('accepts RSA-PSS only with salt length = hash length (RFC 8446 §4.2.3)', () => {
    const pss = (saltLength: number): Buffer => sign('sha256', message, { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
    expect(verifyTlsSignature(rsa.publicKey, SignatureScheme.rsa_pss_rsae_sha256, message, pss(32))).toBe(true);
    expect(verifyTlsSignature(rsa.publicKey, SignatureScheme.rsa_pss_rsae_sha256, message, pss(0))).toBe(false);
    expect(verifyTlsSignature(rsa.publicKey, SignatureScheme.rsa_pss_rsae_sha256, message, pss(64))).toBe(false);
  });

  it('keeps rsa_pss_rsae_* for rsaEncryption keys and rsa_pss_pss_* for RSASSA-PSS keys', () => {
    const opts = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };
    const byRsa = sign('sha256', message, { key: rsa.privateKey, ...opts });
    const byPss = sign('sha256', message, { key: rsaPss.privateKey, ...opts });
    expect(verifyTlsSignature(rsa.publicKey, SignatureScheme.rsa_pss_rsae_sha256, message, byRsa)).toBe(true);
    expect(verifyTlsSignature(rsa.publicKey, SignatureScheme.rsa_pss_pss_sha256, message, byRsa)).toBe(false);
    expect(verifyTlsSignature(rsaPss.publicKey, SignatureScheme.rsa_pss_pss_sha256, message, byPss)).toBe(true);
    expect(verifyTlsSignature(rsaPss.publicKey, SignatureScheme.rsa_pss_rsae_sha256, message, byPss)).toBe(false);
  });

  it('checks RSASSA-PKCS1-v1_5 with the scheme hash', () => {
    const sig = sign('sha384', message, { key: rsa.privateKey, padding: constants.RSA_PKCS1_PADDING });
    expect(verifyTlsSignature(rsa.publicKey, SignatureScheme.rsa_pkcs1_sha384, message, sig)).toBe(true);
    expect(verifyTlsSignature(rsa.publicKey, SignatureScheme.rsa_pkcs1_sha256, message, sig)).toBe(false);
  });

  it('takes DER ECDSA signatures on the curve the scheme names, not raw r||s', () => {
    const der = sign('sha256', message, p256.privateKey);
    const raw = sign('sha256', message, { key: p256.privateKey, dsaEncoding: 'ieee-p1363' });
    expect(verifyTlsSignature(p256.publicKey, SignatureScheme.ecdsa_secp256r1_sha256, message, der)).toBe(true);
    expect(verifyTlsSignature(p256.publicKey, SignatureScheme.ecdsa_secp256r1_sha256, message, raw)).toBe(false);
    const by384 = sign('sha256', message, p384.privateKey);
    expect(verifyTlsSignature(p384.publicKey, SignatureScheme.ecdsa_secp256r1_sha256, message, by384)).toBe(false);
  });

  it('verifies Ed25519 over the message itself', () => {
    const sig = sign(null, message, ed25519.privateKey);
    expect(verifyTlsSignature(ed25519.publicKey, SignatureScheme.ed25519, message, sig)).toBe(true);
    expect(verifyTlsSignature(ed25519.publicKey, SignatureScheme.ed25519, message.subarray(1), sig)).toBe(false);
  });

  it('returns false, never throws, for garbage, unknown schemes and foreign key types', () => {
    expect(verifyTlsSignature(p256.publicKey, SignatureScheme.ecdsa_secp256r1_sha256, message, Buffer.from([0x30, 0x01]))).toBe(false);
    expect(verifyTlsSignature(rsa.publicKey, SignatureScheme.rsa_pss_rsae_sha256, message, Buffer.alloc(0))).toBe(false);
    expect(verifyTlsSignature(p256.publicKey, 0x0201 as SignatureScheme, message, Buffer.alloc(64))).toBe(false);
    expect(verifyTlsSignature(generateKeyPairSync('x25519').publicKey, SignatureScheme.ed25519, message, Buffer.alloc(64))).toBe(false);
  });
});

// Fresh key pairs for the dev PKI, made by node:crypto (OpenSSL), never by the openssl binary.
import { generateKeyPair } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { CertsError } from './errors.js';

/** Key algorithms a CA may have: the ones Web PKI roots use. */
export type CaKeyAlgorithm = 'ec-p256' | 'ec-p384' | 'rsa-2048';

/**
 * Key algorithms a leaf may have. 'rsa-pss-2048' is an RSA key whose SubjectPublicKeyInfo is
 * id-RSASSA-PSS (RFC 4055 §3.1) rather than rsaEncryption: it can only make RSASSA-PSS
 * signatures, i.e. the TLS 1.3 rsa_pss_pss_* schemes (RFC 8446 §4.2.3). It carries no PSS
 * parameters, so no hash is ruled out.
 */
export type LeafKeyAlgorithm = CaKeyAlgorithm | 'rsa-3072' | 'rsa-4096' | 'rsa-pss-2048' | 'ed25519';

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

const generate = promisify(generateKeyPair);

/** Generates on libuv's thread pool, so several RSA keys can be made at once. */
export async function generateKeyPairFor(algorithm: LeafKeyAlgorithm): Promise<KeyPair> {
  switch (algorithm) {
    case 'ec-p256':
      return generate('ec', { namedCurve: 'P-256' });
    case 'ec-p384':
      return generate('ec', { namedCurve: 'P-384' });
    case 'rsa-2048':
      return generate('rsa', { modulusLength: 2048 });
    case 'rsa-3072':
      return generate('rsa', { modulusLength: 3072 });
    case 'rsa-4096':
      return generate('rsa', { modulusLength: 4096 });
    case 'rsa-pss-2048':
      return generate('rsa-pss', { modulusLength: 2048 });
    case 'ed25519':
      return generate('ed25519');
    default:
      throw new CertsError('CERTS_BAD_OPTIONS', `unknown key algorithm ${JSON.stringify(algorithm satisfies never)}`);
  }
}

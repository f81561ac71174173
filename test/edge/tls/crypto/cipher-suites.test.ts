import { createCipheriv, getCiphers } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cipherSuiteParams, SUPPORTED_CIPHER_SUITES } from '../../../../edge/tls/crypto/cipher-suites.js';
import { CipherSuite } from '../../../../edge/tls/enums.js';

describe('cipher suites', () => {
  it('describes the three TLS 1.3 suites of RFC 8446 §B.4', () => {
    expect(cipherSuiteParams(CipherSuite.TLS_AES_128_GCM_SHA256)).toMatchObject({
      hash: 'sha256', hashLen: 32, aead: 'aes-128-gcm', keyLen: 16, ivLen: 12, tagLen: 16,
    });
    expect(cipherSuiteParams(CipherSuite.TLS_AES_256_GCM_SHA384)).toMatchObject({
      hash: 'sha384', hashLen: 48, aead: 'aes-256-gcm', keyLen: 32, ivLen: 12, tagLen: 16,
    });
    expect(cipherSuiteParams(CipherSuite.TLS_CHACHA20_POLY1305_SHA256)).toMatchObject({
      hash: 'sha256', hashLen: 32, aead: 'chacha20-poly1305', keyLen: 32, ivLen: 12, tagLen: 16,
    });
    expect(cipherSuiteParams(0x1304)).toBeUndefined(); // TLS_AES_128_CCM_SHA256: not implemented
    expect(SUPPORTED_CIPHER_SUITES).toHaveLength(3);
  });

  it('names AEADs node:crypto has, with the key length it expects', () => {
    for (const suite of SUPPORTED_CIPHER_SUITES) {
      expect(getCiphers()).toContain(suite.aead);
      expect(() => createCipheriv(suite.aead as 'aes-128-gcm', Buffer.alloc(suite.keyLen), Buffer.alloc(12))).not.toThrow();
    }
  });

  it('advises a KeyUpdate before the AES-GCM limit of RFC 8446 §5.5 (2^24.5 records)', () => {
    for (const suite of SUPPORTED_CIPHER_SUITES) {
      expect(suite.keyUpdateAdvisedAfter).toBeLessThan(suite.maxRecordsPerKey);
      if (suite.aead !== 'chacha20-poly1305') expect(suite.maxRecordsPerKey).toBeLessThanOrEqual(2 ** 24.5);
      expect(suite.maxRecordsPerKey).toBeLessThanOrEqual(Number.MAX_SAFE_INTEGER);
    }
  });
});

// The sign pipeline's handling of a key store that declines at the last moment (its deadline or
// cancellation check, or its own bound): the caller gets the matching code, the decision is audited
// as failed, and no signature leaves.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConcurrencyLimit } from '../../keyserver/concurrency-limit.js';
import type { EdgeIdentity } from '../../keyserver/identity.js';
import { KeyStoreError } from '../../keyserver/keystore/key-store.js';
import type { KeyStoreErrorCode, SignGuard, SigningKey } from '../../keyserver/keystore/key-store.js';
import { createKeyServerMetrics } from '../../keyserver/metrics.js';
import { Policy } from '../../keyserver/policy.js';
import { RateLimiter } from '../../keyserver/rate-limiter.js';
import type { AuditDecision, CallContext } from '../../keyserver/sign-pipeline.js';
import { handleSign } from '../../keyserver/sign-pipeline.js';

const identity: EdgeIdentity = {
  subject: 'CN=edge-1',
  commonName: 'edge-1',
  sans: ['URI:spiffe://keyless/edge/edge-1'],
  uris: ['spiffe://keyless/edge/edge-1'],
  fingerprint: 'ab'.repeat(32),
  name: 'spiffe://keyless/edge/edge-1',
  notBefore: 0,
  notAfter: Number.POSITIVE_INFINITY,
};

function keyThatDeclines(code: KeyStoreErrorCode, guards: SignGuard[]): SigningKey {
  return {
    keyId: 'cd'.repeat(32),
    algorithm: 'ec-p256',
    schemes: [0x0403],
    digestSchemes: [],
    publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
    source: 'test',
    sign: (_scheme, _message, guard) => {
      if (guard) guards.push(guard);
      return Promise.reject(new KeyStoreError(code, 'declined by the store'));
    },
    signDigest: () => Promise.reject(new Error('not used')),
  };
}

async function signWith(code: KeyStoreErrorCode) {
  const guards: SignGuard[] = [];
  const key = keyThatDeclines(code, guards);
  const audited: AuditDecision[] = [];
  const store = { store: { name: 'test', get: () => key, list: () => [key], close: async () => undefined }, limit: new ConcurrencyLimit(4, 4) };
  const ctx: CallContext = { identity, peer: '127.0.0.1:1', deadlineAt: performance.now() + 5_000, cancelled: new AbortController().signal };
  const response = await handleSign(
    { policy: new Policy([{ identity: identity.name, keys: ['*'], operations: ['tls13-certificate-verify'] }]), findKey: (id) => (id === key.keyId ? { key, store } : undefined) },
    { audit: { append: async (d) => void audited.push(d) }, rateLimiter: new RateLimiter(), metrics: createKeyServerMetrics({ processMetrics: false, storeStats: () => [] }) },
    ctx,
    { request_id: 'r-1', key_id: key.keyId, scheme: 0x0403, input: 'tls13_certificate_verify', tls13_certificate_verify: { transcript_hash: Buffer.alloc(32, 7) }, sni: 'localhost', client_ip: '192.0.2.1', deadline_ms: 0 },
  );
  return { response, audited, guards, ctx };
}

describe('handleSign when the key store declines', () => {
  it.each([
    ['KEYSTORE_DEADLINE', 'DEADLINE_EXCEEDED'],
    ['KEYSTORE_CANCELLED', 'CANCELLED'],
    ['KEYSTORE_OVERLOADED', 'OVERLOADED'],
    ['KEYSTORE_SIGN_FAILED', 'INTERNAL'],
  ] as const)('%s becomes %s, audited as failed, without a signature', async (storeCode, outcome) => {
    const { response, audited, guards, ctx } = await signWith(storeCode);
    expect(response).toMatchObject({ request_id: 'r-1', error: outcome });
    expect(response.signature.length).toBe(0);
    expect(audited).toHaveLength(1);
    expect(audited[0]).toMatchObject({ decision: 'failed', outcome, requestId: 'r-1' });
    // The store was handed the request's own deadline and cancellation to check itself.
    expect(guards).toEqual([{ deadlineAt: ctx.deadlineAt, signal: ctx.cancelled }]);
  });
});

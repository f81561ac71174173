import { describe, expect, it } from 'vitest';
import { keyServerConfigSchema } from '../../keyserver/config.js';
import type { EdgeIdentity } from '../../keyserver/identity.js';
import { identityMatches } from '../../keyserver/identity.js';
import { Policy, hostnamePatternCovers } from '../../keyserver/policy.js';

const edge = (uri: string, cn = 'edge'): EdgeIdentity => ({
  subject: `CN=${cn}`,
  commonName: cn,
  sans: [`URI:${uri}`],
  uris: [uri],
  fingerprint: '00'.repeat(32),
  name: uri,
  notBefore: 0,
  notAfter: Number.POSITIVE_INFINITY,
});

const rules = (edges: unknown[]) =>
  keyServerConfigSchema.shape.policy.parse({ edges }).edges;

describe('hostname patterns', () => {
  it('a wildcard covers exactly one left-most label', () => {
    expect(hostnamePatternCovers('*.example.com', 'a.example.com')).toBe(true);
    expect(hostnamePatternCovers('*.example.com', 'A.Example.COM')).toBe(true);
    expect(hostnamePatternCovers('*.example.com', 'a.b.example.com')).toBe(false);
    expect(hostnamePatternCovers('*.example.com', 'example.com')).toBe(false);
    expect(hostnamePatternCovers('*.example.com', '*.example.com')).toBe(true);
    expect(hostnamePatternCovers('a.example.com', '*.example.com')).toBe(false);
    expect(hostnamePatternCovers('127.0.0.1', '127.0.0.1')).toBe(true);
  });
});

describe('policy', () => {
  const key = { keyId: 'a'.repeat(64), hostnames: ['www.example.com', 'api.example.com'] };
  const other = { keyId: 'b'.repeat(64), hostnames: ['www.example.com', 'evil.example.net'] };

  it('denies an edge with no rule, whatever the key', () => {
    const p = new Policy(rules([{ identity: 'spiffe://x/edge-1', keys: ['*'] }]));
    expect(p.allows(edge('spiffe://x/edge-2'), key, 'tls13-certificate-verify')).toBe(false);
    expect(p.allows(edge('spiffe://x/edge-1'), key, 'tls13-certificate-verify')).toBe(true);
  });

  it('matches keys by id', () => {
    const p = new Policy(rules([{ identity: 'spiffe://x/e', keys: [{ id: key.keyId }] }]));
    expect(p.allows(edge('spiffe://x/e'), key, 'tls13-certificate-verify')).toBe(true);
    expect(p.allows(edge('spiffe://x/e'), other, 'tls13-certificate-verify')).toBe(false);
  });

  it('a key is allowed by hostname only when every name in its certificate is covered', () => {
    const p = new Policy(rules([{ identity: 'spiffe://x/e', keys: [{ hostname: '*.example.com' }] }]));
    expect(p.allows(edge('spiffe://x/e'), key, 'tls13-certificate-verify')).toBe(true);
    expect(p.allows(edge('spiffe://x/e'), other, 'tls13-certificate-verify')).toBe(false);
    expect(p.allows(edge('spiffe://x/e'), { keyId: 'c'.repeat(64) }, 'tls13-certificate-verify')).toBe(false);
  });

  it('operations default to the two TLS handshake operations; raw digests need an explicit grant', () => {
    const p = new Policy(
      rules([
        { identity: 'spiffe://x/e', keys: ['*'] },
        { identity: 'spiffe://x/d', keys: ['*'], operations: ['raw-digest'] },
      ]),
    );
    expect([...p.operationsFor(edge('spiffe://x/e'), key)].sort()).toEqual(['tls12-server-key-exchange', 'tls13-certificate-verify']);
    expect(p.allows(edge('spiffe://x/e'), key, 'raw-digest')).toBe(false);
    expect(p.allows(edge('spiffe://x/d'), key, 'raw-digest')).toBe(true);
    expect(p.allows(edge('spiffe://x/d'), key, 'tls13-certificate-verify')).toBe(false);
  });

  it('identities match a URI SAN exactly, or cn:<Common Name>', () => {
    expect(identityMatches(edge('spiffe://x/e', 'edge-9'), 'cn:edge-9')).toBe(true);
    expect(identityMatches(edge('spiffe://x/e', 'edge-9'), 'cn:edge-')).toBe(false);
    expect(identityMatches(edge('spiffe://x/e'), 'spiffe://x/e/')).toBe(false);
  });
});

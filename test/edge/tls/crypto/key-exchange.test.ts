import { createECDH } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  generateKeyShare,
  isSupportedGroup,
  keyShareFromPrivateKey,
  keyShareLength,
  SUPPORTED_GROUPS,
  type SupportedGroup,
} from '../../../../edge/tls/crypto/key-exchange.js';
import { NamedGroup } from '../../../../edge/tls/enums.js';
import { TlsError } from '../../../../edge/tls/errors.js';
import { hex, rfc8448 as v } from '../vectors/rfc8448.js';

const GROUP_NAME: Record<SupportedGroup, string> = { 0x1d: 'x25519', 0x17: 'secp256r1', 0x18: 'secp384r1' };
const groups = SUPPORTED_GROUPS.map((group) => [GROUP_NAME[group], group] as [string, SupportedGroup]);
const nistGroups = [
  ['secp256r1', NamedGroup.secp256r1],
  ['secp384r1', NamedGroup.secp384r1],
] as const;
const CURVE = { [NamedGroup.secp256r1]: 'prime256v1', [NamedGroup.secp384r1]: 'secp384r1' } as const;

function rejection(group: SupportedGroup, peerPublicKey: Buffer): unknown {
  try {
    generateKeyShare(group).deriveSharedSecret(peerPublicKey);
  } catch (err) {
    return err;
  }
  return null;
}

function expectIllegalParameter(err: unknown): void {
  expect(err).toBeInstanceOf(TlsError);
  expect(err).toMatchObject({ alert: 47, code: 'TLS_ERR_BAD_KEY_SHARE', kind: 'peer-misbehaved' });
}

describe('key exchange', () => {
  it('reproduces the RFC 8448 x25519 key pairs and shared secret', () => {
    const server = keyShareFromPrivateKey(NamedGroup.x25519, v.serverPrivateKey);
    const client = keyShareFromPrivateKey(NamedGroup.x25519, v.clientPrivateKey);
    expect(server.publicKey).toEqual(v.serverPublicKey);
    expect(client.publicKey).toEqual(v.clientPublicKey);
    expect(server.deriveSharedSecret(v.clientPublicKey)).toEqual(v.sharedSecret);
    expect(client.deriveSharedSecret(v.serverPublicKey)).toEqual(v.sharedSecret);
  });

  it.each(groups)('%s: both sides agree, and the public key has the TLS form', (_name, group) => {
    const a = generateKeyShare(group);
    const b = generateKeyShare(group);
    expect(a.group).toBe(group);
    expect(a.publicKey).toHaveLength(keyShareLength(group));
    if (group !== NamedGroup.x25519) expect(a.publicKey[0]).toBe(0x04);
    const secret = a.deriveSharedSecret(b.publicKey);
    expect(secret).toEqual(b.deriveSharedSecret(a.publicKey));
    expect(secret).toHaveLength(group === NamedGroup.secp384r1 ? 48 : 32);
    expect(generateKeyShare(group).publicKey).not.toEqual(a.publicKey);
  });

  it.each(nistGroups)(
    '%s agrees with an independent createECDH peer and imports known private keys',
    (_name, group) => {
      const peer = createECDH(CURVE[group]);
      peer.generateKeys();
      const ours = generateKeyShare(group);
      expect(ours.deriveSharedSecret(peer.getPublicKey())).toEqual(peer.computeSecret(ours.publicKey));

      const known = createECDH(CURVE[group]);
      known.generateKeys();
      const imported = keyShareFromPrivateKey(group, known.getPrivateKey());
      expect(imported.publicKey).toEqual(known.getPublicKey());
      expect(imported.deriveSharedSecret(peer.getPublicKey())).toEqual(peer.computeSecret(known.getPublicKey()));
    },
  );

  it.each(groups)('%s: rejects shares of the wrong length', (_name, group) => {
    const good = generateKeyShare(group).publicKey;
    for (const bad of [Buffer.alloc(0), good.subarray(1), Buffer.concat([good, Buffer.from([0])])]) {
      expectIllegalParameter(rejection(group, bad));
    }
  });

  it.each(nistGroups)(
    '%s: rejects compressed, hybrid, off-curve points and the point at infinity',
    (_name, group) => {
      const good = generateKeyShare(group).publicKey;
      const coordinate = (good.length - 1) / 2;
      // The same point, compressed: node would accept it, RFC 8446 §4.2.8.2 does not.
      const compressed = Buffer.concat([Buffer.from([0x02 | (good[good.length - 1]! & 1)]), good.subarray(1, 1 + coordinate)]);
      const padded = Buffer.concat([compressed, Buffer.alloc(good.length - compressed.length)]);
      expectIllegalParameter(rejection(group, padded));
      const hybrid = Buffer.from(good);
      hybrid[0] = 0x06 | (good[good.length - 1]! & 1);
      expectIllegalParameter(rejection(group, hybrid));
      const offCurve = Buffer.from(good);
      offCurve[offCurve.length - 1]! ^= 0x01;
      expectIllegalParameter(rejection(group, offCurve));
      const infinity = Buffer.alloc(good.length);
      infinity[0] = 0x04;
      expectIllegalParameter(rejection(group, infinity));
    },
  );

  it('x25519: rejects low-order points, whose shared secret is all zeros (RFC 8446 §7.4.2)', () => {
    const lowOrder = [
      Buffer.alloc(32),
      hex('01' + '00'.repeat(31)),
      // Points of order 8 (RFC 7748 §5 / the curve25519 small-subgroup list).
      hex('e0 eb 7a 7c 3b 41 b8 ae 16 56 e3 fa f1 9f c4 6a da 09 8d eb 9c 32 b1 fd 86 62 05 16 5f 49 b8 00'),
      hex('5f 9c 95 bc a3 50 8c 24 b1 d0 b1 55 9c 83 ef 5b 04 44 5c c4 58 1c 8e 86 d8 22 4e dd d0 9f 11 57'),
      // p - 1 (u = -1) and p (u = 0 mod p).
      hex('ec ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff 7f'),
      hex('ed ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff 7f'),
    ];
    for (const point of lowOrder) expectIllegalParameter(rejection(NamedGroup.x25519, point));
  });

  it('a key share derives once', () => {
    const a = generateKeyShare(NamedGroup.x25519);
    const b = generateKeyShare(NamedGroup.x25519);
    a.deriveSharedSecret(b.publicKey);
    expect(() => a.deriveSharedSecret(b.publicKey)).toThrow(expect.objectContaining({ code: 'TLS_ERR_KEY_SHARE_REUSED', alert: 80 }));
  });

  it('knows which groups it supports', () => {
    expect(SUPPORTED_GROUPS[0]).toBe(NamedGroup.x25519);
    expect(isSupportedGroup(NamedGroup.secp384r1)).toBe(true);
    expect(isSupportedGroup(NamedGroup.x448)).toBe(false);
    expect(isSupportedGroup(NamedGroup.secp521r1)).toBe(false);
  });
});

// fast-check generators for TLS messages, and the properties every codec must have:
// decode(encode(x)) == x, every strict prefix of an encoding rejected with a TlsError, and
// arbitrary or mutated bytes either decode (to something that re-encodes to the same bytes) or
// fail with a TlsError, never another exception.
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { TlsError } from '../../../../edge/tls/errors.js';
import { encodeClientExtension, type ClientExtension, type KeyShareEntry } from '../../../../edge/tls/codecs/extensions.js';
import type { ClientHello } from '../../../../edge/tls/codecs/client-hello.js';

export const u8 = fc.integer({ min: 0, max: 0xff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const bytes = (minLength: number, maxLength: number): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ minLength, maxLength }).map((a) => Buffer.from(a));
export const u16s = (minLength: number, maxLength: number): fc.Arbitrary<number[]> => fc.array(u16, { minLength, maxLength });

/** Extension types that decode to a typed ClientExtension; anything else stays unknown. */
const TYPED_CLIENT_EXTENSIONS = new Set([0x0000, 0x0005, 0x000a, 0x000d, 0x0010, 0x0015, 0x001c, 0x0029, 0x002a, 0x002b, 0x002c, 0x002d, 0x0032, 0x0033, 0xff01]);

export const unknownExtensionType = (typed: ReadonlySet<number>): fc.Arbitrary<number> => u16.filter((t) => !typed.has(t));

const label = fc.stringMatching(/^[a-z0-9_]([a-z0-9_-]{0,8}[a-z0-9_])?$/);
const topLabel = fc.stringMatching(/^[a-z][a-z0-9-]{0,6}[a-z]$/);
export const hostName = fc.tuple(fc.array(label, { maxLength: 3 }), topLabel).map(([labels, top]) => [...labels, top].join('.'));

export const keyShareEntry: fc.Arbitrary<KeyShareEntry> = fc.record({ group: u16, keyExchange: bytes(1, 40) });

const clientShares = fc.uniqueArray(keyShareEntry, { maxLength: 3, selector: (e) => e.group });

const pskOffer = fc.array(fc.tuple(bytes(1, 20), u32, bytes(32, 48)), { minLength: 1, maxLength: 3 }).map((psks) => ({
  name: 'pre_shared_key' as const,
  identities: psks.map(([identity, obfuscatedTicketAge]) => ({ identity, obfuscatedTicketAge })),
  binders: psks.map(([, , binder]) => binder),
}));

/** Every ClientExtension except pre_shared_key (which has to go last). */
export const clientExtension: fc.Arbitrary<ClientExtension> = fc.oneof(
  hostName.map((h) => ({ name: 'server_name' as const, hostName: h })),
  u16s(1, 5).map((versions) => ({ name: 'supported_versions' as const, versions })),
  u16s(1, 5).map((groups) => ({ name: 'supported_groups' as const, groups })),
  clientShares.map((shares) => ({ name: 'key_share' as const, shares })),
  u16s(1, 5).map((schemes) => ({ name: 'signature_algorithms' as const, schemes })),
  u16s(1, 5).map((schemes) => ({ name: 'signature_algorithms_cert' as const, schemes })),
  fc.array(bytes(1, 12), { minLength: 1, maxLength: 3 }).map((protocols) => ({ name: 'application_layer_protocol_negotiation' as const, protocols })),
  fc.array(u8, { minLength: 1, maxLength: 3 }).map((modes) => ({ name: 'psk_key_exchange_modes' as const, modes })),
  fc.constant({ name: 'early_data' as const }),
  bytes(1, 30).map((cookie) => ({ name: 'cookie' as const, cookie })),
  fc.record({ responderIds: fc.array(bytes(1, 10), { maxLength: 2 }), requestExtensions: bytes(0, 10) }).map((s) => ({ name: 'status_request' as const, ...s })),
  fc.integer({ min: 64, max: 0xffff }).map((limit) => ({ name: 'record_size_limit' as const, limit })),
  bytes(0, 20).map((data) => ({ name: 'padding' as const, data })),
  bytes(0, 12).map((renegotiatedConnection) => ({ name: 'renegotiation_info' as const, renegotiatedConnection })),
  fc.record({ type: unknownExtensionType(TYPED_CLIENT_EXTENSIONS), data: bytes(0, 20) }).map((u) => ({ name: 'unknown' as const, ...u })),
);

export const clientExtensions: fc.Arbitrary<ClientExtension[]> = fc
  .tuple(fc.uniqueArray(clientExtension, { maxLength: 8, selector: (e) => encodeClientExtension(e).type }), fc.option(pskOffer))
  .map(([exts, psk]) => (psk ? [...exts, psk] : exts));

const blockLength = (exts: readonly ClientExtension[]): number => exts.reduce((n, e) => n + 4 + encodeClientExtension(e).data.length, 0);

export const clientHello: fc.Arbitrary<ClientHello> = fc
  .record({
    legacyVersion: fc.constantFrom(0x0301, 0x0302, 0x0303),
    random: bytes(32, 32),
    legacySessionId: bytes(0, 32),
    cipherSuites: u16s(1, 6),
    legacyCompressionMethods: fc.array(u8, { minLength: 1, maxLength: 2 }),
    extensions: clientExtensions,
  })
  // RFC 8446 §4.1.2: a hello offering TLS 1.3 has an extensions block of at least 8 bytes.
  .filter((ch) => !ch.extensions.some((e) => e.name === 'supported_versions') || blockLength(ch.extensions) >= 8);

/** Overwrites, inserts or deletes a few bytes: inputs that get past the first length checks. */
export const mutated = (valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> =>
  fc
    .tuple(valid, fc.array(fc.tuple(fc.constantFrom('set', 'insert', 'delete'), fc.nat(), u8), { minLength: 1, maxLength: 3 }))
    .map(([buf, edits]) => {
      let out = Buffer.from(buf);
      for (const [op, at, value] of edits) {
        const i = out.length === 0 ? 0 : at % out.length;
        if (op === 'set' && out.length > 0) out[i] = value;
        if (op === 'insert') out = Buffer.concat([out.subarray(0, i), Buffer.from([value]), out.subarray(i)]);
        if (op === 'delete') out = Buffer.concat([out.subarray(0, i), out.subarray(i + 1)]);
      }
      return out;
    });

/** Runs `fn`; passes if it returns or throws a TlsError, and returns the value or the error. */
export function tlsErrorOrValue<T>(fn: () => T): { ok: true; value: T } | { ok: false; error: TlsError } {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (!(err instanceof TlsError)) throw new Error(`expected a TlsError, got ${String(err)}`, { cause: err });
    return { ok: false, error: err };
  }
}

export function expectTlsError(fn: () => unknown, alert: number, code?: string): TlsError {
  const result = tlsErrorOrValue(fn);
  if (result.ok) throw new Error('expected a TlsError, but decoding succeeded');
  expect(result.error.alert).toBe(alert);
  if (code !== undefined) expect(result.error.code).toBe(code);
  return result.error;
}

export interface CodecUnderTest<T, D> {
  readonly arbitrary: fc.Arbitrary<T>;
  readonly encode: (x: T) => Buffer;
  readonly decode: (b: Buffer) => D;
  /** What decode(encode(x)) must equal; default x itself. */
  readonly expected?: (x: T) => unknown;
  /** A strict prefix that legitimately decodes (ClientHello without its extensions block). */
  readonly prefixMayDecode?: (prefix: Buffer, full: Buffer) => boolean;
  /** Re-encodes a decoded value (given the bytes it came from), to check decoding is lossless. */
  readonly reencode?: (decoded: D, input: Buffer) => Buffer;
  readonly numRuns?: number;
}

/** Registers the properties every codec has. */
export function codecProperties<T, D>(c: CodecUnderTest<T, D>): void {
  const numRuns = c.numRuns ?? 100;

  it('round-trips generated messages: decode(encode(x)) == x', () => {
    fc.assert(
      fc.property(c.arbitrary, (x) => {
        expect(c.decode(c.encode(x))).toEqual(c.expected ? c.expected(x) : x);
      }),
      { numRuns },
    );
  });

  it('rejects every strict prefix of a valid encoding with a TlsError', () => {
    fc.assert(
      fc.property(c.arbitrary, (x) => {
        const full = c.encode(x);
        for (let n = 0; n < full.length; n++) {
          const prefix = full.subarray(0, n);
          const result = tlsErrorOrValue(() => c.decode(prefix));
          if (result.ok && !c.prefixMayDecode?.(prefix, full)) throw new Error(`prefix of ${n}/${full.length} bytes decoded`);
        }
      }),
      { numRuns: Math.min(numRuns, 50) },
    );
  });

  it('throws nothing but TlsError on random bytes', () => {
    fc.assert(
      fc.property(bytes(0, 300), (b) => {
        tlsErrorOrValue(() => c.decode(b));
      }),
      { numRuns: 500 },
    );
  });

  it('throws nothing but TlsError on mutated encodings, and what decodes re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(mutated(c.arbitrary.map(c.encode)), (b) => {
        const result = tlsErrorOrValue(() => c.decode(b));
        if (result.ok && c.reencode) expect(c.reencode(result.value, b).toString('hex')).toBe(b.toString('hex'));
      }),
      { numRuns: 500 },
    );
  });
}

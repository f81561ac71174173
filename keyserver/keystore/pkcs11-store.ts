// Private keys on a PKCS#11 token (an HSM; SoftHSM2 in tests). The key never leaves the token:
// the store hashes in node and asks the token for the raw operation, which makes "sign this
// message" and "sign this digest" the same path:
//   RSA PKCS#1 v1.5  CKM_RSA_PKCS over DigestInfo || digest (RFC 8017 §9.2)
//   RSA-PSS          CKM_RSA_PKCS_PSS over the digest, salt = hash length (RFC 8446 §4.2.3)
//   ECDSA            CKM_ECDSA over the digest; r || s re-encoded as DER for TLS
//   Ed25519          CKM_EDDSA over the message (PureEdDSA has no digest form)
// Signing runs on libuv's thread pool (pkcs11js C_SignAsync), one operation per session, with a
// pool of sessions. The PIN is used for C_Login and then dropped; no message ever contains it.
import { X509Certificate, createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { hashLength, schemeInfo } from '../../common/signature-scheme.js';
import type { HashName, KeyAlgorithm, SchemeInfo, SignatureScheme } from '../../common/signature-scheme.js';
import { verifyTlsSignature } from '../../common/verify-tls-signature.js';
import { certificateHostnames } from '../../common/certificate-hostnames.js';
import { ecdsaRawToDer } from './ecdsa-signature.js';
import { KeyStoreError } from './key-store.js';
import type { KeyStore, SignGuard, SigningKey } from './key-store.js';
import { acceptedAlgorithm, checkDigestLength, digestInfo, keyIdOf, sameSpki, schemesForKey } from './key-material.js';
import { acquireModule, isPkcs11Code, loginUser, logoutUser, pkcs11Reason, releaseModule } from './pkcs11-module.js';
import type { Handle, LoadedModule, Pkcs11 } from './pkcs11-module.js';
import { ecPublicKey, rsaPublicKey } from './pkcs11-public-key.js';
import { SessionPool } from './pkcs11-session-pool.js';

export interface Pkcs11KeySelector {
  readonly label?: string;
  /** CKA_ID in hex. */
  readonly id?: string;
}

export interface Pkcs11KeyStoreOptions {
  /** Path of the PKCS#11 module (.so). */
  readonly module: string;
  /** Token label (CKA_LABEL of the token, without its space padding). */
  readonly tokenLabel?: string;
  /** Slot ID as the module numbers it (pkcs11-tool --slot), not an index. */
  readonly slot?: number;
  readonly pin: string;
  /** Which private keys to use; default every private key on the token that can sign and that the key server supports. */
  readonly keys?: readonly Pkcs11KeySelector[];
  /** Sessions, i.e. signatures the token works on at once. Default 4. */
  readonly sessions?: number;
}

// PKCS#11 v3.0 values pkcs11js does not name.
const CKK_EC_EDWARDS = 0x40;
const CKM_EDDSA = 0x1057;

const HASH_MECHANISM: Record<HashName, { readonly hash: number; readonly mgf: number }> = {
  sha256: { hash: pkcs11js.CKM_SHA256, mgf: pkcs11js.CKG_MGF1_SHA256 },
  sha384: { hash: pkcs11js.CKM_SHA384, mgf: pkcs11js.CKG_MGF1_SHA384 },
  sha512: { hash: pkcs11js.CKM_SHA512, mgf: pkcs11js.CKG_MGF1_SHA512 },
};

// Signed at open with every key and checked against its public key, so a private key stored with
// the wrong public key or certificate (which would give it someone else's key id) is caught.
const SELF_TEST_MESSAGE = Buffer.from('keyless key server: PKCS#11 key self-test');

export class Pkcs11KeyStore implements KeyStore {
  readonly name: string;
  private readonly byId: ReadonlyMap<string, Pkcs11SigningKey>;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly module: LoadedModule,
    private readonly tokenKey: string,
    tokenLabel: string,
    private readonly pool: SessionPool,
    private readonly keys: readonly Pkcs11SigningKey[],
    /** Private keys left out when no selector was given: why each was skipped, for the caller to log. */
    readonly skipped: readonly { readonly source: string; readonly reason: string }[],
  ) {
    this.name = `pkcs11:${tokenLabel}`;
    this.byId = new Map(keys.map((k) => [k.keyId, k]));
  }

  static async open(opts: Pkcs11KeyStoreOptions): Promise<Pkcs11KeyStore> {
    const module = acquireModule(opts.module);
    const lib = module.lib;
    const opened: Handle[] = [];
    let loggedIn: { tokenKey: string } | undefined;
    try {
      const slot = findSlot(lib, opts);
      const tokenLabel = call('C_GetTokenInfo', () => lib.C_GetTokenInfo(slot)).label.trimEnd();
      const tokenKey = slot.toString('hex');
      const openSession = (): Handle => lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
      const sessionCount = opts.sessions ?? 4;
      if (!Number.isInteger(sessionCount) || sessionCount < 1) throw new KeyStoreError('KEYSTORE_PKCS11', `sessions must be a positive integer, not ${sessionCount}`);
      opened.push(call('C_OpenSession', openSession));
      loginUser(module, tokenKey, `"${tokenLabel}"`, opened[0]!, opts.pin);
      loggedIn = { tokenKey };
      while (opened.length < sessionCount) opened.push(call('C_OpenSession', openSession));

      const pool = new SessionPool(lib, openSession, opened);
      const { keys, skipped } = findKeys(lib, opened[0]!, tokenLabel, opts.keys, pool);
      for (const key of keys) await key.selfTest();
      const seen = new Map<string, string>();
      for (const key of keys) {
        const other = seen.get(key.keyId);
        if (other !== undefined) throw new KeyStoreError('KEYSTORE_BAD_KEY', `${key.source} is the same key as ${other}`);
        seen.set(key.keyId, key.source);
      }
      return new Pkcs11KeyStore(module, tokenKey, tokenLabel, pool, keys, skipped);
    } catch (err) {
      if (loggedIn) logoutUser(module, loggedIn.tokenKey, opened[0]!);
      for (const s of opened) {
        try {
          lib.C_CloseSession(s);
        } catch {
          // The module is finalized next anyway.
        }
      }
      try {
        releaseModule(module);
      } catch {
        // Keep the error that made the open fail.
      }
      const failure = err instanceof KeyStoreError ? err : new KeyStoreError('KEYSTORE_PKCS11', pkcs11Reason(err));
      // Messages are built without the PIN; this is the belt to those braces, should a module echo it.
      if (opts.pin.length >= 4 && failure.message.includes(opts.pin)) throw new KeyStoreError(failure.code, failure.message.split(opts.pin).join('<PIN>'));
      throw failure;
    }
  }

  get(keyId: string): SigningKey | undefined {
    return this.byId.get(keyId);
  }

  list(): readonly SigningKey[] {
    return this.keys;
  }

  /** Waits for signatures in progress, logs out (unless another store still uses the login), closes the sessions, finalizes the module when no store uses it. */
  close(): Promise<void> {
    this.closing ??= this.pool.close((sessions) => {
      try {
        if (sessions[0] !== undefined) logoutUser(this.module, this.tokenKey, sessions[0]);
        for (const s of sessions) {
          try {
            this.module.lib.C_CloseSession(s);
          } catch {
            // A session the token already dropped.
          }
        }
      } finally {
        releaseModule(this.module);
      }
    });
    return this.closing;
  }
}

/** Runs a synchronous PKCS#11 call, turning its failure into KEYSTORE_PKCS11 with the function's name. */
function call<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new KeyStoreError('KEYSTORE_PKCS11', `${what} failed: ${pkcs11Reason(err)}`);
  }
}

function slotId(slot: Handle): bigint {
  // CK_SLOT_ID is a CK_ULONG in host byte order; pkcs11js hands it over as its raw bytes.
  return slot.length >= 8 ? slot.readBigUInt64LE(0) : BigInt(slot.readUInt32LE(0));
}

function findSlot(lib: Pkcs11, opts: Pkcs11KeyStoreOptions): Handle {
  const slots = call('C_GetSlotList', () => lib.C_GetSlotList(true));
  const tokens = slots.map((slot) => ({ slot, label: call('C_GetTokenInfo', () => lib.C_GetTokenInfo(slot)).label.trimEnd() }));
  const matching = tokens.filter(
    (t) => (opts.tokenLabel === undefined || t.label === opts.tokenLabel) && (opts.slot === undefined || slotId(t.slot) === BigInt(opts.slot)),
  );
  const wanted = [opts.tokenLabel !== undefined ? `label "${opts.tokenLabel}"` : '', opts.slot !== undefined ? `slot ${opts.slot}` : ''].filter(Boolean).join(' and ') || 'any token';
  if (matching.length === 0) {
    const present = tokens.map((t) => `"${t.label}" (slot ${slotId(t.slot)})`).join(', ') || 'none';
    throw new KeyStoreError('KEYSTORE_PKCS11', `no PKCS#11 token with ${wanted}; tokens present: ${present}`);
  }
  if (matching.length > 1) throw new KeyStoreError('KEYSTORE_PKCS11', `${matching.length} tokens match ${wanted}; name the slot too`);
  return matching[0]!.slot;
}

function findObjects(lib: Pkcs11, session: Handle, template: pkcs11js.Template): Handle[] {
  call('C_FindObjectsInit', () => lib.C_FindObjectsInit(session, template));
  try {
    const found: Handle[] = [];
    for (;;) {
      const batch = call('C_FindObjects', () => lib.C_FindObjects(session, 64));
      if (batch.length === 0) return found;
      found.push(...batch);
    }
  } finally {
    call('C_FindObjectsFinal', () => lib.C_FindObjectsFinal(session));
  }
}

/** One attribute's value, or undefined when the object has no such (readable) attribute. */
function attribute(lib: Pkcs11, session: Handle, object: Handle, type: number): Buffer | undefined {
  try {
    const [result] = lib.C_GetAttributeValue(session, object, [{ type }]);
    return result?.value;
  } catch (err) {
    if (isPkcs11Code(err, pkcs11js.CKR_ATTRIBUTE_TYPE_INVALID) || isPkcs11Code(err, pkcs11js.CKR_ATTRIBUTE_SENSITIVE)) return undefined;
    throw new KeyStoreError('KEYSTORE_PKCS11', `C_GetAttributeValue failed: ${pkcs11Reason(err)}`);
  }
}

function ulong(value: Buffer | undefined): number | undefined {
  if (value === undefined || value.length === 0) return undefined;
  return Number(value.length >= 8 ? value.readBigUInt64LE(0) : BigInt(value.readUInt32LE(0)));
}

function isTrue(value: Buffer | undefined): boolean {
  return value !== undefined && value.length > 0 && value[0] !== 0;
}

/** RFC 7512 PKCS#11 URI naming the object: what logs and errors show for a key. */
function objectUri(token: string, label: string, id: Buffer): string {
  const pct = (b: Buffer): string => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('');
  return `pkcs11:token=${encodeURIComponent(token)};object=${encodeURIComponent(label)};id=${pct(id)}`;
}

/** A private key the store cannot use: fatal when the configuration names it, skipped when listing the token. */
class UnusableKey extends KeyStoreError {
  constructor(
    readonly source: string,
    readonly reason: string,
  ) {
    super('KEYSTORE_BAD_KEY', `${source}: ${reason}`);
  }
}

function findKeys(
  lib: Pkcs11,
  session: Handle,
  tokenLabel: string,
  selectors: readonly Pkcs11KeySelector[] | undefined,
  pool: SessionPool,
): { keys: Pkcs11SigningKey[]; skipped: { source: string; reason: string }[] } {
  const privateKeyClass = { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY };
  if (selectors === undefined) {
    const keys: Pkcs11SigningKey[] = [];
    const skipped: { source: string; reason: string }[] = [];
    for (const handle of findObjects(lib, session, [privateKeyClass])) {
      try {
        keys.push(loadKey(lib, session, tokenLabel, handle, pool));
      } catch (err) {
        if (!(err instanceof UnusableKey)) throw err;
        skipped.push({ source: err.source, reason: err.reason });
      }
    }
    return { keys, skipped };
  }
  const keys = selectors.map((selector) => {
    if (selector.label === undefined && selector.id === undefined) throw new KeyStoreError('KEYSTORE_PKCS11', 'a key selector needs a label or an id');
    const template: pkcs11js.Template = [privateKeyClass];
    if (selector.label !== undefined) template.push({ type: pkcs11js.CKA_LABEL, value: selector.label });
    if (selector.id !== undefined) template.push({ type: pkcs11js.CKA_ID, value: Buffer.from(selector.id, 'hex') });
    const what = [selector.label !== undefined ? `label "${selector.label}"` : '', selector.id !== undefined ? `id ${selector.id}` : ''].filter(Boolean).join(' and ');
    const found = findObjects(lib, session, template);
    if (found.length === 0) throw new KeyStoreError('KEYSTORE_BAD_KEY', `no private key with ${what} on token "${tokenLabel}"`);
    if (found.length > 1) throw new KeyStoreError('KEYSTORE_BAD_KEY', `${found.length} private keys with ${what} on token "${tokenLabel}"; select by id`);
    return loadKey(lib, session, tokenLabel, found[0]!, pool);
  });
  return { keys, skipped: [] };
}

/** A private key object as a SigningKey; UnusableKey for keys of a kind the key server does not use. */
function loadKey(lib: Pkcs11, session: Handle, tokenLabel: string, handle: Handle, pool: SessionPool): Pkcs11SigningKey {
  const id = attribute(lib, session, handle, pkcs11js.CKA_ID) ?? Buffer.alloc(0);
  const label = attribute(lib, session, handle, pkcs11js.CKA_LABEL)?.toString('utf8') ?? '';
  const source = objectUri(tokenLabel, label, id);
  if (!isTrue(attribute(lib, session, handle, pkcs11js.CKA_SIGN))) throw new UnusableKey(source, 'the key may not sign (CKA_SIGN is false)');
  const keyType = ulong(attribute(lib, session, handle, pkcs11js.CKA_KEY_TYPE));
  if (keyType !== pkcs11js.CKK_RSA && keyType !== pkcs11js.CKK_EC && keyType !== CKK_EC_EDWARDS) {
    throw new UnusableKey(source, `unsupported key type 0x${(keyType ?? 0).toString(16)}`);
  }

  // Objects that belong with this key share its CKA_ID (PKCS#11 v2.40 §4.4); without an id, its label.
  const companion = id.length > 0 ? { type: pkcs11js.CKA_ID, value: id } : { type: pkcs11js.CKA_LABEL, value: label };
  const certificate = findCertificate(lib, session, companion, source);
  let publicKey: KeyObject | undefined;
  try {
    publicKey = tokenPublicKey(lib, session, handle, keyType, companion) ?? certificate?.publicKey;
  } catch (err) {
    if (err instanceof KeyStoreError) throw err;
    throw new UnusableKey(source, `cannot read its public key: ${(err as Error).message}`);
  }
  if (!publicKey) throw new UnusableKey(source, 'no public key or certificate object with the same CKA_ID');
  let algorithm: KeyAlgorithm;
  try {
    algorithm = acceptedAlgorithm(publicKey, 'the key');
  } catch (err) {
    throw new UnusableKey(source, (err as Error).message);
  }
  if (certificate && !sameSpki(certificate.publicKey, publicKey)) {
    throw new KeyStoreError('KEYSTORE_BAD_KEY', `${source}: the certificate object holds a different public key`);
  }
  return new Pkcs11SigningKey(lib, pool, handle, publicKey, algorithm, source, certificate);
}

function tokenPublicKey(lib: Pkcs11, session: Handle, privateKey: Handle, keyType: number, companion: pkcs11js.Attribute): KeyObject | undefined {
  if (keyType === pkcs11js.CKK_RSA) {
    // RSA private key objects carry the public half (PKCS#11 v2.40 §2.1.3).
    const n = attribute(lib, session, privateKey, pkcs11js.CKA_MODULUS);
    const e = attribute(lib, session, privateKey, pkcs11js.CKA_PUBLIC_EXPONENT);
    if (n && e) return rsaPublicKey(n, e);
  }
  const [publicObject] = findObjects(lib, session, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY }, { type: pkcs11js.CKA_KEY_TYPE, value: keyType }, companion]);
  if (publicObject === undefined) return undefined;
  if (keyType === pkcs11js.CKK_RSA) {
    const n = attribute(lib, session, publicObject, pkcs11js.CKA_MODULUS);
    const e = attribute(lib, session, publicObject, pkcs11js.CKA_PUBLIC_EXPONENT);
    return n && e ? rsaPublicKey(n, e) : undefined;
  }
  const params = attribute(lib, session, publicObject, pkcs11js.CKA_EC_PARAMS);
  const point = attribute(lib, session, publicObject, pkcs11js.CKA_EC_POINT);
  return params && point ? ecPublicKey(params, point) : undefined;
}

function findCertificate(lib: Pkcs11, session: Handle, companion: pkcs11js.Attribute, source: string): X509Certificate | undefined {
  const [object] = findObjects(lib, session, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_CERTIFICATE }, { type: pkcs11js.CKA_CERTIFICATE_TYPE, value: pkcs11js.CKC_X_509 }, companion]);
  if (object === undefined) return undefined;
  const der = attribute(lib, session, object, pkcs11js.CKA_VALUE);
  try {
    return new X509Certificate(der ?? Buffer.alloc(0));
  } catch (err) {
    throw new KeyStoreError('KEYSTORE_BAD_KEY', `${source}: its certificate object is not a valid X.509 certificate: ${(err as Error).message}`);
  }
}

class Pkcs11SigningKey implements SigningKey {
  readonly keyId: string;
  readonly schemes: readonly SignatureScheme[];
  readonly digestSchemes: readonly SignatureScheme[];
  readonly hostnames?: readonly string[];
  private readonly schemeSet: ReadonlySet<SignatureScheme>;
  /** Output buffer size of C_Sign: the modulus for RSA, r || s for ECDSA, 64 bytes for Ed25519. */
  private readonly signatureLength: number;

  constructor(
    private readonly lib: Pkcs11,
    private readonly pool: SessionPool,
    private readonly handle: Handle,
    readonly publicKey: KeyObject,
    readonly algorithm: KeyAlgorithm,
    readonly source: string,
    readonly certificate: X509Certificate | undefined,
  ) {
    this.keyId = keyIdOf(publicKey);
    this.schemes = Object.freeze(schemesForKey(publicKey, algorithm));
    this.schemeSet = new Set(this.schemes);
    // CKM_RSA_PKCS, CKM_RSA_PKCS_PSS and CKM_ECDSA take a digest; EdDSA signs messages only.
    this.digestSchemes = Object.freeze(this.schemes.filter((s) => schemeInfo(s)!.hash !== null));
    if (certificate) this.hostnames = Object.freeze(certificateHostnames(certificate));
    this.signatureLength =
      algorithm === 'ec-p256' ? 64 : algorithm === 'ec-p384' ? 96 : algorithm === 'ed25519' ? 64 : Math.ceil(publicKey.asymmetricKeyDetails!.modulusLength! / 8);
  }

  async sign(scheme: SignatureScheme, message: Buffer, guard?: SignGuard): Promise<Buffer> {
    const info = this.check(scheme);
    if (info.hash === null) return this.signOnToken({ mechanism: CKM_EDDSA }, message, guard);
    return this.signHashed(info, createHash(info.hash).update(message).digest(), guard);
  }

  async signDigest(scheme: SignatureScheme, digest: Buffer, guard?: SignGuard): Promise<Buffer> {
    const info = this.check(scheme);
    if (info.hash === null) throw new KeyStoreError('KEYSTORE_UNSUPPORTED', `${this.source}: ${info.name} signs messages, not digests`);
    checkDigestLength(info.hash, digest);
    return this.signHashed(info, digest, guard);
  }

  /** Signs once and verifies the result against the public key the store derived the key id from. */
  async selfTest(): Promise<void> {
    const scheme = this.schemes[0];
    if (scheme === undefined) throw new KeyStoreError('KEYSTORE_BAD_KEY', `${this.source}: the key can produce no TLS signature scheme`);
    const signature = await this.sign(scheme, SELF_TEST_MESSAGE);
    if (!verifyTlsSignature(this.publicKey, scheme, SELF_TEST_MESSAGE, signature)) {
      throw new KeyStoreError('KEYSTORE_BAD_KEY', `${this.source}: a test signature does not verify with its public key; the private key belongs to another key pair`);
    }
  }

  private check(scheme: SignatureScheme): SchemeInfo {
    const info = schemeInfo(scheme);
    if (!info || !this.schemeSet.has(scheme)) {
      throw new KeyStoreError('KEYSTORE_UNSUPPORTED', `${this.source}: a ${this.algorithm} key cannot produce ${info?.name ?? `0x${scheme.toString(16).padStart(4, '0')}`}`);
    }
    return info;
  }

  private async signHashed(info: SchemeInfo, digest: Buffer, guard: SignGuard | undefined): Promise<Buffer> {
    const hash = info.hash!;
    if (info.padding === 'pkcs1') return this.signOnToken({ mechanism: pkcs11js.CKM_RSA_PKCS }, digestInfo(hash, digest), guard);
    if (info.padding === 'pss') {
      const parameter: pkcs11js.RsaPSS = { type: pkcs11js.CK_PARAMS_RSA_PSS, hashAlg: HASH_MECHANISM[hash].hash, mgf: HASH_MECHANISM[hash].mgf, saltLen: hashLength(hash) };
      return this.signOnToken({ mechanism: pkcs11js.CKM_RSA_PKCS_PSS, parameter }, digest, guard);
    }
    const raw = await this.signOnToken({ mechanism: pkcs11js.CKM_ECDSA }, digest, guard);
    if (raw.length !== this.signatureLength) throw new KeyStoreError('KEYSTORE_SIGN_FAILED', `${this.source}: CKM_ECDSA returned ${raw.length} bytes, expected ${this.signatureLength}`);
    return ecdsaRawToDer(raw);
  }

  private signOnToken(mechanism: pkcs11js.Mechanism, data: Buffer, guard: SignGuard | undefined): Promise<Buffer> {
    return this.pool.use(async (session) => {
      try {
        this.lib.C_SignInit(session, mechanism, this.handle);
        // Copy: pkcs11js returns a view of the output buffer.
        return Buffer.from(await this.lib.C_SignAsync(session, data, Buffer.alloc(this.signatureLength)));
      } catch (err) {
        throw new KeyStoreError('KEYSTORE_SIGN_FAILED', `${this.source}: ${pkcs11Reason(err)}`);
      }
    }, guard, this.source);
  }
}

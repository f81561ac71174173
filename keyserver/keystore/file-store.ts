// Private keys from PEM files in one directory: every `*.key` and `*.pem` holding a private key
// (PKCS#8, SEC1 or PKCS#1), with the certificate `<name>.crt` beside it when present (its
// subjectAltNames are what the policy matches hostnames against).
//
// A key file that group or others may read or write is refused, as ssh refuses such a private key:
// the point of a key server is that the key is readable by it alone. Encrypted PEM keys are
// refused too: a passphrase the key server could read would sit next to the key with the same
// protection, so it adds nothing; keys that need more than file permissions belong in PKCS#11.
import { X509Certificate, constants as cryptoConstants, createPrivateKey, createPublicKey, privateEncrypt, sign as cryptoSign } from 'node:crypto';
import type { KeyObject, SignKeyObjectInput } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import os from 'node:os';
import { lstat, open, readFile, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { hashLength, schemeInfo } from '../../common/signature-scheme.js';
import type { KeyAlgorithm, SchemeInfo, SignatureScheme } from '../../common/signature-scheme.js';
import { certificateHostnames } from '../../common/certificate-hostnames.js';
import { emsaPssEncode } from './emsa-pss.js';
import { checkGuard, KeyStoreError } from './key-store.js';
import type { KeyStore, SignGuard, SigningKey } from './key-store.js';
import { DEFAULT_INLINE_BUDGET_MS, InlineSigningGate, signsCheaply } from './inline-signing.js';
import { SignWorkerError, SignWorkerPool } from './sign-worker-pool.js';
import { acceptedAlgorithm, checkDigestLength, digestInfo, keyIdOf, sameSpki, schemesForKey } from './key-material.js';

export interface FileKeyStoreOptions {
  /**
   * Threads that sign (sign-worker-pool.ts). Default: one per core (os.availableParallelism()).
   * 0 signs with `crypto.sign(..., callback)` on libuv's thread pool instead, which the audit
   * log's writes and fsyncs share.
   */
  readonly signingThreads?: number;
  /** Signatures submitted to the threads and not finished, at most; default 1024. */
  readonly maxPending?: number;
  /**
   * False signs on the event loop itself, synchronously (for tools and tests); it overrides
   * signingThreads. Default true.
   */
  readonly signOnThreadPool?: boolean;
  /**
   * With signing threads: ECDSA P-256 and Ed25519 signatures are made on the event loop, while it
   * has time to spare, until this much signing time has been spent in the current event-loop
   * turn; the rest on the threads (inline-signing.ts). Default 1 ms; 0: always on the threads.
   */
  readonly inlineBudgetMs?: number;
}

/** How a FileSigningKey signs: on the event loop, on libuv's pool, or on the store's own threads. */
type Signing =
  | { readonly mode: 'event-loop' }
  | { readonly mode: 'libuv' }
  /** `inline`: cheap signatures may be made on the event loop while the threads are idle (inline-signing.ts). */
  | { readonly mode: 'threads'; readonly pool: SignWorkerPool; readonly inline: InlineSigningGate | undefined };

const KEY_FILE_EXTENSIONS = new Set(['.key', '.pem']);
const MAX_KEY_FILE_BYTES = 1 << 20;
const PRIVATE_KEY_LABELS = new Set(['PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY', 'ENCRYPTED PRIVATE KEY']);
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

export class FileKeyStore implements KeyStore {
  readonly name: string;
  private readonly keys: readonly FileSigningKey[];
  private readonly byId: ReadonlyMap<string, FileSigningKey>;

  private constructor(
    dir: string,
    keys: FileSigningKey[],
    private readonly pool: SignWorkerPool | undefined,
    private readonly inline: InlineSigningGate | undefined,
  ) {
    this.name = `file:${dir}`;
    this.keys = Object.freeze(keys);
    this.byId = new Map(keys.map((k) => [k.keyId, k]));
  }

  /** Loads every key in `dir` (not recursive). Fails as a whole on the first bad file, naming it. */
  static async load(dir: string, opts: FileKeyStoreOptions = {}): Promise<FileKeyStore> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      throw new KeyStoreError('KEYSTORE_BAD_KEY', `cannot read key directory ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const names = entries
      .filter((e) => (e.isFile() || e.isSymbolicLink()) && KEY_FILE_EXTENSIONS.has(path.extname(e.name)))
      .map((e) => e.name)
      .sort();
    const loaded: LoadedKeyFile[] = [];
    const sources = new Map<string, string>();
    for (const name of names) {
      const file = path.join(dir, name);
      const key = await loadKeyFile(file);
      if (!key) continue;
      const keyId = keyIdOf(key.publicKey);
      const other = sources.get(keyId);
      if (other !== undefined) throw new KeyStoreError('KEYSTORE_BAD_KEY', `${file} holds the same key as ${other}`);
      sources.set(keyId, file);
      loaded.push(key);
    }
    // Threads only once every file is good: a rejected directory starts none.
    const threads = opts.signingThreads ?? os.availableParallelism();
    if (!Number.isInteger(threads) || threads < 0) throw new RangeError('signingThreads must be a non-negative integer');
    const inlineBudgetMs = opts.inlineBudgetMs ?? DEFAULT_INLINE_BUDGET_MS;
    if (!(inlineBudgetMs >= 0 && inlineBudgetMs <= 100)) throw new RangeError('inlineBudgetMs must be from 0 to 100');
    const pool = opts.signOnThreadPool !== false && threads > 0 ? new SignWorkerPool({ threads, maxPending: opts.maxPending ?? 1024 }) : undefined;
    // Loaded means ready to sign: the threads' start-up is paid here, not by the first handshakes.
    try {
      await pool?.ready();
    } catch (err) {
      await pool?.close();
      throw new KeyStoreError('KEYSTORE_SIGN_FAILED', `${dir}: the signing threads did not start: ${(err as Error).message}`);
    }
    const signing: Signing =
      opts.signOnThreadPool === false
        ? { mode: 'event-loop' }
        : pool
          ? { mode: 'threads', pool, inline: inlineBudgetMs === 0 ? undefined : new InlineSigningGate(pool, inlineBudgetMs) }
          : { mode: 'libuv' };
    const keys = loaded.map((k) => new FileSigningKey(k.privateKey, k.publicKey, k.algorithm, k.source, k.certificate, signing));
    return new FileKeyStore(dir, keys, pool, signing.mode === 'threads' ? signing.inline : undefined);
  }

  get(keyId: string): SigningKey | undefined {
    return this.byId.get(keyId);
  }

  list(): readonly SigningKey[] {
    return this.keys;
  }

  /** Signatures made on the event loop (inline-signing.ts). */
  get inlineSignatures(): number {
    return this.inline?.inlineSignatures ?? 0;
  }

  async close(): Promise<void> {
    // The keys are KeyObjects, freed with the store; the threads hold copies until they stop.
    this.inline?.close();
    await this.pool?.close();
  }
}

interface LoadedKeyFile {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly algorithm: KeyAlgorithm;
  readonly source: string;
  readonly certificate: X509Certificate | undefined;
}

/** The key in one file with its certificate, or undefined for a `.pem` that holds no private key (a certificate, say). */
async function loadKeyFile(file: string): Promise<LoadedKeyFile | undefined> {
  const { text, mode } = await readKeyFile(file);
  const blocks = [...text.matchAll(PEM_BLOCK)].filter((m) => PRIVATE_KEY_LABELS.has(m[1]!));
  // A certificate-only .pem may be world-readable; anything named .key, or holding a key, may not.
  if (blocks.length === 0 && path.extname(file) === '.pem') return undefined;
  if ((mode & 0o077) !== 0) {
    const link = (await lstat(file)).isSymbolicLink() ? ` (a symlink to ${await realpath(file)})` : '';
    throw new KeyStoreError(
      'KEYSTORE_INSECURE_PERMISSIONS',
      `key file ${file}${link} has mode 0${mode.toString(8).padStart(3, '0')}: group and others must have no access (chmod 600)`,
    );
  }
  if (blocks.length === 0) throw new KeyStoreError('KEYSTORE_BAD_KEY', `${file}: no PEM private key (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)`);
  if (blocks.length > 1) throw new KeyStoreError('KEYSTORE_BAD_KEY', `${file}: ${blocks.length} private keys in one file; put one key per file`);
  const [block, label] = [blocks[0]![0], blocks[0]![1]!];
  if (label === 'ENCRYPTED PRIVATE KEY' || /^Proc-Type:\s*4,ENCRYPTED/m.test(block)) {
    throw new KeyStoreError('KEYSTORE_BAD_KEY', `${file}: the key is encrypted; the file store takes unencrypted keys protected by mode 0600 (use PKCS#11 for more)`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: block, format: 'pem' });
  } catch (err) {
    throw new KeyStoreError('KEYSTORE_BAD_KEY', `${file}: cannot parse the ${label}: ${(err as Error).message}`);
  }
  const algorithm = acceptedAlgorithm(privateKey, file);
  const publicKey = createPublicKey(privateKey);
  const certificate = await readCertificateFor(file, publicKey);
  return { privateKey, publicKey, algorithm, source: file, certificate };
}

/**
 * Reads a key file and the permission bits of what was actually opened: a symlink is judged by
 * its target, and the file cannot be swapped between the check and the read.
 */
async function readKeyFile(file: string): Promise<{ text: string; mode: number }> {
  // O_NONBLOCK: a FIFO named *.key must not hang the key server at start.
  const handle = await open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK).catch((err: NodeJS.ErrnoException) => {
    throw new KeyStoreError('KEYSTORE_BAD_KEY', `cannot open ${file}: ${err.code ?? err.message}`);
  });
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new KeyStoreError('KEYSTORE_BAD_KEY', `${file} is not a regular file`);
    if (st.size > MAX_KEY_FILE_BYTES) throw new KeyStoreError('KEYSTORE_BAD_KEY', `${file} is ${st.size} bytes; not a key file`);
    return { text: await handle.readFile('utf8'), mode: st.mode & 0o777 };
  } finally {
    await handle.close();
  }
}

/** `<name>.crt` beside `<name>.key`, checked to hold this key's public key; undefined when there is none. */
async function readCertificateFor(keyFile: string, publicKey: KeyObject): Promise<X509Certificate | undefined> {
  const certFile = path.join(path.dirname(keyFile), `${path.basename(keyFile, path.extname(keyFile))}.crt`);
  let pem: Buffer;
  try {
    pem = await readFile(certFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new KeyStoreError('KEYSTORE_BAD_KEY', `cannot read ${certFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let cert: X509Certificate;
  try {
    // The first certificate of the file is the leaf; a chain may follow it.
    cert = new X509Certificate(pem);
  } catch (err) {
    throw new KeyStoreError('KEYSTORE_BAD_KEY', `${certFile}: not a certificate: ${(err as Error).message}`);
  }
  if (!sameSpki(cert.publicKey, publicKey)) {
    throw new KeyStoreError('KEYSTORE_BAD_KEY', `${certFile} is not the certificate of ${keyFile}: their public keys differ`);
  }
  return cert;
}

type SignParams = { readonly hash: string | null; readonly key: KeyObject | SignKeyObjectInput };

class FileSigningKey implements SigningKey {
  readonly keyId: string;
  readonly schemes: readonly SignatureScheme[];
  readonly digestSchemes: readonly SignatureScheme[];
  readonly hostnames?: readonly string[];
  /** Per scheme, the arguments of crypto.sign, built once. */
  private readonly signParams: ReadonlyMap<SignatureScheme, SignParams>;
  /** Per scheme, the key's signer id in the store's threads. */
  private readonly threadSigners: ReadonlyMap<SignatureScheme, number>;
  /** Cheap enough to sign on the event loop while the threads are idle. */
  private readonly cheap: boolean;

  constructor(
    private readonly privateKey: KeyObject,
    readonly publicKey: KeyObject,
    readonly algorithm: KeyAlgorithm,
    readonly source: string,
    readonly certificate: X509Certificate | undefined,
    private readonly signing: Signing,
  ) {
    this.keyId = keyIdOf(publicKey);
    this.schemes = Object.freeze(schemesForKey(privateKey, algorithm));
    // Raw RSA (privateEncrypt) is what signDigest uses: rsaEncryption keys only; see signDigest.
    this.digestSchemes = Object.freeze(algorithm === 'rsa' ? this.schemes.filter((s) => schemeInfo(s)!.hash !== null) : []);
    if (certificate) this.hostnames = Object.freeze(certificateHostnames(certificate));
    this.signParams = new Map(this.schemes.map((s) => [s, signParamsFor(privateKey, schemeInfo(s)!)]));
    this.cheap = signsCheaply(algorithm);
    this.threadSigners = new Map(signing.mode === 'threads' ? [...this.signParams].map(([s, p]) => [s, signing.pool.register(p)]) : []);
  }

  sign(scheme: SignatureScheme, message: Buffer, guard?: SignGuard): Promise<Buffer> {
    const params = this.signParams.get(scheme);
    if (!params) return Promise.reject(this.unsupported(scheme));
    const signing = this.signing;
    const inline = signing.mode === 'threads' && this.cheap ? signing.inline : undefined;
    if (signing.mode === 'threads' && !inline?.available()) {
      return signing.pool
        .sign(this.threadSigners.get(scheme)!, message, guard?.deadlineAt ?? Infinity, guard?.signal)
        .catch((err: unknown) => Promise.reject(this.threadError(err)));
    }
    try {
      checkGuard(this.source, guard);
    } catch (err) {
      return Promise.reject(err);
    }
    if (signing.mode !== 'libuv') {
      const started = performance.now();
      try {
        return Promise.resolve(cryptoSign(params.hash, message, params.key));
      } catch (err) {
        return Promise.reject(this.signFailed(err));
      } finally {
        inline?.spent(performance.now() - started);
      }
    }
    return new Promise((resolve, reject) => {
      cryptoSign(params.hash, message, params.key, (err, signature) => (err ? reject(this.signFailed(err)) : resolve(signature)));
    });
  }

  /**
   * RSASSA-PKCS1-v1_5 and RSASSA-PSS (rsaEncryption keys) over a given digest, with the raw RSA
   * operation. ECDSA over a given digest has no node:crypto API, RSASSA-PSS keys refuse raw RSA,
   * and Ed25519 signs messages, not digests: those reject with KEYSTORE_UNSUPPORTED.
   */
  async signDigest(scheme: SignatureScheme, digest: Buffer, guard?: SignGuard): Promise<Buffer> {
    if (!this.signParams.has(scheme)) throw this.unsupported(scheme);
    const info = schemeInfo(scheme)!;
    if (!this.digestSchemes.includes(scheme)) {
      throw new KeyStoreError('KEYSTORE_UNSUPPORTED', `${this.source}: the file store cannot sign a precomputed digest with ${info.name}`);
    }
    checkDigestLength(info.hash!, digest);
    checkGuard(this.source, guard);
    try {
      if (info.padding === 'pkcs1') {
        return privateEncrypt({ key: this.privateKey, padding: cryptoConstants.RSA_PKCS1_PADDING }, digestInfo(info.hash!, digest));
      }
      const bits = this.privateKey.asymmetricKeyDetails!.modulusLength!;
      return privateEncrypt({ key: this.privateKey, padding: cryptoConstants.RSA_NO_PADDING }, emsaPssEncode(info.hash!, digest, bits));
    } catch (err) {
      throw this.signFailed(err);
    }
  }

  private unsupported(scheme: SignatureScheme): KeyStoreError {
    const name = schemeInfo(scheme)?.name ?? `0x${scheme.toString(16).padStart(4, '0')}`;
    return new KeyStoreError('KEYSTORE_UNSUPPORTED', `${this.source}: a ${this.algorithm} key cannot produce ${name}`);
  }

  /** The pool's refusals keep their meaning (deadline, cancelled, overloaded); any other failure is a failed signature. */
  private threadError(err: unknown): KeyStoreError {
    if (!(err instanceof SignWorkerError)) return this.signFailed(err);
    switch (err.code) {
      case 'SIGN_WORKER_DEADLINE':
        return new KeyStoreError('KEYSTORE_DEADLINE', `${this.source}: ${err.message}`);
      case 'SIGN_WORKER_CANCELLED':
        return new KeyStoreError('KEYSTORE_CANCELLED', `${this.source}: ${err.message}`);
      case 'SIGN_WORKER_OVERLOADED':
        return new KeyStoreError('KEYSTORE_OVERLOADED', `${this.source}: ${err.message}`);
      case 'SIGN_WORKER_CLOSED':
        return new KeyStoreError('KEYSTORE_CLOSED', `${this.source}: ${err.message}`);
      default:
        return this.signFailed(err);
    }
  }

  private signFailed(err: unknown): KeyStoreError {
    return new KeyStoreError('KEYSTORE_SIGN_FAILED', `${this.source}: ${(err as Error).message}`);
  }
}

/** RFC 8446 §4.2.3: PSS salt length equals the hash length; ECDSA signatures are DER; Ed25519 takes no hash. */
function signParamsFor(key: KeyObject, info: SchemeInfo): SignParams {
  switch (info.padding) {
    case 'pkcs1':
      return { hash: info.hash, key: { key, padding: cryptoConstants.RSA_PKCS1_PADDING } };
    case 'pss':
      return { hash: info.hash, key: { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: hashLength(info.hash!) } };
    case 'none':
      return { hash: info.hash, key: info.hash === null ? key : { key, dsaEncoding: 'der' } };
  }
}

// Private keys from PEM files in one directory: every `*.key` and `*.pem` holding a private key
// (PKCS#8, SEC1 or PKCS#1), with the certificate `<name>.crt` beside it when present (its
// subjectAltNames are what the policy matches hostnames against).
//
// A key file that group or others may read or write is refused, as ssh refuses such a private key:
// the point of a key server is that the key is readable by it alone. Encrypted PEM keys are
// refused too: a passphrase the key server could read would sit next to the key with the same
// protection, so it adds nothing; keys that need more than file permissions belong in PKCS#11.
import { X509Certificate, constants as cryptoConstants, createPrivateKey, createPublicKey, privateEncrypt, sign as cryptoSign } from 'node:crypto';
import type { KeyObject, SignKeyObjectInput, SignPrivateKeyInput } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { lstat, open, readFile, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { hashLength, schemeInfo } from '../../common/signature-scheme.js';
import type { KeyAlgorithm, SchemeInfo, SignatureScheme } from '../../common/signature-scheme.js';
import { certificateHostnames } from '../../common/certificate-hostnames.js';
import { emsaPssEncode } from './emsa-pss.js';
import { KeyStoreError } from './key-store.js';
import type { KeyStore, SigningKey } from './key-store.js';
import { acceptedAlgorithm, checkDigestLength, digestInfo, keyIdOf, sameSpki, schemesForKey } from './key-material.js';

export interface FileKeyStoreOptions {
  /**
   * Sign with `crypto.sign(..., callback)`, which runs on libuv's thread pool, instead of on the
   * event loop. Default true: on a 2-core machine P-256 went from ~40k/s (sync) to ~65k/s with 64
   * signatures in flight, and the event loop stays free for gRPC.
   */
  readonly signOnThreadPool?: boolean;
}

const KEY_FILE_EXTENSIONS = new Set(['.key', '.pem']);
const MAX_KEY_FILE_BYTES = 1 << 20;
const PRIVATE_KEY_LABELS = new Set(['PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY', 'ENCRYPTED PRIVATE KEY']);
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

export class FileKeyStore implements KeyStore {
  readonly name: string;
  private readonly keys: readonly FileSigningKey[];
  private readonly byId: ReadonlyMap<string, FileSigningKey>;

  private constructor(dir: string, keys: FileSigningKey[]) {
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
    const keys: FileSigningKey[] = [];
    const sources = new Map<string, string>();
    for (const name of names) {
      const file = path.join(dir, name);
      const key = await loadKeyFile(file, opts.signOnThreadPool ?? true);
      if (!key) continue;
      const other = sources.get(key.keyId);
      if (other !== undefined) throw new KeyStoreError('KEYSTORE_BAD_KEY', `${file} holds the same key as ${other}`);
      sources.set(key.keyId, file);
      keys.push(key);
    }
    return new FileKeyStore(dir, keys);
  }

  get(keyId: string): SigningKey | undefined {
    return this.byId.get(keyId);
  }

  list(): readonly SigningKey[] {
    return this.keys;
  }

  async close(): Promise<void> {
    // Nothing to release: the keys are KeyObjects, freed with the store.
  }
}

/** The key in one file with its certificate, or undefined for a `.pem` that holds no private key (a certificate, say). */
async function loadKeyFile(file: string, onThreadPool: boolean): Promise<FileSigningKey | undefined> {
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
  return new FileSigningKey(privateKey, publicKey, algorithm, file, certificate, onThreadPool);
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

type SignParams = { readonly hash: string | null; readonly key: KeyObject | SignKeyObjectInput | SignPrivateKeyInput };

class FileSigningKey implements SigningKey {
  readonly keyId: string;
  readonly schemes: readonly SignatureScheme[];
  readonly hostnames?: readonly string[];
  /** Per scheme, the arguments of crypto.sign, built once. */
  private readonly signParams: ReadonlyMap<SignatureScheme, SignParams>;

  constructor(
    private readonly privateKey: KeyObject,
    readonly publicKey: KeyObject,
    readonly algorithm: KeyAlgorithm,
    readonly source: string,
    readonly certificate: X509Certificate | undefined,
    private readonly onThreadPool: boolean,
  ) {
    this.keyId = keyIdOf(publicKey);
    this.schemes = Object.freeze(schemesForKey(privateKey, algorithm));
    if (certificate) this.hostnames = Object.freeze(certificateHostnames(certificate));
    this.signParams = new Map(this.schemes.map((s) => [s, signParamsFor(privateKey, schemeInfo(s)!)]));
  }

  sign(scheme: SignatureScheme, message: Buffer): Promise<Buffer> {
    const params = this.signParams.get(scheme);
    if (!params) return Promise.reject(this.unsupported(scheme));
    if (!this.onThreadPool) {
      try {
        return Promise.resolve(cryptoSign(params.hash, message, params.key));
      } catch (err) {
        return Promise.reject(this.signFailed(err));
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
  async signDigest(scheme: SignatureScheme, digest: Buffer): Promise<Buffer> {
    if (!this.signParams.has(scheme)) throw this.unsupported(scheme);
    const info = schemeInfo(scheme)!;
    if (info.hash === null || this.algorithm !== 'rsa') {
      throw new KeyStoreError('KEYSTORE_UNSUPPORTED', `${this.source}: the file store cannot sign a precomputed digest with ${info.name}`);
    }
    checkDigestLength(info.hash, digest);
    try {
      if (info.padding === 'pkcs1') {
        return privateEncrypt({ key: this.privateKey, padding: cryptoConstants.RSA_PKCS1_PADDING }, digestInfo(info.hash, digest));
      }
      const bits = this.privateKey.asymmetricKeyDetails!.modulusLength!;
      return privateEncrypt({ key: this.privateKey, padding: cryptoConstants.RSA_NO_PADDING }, emsaPssEncode(info.hash, digest, bits));
    } catch (err) {
      throw this.signFailed(err);
    }
  }

  private unsupported(scheme: SignatureScheme): KeyStoreError {
    const name = schemeInfo(scheme)?.name ?? `0x${scheme.toString(16).padStart(4, '0')}`;
    return new KeyStoreError('KEYSTORE_UNSUPPORTED', `${this.source}: a ${this.algorithm} key cannot produce ${name}`);
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

// One loaded PKCS#11 module per process, shared by every store that uses it. Cryptoki state is
// per application, not per handle: C_Initialize may run only once, C_Finalize ends it for all, and
// a login on one session logs in every session of that token (PKCS#11 v2.40 §5.4, §5.6). A
// reload opens the new stores before it closes the old ones, so both are reference-counted here.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import pkcs11js from 'pkcs11js';
import { KeyStoreError } from './key-store.js';

export type Pkcs11 = InstanceType<typeof pkcs11js.PKCS11>;
export type Handle = Buffer;

interface TokenLogin {
  refs: number;
  /** HMAC of the PIN under a per-process key: lets a second store on a logged-in token check its PIN without keeping the PIN. */
  readonly pinTag: Buffer;
}

interface ModuleEntry {
  readonly lib: Pkcs11;
  refs: number;
  /** False when something else in the process had initialized the module: then it is not ours to finalize. */
  readonly ownsInitialize: boolean;
  readonly logins: Map<string, TokenLogin>;
}

const modules = new Map<string, ModuleEntry>();
const pinTagKey = randomBytes(32);

/** Text of a PKCS#11 failure for messages: the CKR_ name, never arguments (a PIN is an argument). */
export function pkcs11Reason(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0]!.slice(0, 200);
  return String(err);
}

export function isPkcs11Code(err: unknown, code: number): boolean {
  return (err as { code?: unknown }).code === code;
}

export interface LoadedModule {
  readonly lib: Pkcs11;
  readonly path: string;
}

export function acquireModule(modulePath: string): LoadedModule {
  const key = path.resolve(modulePath);
  let entry = modules.get(key);
  if (!entry) {
    const lib = new pkcs11js.PKCS11();
    try {
      lib.load(key);
    } catch (err) {
      throw new KeyStoreError('KEYSTORE_PKCS11', `cannot load PKCS#11 module ${key}: ${pkcs11Reason(err)}`);
    }
    let ownsInitialize = true;
    try {
      // The store signs from libuv's thread pool, so the module must do its own locking.
      lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    } catch (err) {
      if (!isPkcs11Code(err, pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
        lib.close();
        throw new KeyStoreError('KEYSTORE_PKCS11', `C_Initialize of ${key} failed: ${pkcs11Reason(err)}`);
      }
      ownsInitialize = false;
    }
    entry = { lib, refs: 0, ownsInitialize, logins: new Map() };
    modules.set(key, entry);
  }
  entry.refs++;
  return { lib: entry.lib, path: key };
}

export function releaseModule(module: LoadedModule): void {
  const entry = modules.get(module.path);
  if (!entry || --entry.refs > 0) return;
  modules.delete(module.path);
  try {
    if (entry.ownsInitialize) entry.lib.C_Finalize();
  } finally {
    entry.lib.close();
  }
}

function pinTag(pin: string): Buffer {
  return createHmac('sha256', pinTagKey).update(pin, 'utf8').digest();
}

/**
 * Logs the user in on `session` (and so on every session of the token). When the token is already
 * logged in by another store of this process, the PIN must be the one that store used. Error
 * messages name the token, never the PIN.
 */
export function loginUser(module: LoadedModule, tokenKey: string, tokenName: string, session: Handle, pin: string): void {
  const entry = modules.get(module.path)!;
  const existing = entry.logins.get(tokenKey);
  if (existing) {
    if (!timingSafeEqual(existing.pinTag, pinTag(pin))) {
      throw new KeyStoreError('KEYSTORE_PKCS11', `login to token ${tokenName} failed: the PIN differs from the one the token is logged in with in this process`);
    }
    existing.refs++;
    return;
  }
  try {
    module.lib.C_Login(session, pkcs11js.CKU_USER, pin);
  } catch (err) {
    if (!isPkcs11Code(err, pkcs11js.CKR_USER_ALREADY_LOGGED_IN)) throw new KeyStoreError('KEYSTORE_PKCS11', `login to token ${tokenName} failed: ${loginReason(err)}`);
  }
  entry.logins.set(tokenKey, { refs: 1, pinTag: pinTag(pin) });
}

function loginReason(err: unknown): string {
  if (isPkcs11Code(err, pkcs11js.CKR_PIN_INCORRECT)) return 'wrong PIN (CKR_PIN_INCORRECT)';
  if (isPkcs11Code(err, pkcs11js.CKR_PIN_LOCKED)) return 'the PIN is locked (CKR_PIN_LOCKED)';
  if (isPkcs11Code(err, pkcs11js.CKR_PIN_LEN_RANGE)) return 'the PIN has the wrong length (CKR_PIN_LEN_RANGE)';
  return pkcs11Reason(err);
}

/** Logs out when the last store using this token's login lets go of it. */
export function logoutUser(module: LoadedModule, tokenKey: string, session: Handle): void {
  const entry = modules.get(module.path);
  const login = entry?.logins.get(tokenKey);
  if (!entry || !login || --login.refs > 0) return;
  entry.logins.delete(tokenKey);
  try {
    module.lib.C_Logout(session);
  } catch {
    // Already logged out (the token went away, say): nothing left to undo.
  }
}

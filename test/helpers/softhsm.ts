// A real SoftHSM2 token in a temporary directory, for PKCS#11 tests. pkcs11js loads the module
// into the test process, and SoftHSM2 reads SOFTHSM2_CONF at C_Initialize, so createSoftHsmToken
// sets it in process.env (cleanup restores it). Keys go in with softhsm2-util --import (PKCS#8),
// certificates with pkcs11-tool (OpenSC): the same tools an operator would use.
import { execFile } from 'node:child_process';
import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const SOFTHSM_MODULE = process.env.SOFTHSM2_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so';

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir !== '' && existsSync(path.join(dir, tool)));
}

/** Why SoftHSM2 tests cannot run here, or undefined when they can. */
export function softHsmUnavailableReason(): string | undefined {
  if (!existsSync(SOFTHSM_MODULE)) return `SoftHSM2 module not found at ${SOFTHSM_MODULE} (apt-get install softhsm2, or set SOFTHSM2_MODULE)`;
  if (!onPath('softhsm2-util')) return 'softhsm2-util is not on PATH (apt-get install softhsm2)';
  if (!onPath('pkcs11-tool')) return 'pkcs11-tool is not on PATH (apt-get install opensc)';
  return undefined;
}

export interface SoftHsmToken {
  readonly modulePath: string;
  readonly tokenLabel: string;
  readonly pin: string;
  readonly soPin: string;
  /** The temporary directory holding softhsm2.conf and the token files. */
  readonly dir: string;
  /** Environment for child processes that use this token (SOFTHSM2_CONF). */
  readonly env: NodeJS.ProcessEnv;
  cleanup(): Promise<void>;
}

export interface SoftHsmTokenOptions {
  readonly label?: string;
  readonly pin?: string;
  readonly soPin?: string;
}

export async function createSoftHsmToken(opts: SoftHsmTokenOptions = {}): Promise<SoftHsmToken> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'keyless-softhsm-'));
  const tokenDir = path.join(dir, 'tokens');
  await mkdir(tokenDir, { mode: 0o700 });
  const conf = path.join(dir, 'softhsm2.conf');
  await writeFile(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`, { mode: 0o600 });
  const tokenLabel = opts.label ?? `keyless-test-${randomBytes(3).toString('hex')}`;
  const pin = opts.pin ?? randomBytes(6).toString('hex');
  const soPin = opts.soPin ?? randomBytes(6).toString('hex');
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  const previous = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = conf;
  await run('softhsm2-util', ['--init-token', '--free', '--label', tokenLabel, '--pin', pin, '--so-pin', soPin], { env });
  return {
    modulePath: SOFTHSM_MODULE,
    tokenLabel,
    pin,
    soPin,
    dir,
    env,
    async cleanup() {
      if (previous === undefined) delete process.env.SOFTHSM2_CONF;
      else process.env.SOFTHSM2_CONF = previous;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Puts a private key (any PEM form node reads) and its public key on the token under `label`
 * and CKA_ID `idHex`, and the certificate, when given, with the same label and id. Import before
 * the store opens the token: SoftHSM2 reads the object files of a token when a session opens.
 */
export async function importKeyToToken(token: SoftHsmToken, keyPem: string, certPem: string | undefined, label: string, idHex: string): Promise<void> {
  const work = await mkdtemp(path.join(token.dir, 'import-'));
  try {
    const keyFile = path.join(work, 'key.p8');
    await writeFile(keyFile, createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await run('softhsm2-util', ['--import', keyFile, '--token', token.tokenLabel, '--label', label, '--id', idHex, '--pin', token.pin], { env: token.env });
    if (certPem !== undefined) {
      const certFile = path.join(work, 'cert.der');
      await writeFile(certFile, new X509Certificate(certPem).raw);
      await run(
        'pkcs11-tool',
        ['--module', token.modulePath, '--token-label', token.tokenLabel, '--login', '--pin', token.pin, '--write-object', certFile, '--type', 'cert', '--id', idHex, '--label', label],
        { env: token.env },
      );
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

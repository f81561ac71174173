// `keyless certs` as a user runs it: the real bin/keyless.js in a child process.
import { execFile } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { access, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_SITES } from '../../certs/index.js';
import { tempDir } from '../helpers/tmp.js';

const BIN = fileURLToPath(new URL('../../bin/keyless.js', import.meta.url));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function keyless(args: string[], cwd?: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function siteKeyId(pki: string, site: string): Promise<string> {
  const cert = new X509Certificate(await readFile(path.join(pki, 'keyserver/keys', `${site}.crt`)));
  return createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('certs-command'));
});

afterAll(async () => {
  await cleanup?.();
});

describe('keyless certs', () => {
  it('writes the PKI to --out and prints the paths and every site key id', async () => {
    const out = path.join(dir, 'pki');
    const run = await keyless(['certs', '--out', out]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`wrote the development PKI to ${out}`);
    expect(run.stdout).toContain(path.join(out, 'ca.crt'));
    expect(run.stdout).toContain(path.join(out, 'keyserver/keys'));
    for (const site of DEV_SITES) {
      expect(run.stdout).toMatch(new RegExp(`${site.name}\\s+${await siteKeyId(out, site.name)}`));
    }
    expect((await stat(path.join(out, 'keyserver/keys/site-rsa-pss.key'))).mode & 0o777).toBe(0o600);
    await access(path.join(out, 'edge/edge-2/client.crt'));
    await access(path.join(out, 'origin/edge-pull-ca.crt'));
  });

  it('keeps an existing PKI unless --force is given', async () => {
    const out = path.join(dir, 'rerun');
    expect((await keyless(['certs', '--out', out])).code).toBe(0);
    const caBefore = await readFile(path.join(out, 'ca.crt'), 'utf8');
    const idBefore = await siteKeyId(out, 'site-ecdsa-p256');

    const kept = await keyless(['certs', '--out', out]);
    expect(kept.code).toBe(0);
    expect(kept.stdout).toContain('kept the existing development PKI');
    expect(kept.stdout).toContain(idBefore);
    expect(await readFile(path.join(out, 'ca.crt'), 'utf8')).toBe(caBefore);

    const forced = await keyless(['certs', '--out', out, '--force']);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('wrote the development PKI');
    expect(await readFile(path.join(out, 'ca.crt'), 'utf8')).not.toBe(caBefore);
    expect(await siteKeyId(out, 'site-ecdsa-p256')).not.toBe(idBefore);
  });

  it('writes to certs/dev under the working directory by default, and prints paths relative to it', async () => {
    const run = await keyless(['certs'], dir);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('wrote the development PKI to certs/dev');
    expect(run.stdout).toContain(`certs/dev/ca.crt`);
    await access(path.join(dir, 'certs/dev/ca.crt'));
  });

  it('--help prints the usage and exits 0', async () => {
    const run = await keyless(['certs', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^usage: keyless certs \[--out DIR\] \[--force\]/);
    expect(run.stdout).toContain('--force');
    expect(run.stdout).toMatch(/never use them in\s+production/i);
  });

  it.each([
    ['an unknown option', ['--bogus'], /Unknown option '--bogus'/],
    ['a positional argument', ['somewhere'], /Unexpected argument 'somewhere'/],
    ['--out without a value', ['--out'], /argument missing/],
    ['an empty --out', ['--out='], /--out needs a directory/],
  ])('refuses %s with exit code 2 and the usage', async (_, args, message) => {
    const run = await keyless(['certs', ...args], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toContain('usage: keyless certs');
    expect(run.stdout).toBe('');
  });
});

// The edge's ticket secret from `tls.sessionTickets`: a key file (checked like a private key
// file: 0600, not PEM, long enough; its bytes never in an error), or a random one, which a
// cluster primary hands to its workers once.
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterTicketSecretEnv, loadSessionTickets, TICKET_SECRET_ENV } from '../../edge/session-ticket-keys.js';
import { tempDir } from '../helpers/tmp.js';

const base = { enabled: true, lifetimeSeconds: 7200, rotationSeconds: 3600 } as const;
let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('ticket-keys')));
afterAll(async () => cleanup());

async function keyFile(name: string, data: Buffer | string, mode = 0o600): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, data);
  await chmod(file, mode);
  return file;
}

describe('loadSessionTickets', () => {
  it('is off when disabled', async () => {
    expect(await loadSessionTickets({ ...base, enabled: false })).toBeUndefined();
  });

  it('two edges with one key file open each other’s keys; a random secret differs per edge', async () => {
    const file = await keyFile('shared.key', randomBytes(48));
    const [a, b] = await Promise.all([loadSessionTickets({ ...base, keyFile: file }), loadSessionTickets({ ...base, keyFile: file })]);
    const now = Date.now();
    expect(a!.keys.sealingKey(now)).toEqual(b!.keys.sealingKey(now));
    const [c, d] = await Promise.all([loadSessionTickets(base, {}), loadSessionTickets(base, {})]);
    expect(c!.keys.sealingKey(now).name.equals(d!.keys.sealingKey(now).name)).toBe(false);
  });

  it('workers share the primary’s random secret, which leaves their environment once read', async () => {
    const env = { ...clusterTicketSecretEnv(base) };
    const envCopy = { ...env };
    const worker1 = await loadSessionTickets(base, env);
    expect(env[TICKET_SECRET_ENV]).toBeUndefined();
    const worker2 = await loadSessionTickets(base, envCopy);
    const now = Date.now();
    expect(worker1!.keys.sealingKey(now)).toEqual(worker2!.keys.sealingKey(now));
    expect(clusterTicketSecretEnv({ ...base, keyFile: '/x' })).toEqual({});
  });

  it.skipIf(process.platform === 'win32')('refuses a key file others can read, naming the field and the mode', async () => {
    const file = await keyFile('open.key', randomBytes(48), 0o644);
    await expect(loadSessionTickets({ ...base, keyFile: file })).rejects.toMatchObject({ code: 'EDGE_TICKET_KEY_INVALID', message: expect.stringMatching(/tls\.sessionTickets\.keyFile.*mode 644/) });
  });

  it('refuses a PEM file (a site key is not a ticket key) without echoing it', async () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSECRET\n-----END PRIVATE KEY-----\n';
    const file = await keyFile('site.key', pem);
    const err = await loadSessionTickets({ ...base, keyFile: file }).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'EDGE_TICKET_KEY_INVALID', message: expect.stringMatching(/PEM file/) });
    expect((err as Error).message).not.toContain('SECRET');
  });

  it('refuses a short or missing key file', async () => {
    await expect(loadSessionTickets({ ...base, keyFile: await keyFile('short.key', randomBytes(16)) })).rejects.toMatchObject({ message: expect.stringMatching(/16 bytes; at least 32/) });
    await expect(loadSessionTickets({ ...base, keyFile: path.join(dir, 'missing.key') })).rejects.toMatchObject({ code: 'EDGE_TICKET_KEY_INVALID', message: expect.stringMatching(/ENOENT/) });
  });
});

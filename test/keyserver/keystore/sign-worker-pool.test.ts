// The file store's signing threads: signatures verify for every kind of key, from every thread;
// deadlines and cancellations are honoured by the thread right before it signs; the bounds hold;
// a thread that dies fails only the jobs it held and is replaced.
import { constants, createPublicKey, randomBytes, verify } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { SignWorkerPool } from '../../../keyserver/keystore/sign-worker-pool.js';
import type { SignWorkerPoolOptions } from '../../../keyserver/keystore/sign-worker-pool.js';
import { generateTestKey } from './test-keys.js';

const MISBEHAVING = new URL('./fixtures/misbehaving-sign-worker.mjs', import.meta.url);
const FAILING = new URL('./fixtures/failing-sign-worker.mjs', import.meta.url);

const p256 = generateTestKey('ec-p256');
const rsa = generateTestKey('rsa');
const ed25519 = generateTestKey('ed25519');

let pools: SignWorkerPool[] = [];
function pool(options: Partial<SignWorkerPoolOptions> = {}): SignWorkerPool {
  const p = new SignWorkerPool({ threads: 2, maxPending: 256, ...options });
  pools.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(pools.map((p) => p.close()));
  pools = [];
});

async function rejection(promise: Promise<unknown>): Promise<{ code?: string; message: string }> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: { code?: string; message: string }) => err,
  );
}

describe('SignWorkerPool', () => {
  it('signs with ECDSA, RSA-PSS and Ed25519 keys on every thread, and every signature verifies', async () => {
    const workers = pool({ threads: 2, maxBatch: 4 });
    const ecdsaId = workers.register({ hash: 'sha256', key: { key: p256.privateKey, dsaEncoding: 'der' } });
    const pssId = workers.register({ hash: 'sha256', key: { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } });
    const edId = workers.register({ hash: null, key: ed25519.privateKey });
    const jobs = Array.from({ length: 60 }, (_, i) => {
      const message = randomBytes(100 + i);
      const signer = [ecdsaId, pssId, edId][i % 3]!;
      return { i, message, signer, done: workers.sign(signer, message, performance.now() + 60_000) };
    });
    const signatures = await Promise.all(jobs.map((j) => j.done));
    for (const { i, message, signer } of jobs) {
      const signature = signatures[i]!;
      if (signer === ecdsaId) expect(verify('sha256', message, { key: p256.publicKey, dsaEncoding: 'der' }, signature)).toBe(true);
      if (signer === pssId) expect(verify('sha256', message, { key: rsa.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature)).toBe(true);
      if (signer === edId) expect(verify(null, message, ed25519.publicKey, signature)).toBe(true);
    }
    expect(workers.stats()).toMatchObject({ threads: 2, alive: 2, queued: 0, pending: 0, restarts: 0 });
  });

  it('refuses in the thread, right before signing, a job whose deadline passed while it waited', async () => {
    const workers = pool({ threads: 1, workerUrl: MISBEHAVING });
    const id = workers.register({ hash: 'sha256', key: { key: p256.privateKey, dsaEncoding: 'der' } });
    // The thread holds the SLOW batch for 300 ms; the second job's deadline passes meanwhile.
    const slow = workers.sign(id, Buffer.from('SLOW batch'), performance.now() + 60_000);
    const late = workers.sign(id, Buffer.from('deadline in 50 ms'), performance.now() + 50);
    expect((await slow).length).toBeGreaterThan(0);
    expect(await rejection(late)).toMatchObject({ code: 'SIGN_WORKER_DEADLINE' });
    // A deadline already passed is refused without bothering a thread.
    expect(await rejection(workers.sign(id, Buffer.from('late'), performance.now() - 1))).toMatchObject({ code: 'SIGN_WORKER_DEADLINE' });
  });

  it('refuses in the thread a job whose caller cancelled after it was handed over', async () => {
    const workers = pool({ threads: 1, workerUrl: MISBEHAVING });
    const id = workers.register({ hash: 'sha256', key: { key: p256.privateKey, dsaEncoding: 'der' } });
    const caller = new AbortController();
    const slow = workers.sign(id, Buffer.from('SLOW batch'), performance.now() + 60_000, caller.signal);
    const second = workers.sign(id, Buffer.from('same caller'), performance.now() + 60_000, caller.signal);
    const other = workers.sign(id, Buffer.from('another caller'), performance.now() + 60_000, new AbortController().signal);
    await new Promise((r) => setImmediate(r));
    expect(workers.stats().queued, 'all three are in the thread').toBe(0);
    caller.abort();
    expect(await rejection(slow)).toMatchObject({ code: 'SIGN_WORKER_CANCELLED' });
    expect(await rejection(second)).toMatchObject({ code: 'SIGN_WORKER_CANCELLED' });
    expect((await other).length).toBeGreaterThan(0);
    expect(await rejection(workers.sign(id, Buffer.from('x'), performance.now() + 60_000, AbortSignal.abort()))).toMatchObject({ code: 'SIGN_WORKER_CANCELLED' });
  });

  it('holds its bounds: maxPending jobs at most, 2 × maxBatch per thread, the rest queued here', async () => {
    const workers = pool({ threads: 1, maxPending: 20, maxBatch: 4, workerUrl: MISBEHAVING });
    const id = workers.register({ hash: 'sha256', key: { key: p256.privateKey, dsaEncoding: 'der' } });
    const jobs = [workers.sign(id, Buffer.from('SLOW'), performance.now() + 60_000)];
    for (let i = 1; i < 20; i++) jobs.push(workers.sign(id, Buffer.from(`job ${i}`), performance.now() + 60_000));
    const over = await rejection(workers.sign(id, Buffer.from('one too many'), performance.now() + 60_000));
    expect(over).toMatchObject({ code: 'SIGN_WORKER_OVERLOADED' });
    await new Promise((r) => setImmediate(r));
    expect(workers.stats()).toMatchObject({ pending: 20, queued: 12 });
    expect((await Promise.all(jobs)).every((s) => s.length > 0)).toBe(true);
    expect(workers.stats()).toMatchObject({ pending: 0, queued: 0 });
    // The slots are free again.
    expect((await workers.sign(id, Buffer.from('after'), performance.now() + 60_000)).length).toBeGreaterThan(0);
  });

  it('fails the jobs of a thread that dies, replaces the thread, and signs again with the same keys', async () => {
    const workers = pool({ threads: 1, workerUrl: MISBEHAVING });
    const id = workers.register({ hash: 'sha256', key: { key: p256.privateKey, dsaEncoding: 'der' } });
    expect((await workers.sign(id, Buffer.from('before'), performance.now() + 60_000)).length).toBeGreaterThan(0);
    const crashed = await rejection(workers.sign(id, Buffer.from('CRASH'), performance.now() + 60_000));
    expect(crashed).toMatchObject({ code: 'SIGN_WORKER_CRASHED' });
    expect(crashed.message).toMatch(/exit code 3/);
    const message = Buffer.from('after the crash');
    const signature = await workers.sign(id, message, performance.now() + 60_000);
    expect(verify('sha256', message, { key: createPublicKey(p256.privateKey), dsaEncoding: 'der' }, signature)).toBe(true);
    expect(workers.stats()).toMatchObject({ alive: 1, restarts: 1, pending: 0 });
  });

  it('stops and replaces a thread that does not answer, failing only its jobs', async () => {
    const workers = pool({ threads: 1, workerUrl: MISBEHAVING, stuckAfterMs: 200 });
    const id = workers.register({ hash: 'sha256', key: { key: p256.privateKey, dsaEncoding: 'der' } });
    const stuck = await rejection(workers.sign(id, Buffer.from('HANG'), performance.now() + 60_000));
    expect(stuck).toMatchObject({ code: 'SIGN_WORKER_CRASHED' });
    expect(stuck.message).toMatch(/no answer within 200 ms/);
    expect((await workers.sign(id, Buffer.from('next'), performance.now() + 60_000)).length).toBeGreaterThan(0);
    expect(workers.stats()).toMatchObject({ alive: 1, restarts: 1 });
  });

  it.runIf(process.platform === 'linux')('runs its threads at the process\'s priority by default, and below it with a niceness', async () => {
    const niceOfThreads = async (): Promise<number[]> => {
      const tasks = await readdir('/proc/self/task');
      const nices: number[] = [];
      for (const tid of tasks) {
        const stat = await readFile(`/proc/self/task/${tid}/stat`, 'utf8').catch(() => '');
        // Field 19 is nice; fields after the command name's closing parenthesis start at field 3.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (fields.length > 16) nices.push(Number(fields[16]));
      }
      return nices;
    };
    const started = async (options: { threads: number; niceness?: number }): Promise<void> => {
      const workers = pool(options);
      const id = workers.register({ hash: 'sha256', key: { key: p256.privateKey, dsaEncoding: 'der' } });
      // A signature from each thread: all have started and set their priority.
      await Promise.all(Array.from({ length: 64 }, () => workers.sign(id, Buffer.from('x'), performance.now() + 60_000)));
    };
    const niced = async (): Promise<number> => (await niceOfThreads()).filter((n) => n === 10).length;
    const before = await niced();
    await started({ threads: 2 });
    expect(await niced()).toBe(before);
    await started({ threads: 2, niceness: 10 });
    expect((await niced()) - before).toBe(2);
    expect(os.getPriority()).toBe(0);
  });

  it('is ready once every thread has started, and says so when one cannot start', async () => {
    await expect(pool({ threads: 2 }).ready()).resolves.toBeUndefined();
    const broken = pool({ threads: 1, workerUrl: FAILING });
    await expect(broken.ready()).rejects.toMatchObject({ code: 'SIGN_WORKER_CRASHED', message: expect.stringMatching(/while starting \(cannot start: test fixture\)/) });
  });

  it('rejects what is pending when closed, and everything after', async () => {
    const workers = pool({ threads: 1, workerUrl: MISBEHAVING });
    const id = workers.register({ hash: 'sha256', key: { key: p256.privateKey, dsaEncoding: 'der' } });
    const pending = workers.sign(id, Buffer.from('SLOW'), performance.now() + 60_000);
    await new Promise((r) => setImmediate(r));
    await workers.close();
    expect(await rejection(pending)).toMatchObject({ code: 'SIGN_WORKER_CLOSED' });
    expect(await rejection(workers.sign(id, Buffer.from('x'), performance.now() + 60_000))).toMatchObject({ code: 'SIGN_WORKER_CLOSED' });
  });
});

// A signing thread of the file key store's worker pool (sign-worker-pool.ts, which documents the
// protocol and mirrors the constants below). Plain JavaScript on purpose: node loads it as it is,
// so the thread starts the same under bin/keyless.js, vitest or any other host, without a
// TypeScript loader (module hooks are not inherited by worker threads on Node 20).
//
// It holds the private keys it was given (KeyObjects, cloned into this thread, never serialized as
// key material), signs the batches it receives one job after another, and posts the results of a
// batch in one message. It logs nothing.
import { sign } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';

const STATUS_OK = 0;
const STATUS_DEADLINE = 1;
const STATUS_CANCELLED = 2;
const STATUS_FAILED = 3;

/** One flag per job slot, set by the main thread when the job's caller cancels. */
const cancelFlags = new Int32Array(workerData.cancelFlags);
/** Signer id -> the arguments of crypto.sign: hash name (null for Ed25519) and key with its options. */
const signers = new Map();

// An optional nice value (SignWorkerPoolOptions.niceness, default 0): below the event loop's
// priority a signing thread would stop delaying gRPC and the audit log's I/O when they wake, but
// it is preempted in the middle of its batch instead, and bench:keyserver measured nice 0 faster
// in every cell (sign-worker-pool.ts has the figures). Linux only: setpriority(2) takes a thread
// id there, found through /proc/thread-self.
if (workerData.niceness > 0) {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, workerData.niceness);
  } catch {
    // No /proc/thread-self (not Linux): the thread keeps the process's priority.
  }
}

/** The process-wide monotonic clock in ms: the same in every thread, unlike performance.now(). */
function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

parentPort.on('message', (message) => {
  if (message.type === 'signer') signers.set(message.id, { hash: message.hash, key: message.key });
  else if (message.type === 'batch') signBatch(message);
});
// Booted: the pool's ready() waits for this from every thread.
parentPort.postMessage({ type: 'ready' });

// A batch is one transferred ArrayBuffer (one transfer is cheap, several are not):
//   Float64 deadlines[n] | Int32 signerIds[n] | Int32 slots[n] | Int32 offsets[n + 1] | message bytes
// and so is its result:
//   Int32 status[n] | Int32 offsets[n + 1] | signature bytes
function signBatch({ id, count, buffer }) {
  const deadlines = new Float64Array(buffer, 0, count);
  const ints = new Int32Array(buffer, 8 * count, 3 * count + 1);
  const data = new Uint8Array(buffer, 8 * count + 4 * (3 * count + 1));
  const signatures = new Array(count);
  const status = new Int32Array(count);
  const errors = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    // Checked right before the key is used: a request whose caller cancelled, or whose deadline
    // passed while it waited, is never signed.
    if (Atomics.load(cancelFlags, ints[count + i]) !== 0) {
      status[i] = STATUS_CANCELLED;
      continue;
    }
    if (nowMs() >= deadlines[i]) {
      status[i] = STATUS_DEADLINE;
      continue;
    }
    const signer = signers.get(ints[i]);
    try {
      if (signer === undefined) throw new Error(`no signer ${ints[i]} in this thread`);
      const signature = sign(signer.hash, data.subarray(ints[2 * count + i], ints[2 * count + i + 1]), signer.key);
      signatures[i] = signature;
      total += signature.length;
      status[i] = STATUS_OK;
    } catch (err) {
      // OpenSSL's reason ("bad signature", "digest too big for rsa key"): never key material.
      status[i] = STATUS_FAILED;
      errors[i] = err instanceof Error ? err.message : String(err);
    }
  }
  const out = new ArrayBuffer(4 * (2 * count + 1) + total);
  const outInts = new Int32Array(out, 0, 2 * count + 1);
  const outData = new Uint8Array(out, 4 * (2 * count + 1));
  let at = 0;
  for (let i = 0; i < count; i++) {
    outInts[i] = status[i];
    outInts[count + i] = at;
    const signature = signatures[i];
    if (signature !== undefined) {
      outData.set(signature, at);
      at += signature.length;
    }
  }
  outInts[2 * count] = at;
  parentPort.postMessage({ type: 'done', id, buffer: out, errors: errors.length > 0 ? errors : undefined }, [out]);
}

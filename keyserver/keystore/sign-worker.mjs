// A signing thread of the file key store's worker pool (sign-worker-pool.ts, which documents the
// protocol and mirrors the constants below). Plain JavaScript on purpose: node loads it as it is,
// so the thread starts the same under bin/keyless.js, vitest or any other host, without a
// TypeScript loader (module hooks are not inherited by worker threads on Node 20).
//
// It holds the private keys it was given (KeyObjects, cloned into this thread, never serialized as
// key material), signs the batches it receives one job after another, and posts the results of a
// batch in one message. It logs nothing.
import { sign } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';

const STATUS_OK = 0;
const STATUS_DEADLINE = 1;
const STATUS_CANCELLED = 2;
const STATUS_FAILED = 3;

/** One flag per job slot, set by the main thread when the job's caller cancels. */
const cancelFlags = new Int32Array(workerData.cancelFlags);
/** Signer id -> the arguments of crypto.sign: hash name (null for Ed25519) and key with its options. */
const signers = new Map();

/** The process-wide monotonic clock in ms: the same in every thread, unlike performance.now(). */
function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

parentPort.on('message', (message) => {
  if (message.type === 'signer') signers.set(message.id, { hash: message.hash, key: message.key });
  else if (message.type === 'batch') signBatch(message);
});

function signBatch({ id, signerIds, slots, deadlines, offsets, data }) {
  const count = slots.length;
  const status = new Uint8Array(count);
  const signatures = new Array(count);
  const errors = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    // Checked right before the key is used: a request whose caller cancelled, or whose deadline
    // passed while it waited, is never signed.
    if (Atomics.load(cancelFlags, slots[i]) !== 0) {
      status[i] = STATUS_CANCELLED;
      continue;
    }
    if (nowMs() >= deadlines[i]) {
      status[i] = STATUS_DEADLINE;
      continue;
    }
    const signer = signers.get(signerIds[i]);
    try {
      if (signer === undefined) throw new Error(`no signer ${signerIds[i]} in this thread`);
      const signature = sign(signer.hash, data.subarray(offsets[i], offsets[i + 1]), signer.key);
      signatures[i] = signature;
      total += signature.length;
      status[i] = STATUS_OK;
    } catch (err) {
      // OpenSSL's reason ("bad signature", "digest too big for rsa key"): never key material.
      status[i] = STATUS_FAILED;
      errors[i] = err instanceof Error ? err.message : String(err);
    }
  }
  // All signatures of the batch in one transferred buffer.
  const out = new Uint8Array(total);
  const outOffsets = new Uint32Array(count + 1);
  let at = 0;
  for (let i = 0; i < count; i++) {
    outOffsets[i] = at;
    const signature = signatures[i];
    if (signature !== undefined) {
      out.set(signature, at);
      at += signature.length;
    }
  }
  outOffsets[count] = at;
  parentPort.postMessage(
    { type: 'done', id, status, offsets: outOffsets, data: out, errors: errors.length > 0 ? errors : undefined },
    [status.buffer, outOffsets.buffer, out.buffer],
  );
}

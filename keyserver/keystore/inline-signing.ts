// When to make a file-store signature on the event loop instead of on a signing thread.
//
// Handing a job to an idle thread and taking its answer back costs two thread wake-ups. On the
// 2-core VM of bench:keyserver that is ~0.4 ms at one caller, where an ECDSA P-256 signature takes
// ~55 µs and Ed25519 less: the hop cost seven times the signature. So a cheap signature is made on
// the event loop when the threads have nothing to do, and at most one per event-loop turn: a burst
// (a SignStream batch, many callers) still goes to the threads, keeps the event loop free for
// gRPC and the audit log, and never blocks it for more than one signature in a row. RSA and P-384
// (0.3–1 ms or more) always go to the threads.
import type { KeyAlgorithm } from '../../common/signature-scheme.js';
import type { SignWorkerPool } from './sign-worker-pool.js';

/** Algorithms whose signature costs about as much as a thread hop or less. */
const CHEAP_ALGORITHMS: ReadonlySet<KeyAlgorithm> = new Set<KeyAlgorithm>(['ec-p256', 'ed25519']);

export function signsCheaply(algorithm: KeyAlgorithm): boolean {
  return CHEAP_ALGORITHMS.has(algorithm);
}

/** One per store: grants the event loop at most one signature per turn, and only while the pool is idle. */
export class InlineSigningGate {
  private usedThisTurn = false;
  private granted = 0;

  constructor(private readonly pool: SignWorkerPool) {}

  /** Signatures made on the event loop so far. */
  get inlineSignatures(): number {
    return this.granted;
  }

  tryTake(): boolean {
    if (this.usedThisTurn || !this.pool.idle()) return false;
    this.usedThisTurn = true;
    this.granted++;
    setImmediate(() => {
      this.usedThisTurn = false;
    });
    return true;
  }
}

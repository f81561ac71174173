// When to make a file-store signature on the event loop instead of on a signing thread.
//
// Handing a job to a thread and taking its answer back costs two thread wake-ups and two
// messages: on the 2-core VM of bench:keyserver ~0.4 ms at one caller, where an ECDSA P-256
// signature takes ~25-55 µs and Ed25519 less, and CPU as well under load. So a cheap signature is
// made on the event loop when that is cheaper for the whole process:
// - while the event loop has time to spare (its utilization over the last SLACK_WINDOW_MS below
//   SLACK_UTILIZATION), up to `budgetMs` of signing time per event-loop turn; the rest of a
//   burst goes to the threads, so gRPC and the audit log are never held up for longer than the
//   budget plus one signature;
// - once the event loop is busy, only while the threads are idle and at most one per turn: the
//   event loop is then what limits throughput, and signing on it would take its time from gRPC
//   and the audit log while the threads have cores of their own.
// Measured against the second rule alone (README, "Key server", seventh session): 25-30% more
// signatures/s at 16 callers on a third less CPU, 2-4% more at 64 on 10% less, and 0-4% fewer
// at 256 callers, where the utilization dips below the threshold now and then.
// RSA and P-384 (0.3-1 ms or more each) always go to the threads.
import { performance } from 'node:perf_hooks';
import type { EventLoopUtilization } from 'node:perf_hooks';
import type { KeyAlgorithm } from '../../common/signature-scheme.js';
import type { SignWorkerPool } from './sign-worker-pool.js';

/** Algorithms whose signature costs about as much as a thread hop or less. */
const CHEAP_ALGORITHMS: ReadonlySet<KeyAlgorithm> = new Set<KeyAlgorithm>(['ec-p256', 'ed25519']);

export function signsCheaply(algorithm: KeyAlgorithm): boolean {
  return CHEAP_ALGORITHMS.has(algorithm);
}

/** The default inline budget per event-loop turn, ms. */
export const DEFAULT_INLINE_BUDGET_MS = 1;
/** How often the event loop's utilization is sampled. */
const SLACK_WINDOW_MS = 50;
/** At or above this utilization the event loop has no time to spare. */
const SLACK_UTILIZATION = 0.7;

/** One per store: decides, signature by signature, whether the event loop may make it (see the top of this file). */
export class InlineSigningGate {
  private spentThisTurn = 0;
  private usedThisTurn = false;
  private resetScheduled = false;
  private granted = 0;
  private closed = false;
  private slack = true;
  private lastUtilization: EventLoopUtilization = performance.eventLoopUtilization();
  private readonly sampler: NodeJS.Timeout;

  constructor(
    private readonly pool: SignWorkerPool,
    private readonly budgetMs: number,
  ) {
    if (!(budgetMs > 0 && budgetMs <= 100)) throw new RangeError('the inline signing budget must be above 0 and at most 100 ms');
    this.sampler = setInterval(() => this.sample(), SLACK_WINDOW_MS);
    this.sampler.unref();
  }

  /** Signatures made on the event loop so far. */
  get inlineSignatures(): number {
    return this.granted;
  }

  /** True when the next signature may be made on the event loop; the caller then reports its time with spent(). */
  available(): boolean {
    if (this.closed) return false;
    if (this.slack ? this.spentThisTurn >= this.budgetMs : this.usedThisTurn || !this.pool.idle()) return false;
    if (!this.resetScheduled) {
      this.resetScheduled = true;
      // Check phase of this loop iteration: what the I/O callbacks of one poll phase sign shares one budget.
      setImmediate(() => {
        this.spentThisTurn = 0;
        this.usedThisTurn = false;
        this.resetScheduled = false;
      });
    }
    return true;
  }

  /** Counts one inline signature and the time it took. */
  spent(ms: number): void {
    this.granted++;
    this.usedThisTurn = true;
    this.spentThisTurn += ms;
  }

  /** From now on nothing is signed inline: the store is closed, and its threads refuse what they are asked. */
  close(): void {
    this.closed = true;
    clearInterval(this.sampler);
  }

  private sample(): void {
    const now = performance.eventLoopUtilization();
    this.slack = performance.eventLoopUtilization(now, this.lastUtilization).utilization < SLACK_UTILIZATION;
    this.lastUtilization = now;
  }
}

// Rate-limit counters shared by the workers of a `workers: N` edge: the primary holds the one
// counter store, and each worker's WAF asks it over the cluster IPC channel, so a limit of 100 per
// minute admits 100 requests a minute through the whole edge, not 100 per worker. Each decision is
// one round trip (decide and count in one step, RateLimitStore.hit), made only for the requests a
// rate limit applies to.
//
// If the primary does not answer within ANSWER_TIMEOUT_MS, or too many questions are waiting,
// the worker decides with counters of its own (as every worker did before this module) and says
// so once in its log: a limit that is enforced per worker is better than none, or than a hang.
import type { Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { RateLimitDecision, RateLimitStore } from '../http/waf/index.js';
import { MemoryRateLimitStore } from '../http/waf/index.js';

interface Question {
  readonly keyless: 'rate-limit';
  readonly id: number;
  readonly key: string;
  readonly limit: number;
  readonly windowMs: number;
  readonly now: number;
}

interface Answer {
  readonly keyless: 'rate-limit-decision';
  readonly id: number;
  readonly decision: RateLimitDecision;
}

/** How long a worker waits for the primary's decision before it decides alone. */
export const ANSWER_TIMEOUT_MS = 1_000;
/** Questions waiting for the primary, at most; beyond it the worker decides alone. */
export const MAX_WAITING = 10_000;

/** In the primary: answers one worker's questions from the store all workers share. */
export function serveSharedRateLimits(worker: Worker, store: RateLimitStore): void {
  worker.on('message', (message: Question) => {
    if (message?.keyless !== 'rate-limit') return;
    const { id, key, limit, windowMs, now } = message;
    if (typeof key !== 'string' || !(limit > 0) || !(windowMs > 0) || !Number.isFinite(now)) return;
    void Promise.resolve(store.hit(key, limit, windowMs, now)).then((decision) => {
      if (!worker.isDead()) worker.send({ keyless: 'rate-limit-decision', id, decision } satisfies Answer);
    });
  });
}

/** In a worker: the WAF's counter store, asking the primary. */
export class SharedRateLimitStore implements RateLimitStore {
  private readonly waiting = new Map<number, { resolve: (d: RateLimitDecision) => void; timer: NodeJS.Timeout }>();
  private readonly local = new MemoryRateLimitStore();
  private nextId = 1;
  private warned = false;

  constructor(
    private readonly log: Logger,
    /** Sends to the primary (a cluster worker's process.send); undefined when there is none. */
    private readonly send: ((message: Question) => boolean) | undefined,
    /** Where the primary's answers arrive (a cluster worker's process). */
    channel: NodeJS.EventEmitter,
  ) {
    channel.on('message', (message: Answer) => {
      if (message?.keyless !== 'rate-limit-decision') return;
      const entry = this.waiting.get(message.id);
      if (!entry) return;
      this.waiting.delete(message.id);
      clearTimeout(entry.timer);
      entry.resolve(message.decision);
    });
  }

  hit(key: string, limit: number, windowMs: number, now: number): Promise<RateLimitDecision> | RateLimitDecision {
    if (!this.send || this.waiting.size >= MAX_WAITING) return this.alone(key, limit, windowMs, now, this.send ? `${MAX_WAITING} decisions are waiting` : 'there is no primary');
    const question: Question = { keyless: 'rate-limit', id: this.nextId++, key, limit, windowMs, now };
    return new Promise<RateLimitDecision>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(question.id);
        resolve(this.alone(key, limit, windowMs, now, `the primary did not answer within ${ANSWER_TIMEOUT_MS} ms`));
      }, ANSWER_TIMEOUT_MS);
      timer.unref();
      this.waiting.set(question.id, { resolve, timer });
      try {
        this.send!(question);
      } catch (err) {
        clearTimeout(timer);
        this.waiting.delete(question.id);
        resolve(this.alone(key, limit, windowMs, now, (err as Error).message));
      }
    });
  }

  private alone(key: string, limit: number, windowMs: number, now: number, why: string): RateLimitDecision {
    if (!this.warned) {
      this.warned = true;
      this.log.warn({ reason: why }, 'rate limits: counting in this worker alone (the shared counters are out of reach)');
    }
    return this.local.hit(key, limit, windowMs, now);
  }
}

// Requests between the edge's primary process and its workers over the cluster IPC channel: the
// admin API runs in the primary and asks every worker (readiness, metrics, purge, reload).
import type { Worker } from 'node:cluster';

export type WorkerRequest =
  | { readonly op: 'readiness' }
  | { readonly op: 'metrics' }
  | { readonly op: 'purge'; readonly request: import('../admin/admin-server.js').PurgeRequest }
  | { readonly op: 'reload' };

/**
 * Cache invalidation between workers: a worker tells the primary what an unsafe request
 * invalidated ('invalidated'); the primary tells every other worker ('invalidate').
 */
export interface InvalidationMessage {
  readonly keyless: 'invalidated' | 'invalidate';
  readonly keys: readonly string[];
}

interface Envelope {
  readonly keyless: 'request' | 'response';
  readonly id: number;
  readonly body: unknown;
  readonly error?: string;
}

let nextId = 1;

/** Sends one request to a worker and resolves with its answer (rejects after `timeoutMs`). */
export function askWorker<T>(worker: Worker, body: WorkerRequest, timeoutMs = 10_000): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.off('message', onMessage);
      reject(new Error(`worker ${worker.id} did not answer ${body.op} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message: Envelope): void => {
      if (message?.keyless !== 'response' || message.id !== id) return;
      clearTimeout(timer);
      worker.off('message', onMessage);
      if (message.error !== undefined) reject(new Error(message.error));
      else resolve(message.body as T);
    };
    worker.on('message', onMessage);
    worker.send({ keyless: 'request', id, body } satisfies Envelope);
  });
}

/** In a worker: answers the primary's requests with `handle`. */
export function serveWorkerRequests(handle: (request: WorkerRequest) => Promise<unknown>): void {
  process.on('message', (message: Envelope) => {
    if (message?.keyless !== 'request') return;
    handle(message.body as WorkerRequest).then(
      (body) => process.send?.({ keyless: 'response', id: message.id, body } satisfies Envelope),
      (err: unknown) => process.send?.({ keyless: 'response', id: message.id, body: null, error: (err as Error).message } satisfies Envelope),
    );
  });
}

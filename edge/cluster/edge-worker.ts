// One worker of a `workers: N` edge: the whole edge stack on the cluster's shared listener,
// without the admin API (the primary runs it and asks the workers over IPC). A disk cache gets a
// directory of its own per worker: two processes never write one store.
import path from 'node:path';
import type { Logger } from 'pino';
import type { EdgeConfig } from '../config.js';
import { Edge } from '../edge.js';
import { serveWorkerRequests, type InvalidationMessage } from './ipc.js';
import { SharedRateLimitStore } from './shared-rate-limits.js';

export async function runEdgeWorker(config: EdgeConfig, configFile: string, index: number, log: Logger): Promise<void> {
  // A hangup reaches the whole process group (a closed terminal, `kill -HUP -<pgid>`), and its
  // default action would end the worker. The primary reloads on it and asks the workers over IPC,
  // so a worker ignores it, from before its edge starts.
  process.on('SIGHUP', () => undefined);
  const cache = config.cache?.store.type === 'disk' ? { ...config.cache, store: { ...config.cache.store, dir: path.join(config.cache.store.dir, `worker-${index}`) } } : config.cache;
  const { admin: _admin, ...rest } = config;
  const edge = await Edge.start({
    config: { ...rest, ...(cache ? { cache } : {}) },
    configFile,
    log: log.child({ worker: index }),
    processMetrics: index === 0,
    readyMessage: 'edge worker ready',
    // RFC 9111 §4.4 across workers: what an unsafe request invalidated here, the primary passes on.
    onCacheInvalidated: (keys) => process.send?.({ keyless: 'invalidated', keys } satisfies InvalidationMessage),
    // One set of rate-limit counters for the whole edge, held by the primary.
    rateLimitStore: new SharedRateLimitStore(log.child({ worker: index }), process.send?.bind(process), process),
  });
  process.on('message', (message: InvalidationMessage) => {
    if (message?.keyless === 'invalidate') void edge.invalidateCacheKeys(message.keys);
  });
  serveWorkerRequests(async (request) => {
    switch (request.op) {
      case 'readiness':
        return edge.readiness();
      case 'metrics':
        return edge.metricsJson();
      case 'purge':
        return edge.purge(request.request);
      case 'reload':
        return edge.reload();
    }
  });
  const stop = async (): Promise<void> => {
    await edge.stop();
    process.exit(0);
  };
  // The primary coordinates: Ctrl-C reaches the whole process group, and the primary stops the workers.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => void stop());
  process.on('disconnect', () => void stop());
  process.send?.({ keyless: 'ready', port: edge.port });
}

// Health and metrics for operators, on a listener of its own (never the gRPC port):
// /healthz (the process answers), /readyz (it can sign: keys loaded, audit log writable,
// gRPC listening), /metrics (Prometheus).
import Fastify from 'fastify';
import type { Logger } from 'pino';
import { parseHostPort } from '../common/config-file.js';
import type { KeyServerMetrics } from './metrics.js';

export interface ObservabilityServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startObservability(opts: {
  listen: string;
  metrics: KeyServerMetrics;
  ready: () => { ready: boolean; checks: Record<string, string> };
  log: Logger;
}): Promise<ObservabilityServer> {
  const app = Fastify({ logger: false });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const { ready, checks } = opts.ready();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
  });
  app.get('/metrics', async (_req, reply) => {
    const body = await opts.metrics.registry.metrics();
    return reply.header('content-type', opts.metrics.registry.contentType).send(body);
  });
  const { host, port } = parseHostPort(opts.listen)!;
  await app.listen({ host, port });
  const address = app.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => app.close(),
  };
}

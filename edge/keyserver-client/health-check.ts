// The standard grpc.health.v1 Check call, on the same channel the signatures use, so a passing
// check means this very connection (TLS identity included) works.
import type * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { KEY_SERVICE_NAME } from '../../proto/load.js';

export type HealthResult =
  | { readonly serving: true }
  | { readonly serving: false; readonly reason: string };

interface HealthCheckResponse {
  status: 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
}

const check = healthService.Check!;

/** Asks the key server whether its key service is SERVING. Never rejects. */
export function checkKeyServiceHealth(client: grpc.Client, timeoutMs: number): Promise<HealthResult> {
  return new Promise((resolve) => {
    try {
      client.makeUnaryRequest(
        check.path,
        check.requestSerialize,
        check.responseDeserialize,
        { service: KEY_SERVICE_NAME },
        { deadline: Date.now() + timeoutMs },
        (err: grpc.ServiceError | null, response?: unknown) => {
          if (err) return resolve({ serving: false, reason: `health check failed: ${err.details || err.message}` });
          const status = (response as HealthCheckResponse | undefined)?.status ?? 'UNKNOWN';
          resolve(status === 'SERVING' ? { serving: true } : { serving: false, reason: `health status ${status}` });
        },
      );
    } catch (err) {
      // A closed channel throws synchronously.
      resolve({ serving: false, reason: (err as Error).message });
    }
  });
}

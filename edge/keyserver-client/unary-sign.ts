// One sign operation as one unary Sign call. The pool uses SignStream by default; this path is
// for key servers or proxies that only pass unary calls, and for the benchmark that compares the
// two. Answers mean the same as on a stream: a refusal is a SignResponse with its error code.
import * as grpc from '@grpc/grpc-js';
import type { SignResponseMessage } from '../../proto/load.js';
import { keyServiceDefinition } from '../../proto/load.js';
import type { Cancellation } from './cancellation.js';
import { statusError } from './errors.js';
import type { OutgoingSignRequest } from './sign-stream.js';

export class UnarySignClient {
  private active = 0;

  constructor(
    private readonly client: grpc.Client,
    /** Label for errors ("host:port"). */
    private readonly server: string,
  ) {}

  /** Calls sent and not yet answered. */
  get inFlight(): number {
    return this.active;
  }

  /**
   * Resolves with the key server's answer (which may be a refusal); rejects with a SignerError
   * for a failed call (SIGNER_UNAVAILABLE when it may not have reached the key server) and with
   * the cancellation's reason when the operation is cancelled first.
   */
  sign(request: OutgoingSignRequest, deadlineAt: number, cancellation: Cancellation): Promise<SignResponseMessage> {
    if (cancellation.aborted) return Promise.reject(cancellation.reason);
    const method = keyServiceDefinition().Sign!;
    const remainingMs = deadlineAt - performance.now();
    // The gRPC deadline is wall-clock; deadline_ms stays 0 (unary calls carry the gRPC deadline).
    const deadline = Date.now() + Math.max(1, Math.ceil(remainingMs));
    this.active++;
    return new Promise<SignResponseMessage>((resolve, reject) => {
      let settled = false;
      const onAbort = (): void => {
        if (settled) return;
        settled = true;
        this.active--;
        call.cancel();
        reject(cancellation.reason);
      };
      const call = this.client.makeUnaryRequest(
        method.path,
        method.requestSerialize as (value: object) => Buffer,
        method.responseDeserialize as (bytes: Buffer) => SignResponseMessage,
        { ...request, deadline_ms: 0 },
        { deadline },
        (err: grpc.ServiceError | null, response?: SignResponseMessage) => {
          cancellation.unlisten(onAbort);
          if (settled) return;
          settled = true;
          this.active--;
          if (err) reject(statusError(this.server, err));
          else resolve(response!);
        },
      );
      cancellation.listen(onAbort);
    });
  }
}

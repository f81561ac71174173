// A key-service client for tests that need more control than RawKeyServerClient gives: a unary
// call that can be cancelled, and a SignStream kept open across several batches, both on one
// channel (one connection).
import * as grpc from '@grpc/grpc-js';
import type { SignBatchMessage, SignRequestMessage, SignResponseMessage, SignResultBatchMessage } from '../../../proto/load.js';
import { keyServiceDefinition } from '../../../proto/load.js';
import type { PartialSignRequest } from '../../helpers/raw-keyserver-client.js';

export interface ClientCredentials {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

const complete = (r: PartialSignRequest): SignRequestMessage => ({ request_id: '', sni: '', client_ip: '', deadline_ms: 0, ...r }) as SignRequestMessage;

export interface UnarySign {
  readonly result: Promise<SignResponseMessage>;
  cancel(): void;
}

/** A SignStream left open: write batches, read results as they come, cancel or end it. */
export class OpenSignStream {
  readonly results: SignResponseMessage[] = [];
  readonly ended: Promise<void>;
  private waiters: Array<() => void> = [];

  constructor(private readonly call: grpc.ClientDuplexStream<SignBatchMessage, SignResultBatchMessage>) {
    call.on('data', (batch: SignResultBatchMessage) => {
      this.results.push(...batch.results);
      for (const w of this.waiters.splice(0)) w();
    });
    this.ended = new Promise((resolve, reject) => {
      call.on('end', () => resolve());
      call.on('error', (err) => reject(err));
    });
    this.ended.catch(() => undefined);
  }

  write(requests: PartialSignRequest[]): void {
    this.call.write({ requests: requests.map(complete) });
  }

  /** Waits until a result for each of these request ids has arrived. */
  async resultsFor(requestIds: readonly string[], timeoutMs = 20_000): Promise<SignResponseMessage[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const byId = new Map(this.results.map((r) => [r.request_id, r]));
      if (requestIds.every((id) => byId.has(id))) return requestIds.map((id) => byId.get(id)!);
      if (Date.now() > deadline) throw new Error(`results for ${requestIds.join(', ')} did not arrive within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  cancel(): void {
    this.call.cancel();
  }

  end(): void {
    this.call.end();
  }
}

export class KeyServiceClient {
  private readonly client: grpc.Client;
  private readonly def = keyServiceDefinition();

  constructor(address: string, creds: ClientCredentials) {
    this.client = new grpc.Client(address, grpc.credentials.createSsl(creds.ca, creds.key, creds.cert), {
      'grpc.ssl_target_name_override': 'localhost',
      'grpc.default_authority': 'localhost',
    });
  }

  sign(req: PartialSignRequest, deadlineMs: number): UnarySign {
    const m = this.def.Sign!;
    let call: grpc.ClientUnaryCall | undefined;
    const result = new Promise<SignResponseMessage>((resolve, reject) => {
      call = this.client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, complete(req), { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res?: unknown) =>
        err ? reject(err) : resolve(res as SignResponseMessage),
      );
    });
    result.catch(() => undefined);
    return { result, cancel: () => call!.cancel() };
  }

  listKeys(): Promise<unknown> {
    const m = this.def.ListKeys!;
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, {}, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, res?: unknown) =>
        err ? reject(err) : resolve(res),
      );
    });
  }

  openStream(): OpenSignStream {
    const m = this.def.SignStream!;
    return new OpenSignStream(this.client.makeBidiStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, {}) as grpc.ClientDuplexStream<SignBatchMessage, SignResultBatchMessage>);
  }

  close(): void {
    this.client.close();
  }
}

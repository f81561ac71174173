// A plain gRPC client for the key service, for tests that need to send exactly what they want
// (malformed requests, no client certificate, a certificate from another CA).
import * as grpc from '@grpc/grpc-js';
import type {
  ListKeysResponseMessage,
  SignBatchMessage,
  SignRequestMessage,
  SignResponseMessage,
  SignResultBatchMessage,
} from '../../proto/load.js';
import { keyServiceDefinition } from '../../proto/load.js';

export interface RawClientOptions {
  address: string;
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export type PartialSignRequest = Partial<SignRequestMessage> & Pick<SignRequestMessage, 'key_id' | 'scheme'>;

export class RawKeyServerClient {
  private readonly client: grpc.Client;
  private readonly def = keyServiceDefinition();

  constructor(opts: RawClientOptions) {
    const creds = grpc.credentials.createSsl(opts.ca, opts.key ?? null, opts.cert ?? null);
    this.client = new grpc.Client(opts.address, creds, { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' });
  }

  sign(req: PartialSignRequest, deadlineMs = 5_000): Promise<SignResponseMessage> {
    const m = this.def.Sign!;
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        { request_id: '', sni: '', client_ip: '', deadline_ms: 0, ...req },
        { deadline: Date.now() + deadlineMs },
        (err: grpc.ServiceError | null, res?: unknown) => (err ? reject(err) : resolve(res as SignResponseMessage)),
      );
    });
  }

  listKeys(): Promise<ListKeysResponseMessage> {
    const m = this.def.ListKeys!;
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, {}, { deadline: Date.now() + 5_000 }, (err: grpc.ServiceError | null, res?: unknown) =>
        err ? reject(err) : resolve(res as ListKeysResponseMessage),
      );
    });
  }

  /** Sends the batches over one SignStream and collects every result until the server ends the stream. */
  signStream(batches: PartialSignRequest[][]): Promise<SignResponseMessage[]> {
    const m = this.def.SignStream!;
    const call = this.client.makeBidiStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, {});
    const results: SignResponseMessage[] = [];
    return new Promise((resolve, reject) => {
      call.on('data', (batch: SignResultBatchMessage) => results.push(...batch.results));
      call.on('error', reject);
      call.on('end', () => resolve(results));
      for (const requests of batches) {
        const message: SignBatchMessage = { requests: requests.map((r) => ({ request_id: '', sni: '', client_ip: '', deadline_ms: 0, ...r })) };
        call.write(message);
      }
      call.end();
    });
  }

  close(): void {
    this.client.close();
  }
}

// Between the edge's structured SigningInput and the wire: the SignRequest the key server gets,
// and the exact bytes it will sign (to check its answer locally).
import type { SignatureScheme } from '../../common/signature-scheme.js';
import { tls12ServerKeyExchangeSignedContent, tls13ServerSignedContent } from '../../common/signed-content.js';
import type { SigningContext, SigningInput } from '../signer.js';
import type { OutgoingSignRequest } from './sign-stream.js';

/** One sign operation as the pool takes it. */
export interface SignOperation {
  readonly keyId: string;
  readonly scheme: SignatureScheme;
  readonly input: SigningInput;
  readonly context: SigningContext;
}

/** The key server caps request ids at 128 characters; the edge's own id keeps the front. */
const MAX_REQUEST_ID = 128;

/**
 * The SignRequest for an operation. Its request_id must be unique on the stream (answers are
 * matched by it): the edge's request id plus a per-attempt suffix, so the audit log still shows
 * the edge's id and a retry on another key server is recognisably the same operation.
 */
export function toSignRequest(op: SignOperation, attemptSuffix: string): OutgoingSignRequest {
  const suffix = `/${attemptSuffix}`;
  const base = {
    request_id: op.context.requestId.slice(0, MAX_REQUEST_ID - suffix.length) + suffix,
    key_id: op.keyId,
    scheme: op.scheme,
    sni: op.context.sni,
    client_ip: op.context.clientIp,
  };
  switch (op.input.kind) {
    case 'tls13-server-certificate-verify':
      return { ...base, input: 'tls13_certificate_verify', tls13_certificate_verify: { transcript_hash: op.input.transcriptHash } };
    case 'tls12-server-key-exchange':
      return {
        ...base,
        input: 'tls12_server_key_exchange',
        tls12_server_key_exchange: {
          client_random: op.input.clientRandom,
          server_random: op.input.serverRandom,
          params: op.input.params,
        },
      };
  }
}

/** The bytes the key server signs for this input (RFC 8446 §4.4.3; RFC 5246 §7.4.3 with RFC 8422 §5.4). */
export function signedMessage(input: SigningInput): Buffer {
  switch (input.kind) {
    case 'tls13-server-certificate-verify':
      return tls13ServerSignedContent(input.transcriptHash);
    case 'tls12-server-key-exchange':
      return tls12ServerKeyExchangeSignedContent(input.clientRandom, input.serverRandom, input.params);
  }
}

// How failures of the key-server client become SignerErrors. Only SIGNER_UNAVAILABLE means
// "the request may not have reached a key server" and is worth retrying elsewhere; an answer from
// a key server is final.
import * as grpc from '@grpc/grpc-js';
import type { SignResponseMessage } from '../../proto/load.js';
import { SignerError } from '../signer.js';

/** A key server's refusal. Its deadline and cancellation answers keep their own codes. */
export function refusalError(server: string, response: SignResponseMessage): SignerError {
  const message = `key server ${server} answered ${response.error}${response.message ? `: ${response.message}` : ''}`;
  if (response.error === 'DEADLINE_EXCEEDED') return new SignerError('SIGNER_DEADLINE', message, response.error);
  if (response.error === 'CANCELLED') return new SignerError('SIGNER_ABORTED', message, response.error);
  return new SignerError('SIGNER_REFUSED', message, response.error);
}

/** A failed unary call (ListKeys). */
export function statusError(server: string, err: grpc.ServiceError): SignerError {
  const name = grpc.status[err.code] ?? String(err.code);
  const message = `key server ${server}: ${name}: ${err.details || err.message}`;
  switch (err.code) {
    case grpc.status.UNAVAILABLE:
      return new SignerError('SIGNER_UNAVAILABLE', message);
    case grpc.status.DEADLINE_EXCEEDED:
      return new SignerError('SIGNER_DEADLINE', message);
    case grpc.status.CANCELLED:
      return new SignerError('SIGNER_ABORTED', message);
    default:
      return new SignerError('SIGNER_REFUSED', message, name);
  }
}

/** The error for a caller's AbortSignal: a timeout signal (AbortSignal.timeout) is a deadline. */
export function callerAbortError(reason: unknown): SignerError {
  if (reason instanceof SignerError) return reason;
  if (reason instanceof DOMException && reason.name === 'TimeoutError') return new SignerError('SIGNER_DEADLINE', 'the deadline of the caller passed');
  return new SignerError('SIGNER_ABORTED', 'the caller aborted the signature');
}

export function asSignerError(err: unknown): SignerError {
  if (err instanceof SignerError) return err;
  return new SignerError('SIGNER_UNAVAILABLE', `key server client failed: ${(err as Error)?.message ?? String(err)}`);
}

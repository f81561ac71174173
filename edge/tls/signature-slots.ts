// The server-wide bound on remote signatures pending at once. A handshake takes a slot before it
// sends anything and gives it back when its signature is done; when every slot is taken, new
// handshakes are refused at once with internal_error (code TLS_ERR_SIGNING_OVERLOADED) instead of
// queueing behind a slow or unreachable key server without bound.
import { localFailure } from './errors.js';

export class SignatureSlots {
  #pending = 0;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('the pending-signature limit must be a positive integer');
  }

  get pending(): number {
    return this.#pending;
  }

  /** Takes a slot or throws TlsError; the returned release is idempotent. */
  reserve(): () => void {
    if (this.#pending >= this.limit) {
      throw localFailure(`${this.limit} remote signatures are already pending; handshake refused`, 'TLS_ERR_SIGNING_OVERLOADED');
    }
    this.#pending++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#pending--;
    };
  }
}

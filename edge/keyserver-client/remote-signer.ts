// A Signer (edge/signer.ts) whose key lives on the key servers: the TLS stack calls it like any
// other signer and never learns about streams, retries or deadlines.
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { SignatureScheme } from '../../common/signature-scheme.js';
import type { Signer, SigningContext, SigningInput } from '../signer.js';
import type { KeyInfo, KeyServerPool } from './key-server-pool.js';

export interface RemoteSignerOptions {
  /**
   * The public key of the certificate served with this key. It must hash to the key id. With it,
   * each signature can be checked before it goes to a client.
   */
  readonly publicKey?: KeyObject;
  /**
   * Check each signature with `publicKey`. Default: on for RSA keys, where verifying costs about a
   * tenth of signing (~30 µs for RSA-2048), off for ECDSA and Ed25519, where it costs more than
   * the key server's signature (P-256 ~80 µs, P-384 ~600 µs, Ed25519 ~110 µs on the dev machine).
   */
  readonly verify?: boolean;
  /** Overrides the pool's deadline for this key's operations. */
  readonly deadlineMs?: number;
}

export class RemoteSigner implements Signer {
  readonly keyId: string;
  #schemes: readonly SignatureScheme[];
  private readonly verifyWith: KeyObject | undefined;

  constructor(
    private readonly pool: Pick<KeyServerPool, 'sign'>,
    info: KeyInfo,
    private readonly options: RemoteSignerOptions,
  ) {
    this.keyId = info.keyId;
    this.#schemes = info.schemes;
    const { publicKey } = options;
    if (publicKey) {
      const spkiHash = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
      if (spkiHash !== info.keyId) throw new Error(`the public key given for ${info.keyId} has a different key id (${spkiHash})`);
    }
    const rsa = publicKey?.asymmetricKeyType === 'rsa' || publicKey?.asymmetricKeyType === 'rsa-pss';
    this.verifyWith = (options.verify ?? rsa) ? publicKey : undefined;
    if (options.verify === true && !publicKey) throw new Error('verify: true needs the certificate\'s publicKey');
  }

  /** The schemes offered in handshakes: what the key can sign, as the key servers last listed it. */
  get schemes(): readonly SignatureScheme[] {
    return this.#schemes;
  }

  /** A refreshed ListKeys narrowed (or widened) what the key can sign; new handshakes use it. */
  updateSchemes(schemes: readonly SignatureScheme[]): void {
    this.#schemes = schemes;
  }

  sign(scheme: SignatureScheme, input: SigningInput, context: SigningContext, signal: AbortSignal): Promise<Buffer> {
    return this.pool.sign(
      { keyId: this.keyId, scheme, input, context },
      {
        signal,
        ...(this.options.deadlineMs !== undefined ? { deadlineMs: this.options.deadlineMs } : {}),
        ...(this.verifyWith ? { verifyWith: this.verifyWith } : {}),
      },
    );
  }
}

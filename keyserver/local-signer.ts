// The edge's Signer interface over a key store in this process: signs exactly the bytes the key
// server would build (signing-input.ts), without gRPC, policy or audit. For tests and benchmarks
// of the TLS layer alone; the edge itself only ever signs through the key servers.
import type { SignatureScheme } from '../common/signature-scheme.js';
import type { Signer, SigningContext, SigningInput } from '../edge/signer.js';
import type { KeyStore } from './keystore/key-store.js';
import { tls12ServerKeyExchangeInput, tls13ServerCertificateVerifyInput } from './signing-input.js';

/** One Signer per key of the store, by key id. */
export function localSigners(store: KeyStore): Map<string, Signer> {
  const signers = new Map<string, Signer>();
  for (const key of store.list()) {
    signers.set(key.keyId, {
      keyId: key.keyId,
      schemes: key.schemes,
      async sign(scheme: SignatureScheme, input: SigningInput, _context: SigningContext, signal: AbortSignal): Promise<Buffer> {
        signal.throwIfAborted();
        const message =
          input.kind === 'tls13-server-certificate-verify'
            ? tls13ServerCertificateVerifyInput(input.transcriptHash)
            : tls12ServerKeyExchangeInput(input.clientRandom, input.serverRandom, input.params);
        return key.sign(scheme, message);
      },
    });
  }
  return signers;
}

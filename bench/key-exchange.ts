// Ephemeral key exchange per handshake (generate our key pair, export it in TLS form, import the
// peer's share, derive): edge/tls/crypto/key-exchange.ts against the other ways node:crypto offers,
// to justify the choice made there. Each figure is the best of 5 passes, in µs per handshake.
// Run: node bin/keyless.js bench key-exchange  (or: npx tsx bench/key-exchange.ts)
//
// Not measured because it hangs: exporting a generateKeyPairSync KeyObject as JWK (EC or OKP)
// in a loop deadlocks Node 20.20 within a few thousand iterations (ExportJWK holds the key's
// mutex while allocating; the GC then destroys a KeyGenJob, whose destructor takes that mutex).
import { createECDH, createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { NamedGroup } from '../edge/tls/enums.js';
import { generateKeyShare, type SupportedGroup } from '../edge/tls/crypto/key-exchange.js';

const ROUNDS = 5;
const ITERATIONS = 2000;

function microsPerOp(iterations: number, op: () => void): number {
  for (let i = 0; i < 100; i++) op();
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) op();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e3 / iterations);
  }
  return best;
}

const peerShare = (group: SupportedGroup) => generateKeyShare(group).publicKey;

// SPKI prefixes that turn a TLS-form public key into DER for createPublicKey.
const SPKI_PREFIX = {
  x25519: Buffer.from('302a300506032b656e032100', 'hex'),
  p256: Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'),
  p384: Buffer.from('3076301006072a8648ce3d020106052b81040022036200', 'hex'),
};

export async function run(_args: string[]): Promise<number> {
  const rows: [string, number][] = [];
  for (const [name, group, curve, prefix, iterations] of [
    ['x25519', NamedGroup.x25519, null, SPKI_PREFIX.x25519, ITERATIONS],
    ['secp256r1', NamedGroup.secp256r1, 'prime256v1', SPKI_PREFIX.p256, ITERATIONS],
    ['secp384r1', NamedGroup.secp384r1, 'secp384r1', SPKI_PREFIX.p384, ITERATIONS / 4],
  ] as const) {
    const peer = peerShare(group);
    rows.push([`${name}: key-exchange.ts (chosen)`, microsPerOp(iterations, () => generateKeyShare(group).deriveSharedSecret(peer))]);
    if (curve) {
      rows.push([
        `${name}: createECDH`,
        microsPerOp(iterations, () => {
          const ecdh = createECDH(curve);
          ecdh.generateKeys();
          ecdh.computeSecret(peer);
        }),
      ]);
    }
    rows.push([
      `${name}: KeyObjects, SPKI DER export/import`,
      microsPerOp(iterations, () => {
        const { privateKey } = curve ? generateKeyPairSync('ec', { namedCurve: curve }) : generateKeyPairSync('x25519');
        const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
        void spki.subarray(prefix.length);
        const peerKey = createPublicKey({ key: Buffer.concat([prefix, peer]), format: 'der', type: 'spki' });
        diffieHellman({ privateKey, publicKey: peerKey });
      }),
    ]);
  }
  for (const [name, micros] of rows) console.log(`${name.padEnd(45)} ${micros.toFixed(1).padStart(8)} µs/handshake`);
  return 0;
}

// Still runs as a script: npx tsx bench/key-exchange.ts
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = await run(process.argv.slice(2));

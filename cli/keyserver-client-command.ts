// `keyless keyserver-client list-keys|sign`: talks to a key server as an edge does, with the edge's
// own client (KeyServerPool) and an edge's client certificate. For operators: is the key server
// up, which keys may this edge use, does a signature go through and verify, and does it show up in
// the audit log. The signature itself is never printed; only its size and whether it verified.
import { X509Certificate, randomBytes, randomUUID } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { spkiSha256Hex } from '../common/key-id.js';
import { schemeByName, schemeInfo, schemeName } from '../common/signature-scheme.js';
import type { SignatureScheme } from '../common/signature-scheme.js';
import { KeyServerPool } from '../edge/keyserver-client/index.js';
import type { KeyInfo } from '../edge/keyserver-client/index.js';
import { SignerError } from '../edge/signer.js';
import type { Command } from './command.js';
import { UsageError } from './command.js';

const DEFAULT_SERVER = '127.0.0.1:2407';

const help = `usage: keyless keyserver-client list-keys [connection options] [--json]
       keyless keyserver-client sign (--site NAME | --key-id HEX) [--scheme NAME] [connection options] [sign options]

Talks to a key server as an edge: mutual TLS with an edge client certificate, the edge's own
key-server client. The key server audits every call.

list-keys   the keys this edge may use: id, algorithm, schemes, hostnames, operations
sign        one TLS 1.3 CertificateVerify signature over a random transcript hash (or the given
            one), checked against the key's certificate when it is known; prints the request id
            to look for in the audit log. The signature itself is not printed.

connection options:
  --server HOST:PORT     the key server (default ${DEFAULT_SERVER})
  --pki DIR              a dev PKI (keyless certs): takes the CA and the client credential from it
  --edge NAME            which edge of the dev PKI to be (default edge-1)
  --ca FILE              CA the key server's certificate chains to (instead of --pki)
  --cert FILE --key FILE the edge's client certificate and key (instead of --pki)
  --server-name NAME     name to check the key server's certificate against (default localhost)
  --timeout MS           deadline of the call (default 5000)

sign options:
  --site NAME            a site of the dev PKI (site-ecdsa-p256, site-ecdsa-p384, site-rsa-2048, site-rsa-pss)
  --key-id HEX           or the key's id (SHA-256 of its SubjectPublicKeyInfo)
  --scheme NAME          e.g. ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256 (default: the key's first TLS 1.3 scheme)
  --chain FILE           certificate of the key, to verify the signature (found in --pki DIR/edge/sites/ otherwise)
  --transcript-hash HEX  32, 48 or 64 bytes (default random)
  --sni NAME             recorded in the audit log (default localhost)
  --client-ip IP         recorded in the audit log (default 127.0.0.1)
  --transport T          sign-stream (default) or unary
  --json                 the result as JSON`;

interface Connection {
  readonly server: string;
  readonly serverName: string;
  readonly ca: Buffer;
  readonly clientCert: Buffer;
  readonly clientKey: Buffer;
  readonly timeoutMs: number;
  /** The dev PKI directory, when given: where site chains are looked up. */
  readonly pki: string | undefined;
}

const CONNECTION_OPTIONS = {
  server: { type: 'string' },
  pki: { type: 'string' },
  edge: { type: 'string' },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  'server-name': { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const SIGN_OPTIONS = {
  ...CONNECTION_OPTIONS,
  site: { type: 'string' },
  'key-id': { type: 'string' },
  scheme: { type: 'string' },
  chain: { type: 'string' },
  'transcript-hash': { type: 'string' },
  sni: { type: 'string' },
  'client-ip': { type: 'string' },
  transport: { type: 'string' },
} as const;

/** parseArgs reports bad flags by throwing; they are usage errors. */
function asUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

async function readInput(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

async function connection(values: Record<string, string | boolean | undefined>): Promise<Connection> {
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const pki = str('pki');
  const edge = str('edge') ?? 'edge-1';
  if (!/^[a-z0-9-]+$/.test(edge)) throw new UsageError('--edge names an edge of the dev PKI, e.g. edge-1');
  const caFile = str('ca') ?? (pki !== undefined ? path.join(pki, 'edge', 'ca.crt') : undefined);
  const certFile = str('cert') ?? (pki !== undefined ? path.join(pki, 'edge', edge, 'client.crt') : undefined);
  const keyFile = str('key') ?? (pki !== undefined ? path.join(pki, 'edge', edge, 'client.key') : undefined);
  if (!caFile || !certFile || !keyFile) throw new UsageError('give --pki DIR, or --ca, --cert and --key');
  const timeoutMs = Number(str('timeout') ?? 5_000);
  if (!(timeoutMs > 0)) throw new UsageError('--timeout needs a positive number of milliseconds');
  return {
    server: str('server') ?? DEFAULT_SERVER,
    serverName: str('server-name') ?? 'localhost',
    ca: await readInput(caFile, 'CA'),
    clientCert: await readInput(certFile, 'client certificate'),
    clientKey: await readInput(keyFile, 'client key'),
    timeoutMs,
    pki,
  };
}

function openPool(c: Connection, transport: 'sign-stream' | 'unary' = 'sign-stream'): KeyServerPool {
  return new KeyServerPool({
    servers: [{ address: c.server, serverName: c.serverName }],
    ca: c.ca,
    clientCert: c.clientCert,
    clientKey: c.clientKey,
    deadlineMs: c.timeoutMs,
    healthCheckIntervalMs: 60_000,
    transport,
  });
}

async function listKeys(args: string[]): Promise<number> {
  const { values } = asUsage(() => parseArgs({ args, options: CONNECTION_OPTIONS, strict: true, allowPositionals: false }));
  const c = await connection(values);
  const pool = openPool(c);
  try {
    const keys = await pool.listKeys({ deadlineMs: c.timeoutMs });
    if (values.json) {
      process.stdout.write(`${JSON.stringify(keys.map((k) => ({ ...k, schemes: k.schemes.map(schemeName) })), null, 2)}\n`);
      return 0;
    }
    const lines = [`${keys.length} keys this edge may use on ${c.server}:`];
    for (const k of keys) {
      lines.push(
        `${k.keyId}  ${k.algorithm}`,
        `    schemes     ${k.schemes.map(schemeName).join(', ')}`,
        `    hostnames   ${k.hostnames.join(', ') || '(no certificate on the key server)'}`,
        `    operations  ${k.operations.join(', ')}`,
      );
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    pool.close();
  }
}

/** The certificate for `keyId` among the dev PKI's site chains, if there is one. */
async function findChain(pki: string | undefined, keyId: string): Promise<string | undefined> {
  if (pki === undefined) return undefined;
  const dir = path.join(pki, 'edge', 'sites');
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.endsWith('.chain.pem'))) {
    const file = path.join(dir, name);
    if (spkiSha256Hex(new X509Certificate(await readFile(file))) === keyId) return file;
  }
  return undefined;
}

function chooseScheme(requested: string | undefined, key: KeyInfo | undefined): SignatureScheme {
  if (requested !== undefined) {
    const info = schemeByName(requested);
    if (!info) throw new UsageError(`--scheme: unknown SignatureScheme '${requested}'`);
    return info.code;
  }
  const scheme = key?.schemes.find((s) => schemeInfo(s)?.allowedInTls13);
  if (scheme === undefined) throw new UsageError('--scheme is needed: the key server did not list a TLS 1.3 scheme for this key');
  return scheme;
}

async function sign(args: string[]): Promise<number> {
  const { values } = asUsage(() => parseArgs({ args, options: SIGN_OPTIONS, strict: true, allowPositionals: false }));
  const transport = values.transport ?? 'sign-stream';
  if (transport !== 'sign-stream' && transport !== 'unary') throw new UsageError('--transport is sign-stream or unary');
  const c = await connection(values);
  let keyId = values['key-id'];
  const site = values.site;
  if ((keyId === undefined) === (site === undefined)) throw new UsageError('give --site NAME or --key-id HEX');
  let chainFile = values.chain;
  if (site !== undefined) {
    if (c.pki === undefined || !/^[a-z0-9-]+$/.test(site)) throw new UsageError('--site needs --pki DIR and a site name such as site-ecdsa-p256');
    chainFile ??= path.join(c.pki, 'edge', 'sites', `${site}.chain.pem`);
    keyId = spkiSha256Hex(new X509Certificate(await readInput(chainFile, 'site chain')));
  }
  if (!/^[0-9a-f]{64}$/.test(keyId!)) throw new UsageError('--key-id is 64 lowercase hex characters');
  chainFile ??= await findChain(c.pki, keyId!);
  const publicKey = chainFile ? new X509Certificate(await readInput(chainFile, 'certificate')).publicKey : undefined;
  const transcriptHash = values['transcript-hash'] !== undefined ? Buffer.from(values['transcript-hash'], 'hex') : randomBytes(32);
  if (![32, 48, 64].includes(transcriptHash.length)) throw new UsageError('--transcript-hash is 32, 48 or 64 bytes of hex');

  const pool = openPool(c, transport);
  try {
    const keys = values.scheme === undefined ? await pool.listKeys({ deadlineMs: c.timeoutMs }) : [];
    const scheme = chooseScheme(values.scheme, keys.find((k) => k.keyId === keyId));
    const requestId = `keyless-cli-${randomUUID()}`;
    const started = performance.now();
    let signature: Buffer;
    try {
      signature = await pool.sign(
        {
          keyId: keyId!,
          scheme,
          input: { kind: 'tls13-server-certificate-verify', transcriptHash },
          context: { sni: values.sni ?? 'localhost', clientIp: values['client-ip'] ?? '127.0.0.1', requestId },
        },
        { deadlineMs: c.timeoutMs, ...(publicKey ? { verifyWith: publicKey } : {}) },
      );
    } catch (err) {
      if (!(err instanceof SignerError)) throw err;
      const result = { ok: false, code: err.code, remoteCode: err.remoteCode ?? null, message: err.message, requestId };
      if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else process.stdout.write(`not signed: ${err.code}${err.remoteCode ? ` (${err.remoteCode})` : ''}: ${err.message}\n  request id  ${requestId}\n`);
      return 1;
    }
    const latencyMs = Math.round((performance.now() - started) * 100) / 100;
    const verified = publicKey !== undefined;
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ ok: true, keyId, scheme: schemeName(scheme), requestId, signatureBytes: signature.length, verified, latencyMs }, null, 2)}\n`);
      return 0;
    }
    process.stdout.write(
      [
        `signed: TLS 1.3 CertificateVerify with key ${keyId}${site ? ` (${site})` : ''}`,
        `  scheme      ${schemeName(scheme)}`,
        `  signature   ${signature.length} bytes, ${verified ? `verified with the certificate's public key (${chainFile})` : 'not verified (no certificate: give --chain FILE)'}`,
        // The client appends "/<attempt>" to the request id it sends (sign-request.ts).
        `  request id  ${requestId}  (the requestId of its audit line starts with this)`,
        `  latency     ${latencyMs} ms`,
        '',
      ].join('\n'),
    );
    return 0;
  } finally {
    pool.close();
  }
}

export const keyserverClientCommand: Command = {
  name: 'keyserver-client',
  summary: 'talk to a key server as an edge: list the keys it lets this edge use, sign once',
  help,
  async run(args: string[]): Promise<number> {
    const [sub, ...rest] = args;
    if (sub === 'list-keys') return listKeys(rest);
    if (sub === 'sign') return sign(rest);
    throw new UsageError(sub === undefined ? 'name a subcommand: list-keys or sign' : `unknown subcommand '${sub}'`);
  },
};

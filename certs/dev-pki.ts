// The development PKI: one root CA and every certificate the demo needs, written in the layout the
// key server, the edge and the demo origin are configured with. The layout is the point of this
// module: private keys sit only where their owner runs (site keys under keyserver/, never under
// edge/), and every key file is created 0600 inside a 0700 directory.
//
// <dir>/ca.crt                          dev root CA (ECDSA P-256), CN "Keyless Dev Root CA"
// <dir>/ca/ca.key                       its key
// Certificates are written alone (the CA is their direct issuer); only edge/sites/ holds chains.
//
// <dir>/keyserver/server.crt, .key      key server gRPC certificate (localhost, 127.0.0.1)
// <dir>/keyserver/edge-ca.crt           CA of the edge client certificates
// <dir>/keyserver/keys/<site>.key, .crt site keys (PKCS#8) with their certificates
// <dir>/edge/ca.crt                     CA to verify the key server and the origin
// <dir>/edge/sites/<site>.chain.pem     site chains (leaf, then CA): no private keys
// <dir>/edge/<edge>/client.crt, .key    edge client credential, SAN URI spiffe://keyless/edge/<edge>
// <dir>/origin/server.crt, .key         demo origin (localhost, origin.demo.localhost, 127.0.0.1)
// <dir>/origin/ca.crt, edge-pull-ca.crt CA copies: general trust, and authenticated origin pulls
import { access, chmod, mkdir, open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { spkiSha256Hex } from '../common/key-id.js';
import { CertsError } from './errors.js';
import { createCa, issueCert } from './issue.js';
import type { CertIssuer, IssuedCert } from './issue.js';
import type { LeafKeyAlgorithm } from './key-pair.js';

export const DEV_CA_COMMON_NAME = 'Keyless Dev Root CA';

/** The site keys of the dev PKI, one per kind of key the key server handles. */
export const DEV_SITES = [
  { name: 'site-ecdsa-p256', keyAlgorithm: 'ec-p256' },
  { name: 'site-ecdsa-p384', keyAlgorithm: 'ec-p384' },
  { name: 'site-rsa-2048', keyAlgorithm: 'rsa-2048' },
  { name: 'site-rsa-pss', keyAlgorithm: 'rsa-pss-2048' },
] as const satisfies readonly { name: string; keyAlgorithm: LeafKeyAlgorithm }[];
export type DevSiteName = (typeof DEV_SITES)[number]['name'];

/** Names every site certificate carries. */
export const DEV_SITE_DNS_NAMES: readonly string[] = ['localhost', '*.demo.localhost'];
export const DEV_SITE_IP_ADDRESSES: readonly string[] = ['127.0.0.1'];

export const DEV_EDGES = ['edge-1', 'edge-2'] as const;
export type DevEdgeName = (typeof DEV_EDGES)[number];

/** The identity the key server's policy names an edge by: the URI in its client certificate. */
export function devEdgeIdentity(edge: DevEdgeName): string {
  return `spiffe://keyless/edge/${edge}`;
}

export interface DevPkiSite {
  readonly name: DevSiteName;
  readonly keyAlgorithm: LeafKeyAlgorithm;
  /** Hex SHA-256 of the site key's SPKI: the id the edge asks the key server to sign with. */
  readonly keyId: string;
  /** Private key, under keyserver/keys/. */
  readonly key: string;
  /** Certificate beside the key, under keyserver/keys/. */
  readonly cert: string;
  /** Chain for the edge, under edge/sites/. */
  readonly chain: string;
}

export interface DevPkiEdgeClient {
  readonly name: DevEdgeName;
  readonly identity: string;
  readonly cert: string;
  readonly key: string;
}

export interface DevPkiLayout {
  readonly dir: string;
  /** False when an existing PKI was kept as it was. */
  readonly created: boolean;
  readonly readme: string;
  readonly ca: { readonly cert: string; readonly key: string };
  readonly keyServer: { readonly cert: string; readonly key: string; readonly edgeCa: string; readonly keysDir: string };
  readonly sites: Readonly<Record<DevSiteName, DevPkiSite>>;
  readonly edge: { readonly ca: string; readonly sitesDir: string; readonly clients: Readonly<Record<DevEdgeName, DevPkiEdgeClient>> };
  readonly origin: { readonly cert: string; readonly key: string; readonly ca: string; readonly edgePullCa: string };
}

export interface GenerateDevPkiOptions {
  /** Regenerate every credential even if <dir>/ca.crt exists. */
  readonly force?: boolean;
}

const README = `These files are DEVELOPMENT credentials made by 'keyless certs'.
Every private key here is unencrypted and was generated on this machine for local testing.
Never use them in production, never trust ca.crt outside development, never commit them.

  ca.crt, ca/                 dev root CA (its key signs everything below)
  keyserver/                  key server: its gRPC certificate and the site private keys
  edge/                       edge: CA, site certificate chains (no site keys), client credentials
  origin/                     demo origin web server

Regenerate with: keyless certs --force
`;

/**
 * Writes the dev PKI under `dir`, or, when `<dir>/ca.crt` already exists and `force` is not set,
 * keeps the files there and only describes them (so `npm start` can call this every time).
 * ca.crt is written last, so its presence means a previous run completed.
 */
export async function generateDevPki(dir: string, opts: GenerateDevPkiOptions = {}): Promise<DevPkiLayout> {
  const root = path.resolve(dir);
  if (!opts.force && (await exists(path.join(root, 'ca.crt')))) return describeExisting(root);

  await mkdir(root, { recursive: true });
  await unlinkIfPresent(path.join(root, 'ca.crt'));
  const ca = await createCa({ commonName: DEV_CA_COMMON_NAME, keyAlgorithm: 'ec-p256' });
  // Key generation runs on the thread pool (RSA takes the longest), so issue everything at once.
  const [siteCerts, keyServerCert, edgeCerts, originCert] = await Promise.all([
    Promise.all(
      DEV_SITES.map((site) =>
        issueCert(ca, { commonName: site.name, keyAlgorithm: site.keyAlgorithm, dnsNames: DEV_SITE_DNS_NAMES, ipAddresses: DEV_SITE_IP_ADDRESSES, usage: 'server' }),
      ),
    ),
    issueCert(ca, { commonName: 'keyless key server', keyAlgorithm: 'ec-p256', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server' }),
    Promise.all(DEV_EDGES.map((edge) => issueCert(ca, { commonName: edge, keyAlgorithm: 'ec-p256', uris: [devEdgeIdentity(edge)], usage: 'client' }))),
    issueCert(ca, { commonName: 'demo origin', keyAlgorithm: 'ec-p256', dnsNames: ['localhost', 'origin.demo.localhost'], ipAddresses: ['127.0.0.1'], usage: 'server' }),
  ]);
  const layout = layoutOf(
    root,
    true,
    Object.fromEntries(DEV_SITES.map((site, i) => [site.name, siteCerts[i]!.keyId])) as Record<DevSiteName, string>,
  );

  await writeFileFresh(layout.readme, README, 0o644);

  await makeDir(path.dirname(layout.ca.key), 0o700);
  await writeFileFresh(layout.ca.key, ca.keyPem, 0o600);

  await makeDir(path.dirname(layout.keyServer.cert), 0o755);
  await writeFileFresh(layout.keyServer.cert, keyServerCert.certPem, 0o644);
  await writeFileFresh(layout.keyServer.key, keyServerCert.keyPem, 0o600);
  await writeFileFresh(layout.keyServer.edgeCa, ca.certPem, 0o644);
  await makeDir(layout.keyServer.keysDir, 0o700);
  await makeDir(layout.edge.sitesDir, 0o755);
  for (const [i, site] of DEV_SITES.entries()) {
    const files = layout.sites[site.name];
    const issued = siteCerts[i]!;
    await writeFileFresh(files.key, issued.keyPem, 0o600);
    await writeFileFresh(files.cert, issued.certPem, 0o644);
    await writeFileFresh(files.chain, issued.chainPem, 0o644);
  }

  await writeFileFresh(layout.edge.ca, ca.certPem, 0o644);
  for (const [i, edge] of DEV_EDGES.entries()) {
    await writeClientCredential(layout.edge.clients[edge], edgeCerts[i]!);
  }

  await makeDir(path.dirname(layout.origin.cert), 0o755);
  await writeFileFresh(layout.origin.cert, originCert.certPem, 0o644);
  await writeFileFresh(layout.origin.key, originCert.keyPem, 0o600);
  await writeFileFresh(layout.origin.ca, ca.certPem, 0o644);
  await writeFileFresh(layout.origin.edgePullCa, ca.certPem, 0o644);

  await writeFileFresh(layout.ca.cert, ca.certPem, 0o644);
  return layout;
}

/** The dev root CA as an issuer, to make more certificates (another edge, an expired one) in tests. */
export async function loadDevCa(dir: string): Promise<CertIssuer> {
  const layout = layoutOf(path.resolve(dir), false, undefined);
  const [certPem, keyPem] = await Promise.all([readFile(layout.ca.cert, 'utf8'), readFile(layout.ca.key, 'utf8')]);
  return { certPem, keyPem };
}

async function describeExisting(root: string): Promise<DevPkiLayout> {
  const probe = layoutOf(root, false, undefined);
  for (const file of allFiles(probe)) {
    if (!(await exists(file))) throw new CertsError('CERTS_INCOMPLETE_PKI', `${file} is missing from the dev PKI in ${root}; run 'keyless certs --force' to regenerate it`);
  }
  const keyIds = {} as Record<DevSiteName, string>;
  for (const site of DEV_SITES) keyIds[site.name] = spkiSha256Hex(await readFile(probe.sites[site.name].cert, 'utf8'));
  return layoutOf(root, false, keyIds);
}

function layoutOf(root: string, created: boolean, keyIds: Record<DevSiteName, string> | undefined): DevPkiLayout {
  const at = (...parts: string[]): string => path.join(root, ...parts);
  const sites = {} as Record<DevSiteName, DevPkiSite>;
  for (const site of DEV_SITES) {
    sites[site.name] = {
      name: site.name,
      keyAlgorithm: site.keyAlgorithm,
      keyId: keyIds?.[site.name] ?? '',
      key: at('keyserver', 'keys', `${site.name}.key`),
      cert: at('keyserver', 'keys', `${site.name}.crt`),
      chain: at('edge', 'sites', `${site.name}.chain.pem`),
    };
  }
  const clients = {} as Record<DevEdgeName, DevPkiEdgeClient>;
  for (const edge of DEV_EDGES) {
    clients[edge] = { name: edge, identity: devEdgeIdentity(edge), cert: at('edge', edge, 'client.crt'), key: at('edge', edge, 'client.key') };
  }
  return {
    dir: root,
    created,
    readme: at('README.txt'),
    ca: { cert: at('ca.crt'), key: at('ca', 'ca.key') },
    keyServer: { cert: at('keyserver', 'server.crt'), key: at('keyserver', 'server.key'), edgeCa: at('keyserver', 'edge-ca.crt'), keysDir: at('keyserver', 'keys') },
    sites,
    edge: { ca: at('edge', 'ca.crt'), sitesDir: at('edge', 'sites'), clients },
    origin: { cert: at('origin', 'server.crt'), key: at('origin', 'server.key'), ca: at('origin', 'ca.crt'), edgePullCa: at('origin', 'edge-pull-ca.crt') },
  };
}

function allFiles(layout: DevPkiLayout): string[] {
  return [
    layout.ca.cert,
    layout.ca.key,
    layout.keyServer.cert,
    layout.keyServer.key,
    layout.keyServer.edgeCa,
    ...Object.values(layout.sites).flatMap((s) => [s.key, s.cert, s.chain]),
    layout.edge.ca,
    ...Object.values(layout.edge.clients).flatMap((c) => [c.cert, c.key]),
    layout.origin.cert,
    layout.origin.key,
    layout.origin.ca,
    layout.origin.edgePullCa,
  ];
}

async function writeClientCredential(client: DevPkiEdgeClient, issued: IssuedCert): Promise<void> {
  await makeDir(path.dirname(client.cert), 0o700);
  await writeFileFresh(client.cert, issued.certPem, 0o644);
  await writeFileFresh(client.key, issued.keyPem, 0o600);
}

/**
 * Creates the file anew with `mode` from the first byte: an old file is removed first, and 'wx'
 * (O_CREAT|O_EXCL) refuses to write through anything that appears in its place, a symlink included.
 */
async function writeFileFresh(file: string, content: string, mode: number): Promise<void> {
  await unlinkIfPresent(file);
  const handle = await open(file, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** mkdir applies its mode only to a directory it creates; one kept from an earlier run is set too. */
async function makeDir(dir: string, mode: number): Promise<void> {
  await mkdir(path.dirname(dir), { recursive: true });
  const created = await mkdir(dir, { mode }).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
      return false;
    },
  );
  if (!created) await chmod(dir, mode);
}

async function unlinkIfPresent(file: string): Promise<void> {
  await unlink(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

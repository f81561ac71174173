// `keyless certs`: writes the development PKI and prints where everything went.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateDevPki } from '../certs/index.js';
import type { DevPkiLayout } from '../certs/index.js';
import type { Command } from './command.js';
import { UsageError } from './command.js';

const DEFAULT_OUT = 'certs/dev';

const help = `usage: keyless certs [--out DIR] [--force]

Generates the development PKI: a root CA, the site keys and certificates (ECDSA P-256, ECDSA
P-384, RSA 2048, RSA-PSS 2048), the key server's gRPC certificate, two edge client certificates
(spiffe://keyless/edge/edge-1 and edge-2) and the demo origin's certificate. Site private keys are
written only under keyserver/keys/; the edge gets certificate chains only.

If DIR/ca.crt already exists, nothing is changed and the existing files are described.

These are development credentials: unencrypted keys made on this machine. Never use them in
production.

options:
  --out DIR   where to write (default ${DEFAULT_OUT})
  --force     regenerate every key and certificate even if DIR already holds a PKI
  -h, --help  this text`;

export const certsCommand: Command = {
  name: 'certs',
  summary: 'generate the development PKI (CA, site, key server, edge and origin certificates)',
  help,
  async run(args: string[]): Promise<number> {
    const { out, force } = parseCertsArgs(args);
    const layout = await generateDevPki(out, { force });
    process.stdout.write(summary(layout));
    return 0;
  },
};

function parseCertsArgs(args: string[]): { out: string; force: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: { out: { type: 'string' }, force: { type: 'boolean', default: false } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.out === '') throw new UsageError('--out needs a directory');
  return { out: values.out ?? DEFAULT_OUT, force: values.force ?? false };
}

function summary(layout: DevPkiLayout): string {
  // Paths under the working directory are shown relative to it, others in full.
  const rel = (file: string): string => {
    const relative = path.relative(process.cwd(), file);
    return relative === '' ? '.' : relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
  };
  const sites = Object.values(layout.sites);
  const width = Math.max(...sites.map((s) => s.name.length));
  return [
    layout.created ? `wrote the development PKI to ${rel(layout.dir)}` : `kept the existing development PKI in ${rel(layout.dir)} (--force regenerates it)`,
    `  root CA           ${rel(layout.ca.cert)}`,
    `  key server        ${rel(layout.keyServer.cert)}  (edge client CA ${rel(layout.keyServer.edgeCa)})`,
    `  site keys         ${rel(layout.keyServer.keysDir)}  (private: key server only)`,
    `  site chains       ${rel(layout.edge.sitesDir)}`,
    ...Object.values(layout.edge.clients).map((c) => `  ${`${c.name} client`.padEnd(18)}${rel(c.cert)}  (${c.identity})`),
    `  origin            ${rel(layout.origin.cert)}`,
    'site key ids (SHA-256 of the SubjectPublicKeyInfo):',
    ...sites.map((s) => `  ${s.name.padEnd(width)}  ${s.keyId}`),
    'development credentials only: never use them in production.',
    '',
  ].join('\n');
}

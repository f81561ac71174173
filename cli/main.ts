// `keyless`: one program, a subcommand per job. Each subcommand module is loaded only when used,
// so `keyless audit verify` does not pay for gRPC or fastify.
import type { Command } from './command.js';
import { UsageError } from './command.js';

interface Entry {
  readonly name: string;
  readonly summary: string;
  load(): Promise<Command>;
}

const commands: readonly Entry[] = [
  { name: 'certs', summary: 'generate the development PKI (CA, site, key server, edge and origin certificates)', load: async () => (await import('./certs-command.js')).certsCommand },
  { name: 'keyserver', summary: 'run the key server: signs handshakes for authorized edges, audits every decision', load: async () => (await import('./keyserver-command.js')).keyserverCommand },
  { name: 'edge', summary: 'run the edge: TLS 1.3 termination with remote signing, then the HTTP pipeline', load: async () => (await import('./edge-command.js')).edgeCommand },
  { name: 'demo-origin', summary: 'run the demo origin site (HTTPS, its own certificate from the dev CA)', load: async () => (await import('./demo-origin-command.js')).demoOriginCommand },
  { name: 'audit', summary: 'verify the audit log hash chain, or summarize it for review', load: async () => (await import('./audit-command.js')).auditCommand },
  { name: 'demo', summary: 'the demo: key server, origin and edge on 127.0.0.1, until Ctrl-C (npm start)', load: async () => (await import('./demo-command.js')).demoCommand },
  { name: 'keyserver-client', summary: 'talk to a key server as an edge: list the keys it lets this edge use, sign once', load: async () => (await import('./keyserver-client-command.js')).keyserverClientCommand },
  { name: 'bench', summary: 'run a benchmark from bench/ (keyserver, ...)', load: async () => (await import('./bench-command.js')).benchCommand },
  { name: 'waf', summary: 'test the WAF offline: which rules a raw HTTP request matches, and why', load: async () => (await import('./waf-command.js')).wafCommand },
];

function topHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: keyless <command> [options]',
    '',
    'A TLS edge that never holds the site private keys.',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'keyless <command> --help' for a command's options.",
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(topHelp() + '\n');
    return name === undefined ? 2 : 0;
  }
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    process.stderr.write(`keyless: unknown command '${name}'\n\n${topHelp()}\n`);
    return 2;
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help + '\n');
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`keyless ${name}: ${err.message}\n\n${command.help}\n`);
      return 2;
    }
    const code = (err as { code?: unknown }).code;
    process.stderr.write(`keyless ${name}: ${typeof code === 'string' ? `${code}: ` : ''}${(err as Error).message}\n`);
    return 1;
  }
}

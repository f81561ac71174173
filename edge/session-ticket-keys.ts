// The edge's session-ticket secret, from `tls.sessionTickets`: the key file shared by several
// edges, or a random secret made at start. With `workers: N` the primary makes the random secret
// and hands it to its workers in their environment (removed from it as soon as it is read), so
// that a ticket issued by one worker resumes on any other.
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { EdgeConfig } from './config.js';
import { EdgeSetupError } from './served-chains.js';
import { SessionTickets } from './tls/resumption/session-tickets.js';
import { MIN_TICKET_SECRET_BYTES, TicketKeys } from './tls/resumption/ticket-keys.js';

/** How a cluster primary passes its random ticket secret to its workers (base64). */
export const TICKET_SECRET_ENV = 'KEYLESS_EDGE_TICKET_SECRET';

type TicketConfig = EdgeConfig['tls']['sessionTickets'];

/** The edge's SessionTickets, or undefined when tickets are off. */
export async function loadSessionTickets(config: TicketConfig, env: NodeJS.ProcessEnv = process.env): Promise<SessionTickets | undefined> {
  if (!config.enabled) return undefined;
  const secret = config.keyFile !== undefined ? await readTicketKeyFile(config.keyFile) : (takeInheritedSecret(env) ?? randomBytes(MIN_TICKET_SECRET_BYTES));
  const keys = new TicketKeys({ secret, rotationSeconds: config.rotationSeconds, lifetimeSeconds: config.lifetimeSeconds });
  secret.fill(0);
  return new SessionTickets(keys, config.lifetimeSeconds);
}

/** A random secret for a cluster's workers to share, when the config names no key file. */
export function clusterTicketSecretEnv(config: TicketConfig): Record<string, string> {
  return config.enabled && config.keyFile === undefined ? { [TICKET_SECRET_ENV]: randomBytes(MIN_TICKET_SECRET_BYTES).toString('base64') } : {};
}

function takeInheritedSecret(env: NodeJS.ProcessEnv): Buffer | undefined {
  const value = env[TICKET_SECRET_ENV];
  delete env[TICKET_SECRET_ENV];
  if (!value) return undefined;
  const secret = Buffer.from(value, 'base64');
  return secret.length >= MIN_TICKET_SECRET_BYTES ? secret : undefined;
}

async function readTicketKeyFile(file: string): Promise<Buffer> {
  const field = "field 'tls.sessionTickets.keyFile'";
  let data: Buffer;
  try {
    const info = await stat(file);
    // Like ssh with private keys: a secret others can read is refused, not used.
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
      throw new EdgeSetupError('EDGE_TICKET_KEY_INVALID', `${field}: ${file} is readable by group or others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`);
    }
    data = await readFile(file);
  } catch (err) {
    if (err instanceof EdgeSetupError) throw err;
    throw new EdgeSetupError('EDGE_TICKET_KEY_INVALID', `${field}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  // Never echo any of its bytes: the file is a secret whatever it holds.
  if (data.includes('-----BEGIN')) {
    data.fill(0);
    throw new EdgeSetupError('EDGE_TICKET_KEY_INVALID', `${field}: ${file} is a PEM file; the ticket key is random bytes (openssl rand 48 > file), never a certificate key`);
  }
  if (data.length < MIN_TICKET_SECRET_BYTES) {
    throw new EdgeSetupError('EDGE_TICKET_KEY_INVALID', `${field}: ${file} holds ${data.length} bytes; at least ${MIN_TICKET_SECRET_BYTES} random bytes are needed`);
  }
  return data;
}

// The edge's configuration: listeners, the certificate chains it serves (certificates only:
// there is no field for a site private key, and a chain file holding one is refused), its key
// servers and its own client credential for them, and every limit with a number. YAML,
// validated at start and on every reload; a bad file is rejected naming the field.
import { z } from 'zod';
import { loadYamlConfig, parseHostPort, resolveFrom } from '../common/config-file.js';
import { cacheConfigSchema, resolveCachePaths } from './http/cache/index.js';
import { originsSchema } from './http/origin/index.js';
import { resolveWafPaths, wafConfigSchema } from './http/waf/index.js';
import { CipherSuite, NamedGroup } from './tls/enums.js';

const hostPort = z.string().refine((v) => parseHostPort(v) !== null, { message: 'expected "host:port", e.g. 127.0.0.1:8443' });

/** A path to a file. Never inline PEM: secrets do not belong in a config file that is shared and logged. */
const filePath = z
  .string()
  .min(1)
  .refine((v) => !v.includes('-----BEGIN'), { message: 'a path to a PEM file, not PEM text' });

const certificateEntry = z.strictObject({
  /** A label for logs, metrics and `tls.default`. */
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" and "-", at most 64'),
  /** PEM certificates, leaf first. Certificates only: a file with a private key is refused. */
  chain: filePath,
  /** The names this chain answers for; default: the DNS names of the leaf certificate. */
  hostnames: z.array(z.string().regex(/^(\*\.)?[a-z0-9_.-]+$/i, 'a DNS name or a wildcard like *.example.com')).min(1).optional(),
});

const CIPHER_SUITE_NAMES = Object.keys(CipherSuite) as [keyof typeof CipherSuite, ...(keyof typeof CipherSuite)[]];
const GROUP_NAMES = ['x25519', 'secp256r1', 'secp384r1'] as const satisfies readonly (keyof typeof NamedGroup)[];

/** RFC 8446 §4.6.1 session tickets: returning clients resume without a certificate or a remote signature. */
const sessionTicketsSection = z.strictObject({
  enabled: z.boolean().default(true),
  /** ticket_lifetime: how long a client may resume with a ticket (RFC 8446: at most 7 days). */
  lifetimeSeconds: z.number().int().min(1).max(604_800).default(7_200),
  /** A new ticket key every this long; keys open tickets for `lifetimeSeconds` more. */
  rotationSeconds: z.number().int().min(60).max(604_800).default(3_600),
  /**
   * A file of at least 32 random bytes (e.g. `openssl rand 48 > tickets.key`, mode 0600) shared by
   * every edge that should resume the others' tickets. Default: a random secret per edge (all its
   * workers share it), forgotten on restart. It is the key of the tickets, never a site key.
   */
  keyFile: filePath.optional(),
});

const tlsSection = z.strictObject({
  certificates: z.array(certificateEntry).min(1),
  /** The chain for clients without SNI (and unknown names with unknownServerName: default). Default: the first. */
  default: z.string().optional(),
  unknownServerName: z.enum(['default', 'reject']).default('default'),
  /** In our order of preference. */
  cipherSuites: z.array(z.enum(CIPHER_SUITE_NAMES)).min(1).default([...CIPHER_SUITE_NAMES]),
  groups: z.array(z.enum(GROUP_NAMES)).min(1).default([...GROUP_NAMES]),
  /** ALPN protocols served, in our order of preference: "h2" is HTTP/2 (RFC 9113), "http/1.1" HTTP/1.1. */
  alpn: z
    .array(z.enum(['h2', 'http/1.1']))
    .refine((list) => new Set(list).size === list.length, 'each protocol once')
    .default(['h2', 'http/1.1']),
  sessionTickets: sessionTicketsSection.default(sessionTicketsSection.parse({})),
});

const keyServersSection = z.strictObject({
  servers: z
    .array(
      z.strictObject({
        address: hostPort,
        /** The name the key server's certificate must carry; default: the host of `address`. */
        serverName: z.string().min(1).optional(),
      }),
    )
    .min(1),
  /** CA bundle the key servers' certificates chain to. */
  ca: filePath,
  /** The edge's own identity toward the key servers (mTLS). This is the edge's key, never a site key. */
  clientCert: filePath,
  clientKey: filePath,
  /** Deadline of one remote signature, the retry on another key server included. */
  deadlineMs: z.number().int().positive().max(30_000).default(1_500),
  healthCheckIntervalMs: z.number().int().positive().max(600_000).default(2_000),
  /** How often the list of keys (and the schemes each can sign) is refreshed. */
  keyRefreshIntervalMs: z.number().int().positive().max(3_600_000).default(30_000),
  /** Requests unanswered per key server before another one is preferred. */
  maxInFlightPerServer: z.number().int().positive().max(1_000_000).default(4_096),
});

const limitsSection = z.strictObject({
  /** From the accepted connection to the client's Finished (a client that sends nothing is closed too). */
  handshakeTimeoutMs: z.number().int().positive().max(120_000).default(10_000),
  /** Largest handshake message body accepted, bytes. */
  maxHandshakeMessageBytes: z.number().int().min(1024).max(1 << 24).default(1 << 16),
  /** Handshakes waiting for a remote signature at once; beyond it new handshakes get internal_error. */
  maxPendingSignatures: z.number().int().positive().max(1_000_000).default(4_096),
  /** TCP connections open at once. */
  maxConnections: z.number().int().positive().max(10_000_000).default(20_000),
  /** A connection without traffic for this long is closed (the HTTP keep-alive timeout is shorter). */
  idleTimeoutMs: z.number().int().nonnegative().max(3_600_000).default(120_000),
});

const httpSection = z.strictObject({
  /** Request line and headers together (node's maxHeaderSize); more gets 431. */
  maxHeaderBytes: z.number().int().min(1024).max(1 << 20).default(16 * 1024),
  /** Request bodies larger than this get 413. */
  maxBodyBytes: z.number().int().nonnegative().max(2 ** 40).default(100 * 1024 * 1024),
  /** Headers must arrive within this; slower clients get 408 and are closed. */
  headersTimeoutMs: z.number().int().positive().max(600_000).default(20_000),
  /** The whole request (headers and body) must arrive within this. */
  requestTimeoutMs: z.number().int().positive().max(3_600_000).default(300_000),
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: z.number().int().positive().max(600_000).default(5_000),
  /** Requests served on one connection before the edge closes it (0: no limit). */
  maxRequestsPerConnection: z.number().int().nonnegative().max(1_000_000).default(1_000),
  /** HTTP/2: streams one connection may have open at once (RFC 9113 §6.5.2 advises no fewer than 100). */
  maxConcurrentStreams: z.number().int().min(1).max(1_000).default(100),
})
  // node's http refuses to start otherwise; say so here, naming the field.
  .refine((h) => h.headersTimeoutMs <= h.requestTimeoutMs, { message: 'headersTimeoutMs must not be larger than requestTimeoutMs', path: ['headersTimeoutMs'] });

const adminSection = z
  .strictObject({
    listen: hostPort.default('127.0.0.1:9090'),
    /** The bearer token, from a file (0600) or an environment variable; never written in the config. */
    tokenFile: filePath.optional(),
    tokenEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name').optional(),
  })
  .refine((a) => (a.tokenFile === undefined) !== (a.tokenEnv === undefined), { message: 'set exactly one of tokenFile or tokenEnv' });

/** One address, or several (IPv4 and IPv6, several ports): each gets a listener, all serve the same edge. */
const listenSection = z
  .union([hostPort, z.array(hostPort).min(1).max(16)])
  .transform((v) => (typeof v === 'string' ? [v] : v))
  .refine((v) => new Set(v).size === v.length, { message: 'each address once' });

export const edgeConfigSchema = z.strictObject({
  listen: listenSection.default(['127.0.0.1:8443']),
  /** Processes running the whole edge on the shared listener ("auto": one per core). */
  workers: z.union([z.literal('auto'), z.number().int().min(1).max(256)]).default(1),
  tls: tlsSection,
  keyServers: keyServersSection,
  limits: limitsSection.default(limitsSection.parse({})),
  http: httpSection.default(httpSection.parse({})),
  /** Per hostname, where requests go; without origins the edge answers every request with its TLS facts. */
  origins: originsSchema.optional(),
  cache: cacheConfigSchema.optional(),
  /** The web application firewall: IP lists, custom rules, rate limits, the OWASP CRS. */
  waf: wafConfigSchema.optional(),
  admin: adminSection.optional(),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** One line per request (at info). */
      access: z.boolean().default(true),
    })
    .default({ level: 'info', access: true }),
});

export type EdgeConfig = z.output<typeof edgeConfigSchema>;

/** Loads and validates an edge config file; relative paths become relative to the file. */
export async function loadEdgeConfig(file: string): Promise<EdgeConfig> {
  const config = await loadYamlConfig(edgeConfigSchema, file);
  return resolveEdgePaths(config, file);
}

export function resolveEdgePaths(config: EdgeConfig, file: string): EdgeConfig {
  const r = (p: string): string => resolveFrom(file, p);
  return {
    ...config,
    tls: {
      ...config.tls,
      certificates: config.tls.certificates.map((c) => ({ ...c, chain: r(c.chain) })),
      sessionTickets: { ...config.tls.sessionTickets, ...(config.tls.sessionTickets.keyFile ? { keyFile: r(config.tls.sessionTickets.keyFile) } : {}) },
    },
    keyServers: { ...config.keyServers, ca: r(config.keyServers.ca), clientCert: r(config.keyServers.clientCert), clientKey: r(config.keyServers.clientKey) },
    ...(config.cache ? { cache: resolveCachePaths(config.cache, file) } : {}),
    ...(config.waf ? { waf: resolveWafPaths(config.waf, file) } : {}),
    ...(config.admin ? { admin: { ...config.admin, ...(config.admin.tokenFile ? { tokenFile: r(config.admin.tokenFile) } : {}) } } : {}),
  };
}

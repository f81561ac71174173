// The key server's configuration: where it listens, its TLS identity, the CA its edges chain
// to, its key stores, the audit log, limits and the per-edge policy. YAML, validated at start
// and at every reload; a bad file is rejected with the field it is about.
import { z } from 'zod';
import { loadYamlConfig, parseHostPort, resolveFrom } from '../common/config-file.js';

const hostPort = z.string().refine((v) => parseHostPort(v) !== null, { message: 'expected "host:port", e.g. 127.0.0.1:2407' });

export const OPERATIONS = ['tls13-certificate-verify', 'tls12-server-key-exchange', 'raw-digest'] as const;
export type OperationName = (typeof OPERATIONS)[number];

const keySelector = z.union([
  z.literal('*'),
  z.strictObject({ id: z.string().regex(/^[0-9a-f]{64}$/, 'a key id is 64 lowercase hex characters (SHA-256 of the SPKI)') }),
  z.strictObject({
    hostname: z
      .string()
      .min(1)
      .regex(/^(\*|(\*\.)?[a-z0-9.-]+|[0-9a-f:.]+)$/i, 'a hostname, a wildcard like *.example.com, an IP address, or *'),
  }),
]);
export type KeySelector = z.infer<typeof keySelector>;

const rateLimit = z.strictObject({
  perSecond: z.number().positive().max(1_000_000),
  burst: z.number().int().positive().max(10_000_000).optional(),
});

const edgeRule = z.strictObject({
  /** A SAN URI of the edge's client certificate (e.g. spiffe://keyless/edge/edge-1), or "cn:<Common Name>". */
  identity: z.string().min(1),
  keys: z.array(keySelector).min(1),
  operations: z.array(z.enum(OPERATIONS)).min(1).default(['tls13-certificate-verify', 'tls12-server-key-exchange']),
  rateLimit: rateLimit.optional(),
});
export type EdgeRule = z.infer<typeof edgeRule>;

const fileStore = z.strictObject({
  type: z.literal('file'),
  dir: z.string().min(1),
  maxInFlight: z.number().int().positive().max(100_000).default(256),
  /** Threads that sign; default one per core. 0: libuv's thread pool (shared with file I/O, the audit log's included). */
  signingThreads: z.number().int().nonnegative().max(256).optional(),
  /** ECDSA P-256 / Ed25519 signing time per event-loop turn made on the event loop instead of the threads, ms; 0: never. */
  inlineBudgetMs: z.number().nonnegative().max(100).default(1),
});

const pkcs11Store = z
  .strictObject({
    type: z.literal('pkcs11'),
    module: z.string().min(1),
    tokenLabel: z.string().min(1).optional(),
    slot: z.number().int().nonnegative().optional(),
    /** The PIN is never written in the config itself: it comes from an environment variable or a 0600 file. */
    pinEnv: z.string().min(1).optional(),
    pinFile: z.string().min(1).optional(),
    keys: z.array(z.strictObject({ label: z.string().min(1).optional(), id: z.string().regex(/^[0-9a-fA-F]+$/).optional() })).optional(),
    sessions: z.number().int().positive().max(256).default(4),
    maxInFlight: z.number().int().positive().max(100_000).default(64),
  })
  .refine((s) => s.pinEnv !== undefined || s.pinFile !== undefined, { message: 'set pinEnv or pinFile (the PIN is never written in the config)' })
  .refine((s) => s.tokenLabel !== undefined || s.slot !== undefined, { message: 'set tokenLabel or slot' });

export const keyServerConfigSchema = z.strictObject({
  listen: hostPort.default('127.0.0.1:2407'),
  tls: z.strictObject({
    cert: z.string().min(1),
    key: z.string().min(1),
    /** Edges must present a client certificate that chains to this CA bundle. */
    clientCa: z.string().min(1),
  }),
  observability: z.strictObject({ listen: hostPort.default('127.0.0.1:2406') }).default({ listen: '127.0.0.1:2406' }),
  keyStores: z.array(z.discriminatedUnion('type', [fileStore, pkcs11Store])).min(1),
  audit: z.strictObject({
    dir: z.string().min(1),
    maxFileBytes: z.number().int().positive().default(64 * 1024 * 1024),
    /** Group commit window for the first line of a batch; 0 (default): write at the end of the event-loop turn. */
    maxBatchDelayMs: z.number().nonnegative().max(1000).default(0),
    /** Hold each signature until the truncation checkpoint names its line too, not only until the line is durable. */
    checkpointBeforeReply: z.boolean().default(false),
    /**
     * The longest a checkpoint update stays in the page cache before an fdatasync makes it durable;
     * 0: each update is a durable write of its own (as it always is with checkpointBeforeReply).
     */
    checkpointSyncMs: z.number().int().nonnegative().max(60_000).default(100),
  }),
  limits: z
    .strictObject({
      /** Used when a request carries no deadline (a SignStream item without deadline_ms). */
      defaultDeadlineMs: z.number().int().positive().max(60_000).default(2_000),
      /** Requests one SignStream may have unanswered; more are refused with OVERLOADED. */
      maxStreamInFlight: z.number().int().positive().max(1_000_000).default(4_096),
      /** Requests per SignBatch message. */
      maxBatchSize: z.number().int().positive().max(10_000).default(512),
      /** Queued signatures per key store, beyond those in flight; more are refused with OVERLOADED. */
      maxQueuedPerStore: z.number().int().nonnegative().max(1_000_000).default(8_192),
      /** gRPC message size limit, bytes. */
      maxMessageBytes: z.number().int().positive().max(64 * 1024 * 1024).default(4 * 1024 * 1024),
    })
    .default({ defaultDeadlineMs: 2_000, maxStreamInFlight: 4_096, maxBatchSize: 512, maxQueuedPerStore: 8_192, maxMessageBytes: 4 * 1024 * 1024 }),
  policy: z.strictObject({
    edges: z.array(edgeRule),
  }),
  log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).default({ level: 'info' }),
});

export type KeyServerConfig = z.output<typeof keyServerConfigSchema>;
export type KeyStoreConfig = KeyServerConfig['keyStores'][number];

/** Loads and validates a config file; relative paths become relative to the file. */
export async function loadKeyServerConfig(file: string): Promise<KeyServerConfig> {
  const config = await loadYamlConfig(keyServerConfigSchema, file);
  const r = (p: string): string => resolveFrom(file, p);
  return {
    ...config,
    tls: { cert: r(config.tls.cert), key: r(config.tls.key), clientCa: r(config.tls.clientCa) },
    audit: { ...config.audit, dir: r(config.audit.dir) },
    keyStores: config.keyStores.map((s) =>
      s.type === 'file' ? { ...s, dir: r(s.dir) } : { ...s, module: r(s.module), ...(s.pinFile ? { pinFile: r(s.pinFile) } : {}) },
    ),
  };
}

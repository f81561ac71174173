// The `cache:` section of the edge config: which store, its bounds (every one a number), and the
// cache rules. Validated with zod so that an error names the field
// (`field 'cache.rules[2].edgeTtl.seconds': ...` once the edge config nests this schema); paths
// are relative to the config file.
import { z } from 'zod';
import { resolveFrom, validateConfig } from '../../../common/config-file.js';

const MiB = 1024 * 1024;

/** An exact host, "*.example.com" (any name below it) or "*" (every host). */
const hostPattern = z
  .string()
  .regex(/^(\*|(\*\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?)$/, 'a host name, "*.example.com" or "*"')
  .transform((h) => h.toLowerCase().replace(/\.$/, ''));

const pathPrefix = z.string().startsWith('/', 'a path prefix starts with "/"').max(8192);

const ruleName = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" and "-", at most 64').optional();

const edgeTtl = z.strictObject({
  seconds: z.number().int().min(0).max(31_536_000),
  /**
   * override: the TTL replaces the origin's freshness (max-age, s-maxage, Expires, no-cache,
   * must-revalidate); fallback: it applies only when the origin gave no explicit freshness.
   * Neither makes a no-store, private or Set-Cookie response storable, nor a response to a
   * request with Authorization unless the origin's Cache-Control has public, s-maxage or
   * must-revalidate (RFC 9111 §3.5): such responses get no edge TTL.
   */
  mode: z.enum(['override', 'fallback']).default('override'),
});

const bypassRule = z.strictObject({
  name: ruleName,
  host: hostPattern.default('*'),
  pathPrefix: pathPrefix.default('/'),
  action: z.literal('bypass'),
});

const cacheRule = z.strictObject({
  name: ruleName,
  host: hostPattern.default('*'),
  pathPrefix: pathPrefix.default('/'),
  action: z.literal('cache'),
  edgeTtl: edgeTtl.optional(),
});

export const cacheRuleSchema = z.discriminatedUnion('action', [bypassRule, cacheRule]);
export type CacheRuleConfig = z.output<typeof cacheRuleSchema>;

const storeSection = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('memory') }),
  z.strictObject({
    type: z.literal('disk'),
    /** Entries live here, one metadata file and one body file each; it survives restarts. */
    dir: z.string().min(1),
  }),
]);

/** An RFC 9211 cache identifier as a token: letters first, then token characters. */
const statusName = z.string().regex(/^[A-Za-z*][A-Za-z0-9!#$%&'*+.^_`|~:/-]{0,63}$/, 'an RFC 8941 token, e.g. "keyless"');

export const cacheConfigSchema = z
  .strictObject({
    store: storeSection.default({ type: 'memory' }),
    /** A body larger than this streams through to the client unstored. */
    maxObjectBytes: z.number().int().positive().max(2 ** 40).default(16 * MiB),
    /** Bodies plus metadata, for the memory store in RAM, for the disk store on disk. */
    maxTotalBytes: z.number().int().positive().max(2 ** 50).default(256 * MiB),
    maxEntries: z.number().int().positive().max(100_000_000).default(100_000),
    /** Variants (Vary) kept per URL; the least recently used one goes first. */
    maxVariantsPerKey: z.number().int().positive().max(1024).default(16),
    /** Freshness of responses with Last-Modified but no explicit lifetime: this fraction of their age (RFC 9111 §4.2.2). */
    heuristicFraction: z.number().min(0).max(1).default(0.1),
    /** After a URL answered something unshareable, requests for it skip coalescing for this long (Varnish's hit-for-pass). */
    hitForPassSeconds: z.number().int().min(0).max(3600).default(30),
    /** The cache's name in Cache-Status (RFC 9211). */
    statusName: statusName.default('keyless'),
    /** Cache-Tag is the origin's message to the edge; it is removed from responses unless this is true. */
    exposeCacheTag: z.boolean().default(false),
    rules: z.array(cacheRuleSchema).max(10_000).default([]),
  })
  .refine((c) => c.maxObjectBytes <= c.maxTotalBytes, { message: 'must not exceed maxTotalBytes', path: ['maxObjectBytes'] });

export type CacheConfig = z.output<typeof cacheConfigSchema>;
export type CacheConfigInput = z.input<typeof cacheConfigSchema>;

/** Validates a `cache:` section on its own (the edge config nests the schema instead). */
export function parseCacheConfig(raw: unknown, file: string): CacheConfig {
  return resolveCachePaths(validateConfig(cacheConfigSchema, raw ?? {}, file), file);
}

/** The disk store's directory relative to the config file, not to the working directory. */
export function resolveCachePaths(config: CacheConfig, file: string): CacheConfig {
  if (config.store.type !== 'disk') return config;
  return { ...config, store: { ...config.store, dir: resolveFrom(file, config.store.dir) } };
}

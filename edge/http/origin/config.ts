// The `origins:` section of the edge config: per list entry, the hostnames it serves, the origin
// URL, the SSL mode and its material (CA bundle, pins, client certificate), and the limits. Paths
// are relative to the config file. Every problem names its field, e.g.
// `field 'origins[0].pins[1]': a pin is ...`.
//
//   origins:
//     - hostnames: [www.example.com, '*.example.com']
//       url: https://origin.internal:9443
//       mode: strict                   # strict (default) | pinned | full
//       ca: edge/ca.crt                # default: node's bundled Mozilla roots
//       serverName: origin.internal    # default: the URL's host
//       hostHeader: www.example.com    # default: the client's Host
//       clientCert: edge/edge-1/client.crt   # authenticated origin pulls
//       clientKey: edge/edge-1/client.key
//       timeouts: { connectMs: 5000, headersMs: 30000, bodyMs: 30000, keepAliveMs: 4000, upgradeIdleMs: 600000 }
//       connections: 32
//       maxResponseHeaderBytes: 16384
//       http2: false                   # offer h2 to the origin (HTTP/1.1 when it declines)
//       maxConcurrentStreams: 100      # with http2: requests in flight per connection
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigError, resolveFrom } from '../../../common/config-file.js';
import { spkiSha256Hex } from '../../../common/key-id.js';
import { parsePin } from './pins.js';
import {
  DEFAULT_CONNECTIONS,
  DEFAULT_MAX_CONCURRENT_STREAMS,
  DEFAULT_MAX_RESPONSE_HEADER_BYTES,
  DEFAULT_TIMEOUTS,
  OriginSettingsError,
  parseOriginUrl,
  resolveOrigin,
  type OriginSettings,
} from './settings.js';

/** A path to a file. Never inline PEM: secrets do not belong in a config file that is shared and logged. */
const filePath = z
  .string()
  .min(1)
  .refine((v) => !v.includes('-----BEGIN'), { message: 'a path to a PEM file, not PEM text' });

const hostname = z.string().regex(/^(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/i, 'a DNS name or a wildcard like *.example.com');
/** A name for SNI and the certificate check: a DNS name or an IP address. */
const serverName = z.string().regex(/^([a-z0-9_-]+(\.[a-z0-9_-]+)*|[0-9a-f:.]+)$/i, 'a DNS name or an IP address');
const ms = (max: number) => z.number().int().positive().max(max);

const timeouts = z.strictObject({
  connectMs: ms(120_000).default(DEFAULT_TIMEOUTS.connectMs),
  headersMs: ms(3_600_000).default(DEFAULT_TIMEOUTS.headersMs),
  bodyMs: ms(3_600_000).default(DEFAULT_TIMEOUTS.bodyMs),
  keepAliveMs: ms(600_000).default(DEFAULT_TIMEOUTS.keepAliveMs),
  upgradeIdleMs: ms(86_400_000).default(DEFAULT_TIMEOUTS.upgradeIdleMs),
});

export const originEntrySchema = z
  .strictObject({
    /** For logs and metrics; default: the URL's origin. */
    name: z.string().regex(/^[A-Za-z0-9._:/-]{1,100}$/, 'letters, digits and . _ : / -, at most 100').optional(),
    hostnames: z.array(hostname).min(1),
    url: z.string().superRefine((v, ctx) => {
      try {
        parseOriginUrl(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof OriginSettingsError ? err.reason : String(err) });
      }
    }),
    mode: z.enum(['strict', 'pinned', 'full']).default('strict'),
    ca: filePath.optional(),
    pins: z.array(z.string().refine((p) => parsePin(p) !== null, { message: 'a pin is the SHA-256 of the SPKI, base64 (44 characters) or hex (64), optionally after "sha256/"' })).optional(),
    pinOnly: z.boolean().default(false),
    clientCert: filePath.optional(),
    clientKey: filePath.optional(),
    serverName: serverName.optional(),
    // A field value: no control characters (RFC 9110 §5.5), so no header injection.
    hostHeader: z.string().regex(/^[^\s\p{Cc}]{1,255}$/u, 'a host, optionally with :port').optional(),
    incomingForwarded: z.enum(['drop', 'append']).default('drop'),
    timeouts: timeouts.default(timeouts.parse({})),
    connections: z.number().int().min(1).max(4096).default(DEFAULT_CONNECTIONS),
    maxResponseHeaderBytes: z.number().int().min(1024).max(1 << 20).default(DEFAULT_MAX_RESPONSE_HEADER_BYTES),
    http2: z.boolean().default(false),
    maxConcurrentStreams: z.number().int().min(1).max(1000).default(DEFAULT_MAX_CONCURRENT_STREAMS),
  })
  .superRefine((entry, ctx) => {
    // The same checks the origin client makes, so a config that loads is one the client accepts.
    try {
      resolveOrigin({ ...entry, ca: entry.ca, clientCert: entry.clientCert, clientKey: entry.clientKey });
    } catch (err) {
      if (!(err instanceof OriginSettingsError)) throw err;
      if (err.field === 'url' || err.field.startsWith('pins[')) return; // reported by the field's own rule
      ctx.addIssue({ code: 'custom', path: fieldParts(err.field), message: err.reason });
    }
  });

export const originsSchema = z
  .array(originEntrySchema)
  .min(1)
  .superRefine((entries, ctx) => {
    const seen = new Map<string, number>();
    entries.forEach((entry, i) =>
      entry.hostnames.forEach((name, j) => {
        const key = name.toLowerCase().replace(/\.$/, '');
        const first = seen.get(key);
        if (first !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'hostnames', j], message: `${name} is already served by origins[${first}]` });
        else seen.set(key, i);
      }),
    );
  });

export type OriginsConfig = z.output<typeof originsSchema>;
export type OriginEntryConfig = z.output<typeof originEntrySchema>;

export interface LoadOriginsOptions {
  /**
   * Key ids (SPKI SHA-256, hex) the origin client key must not be: the site keys. The keyless edge
   * never holds a site key, so one configured as an origin-pull key is refused.
   */
  readonly forbiddenKeyIds?: ReadonlySet<string>;
  /** The section's name in error messages; default "origins". */
  readonly field?: string;
}

/**
 * Reads the files the section names (relative to `configFile`) and checks them: the CA bundle
 * holds certificates, the client certificate and key parse and belong together. The result goes
 * to createOriginClient. Throws ConfigError naming the field.
 */
export async function loadOrigins(section: OriginsConfig, configFile: string, options: LoadOriginsOptions = {}): Promise<OriginSettings[]> {
  const top = options.field ?? 'origins';
  const problems: string[] = [];
  const out: OriginSettings[] = [];
  for (const [i, entry] of section.entries()) {
    const field = (name: string): string => `${top}[${i}].${name}`;
    const read = async (name: 'ca' | 'clientCert' | 'clientKey'): Promise<string | undefined> => {
      const p = entry[name];
      if (p === undefined) return undefined;
      const file = resolveFrom(configFile, p);
      try {
        return await readFile(file, 'utf8');
      } catch (err) {
        problems.push(`field '${field(name)}': cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        return undefined;
      }
    };
    const [ca, clientCert, clientKey] = [await read('ca'), await read('clientCert'), await read('clientKey')];
    if (ca !== undefined) {
      const count = certificateCount(ca);
      if (count === 0) problems.push(`field '${field('ca')}': no PEM certificate in the file`);
      if (/PRIVATE KEY-----/.test(ca)) problems.push(`field '${field('ca')}': a CA bundle must not contain a private key`);
    }
    if (clientCert !== undefined && clientKey !== undefined) {
      const problem = checkClientCredential(clientCert, clientKey, options.forbiddenKeyIds);
      if (problem) problems.push(`field '${field(problem.field)}': ${problem.message}`);
    }
    out.push({
      name: entry.name,
      hostnames: entry.hostnames,
      url: entry.url,
      mode: entry.mode,
      ca,
      pins: entry.pins,
      pinOnly: entry.pinOnly,
      clientCert,
      clientKey,
      serverName: entry.serverName,
      hostHeader: entry.hostHeader,
      incomingForwarded: entry.incomingForwarded,
      timeouts: entry.timeouts,
      connections: entry.connections,
      maxResponseHeaderBytes: entry.maxResponseHeaderBytes,
      http2: entry.http2,
      maxConcurrentStreams: entry.maxConcurrentStreams,
    });
  }
  if (problems.length > 0) throw new ConfigError(configFile, problems);
  return out;
}

function certificateCount(pem: string): number {
  let count = 0;
  for (const block of pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) {
    try {
      new X509Certificate(block);
      count++;
    } catch {
      return 0;
    }
  }
  return count;
}

function checkClientCredential(certPem: string, keyPem: string, forbidden: ReadonlySet<string> | undefined): { field: string; message: string } | null {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return { field: 'clientCert', message: 'not a PEM certificate' };
  }
  try {
    const key = createPrivateKey(keyPem);
    if (!cert.checkPrivateKey(key)) return { field: 'clientKey', message: 'does not match clientCert' };
    if (forbidden?.has(spkiSha256Hex(createPublicKey(key)))) return { field: 'clientKey', message: 'this is the private key of a site certificate; the edge must never hold site keys' };
  } catch {
    return { field: 'clientKey', message: 'not a readable PEM private key' };
  }
  return null;
}

/** "timeouts.connectMs" → ["timeouts", "connectMs"]; "pins[1]" → ["pins", 1]. */
function fieldParts(field: string): (string | number)[] {
  const parts: (string | number)[] = [];
  for (const m of field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) parts.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return parts;
}

// The on-disk layout of the disk store, and the one function that decides whether a metadata
// file is sound. Everything read from disk is untrusted: a crash, a full disk or a person may
// have left anything there, and the answer to anything odd is "discard the entry", never a throw.
//
//   <dir>/v1/<ab>/<name>.meta         JSON {format, sha256, meta}; <name> = SHA-256(key NUL variant)
//   <dir>/v1/<ab>/<name>.<id>.body    the body; <id> is per write, so a metadata file names
//                                     exactly one body and a replacement never mixes the two
//   <dir>/tmp/                        writes in progress; emptied at start
import { createHash } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import type { PolicyObject } from '../policy.js';
import type { EntryMeta } from './types.js';

export const LAYOUT_DIR = 'v1';
export const TMP_DIR = 'tmp';
/** Larger metadata files are not read: nothing legitimate (headers of one response) is that big. */
export const MAX_META_FILE_BYTES = 1 << 20;

const HEX_ID = /^[0-9a-f]{32}$/;

export function entryName(key: string, variant: string): string {
  return createHash('sha256').update(key).update('\u0000').update(variant).digest('hex');
}

export function metaPath(root: string, name: string): string {
  return path.join(root, LAYOUT_DIR, name.slice(0, 2), `${name}.meta`);
}

export function bodyPath(root: string, name: string, id: string): string {
  return path.join(root, LAYOUT_DIR, name.slice(0, 2), `${name}.${id}.body`);
}

/** "<name>.<id>.body" → its parts, or null for any other file name. */
export function parseBodyFileName(file: string): { name: string; id: string } | null {
  const m = /^([0-9a-f]{64})\.([0-9a-f]{32})\.body$/.exec(file);
  return m ? { name: m[1]!, id: m[2]! } : null;
}

const headerValue = z.union([z.string(), z.array(z.string())]);

const policySchema = z.looseObject({
  v: z.literal(1),
  t: z.number().finite(),
  st: z.number().int().min(100).max(999),
  resh: z.record(z.string(), headerValue),
  rescc: z.record(z.string(), z.union([z.string(), z.boolean()])),
  reqh: z.record(z.string(), headerValue).nullable(),
  reqcc: z.record(z.string(), z.union([z.string(), z.boolean()])),
  m: z.string(),
});

const metaFileSchema = z.strictObject({
  format: z.literal(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  meta: z.strictObject({
    key: z.string().min(1),
    variant: z.string(),
    id: z.string().regex(HEX_ID),
    policy: policySchema,
    tags: z.array(z.string()).max(1024),
    storedAt: z.number().finite(),
    size: z.number().int().nonnegative(),
    restore: z.strictObject({ 'cache-control': z.string().nullable(), expires: z.string().nullable() }).optional(),
  }),
});

export interface MetaFile {
  readonly meta: EntryMeta;
  /** Hex SHA-256 of the body, checked when it is read. */
  readonly sha256: string;
}

export function serializeMetaFile(file: MetaFile): string {
  return JSON.stringify({ format: 1, sha256: file.sha256, meta: file.meta });
}

/** The metadata in a file's bytes, or the reason it is not sound. */
export function parseMetaFile(bytes: Buffer, expectedName: string): MetaFile | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { error: 'not JSON' };
  }
  const parsed = metaFileSchema.safeParse(json);
  if (!parsed.success) return { error: `bad metadata: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
  const { meta, sha256 } = parsed.data;
  // The file name is derived from key and variant: a file under another name was moved or forged.
  if (entryName(meta.key, meta.variant) !== expectedName) return { error: 'file name does not match its key' };
  return { meta: { ...meta, policy: meta.policy as unknown as PolicyObject }, sha256 };
}

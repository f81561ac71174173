// File naming of one audit chain, and turning what a user names on the command line into the
// files of a chain in chain order.
//
// In a log directory, for fileName "audit.jsonl":
//   audit.jsonl.000001, audit.jsonl.000002, ...  rotated files, oldest first (numbered by rotation)
//   audit.jsonl                                  the live file, newest lines
//   audit.head                                   checkpoint: seq and hash of the last durable line
//   .audit.head.tmp                              transient, while the checkpoint is replaced
// The live file sorts before its rotated files in `ls`; chain order is by rotation number, then
// the live file. Rotation numbers are parsed, not compared as text, so more than 999999 rotations
// still order correctly.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { AuditError } from './audit-error.js';

export const DEFAULT_FILE_NAME = 'audit.jsonl';

const ROTATED = /^(.+)\.(\d+)$/;

export function rotatedFileName(fileName: string, n: number): string {
  return `${fileName}.${String(n).padStart(6, '0')}`;
}

/** "audit.jsonl" → "audit.head"; any other name gets ".head" appended. */
export function checkpointFileName(fileName: string): string {
  return `${fileName.endsWith('.jsonl') ? fileName.slice(0, -'.jsonl'.length) : fileName}.head`;
}

/** A hidden name, so tools that pick "audit*" files never see a half-written checkpoint. */
export function checkpointTempName(fileName: string): string {
  return `.${checkpointFileName(fileName)}.tmp`;
}

/** A live file name must not itself look rotated, or the two could not be told apart. */
export function isValidLiveFileName(fileName: string): boolean {
  return fileName !== '' && !fileName.includes('/') && !fileName.startsWith('.') && !ROTATED.test(fileName);
}

export interface ChainFiles {
  /** Rotated files, oldest first: full paths with their rotation numbers. */
  readonly rotated: ReadonlyArray<{ readonly n: number; readonly path: string }>;
  /** The live file's path, whether or not it exists yet. */
  readonly live: string;
  readonly liveExists: boolean;
  readonly checkpoint: string;
}

/** The files of the chain `fileName` in `dir`. */
export async function listChainFiles(dir: string, fileName: string): Promise<ChainFiles> {
  const names = await readdir(dir);
  const rotated: Array<{ n: number; path: string }> = [];
  for (const name of names) {
    const m = ROTATED.exec(name);
    if (m && m[1] === fileName) rotated.push({ n: Number(m[2]), path: path.join(dir, name) });
  }
  rotated.sort((a, b) => a.n - b.n);
  return {
    rotated,
    live: path.join(dir, fileName),
    liveExists: names.includes(fileName),
    checkpoint: path.join(dir, checkpointFileName(fileName)),
  };
}

export interface ResolvedChain {
  /** Files in chain order. */
  readonly files: string[];
  /** The checkpoint to check the end of the chain against, when the chain ends at a live file that has one. */
  readonly checkpoint: string | undefined;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function fromChain(chain: ChainFiles): Promise<ResolvedChain> {
  const files = [...chain.rotated.map((r) => r.path), ...(chain.liveExists ? [chain.live] : [])];
  // The checkpoint is checked even when the live file is gone: deleting it is a truncation.
  return { files, checkpoint: (await exists(chain.checkpoint)) ? chain.checkpoint : undefined };
}

/** The chain files in a directory: the one "*.jsonl" chain there (several is ambiguous). */
async function chainInDirectory(dir: string): Promise<ResolvedChain> {
  const bases = new Set<string>();
  for (const name of await readdir(dir)) {
    const base = ROTATED.exec(name)?.[1] ?? name;
    if (base.endsWith('.jsonl') && !base.startsWith('.')) bases.add(base);
  }
  if (bases.size === 0) throw new AuditError('AUDIT_NO_FILES', `no audit files (*.jsonl) in ${dir}`);
  if (bases.size > 1) throw new AuditError('AUDIT_NO_FILES', `${dir} holds several logs (${[...bases].sort().join(', ')}): name the files`);
  return fromChain(await listChainFiles(dir, [...bases][0]!));
}

/**
 * What `paths` name, in chain order:
 * - a directory: its one chain (rotated files by number, then the live file), checked against its checkpoint;
 * - a live file given alone: its rotated siblings, then itself;
 * - several files of one chain (same directory and live name): sorted into chain order, so a
 *   shell glob's alphabetical order does not matter;
 * - anything else: taken in the order given.
 * The checkpoint is used when the chain ends at a live file (named without a rotation number).
 */
export async function resolveChainFiles(paths: readonly string[]): Promise<ResolvedChain> {
  if (paths.length === 0) throw new AuditError('AUDIT_NO_FILES', 'no audit files given');
  const stats = await Promise.all(
    paths.map((p) =>
      stat(p).catch((err: NodeJS.ErrnoException) => {
        throw new AuditError('AUDIT_NO_FILES', `cannot read ${p}: ${err.code ?? err.message}`);
      }),
    ),
  );
  if (paths.length === 1 && stats[0]!.isDirectory()) return chainInDirectory(paths[0]!);
  if (stats.some((s) => s.isDirectory())) throw new AuditError('AUDIT_NO_FILES', 'give either one directory or a list of files');

  const parsed = paths.map((p) => {
    const m = ROTATED.exec(path.basename(p));
    return { path: p, dir: path.resolve(path.dirname(p)), base: m ? m[1]! : path.basename(p), n: m ? Number(m[2]) : Infinity };
  });
  const first = parsed[0]!;
  if (paths.length === 1 && first.n === Infinity) return fromChain(await listChainFiles(path.dirname(first.path), first.base));

  const oneChain = parsed.every((f) => f.dir === first.dir && f.base === first.base);
  const ordered = oneChain ? [...parsed].sort((a, b) => a.n - b.n) : parsed;
  const last = ordered[ordered.length - 1]!;
  const checkpoint = path.join(path.dirname(last.path), checkpointFileName(last.base));
  return {
    files: ordered.map((f) => f.path),
    checkpoint: last.n === Infinity && (await exists(checkpoint)) ? checkpoint : undefined,
  };
}

// `keyless bench <name> [args]`: runs bench/<name>.ts, a module exporting
// `run(args: string[]): Promise<number>`. Benchmarks are found by listing bench/, so adding one is
// adding a file; helpers live in bench/lib/ and are not benchmarks.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Command } from './command.js';
import { UsageError } from './command.js';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bench');

/** A benchmark name is a file name in bench/: no path separators, no dots, nothing to traverse with. */
const NAME = /^[a-z0-9][a-z0-9-]*$/;
const SUMMARY_WIDTH = 72;

export interface BenchmarkEntry {
  readonly name: string;
  /** The first phrase of the file's opening comment. */
  readonly summary: string;
}

/** The benchmarks in bench/, by name. Read from the files' text, so listing them loads none. */
export function listBenchmarks(dir = BENCH_DIR): BenchmarkEntry[] {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  return files
    .filter((f) => f.endsWith('.ts') && NAME.test(f.slice(0, -3)))
    .sort()
    .map((f) => ({ name: f.slice(0, -3), summary: openingComment(path.join(dir, f)) }));
}

/** The opening comment's first phrase (up to ": " or ". "), shortened to fit a help line. */
function openingComment(file: string): string {
  const comment: string[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('//')) break;
    comment.push(line.replace(/^\/\/\s?/, ''));
  }
  const text = comment.join(' ').replace(/\s+/g, ' ').trim();
  const phrase = text.split(/[:.](?:\s|$)/, 1)[0] ?? '';
  if (phrase.length <= SUMMARY_WIDTH) return phrase;
  return `${phrase.slice(0, phrase.lastIndexOf(' ', SUMMARY_WIDTH - 1))} …`;
}

export class BenchError extends Error {
  constructor(
    readonly code: 'BENCH_NOT_RUNNABLE',
    message: string,
  ) {
    super(message);
    this.name = 'BenchError';
  }
}

type BenchModule = { run?: unknown };

function help(dir: string): string {
  const benchmarks = listBenchmarks(dir);
  const width = Math.max(0, ...benchmarks.map((b) => b.name.length));
  return [
    'usage: keyless bench <name> [options]',
    '',
    'Runs a benchmark from bench/. Each prints its figures next to a baseline measured in the',
    'same run (the ratio is the figure to compare across machines). Benchmarks are never part of',
    'the test suite; run them on a quiet machine.',
    '',
    'benchmarks:',
    ...(benchmarks.length > 0 ? benchmarks.map((b) => `  ${b.name.padEnd(width)}  ${b.summary}`) : ['  (none found in bench/)']),
    '',
    'Options are the benchmark\'s own; each file\'s opening comment lists them. For example:',
    '  keyless bench keyserver --seconds 5 --json',
  ].join('\n');
}

/** The command over the benchmarks in `dir` (bench/ of this checkout for `keyless bench`). */
export function benchCommandFor(dir: string): Command {
  return {
    name: 'bench',
    summary: 'run a benchmark from bench/ (keyserver, ...)',
    // A getter: the list is read from the directory when help is asked for.
    get help() {
      return help(dir);
    },
    async run(args: string[]): Promise<number> {
      const [name, ...rest] = args;
      const known = listBenchmarks(dir);
      if (name === undefined) throw new UsageError('name a benchmark');
      if (!NAME.test(name) || !known.some((b) => b.name === name)) {
        throw new UsageError(`no benchmark '${name}' in ${path.relative(process.cwd(), dir) || dir} (have: ${known.map((b) => b.name).join(', ') || 'none'})`);
      }
      const file = path.join(dir, `${name}.ts`);
      const mod = (await import(pathToFileURL(file).href)) as BenchModule;
      if (typeof mod.run !== 'function') throw new BenchError('BENCH_NOT_RUNNABLE', `${file} does not export run(args: string[]): Promise<number>`);
      return (mod.run as (args: string[]) => Promise<number>)(rest);
    },
  };
}

export const benchCommand: Command = benchCommandFor(BENCH_DIR);

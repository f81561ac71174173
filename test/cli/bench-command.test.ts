// `keyless bench`: benchmarks are the files of a directory, each a module exporting run(args).
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchCommandFor, listBenchmarks } from '../../cli/bench-command.js';
import { UsageError } from '../../cli/command.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('bench-command'));
  await writeFile(
    path.join(dir, 'echo.ts'),
    "// Echo: returns the number of its arguments.\nexport async function run(args: string[]): Promise<number> {\n  return args.length;\n}\n",
  );
  await writeFile(path.join(dir, 'script.ts'), '// A script without run().\nexport const nothing = 1;\n');
  await writeFile(path.join(dir, 'notes.md'), 'not a benchmark');
  await writeFile(path.join(dir, 'Bad.Name.ts'), '// ignored: not a benchmark name\n');
});
afterAll(() => cleanup());

describe('keyless bench', () => {
  it('lists the benchmarks of the directory with the first phrase of their opening comment', () => {
    expect(listBenchmarks(dir)).toEqual([
      { name: 'echo', summary: 'Echo' },
      { name: 'script', summary: 'A script without run()' },
    ]);
    const help = benchCommandFor(dir).help;
    expect(help).toMatch(/^ {2}echo {4}Echo$/m);
  });

  it("runs a benchmark's run() with the remaining arguments and returns its exit code", async () => {
    expect(await benchCommandFor(dir).run(['echo', '--a', 'b', 'c'])).toBe(3);
  });

  it('refuses unknown names, names that are not plain file names, and modules without run()', async () => {
    const command = benchCommandFor(dir);
    await expect(command.run(['nope'])).rejects.toBeInstanceOf(UsageError);
    await expect(command.run(['../echo'])).rejects.toBeInstanceOf(UsageError);
    await expect(command.run([])).rejects.toBeInstanceOf(UsageError);
    await expect(command.run(['script'])).rejects.toMatchObject({ code: 'BENCH_NOT_RUNNABLE' });
  });

  it('keyless bench --help lists the key server benchmark of this checkout', () => {
    const r = spawnSync(process.execPath, ['bin/keyless.js', 'bench', '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ {2}keyserver +Key server throughput and latency$/m);
  });
});

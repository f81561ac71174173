// A demo component that is a `keyless` subcommand in a child process: it is ready when it logs
// its ready line, its JSON log lines are shown one per line, and it stops on SIGTERM.
import { KeylessProcess } from '../keyless-process.js';
import type { ProcessExit } from '../keyless-process.js';
import type { ComponentReady, DemoComponent } from './component.js';
import { formatLogLine } from './log-line.js';

export interface ProcessComponentOptions {
  readonly name: string;
  /** Arguments after `keyless`. */
  readonly args: readonly string[];
  readonly readyMessage: string;
  /** Shows one line of the process's output. */
  readonly show: (line: string) => void;
  /** The lines that tell the user about it, from the fields of its ready line. */
  readonly describe: (ready: Record<string, unknown>) => string[];
  /** Runs before the process starts (writes its configuration). */
  readonly prepare?: () => Promise<void>;
  readonly env?: NodeJS.ProcessEnv;
}

export class ProcessComponent implements DemoComponent {
  private child: KeylessProcess | undefined;
  private exitedPromise: Promise<ProcessExit> | undefined;
  /** The fields of the ready line (the addresses actually bound). */
  ready: Record<string, unknown> = {};

  constructor(private readonly options: ProcessComponentOptions) {}

  get name(): string {
    return this.options.name;
  }

  get exited(): Promise<ProcessExit> {
    if (!this.exitedPromise) throw new Error(`${this.options.name} was not started`);
    return this.exitedPromise;
  }

  async start(): Promise<ComponentReady> {
    await this.options.prepare?.();
    const { process: child, ready } = await KeylessProcess.start({
      args: this.options.args,
      readyMessage: this.options.readyMessage,
      onLine: (line) => this.options.show(formatLogLine(line)),
      ...(this.options.env ? { env: this.options.env } : {}),
    });
    this.child = child;
    this.exitedPromise = child.exited;
    this.ready = ready;
    return { lines: this.options.describe(ready) };
  }

  async stop(): Promise<ProcessExit> {
    if (!this.child) return { code: 0, signal: null };
    return this.child.stop('SIGTERM');
  }
}

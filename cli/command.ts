// A subcommand of `keyless`: its own help text and its own argument parsing.
export interface Command {
  readonly name: string;
  /** One line for `keyless --help`. */
  readonly summary: string;
  /** Full text for `keyless NAME --help`. */
  readonly help: string;
  /** Returns the process exit code. */
  run(args: string[]): Promise<number>;
}

/** Thrown for bad command-line usage; main prints the message and the command's help, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

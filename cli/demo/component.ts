// The parts of `keyless demo`, each a process of its own (the key server now; the edge and a demo
// origin later). The demo starts them in order, prints what each says about itself, waits for
// Ctrl-C or for one of them to stop, and stops the others in reverse order.
import type { ProcessExit } from '../keyless-process.js';

/** What a started component tells the user: one line per fact, e.g. "key server  127.0.0.1:2407". */
export interface ComponentReady {
  readonly lines: readonly string[];
}

export interface DemoComponent {
  /** Short, for log prefixes and messages: "keyserver". */
  readonly name: string;
  start(): Promise<ComponentReady>;
  /** Resolves when the component's process has exited, whoever stopped it. Valid after start(). */
  readonly exited: Promise<ProcessExit>;
  /** Asks it to stop and waits for it. */
  stop(): Promise<ProcessExit>;
}

export interface RunningDemo {
  readonly ready: readonly { readonly name: string; readonly lines: readonly string[] }[];
  /** Resolves with the first component to exit on its own (before stopAll), with how it exited. */
  readonly firstExit: Promise<{ readonly name: string; readonly exit: ProcessExit }>;
  /** Stops every started component, newest first; true when each exited cleanly (code 0). */
  stopAll(): Promise<boolean>;
  /** The components that did not exit cleanly at the last stopAll, with how they exited. */
  readonly unclean: readonly string[];
}

/** Starts the components in order; if one fails to start, the ones already running are stopped and the error is thrown. */
export async function startComponents(components: readonly DemoComponent[]): Promise<RunningDemo> {
  const started: DemoComponent[] = [];
  const ready: { name: string; lines: readonly string[] }[] = [];
  try {
    for (const component of components) {
      const info = await component.start();
      started.push(component);
      ready.push({ name: component.name, lines: info.lines });
    }
  } catch (err) {
    for (const component of started.reverse()) await component.stop();
    throw err;
  }
  const unclean: string[] = [];
  return {
    ready,
    unclean,
    firstExit: Promise.race(started.map((c) => c.exited.then((exit) => ({ name: c.name, exit })))),
    async stopAll() {
      let clean = true;
      for (const component of [...started].reverse()) {
        const exit = await component.stop();
        if (exit.code !== 0) {
          clean = false;
          unclean.push(`${component.name} (${exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`})`);
        }
      }
      return clean;
    },
  };
}

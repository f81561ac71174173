// Waiting for SIGINT or SIGTERM to stop a long-running command. The handlers stay in place for
// the whole shutdown: a second signal (Ctrl-C reaches every process of the terminal's group, and
// a supervisor then sends SIGTERM too) must not kill the process halfway through a clean stop.
export function untilStopSignal(onSignal?: (signal: NodeJS.Signals) => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let first: NodeJS.Signals | undefined;
    const handle = (signal: NodeJS.Signals): void => {
      if (first) return;
      first = signal;
      onSignal?.(signal);
      resolve(signal);
    };
    process.on('SIGINT', handle);
    process.on('SIGTERM', handle);
  });
}

/**
 * SIGINT and SIGTERM abort the run: workers close their nix children before
 * the process exits, so none is left behind, and what was printed stays.
 */
/** Resolves on the first SIGINT or SIGTERM: how a server in the foreground is told to stop. */
export function untilStopped(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/**
 * Runs `run` with a signal that aborts on SIGINT or SIGTERM, or when stdout
 * is closed by its reader (`evix eval … | head`): then the run stops as a
 * Unix tool stops on SIGPIPE, quietly, its nix children closed, with the
 * status a shell reports for that (141).
 */
export async function runWithSignals<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    process.exitCode = name === 'SIGINT' ? 130 : 143;
    controller.abort(name);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const onClosedStdout = () => controller.abort('EPIPE');
  stdoutClosed.addEventListener('abort', onClosedStdout);
  try {
    return await run(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    stdoutClosed.removeEventListener('abort', onClosedStdout);
  }
}

const closing = new AbortController();
/** Aborts once stdout's reader has gone. */
const stdoutClosed = closing.signal;

/**
 * Makes a closed stdout end the program quietly with status 141 (a run
 * through runWithSignals stops at once; one through the daemon finishes
 * there, its output dropped). Stays for good: once stdout's reader has
 * gone, every later write (what was buffered, the flush at the end) fails
 * the same way, and an unhandled one ends the process with a stack trace.
 */
export function quietOnClosedStdout(): void {
  process.stdout.on('error', onStdoutError);
}

function onStdoutError(error: NodeJS.ErrnoException): void {
  if (error.code !== 'EPIPE') throw error;
  if (closing.signal.aborted) return;
  process.exitCode = 141;
  closing.abort();
}

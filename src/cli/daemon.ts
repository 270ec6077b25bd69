/** `evix daemon --foreground` (and `evixd`): keep evaluated sessions warm behind a Unix socket. */
import { Command } from 'commander';
import { defaultSocketPath } from '../daemon/socket-path.js';
import { UsageError } from './argv.js';
import { loggerFor, withLogOptions, type LogFlags } from './logging.js';
import { positiveInteger } from './numbers.js';
import { withExample } from './run.js';
import { untilStopped } from './signals.js';

interface DaemonFlags extends LogFlags {
  foreground?: boolean;
  socket?: string;
  maxSessions: string;
}

export function daemonCommand(name = 'daemon'): Command {
  return withExample(withLogOptions(new Command(name)), `${name === 'daemon' ? 'evix daemon' : name} --foreground --socket $XDG_RUNTIME_DIR/evix.sock`)
    .description('keep evaluated sessions warm behind a Unix socket, for eval, query and diff')
    .option('--foreground', 'run in the foreground (required: evixd does not fork; run it under a service manager)')
    .option('--socket <path>', 'socket to listen on (default: $EVIX_SOCKET, /run/user/UID/evix.sock, or a private directory under /tmp)')
    .option('--max-sessions <n>', 'warm sessions kept; the least recently used goes first', '8')
    .action(async (flags: DaemonFlags) => {
      if (!flags.foreground) throw new UsageError('give --foreground: the daemon does not fork (run it under systemd or similar)');
      const socketPath = flags.socket ?? defaultSocketPath();
      const [log, { DaemonServer }] = await Promise.all([loggerFor(flags), import('../daemon/server.js')]);
      const server = new DaemonServer({ socketPath, maxSessions: positiveInteger('--max-sessions', flags.maxSessions, 1), log });
      await server.listen();
      process.stderr.write(`evix daemon listening on ${socketPath}\n`);
      await untilStopped();
      await server.close();
    });
}

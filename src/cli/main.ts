/**
 * The evix command line. Node's compile cache is switched on before the
 * rest is loaded: evix is many small modules, and compiling them was most of
 * the start-up of a short run (a cache hit, a query). A cached run's Nix
 * commands start before that (see head-start.ts). `evix nix-eval-jobs …`
 * is the drop-in's command line, read by its own parser.
 */
import { enableCompileCache } from 'node:module';
import { startEarlyCommands } from './head-start.js';

const argv = process.argv.slice(2);
if (argv[0] === 'nix-eval-jobs') {
  // nix-eval-jobs' own command line, not commander's (see nix-eval-jobs.ts).
  enableCompileCache?.();
  const { nixEvalJobs } = await import('./nix-eval-jobs.js');
  await nixEvalJobs(argv.slice(1), 'evix nix-eval-jobs');
} else {
  startEarlyCommands(argv);
  enableCompileCache?.();
  await import('./program.js');
}

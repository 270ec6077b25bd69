/** `evix-eval-jobs`: nix-eval-jobs' command line (see nix-eval-jobs.ts; compile cache as in main.ts). */
import { enableCompileCache } from 'node:module';
import { basename } from 'node:path';

enableCompileCache?.();
const { nixEvalJobs } = await import('./nix-eval-jobs.js');
await nixEvalJobs(process.argv.slice(2), basename(process.argv[1] ?? 'evix-eval-jobs', '.js'));

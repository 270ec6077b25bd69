/**
 * Bundles the commands (evix, evixd, evix-eval-jobs) from tsc's output in dist/ into
 * dist/bin: an entry file each and shared chunks. A short run (a cache hit,
 * a query through the daemon) is mostly Node starting and loading modules;
 * resolving and reading some eighty files and packages one by one cost about
 * a fifth of a cache hit. Code splitting keeps every lazy import() lazy, so
 * a run still loads only what it uses. The library (dist/index.js) stays
 * unbundled for those who import evix.
 */
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// Chunk names carry content hashes: without this, every build would leave the last one's behind.
rmSync('dist/bin', { recursive: true, force: true });

await build({
  entryPoints: { evix: 'dist/cli/main.js', evixd: 'dist/cli/evixd.js', 'evix-eval-jobs': 'dist/cli/evix-eval-jobs.js' },
  outdir: 'dist/bin',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  // pino and commander are CommonJS; their require() of Node's modules needs a real require in ESM.
  banner: { js: "import { createRequire as evixCreateRequire } from 'node:module'; const require = evixCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});

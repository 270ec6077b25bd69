/**
 * Bundles the commands (evix, evixd, evix-eval-jobs) from tsc's output in
 * dist/ into dist/bin: a program file each (NAME-main.js) and shared chunks.
 * A short run (a cache hit, a query through the daemon) is mostly Node
 * starting and loading modules; resolving and reading some eighty files and
 * packages one by one cost about a fifth of a cache hit. Code splitting
 * keeps every lazy import() lazy, so a run still loads only what it uses.
 * The library (dist/index.js) stays unbundled for those who import evix.
 *
 * Each command's bin (dist/bin/NAME.js) is a launcher, written here, that is
 * both a shell script and an ES module. Run as a program (on PATH, or as
 * ./dist/bin/evix.js) the shell part picks the Node evix is installed with:
 * the `node` package beside it (the checkout's devDependency, or what
 * `npm install -g` put under the package), else whatever `node` is on PATH.
 * `#!/usr/bin/env node` found the system's Node, often too old (Debian
 * bookworm's is 20), and a user had to go through npx, which added 0.7 s to
 * every command. Run by a Node, the module part checks the version before
 * anything else is linked: on an older Node the program's own imports fail
 * to link (a SyntaxError naming enableCompileCache) before any check of
 * theirs could run.
 */
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const COMMANDS = { evix: 'dist/cli/main.js', evixd: 'dist/cli/evixd.js', 'evix-eval-jobs': 'dist/cli/evix-eval-jobs.js' };

// Chunk names carry content hashes: without this, every build would leave the last one's behind.
rmSync('dist/bin', { recursive: true, force: true });

await build({
  entryPoints: Object.fromEntries(Object.entries(COMMANDS).map(([name, file]) => [`${name}-main`, file])),
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

const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } };
const [major, minor] = (/^>=(\d+)\.(\d+)$/.exec(manifest.engines.node) ?? []).slice(1).map(Number);
if (major === undefined || minor === undefined) throw new Error(`package.json engines.node should read >=MAJOR.MINOR, not ${manifest.engines.node}`);

for (const name of Object.keys(COMMANDS)) {
  const file = `dist/bin/${name}.js`;
  writeFileSync(file, launcher(name, major, minor));
  chmodSync(file, 0o755);
}

/**
 * The shell reads the second line as the no-op `':'` followed by the real
 * commands; JavaScript reads a string and a comment. The package root is
 * what precedes /dist/bin/ in the launcher's real path; the `node` package
 * sits in its node_modules, or beside it when a project's install hoisted it.
 * "$0" is passed on as given, so a link's name stays the program's name.
 *
 * V8's young generation is held to 4 MiB semi-spaces (its default grows to
 * 32): a walk allocates a stream of short-lived descriptions and events,
 * and a larger nursery only held more garbage between collections. On
 * 100k derivations with two workers the master's peak RSS was 220 MiB at
 * the default; at 8 it was 130 or 175 from one run to the next (in the
 * larger, old space had filled to 90 MiB before its first full
 * collection), at 16 140 or 184; at 4 it was 118 or 119 in every run, for
 * the same CPU and time.
 *
 * Old space starts at 24 MiB (--initial-old-space-size): what it holds
 * between full collections is mostly descriptions promoted just before
 * they died, and V8's own first limit let that grow until the run ended
 * whenever the master fell behind its children. With 4 MiB semi-spaces
 * alone, 2 runs in 10 peaked at 150 MiB instead of 109; with both, 11 of
 * 11 at 106-109, for the same CPU.
 */
function launcher(name: string, major: number, minor: number): string {
  const V8_FLAGS = '--max-semi-space-size=4 --initial-old-space-size=24';
  return `#!/bin/sh
':' //; self=$(readlink -f "$0"); pkg=\${self%/dist/bin/*}; for node in "$pkg/node_modules/node/bin/node" "\${pkg%/*}/node/bin/node"; do [ -x "$node" ] && exec "$node" ${V8_FLAGS} "$0" "$@"; done; exec node ${V8_FLAGS} "$0" "$@"
// ${name}: the launcher scripts/bundle.ts writes (see there).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < ${major} || (major === ${major} && minor < ${minor})) {
  process.stderr.write(\`${name}: needs Node.js ${major}.${minor} or newer, and this is \${process.version}: install Node 24 (https://nodejs.org/, or npm install -g node@24)\\n\`);
  process.exit(2);
}
await import('./${name}-main.js');
`;
}

/**
 * Builds dist/ once, the way `npm run build` does (tsc, then the esbuild
 * bundle in dist/bin that the CLI, worker and daemon tests run), so no test
 * runs a stale command beside fresh library code. Not where the checkout
 * was built outside and has no npm (scripts/nix-versions runs the suite in
 * roots of other Debian releases, with EVIX_TEST_DIST_BUILT set).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  if (process.env.EVIX_TEST_DIST_BUILT) return;
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
}

/**
 * Builds dist/ once, the way `npm run build` does (tsc, then the esbuild
 * bundle in dist/bin that the CLI, worker and daemon tests run), so no test
 * runs a stale command beside fresh library code.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
}

/** `evixd`: the same server as `evix daemon` (compile cache as in main.ts). */
import { enableCompileCache } from 'node:module';

enableCompileCache?.();
const [{ daemonCommand }, { quiet, runProgram }, { packageVersion }] = await Promise.all([import('./daemon.js'), import('./run.js'), import('./version.js')]);
await runProgram(quiet(daemonCommand('evixd').version(packageVersion(), '-V, --version', "print evix's version")), process.argv.slice(2));

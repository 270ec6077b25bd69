#!/usr/bin/env node
/** `evixd`: the same server as `evix daemon` (compile cache as in main.ts). */
import { enableCompileCache } from 'node:module';

enableCompileCache?.();
const [{ daemonCommand }, { quiet, runProgram }] = await Promise.all([import('./daemon.js'), import('./run.js')]);
await runProgram(quiet(daemonCommand('evixd')), process.argv.slice(2));

#!/usr/bin/env node
/** `evixd`: the same server as `evix daemon`. */
import { daemonCommand } from './daemon.js';
import { quiet, runProgram } from './run.js';

await runProgram(quiet(daemonCommand('evixd')), process.argv.slice(2));

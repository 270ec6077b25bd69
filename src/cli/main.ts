#!/usr/bin/env node
/**
 * The evix command line. Node's compile cache is switched on before the
 * rest is loaded: evix is many small modules, and compiling them was most of
 * the start-up of a short run (a cache hit, a query). A cached run's Nix
 * commands start before that (see head-start.ts).
 */
import { enableCompileCache } from 'node:module';
import { startEarlyCommands } from './head-start.js';

startEarlyCommands(process.argv.slice(2));
enableCompileCache?.();
await import('./program.js');

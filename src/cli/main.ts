#!/usr/bin/env node
/**
 * The evix command line. Node's compile cache is switched on before the
 * rest is loaded: evix is many small modules, and compiling them was most of
 * the start-up of a short run (a cache hit, a query).
 */
import { enableCompileCache } from 'node:module';

enableCompileCache?.();
await import('./program.js');

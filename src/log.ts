/**
 * Logging: pino to stderr (fd 2), never stdout, which carries only events.
 * Synchronous writes so that a message printed just before exit is not lost.
 *
 * pino is loaded when the first message at an enabled level is logged, not
 * before: at the default level most short runs (a cache hit, a query) log
 * nothing, and loading pino was a tenth of a cache hit. Anything with these
 * methods is a Logger, pino's own loggers included (the tests pass those).
 */
import { createRequire } from 'node:module';
import type * as Pino from 'pino';

export type LogLevel = 'silent' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

interface LogFn {
  (bindings: object, message?: string): void;
  (message: string): void;
}

export interface Logger {
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

const SEVERITY: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, silent: Infinity };

/** Where the pino logger of a tree of loggers is made, once. */
class PinoRoot {
  readonly #level: LogLevel;
  #pino: Pino.Logger | undefined;

  constructor(level: LogLevel) {
    this.#level = level;
  }

  /** Whether a message at `level` is written (pino would drop the rest; here they do not load it). */
  enabled(level: LogLevel): boolean {
    return SEVERITY[level] >= SEVERITY[this.#level];
  }

  get pino(): Pino.Logger {
    if (!this.#pino) {
      const { pino } = createRequire(import.meta.url)('pino') as typeof Pino;
      this.#pino = pino({ level: this.#level, base: undefined }, pino.destination({ fd: 2, sync: true }));
    }
    return this.#pino;
  }
}

class LazyLogger implements Logger {
  readonly #root: PinoRoot;
  readonly #bindings: Record<string, unknown>[];
  #pino: Pino.Logger | undefined;

  constructor(root: PinoRoot, bindings: Record<string, unknown>[]) {
    this.#root = root;
    this.#bindings = bindings;
  }

  error: LogFn = (first: object | string, message?: string) => this.#log('error', first, message);
  warn: LogFn = (first: object | string, message?: string) => this.#log('warn', first, message);
  info: LogFn = (first: object | string, message?: string) => this.#log('info', first, message);
  debug: LogFn = (first: object | string, message?: string) => this.#log('debug', first, message);

  child(bindings: Record<string, unknown>): Logger {
    return new LazyLogger(this.#root, [...this.#bindings, bindings]);
  }

  #log(level: 'error' | 'warn' | 'info' | 'debug', first: object | string, message?: string): void {
    if (!this.#root.enabled(level)) return;
    this.#pino ??= this.#bindings.reduce((logger, bindings) => logger.child(bindings), this.#root.pino);
    if (typeof first === 'string') this.#pino[level](first);
    else this.#pino[level](first, message);
  }
}

export function createLogger(level: LogLevel): Logger {
  return new LazyLogger(new PinoRoot(level), []);
}

/** A logger that drops everything, for library use and tests. */
export const silentLogger: Logger = createLogger('silent');

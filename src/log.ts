/**
 * Logging to stderr (fd 2), never stdout, which carries only events. Logs
 * are for people: one plain line per message by default, in Nix's manner
 * (`warning: …`, then the message's fields); pino's JSON lines when asked
 * (`--log-format json`), for machines. Synchronous writes so that a message
 * printed just before exit is not lost.
 *
 * pino is loaded when the first message at an enabled level is logged, not
 * before: at the default level most short runs (a cache hit, a query) log
 * nothing, and loading pino was a tenth of a cache hit. Anything with these
 * methods is a Logger, pino's own loggers included (the tests pass those).
 */
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Pino from 'pino';

export type LogLevel = 'silent' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
export type LogFormat = 'text' | 'json';

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

/** Where the pino logger of a tree of loggers is made, once (JSON lines only). */
class LogRoot {
  readonly #level: LogLevel;
  readonly format: LogFormat;
  #pino: Pino.Logger | undefined;

  constructor(level: LogLevel, format: LogFormat) {
    this.#level = level;
    this.format = format;
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
  readonly #root: LogRoot;
  readonly #bindings: Record<string, unknown>[];
  #pino: Pino.Logger | undefined;

  constructor(root: LogRoot, bindings: Record<string, unknown>[]) {
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
    if (this.#root.format === 'text') {
      writeSync(2, textLine(level, first, message, this.#bindings));
      return;
    }
    this.#pino ??= this.#bindings.reduce((logger, bindings) => logger.child(bindings), this.#root.pino);
    if (typeof first === 'string') this.#pino[level](first);
    else this.#pino[level](first, message);
  }
}

export function createLogger(level: LogLevel, format: LogFormat = 'text'): Logger {
  return new LazyLogger(new LogRoot(level, format), []);
}

const TEXT_PREFIX = { error: 'error: ', warn: 'warning: ', info: '', debug: '' } as const;

/** `warning: MESSAGE (key=value, …)`: the message, then its fields and those of the logger. */
function textLine(level: keyof typeof TEXT_PREFIX, first: object | string, message: string | undefined, bindings: readonly Record<string, unknown>[]): string {
  const fields = typeof first === 'string' ? bindings : [...bindings, first as Record<string, unknown>];
  const text = typeof first === 'string' ? first : (message ?? '');
  const pairs = fields.flatMap((f) => Object.entries(f)).map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  return `${TEXT_PREFIX[level]}${text}${pairs.length > 0 ? ` (${pairs.join(', ')})` : ''}\n`;
}

/** A logger that drops everything, for library use and tests. */
export const silentLogger: Logger = createLogger('silent');

/**
 * Logging: pino to stderr (fd 2), never stdout, which carries only events.
 * Synchronous writes so that a message printed just before exit is not lost.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export type LogLevel = 'silent' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: undefined }, pino.destination({ fd: 2, sync: true }));
}

/** A logger that drops everything, for library use and tests. */
export const silentLogger: Logger = pino({ level: 'silent' });

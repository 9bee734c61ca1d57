import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** JSON lines on stdout; one logger for the process, children per connection. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { name: 'switchboard' }, timestamp: pino.stdTimeFunctions.isoTime });
}

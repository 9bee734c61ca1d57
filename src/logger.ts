import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** JSON lines on stdout; one logger for the process. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { name: 'switchboard' }, timestamp: pino.stdTimeFunctions.isoTime });
}

export type ClientLogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** Who a line is about: read when the line is written, so a client ID set at CONNECT shows up. */
export interface ClientLogFields {
  readonly clientId: string;
  readonly remoteAddress: string;
}

type LogMethod = (fields: object, message: string) => void;

/**
 * Lines about one client, each carrying its `remoteAddress` and (once known) `clientId`, as a pino
 * child would, but without one: two children per connection, with their serialised bindings, were
 * about a kilobyte of every idle connection. The fields are merged into the lines actually
 * written; a disabled level costs one check and builds nothing.
 */
export class ClientLogger implements Record<ClientLogLevel, LogMethod> {
  private readonly root: Logger;
  private readonly about: ClientLogFields;

  constructor(root: Logger, about: ClientLogFields) {
    this.root = root;
    this.about = about;
  }

  private write(level: ClientLogLevel, fields: object, message: string): void {
    const root = this.root;
    if (!root.isLevelEnabled(level)) return;
    const about = this.about;
    const clientId = about.clientId;
    const line = clientId ? { remoteAddress: about.remoteAddress, clientId, ...fields } : { remoteAddress: about.remoteAddress, ...fields };
    root[level](line, message);
  }

  fatal(fields: object, message: string): void {
    this.write('fatal', fields, message);
  }
  error(fields: object, message: string): void {
    this.write('error', fields, message);
  }
  warn(fields: object, message: string): void {
    this.write('warn', fields, message);
  }
  info(fields: object, message: string): void {
    this.write('info', fields, message);
  }
  debug(fields: object, message: string): void {
    this.write('debug', fields, message);
  }
  trace(fields: object, message: string): void {
    this.write('trace', fields, message);
  }
}

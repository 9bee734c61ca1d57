import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/** `json`: one JSON object per line; `pretty`: one coloured line per entry; `auto`: pretty on a terminal. */
export type LogFormat = 'auto' | 'pretty' | 'json';

export interface LoggerOptions {
  level: string;
  format?: LogFormat;
  /** Where lines go; standard output by default. Its `isTTY` decides `auto`. */
  output?: NodeJS.WriteStream;
}

/**
 * One logger for the process, writing to standard output: JSON lines for machines (a pipe, a file,
 * journald, a container runtime), or readable single lines when a person is watching a terminal.
 */
export function createLogger(options: LoggerOptions): Logger {
  const output = options.output ?? process.stdout;
  const format = options.format ?? 'auto';
  const pretty = format === 'pretty' || (format === 'auto' && output.isTTY === true);
  const settings = { level: options.level, base: { name: 'switchboard' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (!pretty) return output === process.stdout ? pino(settings) : pino(settings, output);
  return pino(settings, prettyStream(output));
}

interface PrettyOptions {
  destination: NodeJS.WritableStream;
  colorize: boolean;
  singleLine: boolean;
  translateTime: string;
  ignore: string;
  sync: boolean;
}

/**
 * pino-pretty, formatting in this thread (no transport worker: a start-up log must not be lost when
 * the process exits right after it). Loaded only when used, so a server logging JSON never reads it.
 */
function prettyStream(output: NodeJS.WriteStream): DestinationStream {
  const load = createRequire(import.meta.url);
  const build = load('pino-pretty') as (options: PrettyOptions) => DestinationStream;
  return build({
    destination: output,
    // Colours only for a terminal; `log.format: pretty` into a file gets plain text.
    colorize: output.isTTY === true,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name',
    sync: true,
  });
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

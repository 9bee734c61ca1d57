/**
 * What a rule is evaluated against (one published message) and the per-evaluation state.
 *
 * One EvalContext belongs to one compiled rule or template and is reused for every message:
 * evaluation is synchronous, so it is never shared by two evaluations at once, and reuse keeps
 * the per-message path free of allocations beyond the values it builds.
 */

export type SqlVersion = '2015-10-08' | '2016-03-23';

/** MQTT 5 properties of the triggering PUBLISH (absent for MQTT 3.1.1 and HTTP publishes). */
export interface RuleMqttProperties {
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  /** In arrival order; duplicate keys allowed [MQTT-3.3.2-18]. A record's array values expand in order. */
  readonly userProperties?: ReadonlyArray<readonly [string, string]> | Readonly<Record<string, string | readonly string[]>>;
  readonly contentType?: string;
  readonly responseTopic?: string;
  readonly correlationData?: Buffer;
  /** 1 (or true) = UTF-8 data; 0, false or absent = unspecified bytes. */
  readonly payloadFormatIndicator?: number | boolean;
  /** Seconds. */
  readonly messageExpiry?: number;
}

export interface RuleInput {
  readonly topic: string;
  readonly payload: Buffer;
  /** clientid() is `n/a` when absent (not published over MQTT). */
  readonly clientId?: string;
  readonly principal?: string;
  /** Rules-engine time for timestamp(), epoch milliseconds. */
  readonly timestamp: number;
  /** traceid() is Undefined when absent. */
  readonly traceId?: string;
  /** accountid(): Undefined when absent. */
  readonly accountId?: string;
  /** sourceip(): Undefined when absent. */
  readonly sourceIp?: string;
  readonly mqtt?: RuleMqttProperties;
}

/** The payload is not JSON: field access gives Undefined and `*` is the raw bytes. */
export const NOT_JSON: unique symbol = Symbol('not-json');

// First bytes a JSON text can start with (after whitespace): { [ " - 0-9 t f n.
const JSON_START = new Uint8Array(256);
for (const c of '{["-0123456789tfn') JSON_START[c.charCodeAt(0)] = 1;

/**
 * The payload as JSON, or NOT_JSON. The first-byte check keeps binary payloads (the common
 * non-JSON case) from paying for a thrown SyntaxError.
 */
export function parsePayload(payload: Buffer): unknown {
  let i = 0;
  const n = payload.length;
  while (i < n) {
    const b = payload[i]!;
    if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) break;
    i++;
  }
  if (i === n || JSON_START[payload[i]!] !== 1) return NOT_JSON;
  try {
    return JSON.parse(payload.toString('utf8')) as unknown;
  } catch {
    return NOT_JSON;
  }
}

const BASIC_INGEST_PREFIX = '$aws/rules/';

export class EvalContext {
  input: RuleInput = EMPTY_INPUT;
  /** The parsed payload, NOT_JSON, or NOT_JSON when the rule never reads the payload. */
  payload: unknown = NOT_JSON;
  /** What a bare field name reads: the payload, or the element a nested query is visiting. */
  row: unknown = NOT_JSON;
  /** SET variables by slot. */
  readonly vars: unknown[];
  /** Variables by name, for templates (from a rule's evaluation). */
  templateVars: Readonly<Record<string, unknown>> | undefined = undefined;
  private visible: string | undefined = undefined;

  constructor(
    readonly version: SqlVersion,
    variableCount: number,
  ) {
    this.vars = new Array<unknown>(variableCount).fill(undefined);
  }

  begin(input: RuleInput, parse: boolean): void {
    this.input = input;
    this.payload = parse ? parsePayload(input.payload) : NOT_JSON;
    this.row = this.payload;
  }

  /** Drop references to the message so it can be collected. */
  end(): void {
    this.input = EMPTY_INPUT;
    this.payload = NOT_JSON;
    this.row = NOT_JSON;
    this.vars.fill(undefined);
    this.templateVars = undefined;
    this.visible = undefined;
  }

  /**
   * The topic as topic() sees it: with Basic Ingest the `$aws/rules/<rule-name>/` prefix is
   * not available (iot-sql-functions.md, topic()).
   */
  topic(): string {
    if (this.visible === undefined) {
      const t = this.input.topic;
      if (t.startsWith(BASIC_INGEST_PREFIX)) {
        const slash = t.indexOf('/', BASIC_INGEST_PREFIX.length);
        this.visible = slash < 0 ? '' : t.slice(slash + 1);
      } else {
        this.visible = t;
      }
    }
    return this.visible;
  }

  /** Level `n` (1-based) of topic(), or undefined; scans rather than splitting per message. */
  topicLevel(n: number): string | undefined {
    const t = this.topic();
    let start = 0;
    for (let level = 1; level < n; level++) {
      const slash = t.indexOf('/', start);
      if (slash < 0) return undefined;
      start = slash + 1;
    }
    const end = t.indexOf('/', start);
    return end < 0 ? t.slice(start) : t.slice(start, end);
  }
}

const EMPTY_INPUT: RuleInput = { topic: '', payload: Buffer.alloc(0), timestamp: 0 };

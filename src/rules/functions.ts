/**
 * The function table: name (lower case; calls are case-insensitive, the docs write both
 * `round` and `Round`) -> arity, SQL version and implementation. The compiler resolves every
 * call against it once, at rule creation.
 *
 * Functions that call other AWS services, or need data Switchboard does not have, are known
 * by name so that a rule using them fails at creation with a clear code rather than as an
 * "unknown function".
 */
import { randomUUID } from 'node:crypto';

import type { EvalContext } from './context.js';
import { literalArg, type FunctionSpec, type FunctionTable } from './function-types.js';
import { MATH_FUNCTIONS } from './functions-math.js';
import { STRING_FUNCTIONS } from './functions-string.js';
import { compileTimePattern, formatTime, ZoneCache, type TimePattern } from './parse-time.js';
import { copyInto, getField, isObject, toInt, toStr, type Row } from './values.js';

/**
 * get(collection, key): an Array or String indexed by the key converted to Int (0-based;
 * out of range is Undefined); an Object by a String key (no conversion); anything else is
 * Undefined. `a[i]` means the same.
 */
export function getElement(collection: unknown, key: unknown): unknown {
  if (Array.isArray(collection)) {
    const i = toInt(key);
    return i !== undefined && i >= 0 && i < collection.length ? collection[i] : undefined;
  }
  if (typeof collection === 'string') {
    const i = toInt(key);
    return i !== undefined && i >= 0 && i < collection.length ? collection[i] : undefined;
  }
  return typeof key === 'string' ? getField(collection, key) : undefined;
}

/** Pairs of the MQTT 5 user properties in order, whichever shape the broker passed. */
function userPropertyPairs(ctx: EvalContext): Array<readonly [string, string]> | undefined {
  const props = ctx.input.mqtt?.userProperties;
  if (props === undefined) return undefined;
  if (Array.isArray(props)) return props as Array<readonly [string, string]>;
  const pairs: Array<readonly [string, string]> = [];
  for (const [k, v] of Object.entries(props as Readonly<Record<string, string | readonly string[]>>)) {
    if (typeof v === 'string') pairs.push([k, v]);
    else for (const item of v) pairs.push([k, item]);
  }
  return pairs;
}

/**
 * get_user_properties([key]): with a key, an Array of every value of that key (duplicate
 * keys allowed); without, an Array of one-key Objects in order; Undefined when none match.
 */
function getUserProperties(args: readonly unknown[], ctx: EvalContext): unknown {
  const pairs = userPropertyPairs(ctx);
  if (pairs === undefined) return undefined;
  if (args.length === 0) {
    if (pairs.length === 0) return undefined;
    return pairs.map(([k, v]) => {
      const o: Row = {};
      copyInto(o, { [k]: v });
      return o;
    });
  }
  const key = args[0];
  if (typeof key !== 'string') return undefined;
  const values: string[] = [];
  for (const [k, v] of pairs) if (k === key) values.push(v);
  return values.length > 0 ? values : undefined;
}

/**
 * get_mqtt_property(name): content_type, response_topic and correlation_data (base64) are
 * Undefined when absent; format_indicator is always a String, UNSPECIFIED_BYTES when absent;
 * any other name is Undefined.
 */
function getMqttProperty(args: readonly unknown[], ctx: EvalContext): unknown {
  const m = ctx.input.mqtt;
  switch (args[0]) {
    case 'format_indicator':
      return m?.payloadFormatIndicator === 1 || m?.payloadFormatIndicator === true ? 'UTF8_DATA' : 'UNSPECIFIED_BYTES';
    case 'content_type':
      return m?.contentType;
    case 'response_topic':
      return m?.responseTopic;
    case 'correlation_data':
      return m?.correlationData?.toString('base64');
    default:
      return undefined;
  }
}

/** topic() is the whole topic; topic(n) the n-th level, 1-based; Undefined outside. */
function topic(args: readonly unknown[], ctx: EvalContext): unknown {
  if (args.length === 0) return ctx.topic();
  const n = toInt(args[0]);
  return n !== undefined && n >= 1 ? ctx.topicLevel(n) : undefined;
}

/**
 * transform('enrichArray', object, array): each Object element of the array with the
 * object's attributes added; any other mode, or other argument types, is Undefined.
 *
 * A nested SELECT always yields an Array (see compile.ts), so the docs' example 3,
 * `transform('enrichArray', (SELECT a, b FROM data2), (SELECT VALUE c FROM data2))`, passes
 * `[{a, b}]` and `[[...c]]`: a one-element Array holding an Object is taken as that Object,
 * and Array elements that are Arrays are spliced in, so the example gives the documented result.
 */
function transform(args: readonly unknown[]): unknown {
  const [mode, attributesArg, listArg] = args;
  const attributes = Array.isArray(attributesArg) && attributesArg.length === 1 ? attributesArg[0] : attributesArg;
  if (mode !== 'enrichArray' || !isObject(attributes) || !Array.isArray(listArg)) return undefined;
  const out: Row[] = [];
  for (const entry of listArg) {
    for (const element of Array.isArray(entry) ? entry : [entry]) {
      if (!isObject(element)) continue;
      const o: Row = {};
      copyInto(o, element);
      copyInto(o, attributes);
      out.push(o);
    }
  }
  return out;
}

const parseTime: FunctionSpec = {
  min: 2,
  max: 3,
  since: '2016-03-23',
  compile(site) {
    const pattern = site.arg(0);
    const time = site.arg(1);
    const zoneArg = site.args.length > 2 ? site.arg(2) : undefined;
    const lit = literalArg(site, 0);
    const fixed = lit && typeof lit.value === 'string' ? compileTimePattern(lit.value) : undefined;
    const zones = new ZoneCache();
    return (ctx) => {
      const p = pattern(ctx);
      const ms = toInt(time(ctx));
      const zoneId = zoneArg === undefined ? 'UTC' : toStr(zoneArg(ctx));
      if (ms === undefined || zoneId === undefined) return undefined;
      let compiled: TimePattern | undefined = fixed;
      if (compiled === undefined) {
        const text = toStr(p);
        compiled = text === undefined ? undefined : compileTimePattern(text);
      }
      const zone = zones.get(zoneId);
      return compiled === undefined || zone === undefined ? undefined : formatTime(compiled, ms, zone);
    };
  },
};

const CONTEXT_FUNCTIONS: FunctionTable = {
  topic: { min: 0, max: 1, impl: topic },
  clientid: { min: 0, max: 0, impl: (_, ctx) => ctx.input.clientId ?? 'n/a' },
  principal: { min: 0, max: 0, impl: (_, ctx) => ctx.input.principal },
  timestamp: { min: 0, max: 0, impl: (_, ctx) => ctx.input.timestamp },
  traceid: { min: 0, max: 0, impl: (_, ctx) => ctx.input.traceId },
  accountid: { min: 0, max: 0, impl: (_, ctx) => ctx.input.accountId },
  sourceip: { min: 0, max: 0, since: '2016-03-23', impl: (_, ctx) => ctx.input.sourceIp },
  sql_version: { min: 0, max: 0, impl: (_, ctx) => ctx.version },
  get_mqtt_property: { min: 1, max: 1, impl: getMqttProperty },
  get_user_properties: { min: 0, max: 1, impl: getUserProperties },
};

const VALUE_FUNCTIONS: FunctionTable = {
  get: { min: 2, max: 2, impl: (args) => getElement(args[0], args[1]) },
  isnull: { min: 1, max: 1, impl: (args) => args[0] === null },
  isundefined: { min: 1, max: 1, since: '2016-03-23', impl: (args) => args[0] === undefined },
  // get_or_default: the second argument (or Undefined) when the first is Undefined or Null.
  get_or_default: {
    min: 1,
    max: 2,
    since: '2016-03-23',
    impl: (args) => (args[0] === undefined || args[0] === null ? (args.length > 1 ? args[1] : undefined) : args[0]),
  },
  newuuid: { min: 0, max: 0, impl: () => randomUUID() },
  transform: { min: 3, max: 3, since: '2016-03-23', impl: transform },
  parse_time: parseTime,
};

export const FUNCTIONS: FunctionTable = { ...MATH_FUNCTIONS, ...STRING_FUNCTIONS, ...CONTEXT_FUNCTIONS, ...VALUE_FUNCTIONS };

/** Known AWS functions Switchboard does not provide, with the reason given in the error. */
export const UNSUPPORTED_FUNCTIONS: Readonly<Record<string, string>> = {
  aws_lambda: 'it calls AWS Lambda',
  get_dynamodb: 'it reads an Amazon DynamoDB table',
  get_secret: 'it reads AWS Secrets Manager',
  get_thing_shadow: 'it reads the AWS IoT Device Shadow service',
  get_registry_data: 'it reads the AWS IoT thing registry',
  machinelearning_predict: 'it calls Amazon SageMaker AI',
  time_to_epoch: 'parsing Java DateTimeFormatter patterns is not implemented',
  md2: 'the MD2 digest is not available in Node.js',
};

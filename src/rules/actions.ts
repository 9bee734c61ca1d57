// Rule actions run locally: republish (through broker.publish), function (a Lambda-style handler
// in the authorizers' worker pool), http (POST with bounded retries), log. Templates are compiled
// when the rule is created; running an action never throws, it resolves to a failure or null.
import type { Logger } from 'pino';
import type { Broker } from '../broker/broker.js';
import type { Message, MessageProperties } from '../shared/message.js';
import { propertiesProblem } from '../shared/message.js';
import type { FunctionPool } from '../functions/function-pool.js';
import { validateTopicName } from '../protocol/topic.js';
import type { ActionDefinition } from './rule-definition.js';
import { compileTemplate as compileTemplateFor, type CompiledRule, type CompiledTemplate, type RuleInput, type RuleOutput } from './index.js';
import type { Clock } from '../shared/clock.js';

export interface ActionFailure {
  failedAction: string;
  failedResource: string;
  errorMessage: string;
}

export interface ActionDeps {
  broker: Broker;
  /** Message times and the HTTP action's retry delays. */
  clock: Clock;
  pool: FunctionPool;
  logger: Logger;
  ruleName: string;
}

export interface CompiledAction {
  readonly kind: string;
  run(input: RuleInput, output: RuleOutput): Promise<ActionFailure | null>;
}

/** The SELECT result as a message payload: JSON text, or the raw bytes of a binary result. */
export function payloadOf(output: RuleOutput): Buffer {
  return output.kind === 'binary' ? output.value : Buffer.from(JSON.stringify(output.value ?? null));
}

/** The SELECT result as a function's event: the JSON value, or base64 of raw bytes (as Lambda gets it). */
function eventOf(output: RuleOutput): unknown {
  return output.kind === 'binary' ? output.value.toString('base64') : output.value;
}

const failure = (failedAction: string, failedResource: string, errorMessage: string): ActionFailure => ({ failedAction, failedResource, errorMessage });

/** Compiles an action; throws SqlError (with line and column) for a bad template. */
export function compileAction(definition: ActionDefinition, deps: ActionDeps, rule?: CompiledRule): CompiledAction {
  // With the rule, a template naming a SET variable the rule does not define fails now, not later.
  const compileTemplate = (source: string) => compileTemplateFor(source, rule ? { rule } : {});
  if ('republish' in definition) {
    const r = definition.republish;
    const topic = compileTemplate(r.topic);
    const h = r.headers ?? {};
    const headerTemplates: [keyof typeof h, CompiledTemplate][] = [];
    for (const key of ['payloadFormatIndicator', 'contentType', 'responseTopic', 'correlationData', 'messageExpiry'] as const) {
      const value = h[key];
      if (value !== undefined) headerTemplates.push([key, compileTemplate(value)]);
    }
    const userProperties = (h.userProperties ?? []).map((p) => [compileTemplate(p.key), compileTemplate(p.value)] as const);
    return {
      kind: 'republish',
      async run(input, output) {
        const name = topic.render(input, output);
        if (validateTopicName(name, deps.broker.limits) !== null) return failure('RepublishAction', name, `invalid topic ${JSON.stringify(name)}`);
        const properties: MessageProperties = {};
        let expiresAt = 0;
        for (const [key, t] of headerTemplates) {
          const v = t.render(input, output);
          if (key === 'payloadFormatIndicator') properties.payloadFormatIndicator = v === 'UTF8_DATA';
          else if (key === 'contentType') properties.contentType = v;
          else if (key === 'responseTopic') properties.responseTopic = v;
          else if (key === 'correlationData') properties.correlationData = Buffer.from(v, 'base64');
          else if (key === 'messageExpiry' && Number(v) > 0) expiresAt = deps.clock.now() + Number(v) * 1000;
        }
        if (userProperties.length > 0) {
          const up: Record<string, string | string[]> = {};
          for (const [k, v] of userProperties) {
            const key = k.render(input, output);
            const value = v.render(input, output);
            const prev = up[key];
            up[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
          }
          properties.userProperties = up;
        }
        const message: Message = {
          topic: name,
          payload: payloadOf(output),
          qos: r.qos,
          retain: false,
          properties: Object.keys(properties).length > 0 ? properties : undefined,
          expiresAt,
          publisherId: undefined,
          receivedAt: deps.clock.now(),
        };
        // A rendered property no PUBLISH can carry (U+0000, more than 65535 bytes) fails the
        // action (its errorAction says why) instead of reaching subscribers.
        const problem = propertiesProblem(message.properties);
        if (problem !== null) return failure('RepublishAction', name, problem);
        deps.broker.publish(message, 'rule');
        return null;
      },
    };
  }
  if ('function' in definition) {
    const f = definition.function;
    return {
      kind: 'function',
      async run(_input, output) {
        try {
          await deps.pool.invoke(f.handler, eventOf(output) as never, f.timeoutMs);
          return null;
        } catch (err) {
          return failure('LambdaAction', f.handler, (err as Error).message);
        }
      },
    };
  }
  if ('http' in definition) {
    const h = definition.http;
    const headers = (h.headers ?? []).map((p) => [p.key, compileTemplate(p.value)] as const);
    return {
      kind: 'http',
      async run(input, output) {
        const body = payloadOf(output);
        const hdrs: Record<string, string> = { 'content-type': output.kind === 'binary' ? 'application/octet-stream' : 'application/json' };
        for (const [k, t] of headers) hdrs[k] = t.render(input, output);
        let last = '';
        for (let attempt = 0; attempt <= h.retries; attempt++) {
          if (attempt > 0) await new Promise<void>((r) => deps.clock.setTimeout(r, 200 * 2 ** (attempt - 1)));
          try {
            const response = await fetch(h.url, { method: 'POST', headers: hdrs, body: new Uint8Array(body), signal: AbortSignal.timeout(h.timeoutMs), redirect: 'error' });
            await response.arrayBuffer();
            if (response.ok) return null;
            last = `HTTP ${response.status}`;
            // A client error will not improve with a retry.
            if (response.status < 500 && response.status !== 429) break;
          } catch (err) {
            last = (err as Error).message;
          }
        }
        return failure('HttpAction', redact(h.url), last);
      },
    };
  }
  const level = definition.log.level;
  return {
    kind: 'log',
    async run(input, output) {
      const result = output.kind === 'binary' ? { base64: output.value.toString('base64') } : output.value;
      deps.logger[level]({ rule: deps.ruleName, topic: input.topic, clientId: input.clientId, result }, 'rule log action');
      return null;
    },
  };
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return 'invalid url';
  }
}

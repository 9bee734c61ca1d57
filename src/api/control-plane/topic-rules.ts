// The AWS IoT control plane's topic-rule operations, on AWS's REST paths and JSON shapes (API
// reference, iot 2015-05-28): CreateTopicRule, GetTopicRule, ListTopicRules, ReplaceTopicRule,
// DeleteTopicRule, EnableTopicRule, DisableTopicRule. A TopicRulePayload is translated into
// Switchboard's rule definition and handed to RuleOperations, the logic the /api/ routes use.
//
// Actions: AWS's `republish` (roleArn kept, no role assumed), `lambda` (functionArn names a
// function in functions.dir) and `http` (no confirmation, no SigV4 auth, no batching) run here;
// any other action type is refused naming the accepted ones. AWS answers a rule that does not
// exist with UnauthorizedException ("Access to topic rule 'x' was denied"; the operations model no
// ResourceNotFoundException), and so does this front. SQL errors are SqlParseException.
import type { HttpApp } from '../http-server.js';
import type { ArnScope } from '../../policy/index.js';
import { arnPrefix } from '../../policy/index.js';
import type { FunctionDirectory } from '../../functions/function-directory.js';
import { compileRule, SqlError } from '../../rules/index.js';
import type { ActionDefinition, RuleDefinition } from '../../rules/rule-definition.js';
import type { StoredRule } from '../../store/rule-store.js';
import type { RuleOperations } from '../rule-operations.js';
import { ApiError, badRequest } from '../errors.js';
import { adminRoute } from '../route-access.js';
import { functionArnOf, functionNameOf } from './lambda-arn.js';
import { epochSeconds, optionalBoolean, optionalString, page, queryBoolean, queryInteger, type JsonObject } from './request.js';

export interface ControlPlaneRuleOptions {
  rules: RuleOperations;
  functions: FunctionDirectory;
  scope: ArnScope;
}

type Params = { Params: { ruleName: string } };

const SUPPORTED_ACTIONS = ['republish', 'lambda', 'http'] as const;
const PAYLOAD = ['sql', 'description', 'actions', 'ruleDisabled', 'awsIotSqlVersion', 'errorAction'] as const;
/** AWS: a rule without awsIotSqlVersion uses the original SQL version. */
const DEFAULT_SQL_VERSION = '2015-10-08';

/** AWS's answer for a rule that does not exist (see the file note). */
const noSuchRule = (name: string) => new ApiError('UnauthorizedException', 401, `Access to topic rule '${name}' was denied (no rule of that name exists)`);

function object(value: unknown, where: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest(`${where} must be an object`);
  return value as JsonObject;
}

function only(value: JsonObject, where: string, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw badRequest(`${where}.${key} is not supported by Switchboard (${where} accepts ${allowed.join(', ')})`);
  }
}

/** One AWS Action as a Switchboard action definition (validated again by the rule schema). */
function toAction(value: unknown, where: string, functions: FunctionDirectory): unknown {
  const action = object(value, where);
  const kinds = Object.keys(action).filter((k) => action[k] !== undefined && action[k] !== null);
  if (kinds.length !== 1) throw badRequest(`${where} must set exactly one action type (Switchboard runs ${SUPPORTED_ACTIONS.join(', ')})`);
  const kind = kinds[0]!;
  const body = object(action[kind], `${where}.${kind}`);
  switch (kind) {
    case 'republish':
      only(body, `${where}.republish`, ['roleArn', 'topic', 'qos', 'headers']);
      return { republish: body };
    case 'lambda':
      only(body, `${where}.lambda`, ['functionArn']);
      return { function: { handler: functionNameOf(body['functionArn'], `${where}.lambda.functionArn`, functions) } };
    case 'http': {
      only(body, `${where}.http`, ['url', 'confirmationUrl', 'headers']);
      // AWS confirms a destination before it posts to it; Switchboard posts to the URL the admin gave.
      const confirmation = body['confirmationUrl'];
      if (confirmation !== undefined && confirmation !== body['url']) throw badRequest(`${where}.http.confirmationUrl: Switchboard confirms no destinations; leave it out or equal to url`);
      return { http: { url: body['url'], ...(body['headers'] !== undefined ? { headers: body['headers'] } : {}) } };
    }
    default:
      throw badRequest(`${where}: ${kind} actions are not supported by Switchboard; the accepted action types are ${SUPPORTED_ACTIONS.join(', ')}`);
  }
}

/** AWS's TopicRulePayload as a Switchboard rule definition; SQL errors are SqlParseException. */
function toDefinition(name: string, payloadValue: unknown, functions: FunctionDirectory): JsonObject {
  const payload = object(payloadValue ?? null, 'topicRulePayload');
  only(payload, 'topicRulePayload', PAYLOAD);
  const sql = optionalString(payload, 'sql');
  if (sql === undefined) throw badRequest('topicRulePayload.sql is required');
  if (!Array.isArray(payload['actions'])) throw badRequest('topicRulePayload.actions is required (a list, possibly empty)');
  const version = optionalString(payload, 'awsIotSqlVersion') ?? DEFAULT_SQL_VERSION;
  if (version !== '2015-10-08' && version !== '2016-03-23') throw badRequest(`awsIotSqlVersion ${version} is not supported; Switchboard runs 2015-10-08 and 2016-03-23`);
  try {
    compileRule(sql, { sqlVersion: version });
  } catch (err) {
    if (err instanceof SqlError) throw new ApiError('SqlParseException', 400, err.message);
    throw err;
  }
  const description = optionalString(payload, 'description');
  const disabled = optionalBoolean(payload, 'ruleDisabled');
  return {
    name,
    sql,
    ...(description !== undefined ? { description } : {}),
    ...(disabled !== undefined ? { ruleDisabled: disabled } : {}),
    awsIotSqlVersion: version,
    actions: payload['actions'].map((a, i) => toAction(a, `topicRulePayload.actions.${i}`, functions)),
    ...(payload['errorAction'] !== undefined && payload['errorAction'] !== null ? { errorAction: toAction(payload['errorAction'], 'topicRulePayload.errorAction', functions) } : {}),
  };
}

/** A Switchboard action as AWS's Action; `log` has no AWS form and is shown as Switchboard's. */
function fromAction(action: ActionDefinition, scope: ArnScope): unknown {
  if ('republish' in action) return { republish: action.republish };
  if ('function' in action) return { lambda: { functionArn: functionArnOf(action.function.handler, scope) } };
  if ('http' in action) return { http: { url: action.http.url, ...(action.http.headers ? { headers: action.http.headers } : {}) } };
  return action;
}

export function registerControlPlaneRules(app: HttpApp, options: ControlPlaneRuleOptions): void {
  const { rules, functions, scope } = options;
  const arn = (name: string) => `${arnPrefix(scope)}rule/${name}`;
  const existing = (name: string): StoredRule => {
    const rule = rules.find(name);
    if (rule === undefined) throw noSuchRule(name);
    return rule;
  };

  // CreateTopicRule: POST /rules/{ruleName}, the body is the TopicRulePayload (the model's
  // httpPayload); tags in x-amz-tagging are accepted and not kept.
  app.post<Params>('/rules/:ruleName', adminRoute, async (request) => {
    const name = request.params.ruleName;
    rules.create(toDefinition(name, request.body, functions), (n) => new ApiError('ResourceAlreadyExistsException', 409, `rule ${n} already exists`));
    return {};
  });

  // GetTopicRule: GET /rules/{ruleName}
  app.get<Params>('/rules/:ruleName', adminRoute, async (request) => {
    const stored = existing(request.params.ruleName);
    const d = stored.definition as unknown as RuleDefinition;
    return {
      ruleArn: arn(stored.name),
      rule: {
        ruleName: stored.name,
        sql: d.sql,
        ...(d.description !== undefined ? { description: d.description } : {}),
        createdAt: epochSeconds(stored.createdAt),
        actions: d.actions.map((a) => fromAction(a, scope)),
        ruleDisabled: d.ruleDisabled,
        awsIotSqlVersion: d.awsIotSqlVersion,
        ...(d.errorAction !== undefined ? { errorAction: fromAction(d.errorAction, scope) } : {}),
      },
    };
  });

  // ListTopicRules: GET /rules?topic&maxResults&nextToken&ruleDisabled
  app.get<{ Querystring: Record<string, string | undefined> }>('/rules', adminRoute, async (request) => {
    const q = request.query;
    const size = queryInteger(q['maxResults'], 'maxResults', 1, 10000) ?? 1000;
    const disabled = queryBoolean(q['ruleDisabled'], 'ruleDisabled');
    const topic = q['topic'];
    const all = rules
      .list()
      .map((r) => ({ stored: r, topicPattern: rules.engine.topicPattern(r.name) ?? '', disabled: (r.definition as unknown as RuleDefinition).ruleDisabled }))
      .filter((r) => (disabled === undefined || r.disabled === disabled) && (topic === undefined || r.topicPattern === topic))
      .sort((a, b) => (a.stored.name < b.stored.name ? -1 : a.stored.name > b.stored.name ? 1 : 0));
    const { items, next } = page(all, (r) => r.stored.name, q['nextToken'], size);
    return {
      rules: items.map((r) => ({ ruleArn: arn(r.stored.name), ruleName: r.stored.name, topicPattern: r.topicPattern, createdAt: epochSeconds(r.stored.createdAt), ruleDisabled: r.disabled })),
      ...(next !== undefined ? { nextToken: next } : {}),
    };
  });

  // ReplaceTopicRule: PATCH /rules/{ruleName}
  app.patch<Params>('/rules/:ruleName', adminRoute, async (request) => {
    const name = request.params.ruleName;
    existing(name);
    rules.replace(toDefinition(name, request.body, functions));
    return {};
  });

  // DeleteTopicRule: DELETE /rules/{ruleName}
  app.delete<Params>('/rules/:ruleName', adminRoute, async (request) => {
    existing(request.params.ruleName);
    rules.delete(request.params.ruleName);
    return {};
  });

  // EnableTopicRule / DisableTopicRule: POST /rules/{ruleName}/enable|disable
  for (const [verb, enabled] of [['enable', true], ['disable', false]] as const) {
    app.post<Params>(`/rules/:ruleName/${verb}`, adminRoute, async (request) => {
      if (rules.setEnabled(request.params.ruleName, enabled) === undefined) throw noSuchRule(request.params.ruleName);
      return {};
    });
  }
}

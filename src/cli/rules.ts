// `switchboard rules create|list|get|update|enable|disable|delete|test`.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { adminTarget, callAdmin } from './admin-client.js';
import { printJson } from './authorizers.js';

export const RULES_HELP = `Usage: switchboard rules <command> [options]

  create   --name NAME --sql SQL [--description TEXT] [--action JSON ...] [--error-action JSON] [--disabled]
           or --file RULE.json (a whole rule: name, sql, actions, errorAction, ...)
  list
  get      --name NAME
  update   --name NAME [--sql SQL] [--action JSON ...] [--error-action JSON] [--description TEXT]
  enable   --name NAME
  disable  --name NAME
  delete   --name NAME
  test     --sql SQL --topic T --payload JSON     evaluate SQL against a sample message

Actions are JSON, e.g. --action '{"republish":{"topic":"alerts/\${topic(2)}","qos":1}}'
  --action '{"function":{"handler":"notify"}}'  --action '{"http":{"url":"http://127.0.0.1:9000/hook"}}'
  --action '{"log":{}}'
A function action names a function in the node's functions.dir ("notify" runs <dir>/notify.js).
Common options: --endpoint URL, --token TOKEN.
`;

function json(flag: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`--${flag} is not valid JSON: ${text}`);
  }
}

export async function rulesCommand(args: string[]): Promise<void> {
  const sub = args[0];
  const { values } = parseArgs({
    args: args.slice(1),
    options: {
      name: { type: 'string' },
      sql: { type: 'string' },
      description: { type: 'string' },
      action: { type: 'string', multiple: true },
      'error-action': { type: 'string' },
      disabled: { type: 'boolean' },
      file: { type: 'string' },
      topic: { type: 'string' },
      payload: { type: 'string' },
      endpoint: { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  const target = adminTarget(values);
  const name = () => {
    if (!values.name) throw new Error(`rules ${sub}: --name is required`);
    return encodeURIComponent(values.name);
  };
  const fields = () => ({
    ...(values.sql !== undefined ? { sql: values.sql } : {}),
    ...(values.description !== undefined ? { description: values.description } : {}),
    ...(values.action ? { actions: values.action.map((a) => json('action', a)) } : {}),
    ...(values['error-action'] !== undefined ? { errorAction: json('error-action', values['error-action']) } : {}),
    ...(values.disabled ? { ruleDisabled: true } : {}),
  });
  switch (sub) {
    case 'create': {
      const body = values.file ? json('file', readFileSync(values.file, 'utf8')) : { name: values.name, ...fields() };
      printJson(await callAdmin(target, 'POST', '/api/rules', body));
      return;
    }
    case 'list':
      printJson(await callAdmin(target, 'GET', '/api/rules'));
      return;
    case 'get':
      printJson(await callAdmin(target, 'GET', `/api/rules/${name()}`));
      return;
    case 'update': {
      const current = (await callAdmin(target, 'GET', `/api/rules/${name()}`)) as Record<string, unknown>;
      const { createdAt: _c, lastModifiedAt: _m, stats: _s, ...definition } = current;
      printJson(await callAdmin(target, 'PUT', `/api/rules/${name()}`, { ...definition, ...fields() }));
      return;
    }
    case 'enable':
    case 'disable':
      printJson(await callAdmin(target, 'POST', `/api/rules/${name()}/${sub}`));
      return;
    case 'delete':
      await callAdmin(target, 'DELETE', `/api/rules/${name()}`);
      return;
    case 'test':
      if (!values.sql || !values.topic) throw new Error('rules test: --sql and --topic are required');
      printJson(await callAdmin(target, 'POST', '/api/rules/test', { sql: values.sql, topic: values.topic, payload: values.payload ?? '{}' }));
      return;
    default:
      process.stdout.write(RULES_HELP);
      if (sub !== undefined && sub !== '--help' && sub !== '-h') process.exitCode = 2;
  }
}

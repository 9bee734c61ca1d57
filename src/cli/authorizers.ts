// `switchboard authorizers create|list|describe|update|delete|set-default` and
// `switchboard test-invoke-authorizer`, after the AWS CLI's commands of the same purpose.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { adminTarget, callAdmin } from './admin-client.js';
import { loadConfig } from '../config/load.js';
import { MemoryAuthorizerStore } from '../store/authorizer-store.js';
import { seedAuthorizers } from '../auth/authorizer-records.js';
import { FunctionPool } from '../functions/function-pool.js';
import { configuredPaths, FunctionDirectory } from '../functions/function-directory.js';
import { testInvokeAuthorizer } from '../auth/test-invoke.js';
import { dirname } from 'node:path';

export const AUTHORIZERS_HELP = `Usage: switchboard authorizers <create|list|describe|update|delete|set-default> [options]

  create       --name NAME --type function|http (--handler FUNCTION | --url URL)
               [--token-key-name KEY] [--signing-disabled] [--public-key NAME=PEMFILE ...]
               [--status ACTIVE|INACTIVE] [--timeout-ms N] [--set-default]
  list
  describe     --name NAME
  update       --name NAME [--status ACTIVE|INACTIVE] [--handler FUNCTION] [--url URL]
               [--token-key-name KEY] [--public-key NAME=PEMFILE ...] [--timeout-ms N]
  delete       --name NAME
  set-default  --name NAME

Common options:
  --endpoint URL   the node's HTTP address (default http://127.0.0.1:8080, or SWITCHBOARD_ENDPOINT)
  --token TOKEN    admin token for non-loopback endpoints (or SWITCHBOARD_ADMIN_TOKEN)

FUNCTION is the name of a function in the node's functions directory (functions.dir, default
./functions beside its config): --handler users runs <functions.dir>/users.js (.mjs, .cjs).
PEMFILE is read here and its PEM text sent; the node never reads a path given over the API.
Authorizers created here live in the running node's store.
`;

const common = {
  endpoint: { type: 'string' as const },
  token: { type: 'string' as const },
  name: { type: 'string' as const },
  'authorizer-name': { type: 'string' as const },
  type: { type: 'string' as const },
  handler: { type: 'string' as const },
  url: { type: 'string' as const },
  'token-key-name': { type: 'string' as const },
  'signing-disabled': { type: 'boolean' as const },
  'public-key': { type: 'string' as const, multiple: true as const },
  status: { type: 'string' as const },
  'timeout-ms': { type: 'string' as const },
  'set-default': { type: 'boolean' as const },
  help: { type: 'boolean' as const, short: 'h' },
};

/** Prints JSON the way the AWS CLI does (4-space indent). */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 4) + '\n');
}

function publicKeys(items: string[] | undefined): Record<string, string> | undefined {
  if (!items || items.length === 0) return undefined;
  const keys: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`--public-key expects NAME=PEMFILE, got '${item}'`);
    keys[item.slice(0, eq)] = readFileSync(resolve(item.slice(eq + 1)), 'utf8');
  }
  return keys;
}

export async function authorizersCommand(args: string[]): Promise<void> {
  const sub = args[0];
  const { values } = parseArgs({ args: args.slice(1), options: common, strict: true });
  if (!sub || values.help) {
    process.stdout.write(AUTHORIZERS_HELP);
    return;
  }
  const target = adminTarget(values);
  const name = values.name ?? values['authorizer-name'];
  const needName = () => {
    if (!name) throw new Error(`authorizers ${sub}: --name is required`);
    return encodeURIComponent(name);
  };
  const fields = () => {
    const body: Record<string, unknown> = {};
    if (values.type !== undefined) body.type = values.type;
    // A function name, looked up by the node in its functions.dir (it takes no paths over the API).
    if (values.handler !== undefined) body.handler = values.handler;
    if (values.url !== undefined) body.url = values.url;
    if (values['token-key-name'] !== undefined) body.tokenKeyName = values['token-key-name'];
    if (values.status !== undefined) body.status = values.status;
    if (values['timeout-ms'] !== undefined) body.timeoutMs = Number(values['timeout-ms']);
    const keys = publicKeys(values['public-key']);
    if (keys) body.tokenSigningPublicKeys = keys;
    return body;
  };
  switch (sub) {
    case 'create': {
      needName();
      const body = { name, ...fields(), signingDisabled: values['signing-disabled'] === true };
      printJson(await callAdmin(target, 'POST', '/api/authorizers', body));
      if (values['set-default']) await callAdmin(target, 'PUT', '/api/default-authorizer', { authorizerName: name });
      return;
    }
    case 'list':
      printJson(await callAdmin(target, 'GET', '/api/authorizers'));
      return;
    case 'describe':
      printJson(await callAdmin(target, 'GET', `/api/authorizers/${needName()}`));
      return;
    case 'update':
      printJson(await callAdmin(target, 'PATCH', `/api/authorizers/${needName()}`, fields()));
      return;
    case 'delete':
      await callAdmin(target, 'DELETE', `/api/authorizers/${needName()}`);
      return;
    case 'set-default':
      printJson(await callAdmin(target, 'PUT', '/api/default-authorizer', { authorizerName: name ?? needName() }));
      return;
    default:
      throw new Error(`unknown authorizers command '${sub}'\n\n${AUTHORIZERS_HELP}`);
  }
}

export const TEST_INVOKE_HELP = `Usage: switchboard test-invoke-authorizer --authorizer-name NAME [options]

Runs an authorizer with the given credentials and prints its answer as AWS's
TestInvokeAuthorizer does (policy documents as JSON strings).

  --token TOKEN                 the token
  --token-signature SIG         base64 RSA-SHA256 signature of the token (when signing is on)
  --http-context JSON           {"headers": {...}, "queryString": "?a=b"}
  --mqtt-context JSON           {"username": "...", "password": "<base64>", "clientId": "..."}
  --tls-context JSON            {"serverName": "..."}
  --config FILE                 run locally with the authorizers of this config file, no server needed
  --endpoint URL, --token-admin TOKEN   otherwise ask the running node (default http://127.0.0.1:8080)
`;

export async function testInvokeCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      'authorizer-name': { type: 'string' },
      token: { type: 'string' },
      'token-signature': { type: 'string' },
      'http-context': { type: 'string' },
      'mqtt-context': { type: 'string' },
      'tls-context': { type: 'string' },
      config: { type: 'string', short: 'c' },
      endpoint: { type: 'string' },
      'token-admin': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help || !values['authorizer-name']) {
    if (!values.help) process.exitCode = 2;
    process.stdout.write(TEST_INVOKE_HELP);
    return;
  }
  const json = (flag: string, text: string | undefined) => {
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new Error(`--${flag} is not valid JSON: ${text}`);
    }
  };
  const input: Record<string, unknown> = {};
  if (values.token !== undefined) input.token = values.token;
  if (values['token-signature'] !== undefined) input.tokenSignature = values['token-signature'];
  const http = json('http-context', values['http-context']);
  if (http !== undefined) input.httpContext = http;
  const mqtt = json('mqtt-context', values['mqtt-context']);
  if (mqtt !== undefined) input.mqttContext = mqtt;
  const tls = json('tls-context', values['tls-context']);
  if (tls !== undefined) input.tlsContext = tls;
  const name = values['authorizer-name'];

  if (values.config !== undefined) {
    const config = loadConfig({ file: values.config });
    const store = new MemoryAuthorizerStore();
    seedAuthorizers(store, config.auth, dirname(resolve(values.config)));
    const record = store.get(name);
    if (record === undefined) throw new Error(`ResourceNotFoundException: authorizer ${name} is not in ${values.config}`);
    const baseDir = dirname(resolve(values.config));
    const pool = new FunctionPool({ size: 1, functions: new FunctionDirectory(config.functions.dir, baseDir), allowedPaths: configuredPaths(config, baseDir) });
    try {
      const deps: Record<string, unknown> = { pool };
      if (config.auth.testingMinimumTtlSeconds !== undefined) deps.minSeconds = config.auth.testingMinimumTtlSeconds;
      printJson(await testInvokeAuthorizer(record, input as never, deps as never));
    } finally {
      await pool.close();
    }
    return;
  }
  const target = adminTarget({ endpoint: values.endpoint, token: values['token-admin'] });
  printJson(await callAdmin(target, 'POST', `/api/authorizers/${encodeURIComponent(name)}/test`, input));
}

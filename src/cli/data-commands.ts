// `switchboard publish`, `switchboard connections ...`, `switchboard retained ...`: the HTTP API
// from the command line.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { adminTarget, AdminApiError, callAdmin, type AdminTarget } from './admin-client.js';
import { printJson } from './authorizers.js';

export const DATA_HELP = `Usage:
  switchboard publish --topic T (--message M | --file F) [--qos 0|1] [--retain] [--content-type CT]
                      [--user-property k=v ...]
  switchboard connections list [--search TEXT] [--limit N]
  switchboard connections get --client-id ID
  switchboard connections disconnect --client-id ID [--clean-session] [--prevent-will]
  switchboard retained list [--filter FILTER] [--limit N]
  switchboard retained get --topic T

Common options: --endpoint URL (default http://127.0.0.1:8080 or SWITCHBOARD_ENDPOINT),
--token TOKEN (admin token for non-loopback endpoints, or SWITCHBOARD_ADMIN_TOKEN).
publish uses the data-plane API (POST /topics/...), as the AWS SDK does.
`;

const options = {
  endpoint: { type: 'string' as const },
  token: { type: 'string' as const },
  topic: { type: 'string' as const },
  message: { type: 'string' as const },
  file: { type: 'string' as const },
  qos: { type: 'string' as const },
  retain: { type: 'boolean' as const },
  'content-type': { type: 'string' as const },
  'user-property': { type: 'string' as const, multiple: true as const },
  'client-id': { type: 'string' as const },
  'clean-session': { type: 'boolean' as const },
  'prevent-will': { type: 'boolean' as const },
  search: { type: 'string' as const },
  filter: { type: 'string' as const },
  limit: { type: 'string' as const },
  help: { type: 'boolean' as const, short: 'h' },
};

async function raw(target: AdminTarget, method: string, path: string, body: Buffer | undefined, headers: Record<string, string> = {}): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(target.endpoint + path, {
      method,
      headers: { ...(target.token ? { authorization: `Bearer ${target.token}` } : {}), ...headers },
      ...(body !== undefined ? { body: new Uint8Array(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new AdminApiError(0, 'ConnectionError', `cannot reach Switchboard at ${target.endpoint}: ${(err as Error).message}`);
  }
  const text = await response.text();
  const data = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (!response.ok) throw new AdminApiError(response.status, String(data.code ?? response.status), String(data.message ?? response.statusText));
  return data;
}

export async function publishCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options, strict: true });
  if (values.help || !values.topic) {
    process.stdout.write(DATA_HELP);
    if (!values.help) process.exitCode = 2;
    return;
  }
  const target = adminTarget(values);
  const payload = values.file !== undefined ? readFileSync(values.file) : Buffer.from(values.message ?? '');
  const query = new URLSearchParams();
  if (values.qos !== undefined) query.set('qos', values.qos);
  if (values.retain) query.set('retain', 'true');
  if (values['content-type']) query.set('contentType', values['content-type']);
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  if (values['user-property']?.length) {
    const list = values['user-property'].map((kv) => {
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new Error(`--user-property expects k=v, got '${kv}'`);
      return { [kv.slice(0, eq)]: kv.slice(eq + 1) };
    });
    headers['x-amz-mqtt5-user-properties'] = Buffer.from(JSON.stringify(list)).toString('base64');
  }
  const qs = query.toString();
  printJson(await raw(target, 'POST', `/topics/${encodeURIComponent(values.topic)}${qs ? `?${qs}` : ''}`, payload, headers));
}

export async function connectionsCommand(args: string[]): Promise<void> {
  const sub = args[0];
  const { values } = parseArgs({ args: args.slice(1), options, strict: true });
  const target = adminTarget(values);
  const id = () => {
    if (!values['client-id']) throw new Error(`connections ${sub}: --client-id is required`);
    return encodeURIComponent(values['client-id']);
  };
  switch (sub) {
    case 'list': {
      const q = new URLSearchParams();
      if (values.search) q.set('q', values.search);
      if (values.limit) q.set('limit', values.limit);
      printJson(await callAdmin(target, 'GET', `/api/connections${q.size ? `?${q}` : ''}`));
      return;
    }
    case 'get':
      printJson(await callAdmin(target, 'GET', `/api/connections/${id()}`));
      return;
    case 'disconnect': {
      // The data-plane DeleteConnection, which also knows cleanSession and preventWillMessage.
      const q = new URLSearchParams();
      if (values['clean-session']) q.set('cleanSession', 'true');
      if (values['prevent-will']) q.set('preventWillMessage', 'true');
      await raw(target, 'DELETE', `/connections/${id()}${q.size ? `?${q}` : ''}`, undefined);
      return;
    }
    default:
      process.stdout.write(DATA_HELP);
      if (sub !== undefined && sub !== '--help' && sub !== '-h') process.exitCode = 2;
  }
}

export async function retainedCommand(args: string[]): Promise<void> {
  const sub = args[0];
  const { values } = parseArgs({ args: args.slice(1), options, strict: true });
  const target = adminTarget(values);
  switch (sub) {
    case 'list': {
      const q = new URLSearchParams();
      if (values.filter) q.set('filter', values.filter);
      if (values.limit) q.set('limit', values.limit);
      printJson(await callAdmin(target, 'GET', `/api/retained${q.size ? `?${q}` : ''}`));
      return;
    }
    case 'get': {
      if (!values.topic) throw new Error('retained get: --topic is required');
      const m = (await raw(target, 'GET', `/retainedMessage/${encodeURIComponent(values.topic)}`, undefined)) as { payload?: string };
      printJson({ ...m, ...(m.payload !== undefined ? { payloadText: Buffer.from(m.payload, 'base64').toString('utf8') } : {}) });
      return;
    }
    default:
      process.stdout.write(DATA_HELP);
      if (sub !== undefined && sub !== '--help' && sub !== '-h') process.exitCode = 2;
  }
}

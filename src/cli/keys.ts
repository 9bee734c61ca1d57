// `switchboard keys create|list|update|delete`: access keys for SigV4 callers of the HTTP API
// (the AWS SDK's IoT data-plane client).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { adminTarget, callAdmin } from './admin-client.js';
import { printJson } from './authorizers.js';

export const KEYS_HELP = `Usage: switchboard keys <create|list|update|delete> [options]

  create   --policy FILE [--description TEXT] [--admin]   prints accessKeyId and secretAccessKey (shown once)
           [--expires-in SECONDS]   a temporary key instead (1 to 129600 s): prints STS-shaped
                                    {"Credentials": {AccessKeyId (ASIA...), SecretAccessKey,
                                    SessionToken, Expiration}}; signatures must carry the token
  list
  update   --access-key-id ID [--status Active|Inactive] [--policy FILE]
  delete   --access-key-id ID

--policy FILE: a policy document, or a JSON array of documents, deciding what the key may do
(e.g. iot:Publish on arn:aws:iot:us-east-1:123456789012:topic/alerts/*).
--admin: the key may also call the admin plane (the AWS IoT control plane, \`aws iot ...\`, and
/api/), signed for service iot or execute-api; --policy is then optional (it governs the data plane only).
Common options: --endpoint URL, --token TOKEN (as for the other admin commands).
`;

function policyDocuments(file: string): unknown[] {
  const data = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  return Array.isArray(data) ? data : [data];
}

export async function keysCommand(args: string[]): Promise<void> {
  const sub = args[0];
  const { values } = parseArgs({
    args: args.slice(1),
    options: {
      policy: { type: 'string' },
      description: { type: 'string' },
      'expires-in': { type: 'string' },
      'access-key-id': { type: 'string' },
      status: { type: 'string' },
      endpoint: { type: 'string' },
      token: { type: 'string' },
      admin: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  const target = adminTarget(values);
  const id = () => {
    if (!values['access-key-id']) throw new Error(`keys ${sub}: --access-key-id is required`);
    return encodeURIComponent(values['access-key-id']);
  };
  switch (sub) {
    case 'create':
      if (!values.policy && !values.admin) throw new Error('keys create: --policy FILE is required (or --admin)');
      if (values['expires-in'] !== undefined) {
        // An admin credential that signs control-plane calls is meant to be long-lived and held by an operator.
        if (values.admin) throw new Error('keys create: --admin and --expires-in cannot be combined (temporary keys are never admin keys)');
        if (!values.policy) throw new Error('keys create: --policy FILE is required');
        const seconds = Number(values['expires-in']);
        if (!/^\d+$/.test(values['expires-in']) || seconds < 1) throw new Error('keys create: --expires-in must be a whole number of seconds');
        const issued = (await callAdmin(target, 'POST', '/api/keys', {
          policyDocuments: policyDocuments(values.policy),
          expiresInSeconds: seconds,
          ...(values.description ? { description: values.description } : {}),
        })) as { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: string };
        // The shape `aws sts get-session-token` prints, so scripts written for it read this too.
        printJson({
          Credentials: {
            AccessKeyId: issued.accessKeyId,
            SecretAccessKey: issued.secretAccessKey,
            SessionToken: issued.sessionToken,
            Expiration: issued.expiration,
          },
        });
        return;
      }
      printJson(
        await callAdmin(target, 'POST', '/api/keys', {
          ...(values.policy ? { policyDocuments: policyDocuments(values.policy) } : {}),
          ...(values.admin ? { admin: true } : {}),
          ...(values.description ? { description: values.description } : {}),
        }),
      );
      return;
    case 'list':
      printJson(await callAdmin(target, 'GET', '/api/keys'));
      return;
    case 'update':
      printJson(
        await callAdmin(target, 'PATCH', `/api/keys/${id()}`, {
          ...(values.status ? { status: values.status } : {}),
          ...(values.policy ? { policyDocuments: policyDocuments(values.policy) } : {}),
        }),
      );
      return;
    case 'delete':
      await callAdmin(target, 'DELETE', `/api/keys/${id()}`);
      return;
    default:
      process.stdout.write(KEYS_HELP);
      if (sub !== undefined && sub !== '--help' && sub !== '-h') process.exitCode = 2;
  }
}

// `switchboard policy check`: decides one action on one resource against policy documents, and
// names the statement that decided (AWS has no such tool for IoT policies).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { arnFor, compilePolicies, describeVerdict, parsePolicyDocuments, type IotResourceType } from '../policy/index.js';

const CONNECT_ATTRIBUTES = ['PersistentConnect', 'LastWill'];

export const POLICY_HELP = `Usage: switchboard policy check --policy FILE --action ACTION --resource RESOURCE [options]

  --policy FILE        a policy document, or a JSON array of documents (repeatable)
  --action ACTION      iot:Connect | iot:Publish | iot:Subscribe | iot:Receive | iot:RetainPublish | ...
  --resource RESOURCE  a full ARN, or short: client/ID, topic/NAME, topicfilter/FILTER
  --client-id ID       value of \${iot:ClientId}
  --source-ip IP       value of \${aws:SourceIp}
  --domain-name NAME   value of \${iot:DomainName}
  --connect-attribute A  an element of iot:ConnectAttributes: PersistentConnect | LastWill
                       (repeatable; none by default, as for a clean connection without a will)
  --region R --account-id N   for short resources (default us-east-1 / 123456789012)

Prints Allow or Deny and the statement that decided; exit status 0 for Allow, 3 for Deny.
`;

export function policyCommand(args: string[]): void {
  if (args[0] !== 'check') {
    process.stdout.write(POLICY_HELP);
    if (args[0] !== undefined && args[0] !== '--help' && args[0] !== '-h') process.exitCode = 2;
    return;
  }
  const { values } = parseArgs({
    args: args.slice(1),
    options: {
      policy: { type: 'string', multiple: true },
      action: { type: 'string' },
      resource: { type: 'string' },
      'client-id': { type: 'string' },
      'source-ip': { type: 'string' },
      'domain-name': { type: 'string' },
      'connect-attribute': { type: 'string', multiple: true },
      region: { type: 'string' },
      'account-id': { type: 'string' },
    },
    strict: true,
  });
  if (!values.policy || !values.action || !values.resource) {
    process.stderr.write(POLICY_HELP);
    process.exitCode = 2;
    return;
  }
  // The attributes a CONNECT can carry (AWS: iot:ConnectAttributes, the same two the broker sets).
  const attributes = values['connect-attribute'] ?? [];
  const unknown = attributes.find((a) => !CONNECT_ATTRIBUTES.includes(a));
  if (unknown !== undefined) {
    process.stderr.write(`switchboard policy check: --connect-attribute ${unknown} is not one of ${CONNECT_ATTRIBUTES.join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  const documents: unknown[] = [];
  for (const file of values.policy) {
    const data = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (Array.isArray(data)) documents.push(...data);
    else documents.push(data);
  }
  const parsed = parsePolicyDocuments(documents);
  if (!parsed.ok) {
    process.stderr.write(`switchboard policy check: invalid policy (document ${parsed.error.documentIndex ?? 0}, ${parsed.error.path}): ${parsed.error.message}\n`);
    process.exitCode = 2;
    return;
  }
  const scope = { region: values.region ?? 'us-east-1', accountId: values['account-id'] ?? '123456789012' };
  let resource = values.resource;
  if (!resource.startsWith('arn:')) {
    const slash = resource.indexOf('/');
    const type = resource.slice(0, slash) as IotResourceType;
    if (slash <= 0 || !['client', 'topic', 'topicfilter'].includes(type)) {
      process.stderr.write(`switchboard policy check: --resource must be an ARN or client/..., topic/..., topicfilter/...\n`);
      process.exitCode = 2;
      return;
    }
    resource = arnFor(scope, type, resource.slice(slash + 1));
  }
  const policy = compilePolicies(parsed.value, {
    ...(values['client-id'] !== undefined ? { clientId: values['client-id'] } : {}),
    ...(values['source-ip'] !== undefined ? { sourceIp: values['source-ip'] } : {}),
    ...(values['domain-name'] !== undefined ? { domainName: values['domain-name'] } : {}),
    connectAttributes: attributes,
  });
  const verdict = policy.evaluate(values.action, resource);
  process.stdout.write(`${verdict.effect}\n${values.action} on ${resource}\n${describeVerdict(verdict)}\n`);
  if (verdict.effect !== 'Allow') process.exitCode = 3;
}

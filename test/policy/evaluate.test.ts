import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  arnFor,
  compilePolicies,
  describeVerdict,
  IMPLICIT_DENY,
  IotAction,
  parsePolicyDocuments,
  type CompiledPolicy,
  type PolicyContext,
} from '../../src/policy/index.js';

const scope = { region: 'us-east-1', accountId: '123456789012' };
const topic = (name: string): string => arnFor(scope, 'topic', name);
const filter = (name: string): string => arnFor(scope, 'topicfilter', name);
const client = (id: string): string => arnFor(scope, 'client', id);

function compile(documents: unknown[], context: PolicyContext = { clientId: 'c1' }): CompiledPolicy {
  const parsed = parsePolicyDocuments(documents);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error.message);
  return compilePolicies(parsed.value, context);
}

const v = (Statement: unknown): unknown => ({ Version: '2012-10-17', Statement });

describe('arnFor', () => {
  test('builds the three resource kinds verbatim', () => {
    assert.equal(topic('a/b'), 'arn:aws:iot:us-east-1:123456789012:topic/a/b');
    assert.equal(filter('a/+/#'), 'arn:aws:iot:us-east-1:123456789012:topicfilter/a/+/#');
    assert.equal(client('dev 1'), 'arn:aws:iot:us-east-1:123456789012:client/dev 1');
    assert.equal(arnFor({ ...scope, partition: 'aws-cn' }, 'topic', 't'), 'arn:aws-cn:iot:us-east-1:123456789012:topic/t');
  });
});

describe('explicit vs implicit deny', () => {
  const policy = compile([
    v([
      { Sid: 'AllowOps', Effect: 'Allow', Action: 'iot:Publish', Resource: topic('ops/*') },
      { Sid: 'NoShutdown', Effect: 'Deny', Action: 'iot:Publish', Resource: topic('ops/shutdown') },
    ]),
    v({ Effect: 'Deny', Action: 'iot:*', Resource: topic('ops/secret/*') }),
  ]);

  test('allow names the allowing statement', () => {
    assert.deepEqual(policy.evaluate(IotAction.Publish, topic('ops/restart')), {
      effect: 'Allow',
      reason: 'allowed',
      statement: { documentIndex: 0, statementIndex: 0, sid: 'AllowOps' },
    });
  });

  test('explicit deny names the denying statement', () => {
    assert.deepEqual(policy.evaluate(IotAction.Publish, topic('ops/shutdown')), {
      effect: 'Deny',
      reason: 'explicitDeny',
      statement: { documentIndex: 0, statementIndex: 1, sid: 'NoShutdown' },
    });
  });

  test('explicit deny from another document, without Sid', () => {
    const verdict = policy.evaluate(IotAction.Publish, topic('ops/secret/k'));
    assert.deepEqual(verdict, { effect: 'Deny', reason: 'explicitDeny', statement: { documentIndex: 1, statementIndex: 0, sid: undefined } });
    assert.equal(describeVerdict(verdict), 'Deny (explicit) by document 1, statement 0');
  });

  test('nothing matching is an implicit deny', () => {
    const verdict = policy.evaluate(IotAction.Publish, topic('other'));
    assert.equal(verdict, IMPLICIT_DENY);
    assert.equal(verdict.reason, 'implicitDeny');
    assert.equal(describeVerdict(verdict), 'Deny (implicit: no statement allows it)');
  });

  test('a deny for another action does not apply', () => {
    assert.equal(policy.evaluate(IotAction.Receive, topic('ops/shutdown')).reason, 'implicitDeny');
  });

  test('no documents at all is an implicit deny', () => {
    assert.equal(compile([]).evaluate(IotAction.Connect, client('c1')), IMPLICIT_DENY);
  });

  test('describeVerdict for an allow with Sid', () => {
    assert.equal(describeVerdict(policy.evaluate(IotAction.Publish, topic('ops/x'))), 'Allow by document 0, statement 0 (Sid "AllowOps")');
  });

  test('the first matching deny decides even when an allow comes first', () => {
    const p = compile([v({ Effect: 'Allow', Action: '*', Resource: '*' }), v([{ Effect: 'Deny', Action: 'iot:Connect', Resource: client('*') }])]);
    assert.equal(p.evaluate(IotAction.Connect, client('x')).reason, 'explicitDeny');
  });

  test('a Deny whose condition fails does not apply', () => {
    const p = compile(
      [v([{ Effect: 'Allow', Action: '*', Resource: '*' }, { Effect: 'Deny', Action: '*', Resource: '*', Condition: { StringEquals: { 'iot:ClientId': 'bad' } } }])],
      { clientId: 'good' },
    );
    assert.equal(p.evaluate(IotAction.Connect, client('good')).effect, 'Allow');
    assert.equal(p.statementCount, 1);
  });
});

describe('actions', () => {
  // [pattern, action, applies]
  const cases: ReadonlyArray<readonly [string, string, boolean]> = [
    ['iot:Publish', 'iot:Publish', true],
    ['iot:Publish', 'iot:publish', true], // IAM action names are case-insensitive
    ['IOT:PUBLISH', 'iot:Publish', true],
    ['iot:Publish', 'iot:RetainPublish', false],
    ['iot:Pub*', 'iot:Publish', true],
    ['iot:Pub*', 'iot:Receive', false],
    ['iot:*Publish', 'iot:RetainPublish', true],
    ['iot:*', 'iot:DeleteConnection', true],
    ['iot:*', 'iotdata:Publish', false],
    ['*', 'iot:ListRetainedMessages', true],
    ['iot:?eceive', 'iot:Receive', true],
    ['iot:*Retained*', 'iot:GetRetainedMessage', true],
    ['iot:*Retained*', 'iot:ListRetainedMessages', true],
  ];
  for (const [pattern, action, applies] of cases) {
    test(`${pattern} ${applies ? 'covers' : 'does not cover'} ${action}`, () => {
      const p = compile([v({ Effect: 'Allow', Action: pattern, Resource: '*' })]);
      assert.equal(p.allows(action, topic('t')), applies);
    });
  }

  test('many distinct action names stay correct beyond the plan memo', () => {
    const p = compile([v({ Effect: 'Allow', Action: 'iot:A*', Resource: '*' })]);
    for (let i = 0; i < 200; i++) assert.equal(p.allows(`iot:A${i}`, '*'), true);
    assert.equal(p.allows('iot:B', '*'), false);
  });
});

describe('NotAction / NotResource', () => {
  test('Allow + NotAction covers every unlisted action only', () => {
    const p = compile([v({ Effect: 'Allow', NotAction: ['iot:Publish', 'iot:RetainPublish'], Resource: topic('m/*') })]);
    assert.equal(p.allows(IotAction.Receive, topic('m/cpu')), true);
    assert.equal(p.allows(IotAction.GetRetainedMessage, topic('m/cpu')), true);
    assert.equal(p.allows(IotAction.Publish, topic('m/cpu')), false);
    assert.equal(p.allows('IOT:PUBLISH', topic('m/cpu')), false);
    assert.equal(p.allows(IotAction.Receive, topic('other')), false);
  });

  test('NotAction with a wildcard', () => {
    const p = compile([v({ Effect: 'Allow', NotAction: 'iot:*Publish', Resource: '*' })]);
    assert.equal(p.allows(IotAction.RetainPublish, topic('t')), false);
    assert.equal(p.allows(IotAction.Subscribe, filter('t')), true);
  });

  test('Deny + NotAction denies every unlisted action', () => {
    const p = compile([v([{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }, { Effect: 'Deny', NotAction: 'iot:Receive', Resource: topic('b/*') }])]);
    assert.equal(p.evaluate(IotAction.Publish, topic('b/x')).reason, 'explicitDeny');
    assert.equal(p.evaluate(IotAction.Receive, topic('b/x')).effect, 'Allow');
  });

  test('Allow + NotResource covers everything outside the list', () => {
    const p = compile([v({ Effect: 'Allow', Action: 'iot:Receive', NotResource: [topic('a/secure/*'), topic('b')] })]);
    assert.equal(p.allows(IotAction.Receive, topic('a/open')), true);
    assert.equal(p.allows(IotAction.Receive, topic('a/secure/door')), false);
    assert.equal(p.allows(IotAction.Receive, topic('b')), false);
    assert.equal(p.allows(IotAction.Receive, topic('bb')), true);
    // NotResource covers other resource types too, as in IAM.
    assert.equal(p.allows(IotAction.Receive, client('x')), true);
  });

  test('Deny + NotResource denies everything outside the list', () => {
    const p = compile([v([{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }, { Effect: 'Deny', Action: 'iot:Publish', NotResource: topic('${iot:ClientId}/*') }])]);
    assert.equal(p.allows(IotAction.Publish, topic('c1/x')), true);
    assert.equal(p.evaluate(IotAction.Publish, topic('c2/x')).reason, 'explicitDeny');
  });

  test('NotAction + NotResource together', () => {
    const p = compile([v({ Effect: 'Allow', NotAction: 'iot:Connect', NotResource: topic('x') })]);
    assert.equal(p.allows(IotAction.Publish, topic('y')), true);
    assert.equal(p.allows(IotAction.Publish, topic('x')), false);
    assert.equal(p.allows(IotAction.Connect, client('y')), false);
  });
});

describe('resources', () => {
  test('region and account must match unless wildcarded', () => {
    const p = compile([v({ Effect: 'Allow', Action: '*', Resource: ['arn:aws:iot:eu-west-1:123456789012:topic/a', 'arn:aws:iot:*:*:topic/b'] })]);
    assert.equal(p.allows(IotAction.Publish, topic('a')), false);
    assert.equal(p.allows(IotAction.Publish, topic('b')), true);
    assert.equal(p.allows(IotAction.Publish, arnFor({ region: 'ap-south-1', accountId: '9' }, 'topic', 'b')), true);
  });

  test('topic grant does not cover topicfilter or client of the same name', () => {
    const p = compile([v({ Effect: 'Allow', Action: '*', Resource: topic('x') })]);
    assert.equal(p.allows(IotAction.Subscribe, filter('x')), false);
    assert.equal(p.allows(IotAction.Connect, client('x')), false);
  });

  test('ListRetainedMessages on *', () => {
    const p = compile([v({ Effect: 'Allow', Action: IotAction.ListRetainedMessages, Resource: '*' })]);
    assert.equal(p.allows(IotAction.ListRetainedMessages, '*'), true);
  });

  test('shared-subscription filters are plain text', () => {
    const p = compile([v({ Effect: 'Allow', Action: 'iot:Subscribe', Resource: filter('$share/g1/*') })]);
    assert.equal(p.allows(IotAction.Subscribe, filter('$share/g1/sensors/#')), true);
    assert.equal(p.allows(IotAction.Subscribe, filter('sensors/#')), false);
  });
});

describe('compiling', () => {
  test('a parsed document can be compiled for many connections', () => {
    const parsed = parsePolicyDocuments([v({ Effect: 'Allow', Action: 'iot:Connect', Resource: client('${iot:ClientId}') })]);
    assert.ok(parsed.ok);
    for (let i = 0; i < 50; i++) {
      const p = compilePolicies(parsed.value, { clientId: `c${i}` });
      assert.equal(p.allows(IotAction.Connect, client(`c${i}`)), true);
      assert.equal(p.allows(IotAction.Connect, client(`c${i + 1}`)), false);
    }
  });

  test('verdicts are frozen and shared', () => {
    const p = compile([v({ Effect: 'Allow', Action: '*', Resource: '*' })]);
    const a = p.evaluate(IotAction.Publish, topic('a'));
    assert.equal(p.evaluate(IotAction.Receive, topic('b')), a);
    assert.ok(Object.isFrozen(a));
  });
});

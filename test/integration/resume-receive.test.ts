// A persistent session's queued messages are checked against iot:Receive again when a connection
// resumes it: the messages were queued under an earlier connection's policy, and the connection
// that resumes the session (a revoked policy, or another principal allowed this client ID) may not
// be allowed to receive them. Ordinary subscriptions here; shared groups are in shared-receive.
//
// "Nothing queued arrived" is proven with a sentinel published after the session resumed: the
// server writes to one connection in order and sends the queue first, so once the sentinel
// arrived, any queued message sent would have arrived before it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { disconnect, uid } from '../helpers/clients.js';
import { allow, answer, arn, attemptConnect, doc, NAME_KEY, subscribeCodes, useTokenAuthorizerServer, withCredentials, type Statement } from '../helpers/auth.js';
import { installCleanup } from '../helpers/suite.js';

installCleanup();

const { answers, server: s } = useTokenAuthorizerServer();

const persistent = { clean: false, properties: { sessionExpiryInterval: 300 } };

async function connect(root: string, clientId: string, receive: string[], extra: Record<string, unknown> = {}) {
  const token = uid('tok');
  const statements: Statement[] = [allow('iot:Connect', arn(`client/${clientId}`)), allow('iot:Subscribe', arn('topicfilter/*')), allow('iot:Publish', arn(`topic/${root}/*`))];
  if (receive.length > 0) statements.push(allow('iot:Receive', arn(...receive.map((p) => `topic/${root}/${p}`))));
  answers.set(token, answer([doc(...statements)]));
  const a = await attemptConnect(s(), withCredentials(s(), 'tcp', { [NAME_KEY]: 'ByToken', token }, { clientId, protocolVersion: 5, ...extra }));
  assert.equal(a.accepted, true, `${clientId} refused: ${JSON.stringify(a.connack)}`);
  return a;
}

describe('a resumed session sends its queue only where the resuming connection may receive', () => {
  test('queued QoS 1 messages are not sent to a connection whose policy no longer allows receiving them', async () => {
    const root = uid('resume');
    const id = uid('carol');
    const first = await connect(root, id, ['secret/*', 'open/*'], persistent);
    assert.deepEqual((await subscribeCodes(first.client, `${root}/#`, { qos: 1 })).codes, [1]);
    await disconnect(first.client);

    const pub = await connect(root, uid('pub'), []);
    for (let i = 0; i < 3; i++) await pub.client.publishAsync(`${root}/secret/m`, `s${i}`, { qos: 1 });
    await pub.client.publishAsync(`${root}/open/m`, 'o0', { qos: 1 });

    // The same client ID again, now only allowed to receive open/*.
    const back = await connect(root, id, ['open/*'], persistent);
    assert.equal(back.connack?.sessionPresent, true);
    await back.inbox.waitFor(1, 5_000, (m) => m.text === 'o0');
    await pub.client.publishAsync(`${root}/open/m`, 'sentinel', { qos: 1 });
    await back.inbox.waitFor(1, 5_000, (m) => m.text === 'sentinel');
    assert.deepEqual(back.inbox.texts(), ['o0', 'sentinel'], 'none of the secret messages was sent');
  });
});

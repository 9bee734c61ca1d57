// "Nothing else arrived", proved without waiting. After the messages under test, publish a
// sentinel that the same subscription receives, and wait for it: the server handles one client's
// packets in order and writes one connection's deliveries in order (MQTT's Ordered Topic,
// [MQTT-4.6.0-6] in 3.1.1 and 5.0), so anything the earlier messages were going to deliver is
// written before the sentinel. Once the sentinel is in, the inbox holds all of it.
//
// The sentinel must take the path of what it fences: published by the same connection after the
// messages under test, or by any client once their QoS 1/2 acknowledgements came back (the server
// has routed them by then), to a topic the same subscription matches. A sentinel that does not
// arrive fails the test (the subscription or the server is broken), after `timeoutMs`.
//
// The sentinel goes at QoS 2 by default: MQTT.js passes on a QoS 2 delivery only at its PUBREL,
// after any QoS 0/1 delivery that came behind it on the wire, so a sentinel at a lower QoS could
// overtake a QoS 2 message under test. At QoS 2 it is passed on after every earlier delivery
// (PUBRELs come in order), whatever QoS the subscription grants it.
//
//   await pub.publishAsync(`${root}/forbidden`, 'x', { qos: 1 });
//   assert.deepEqual(await textsBeforeSentinel(pub, `${root}/allowed`, sub.inbox), []);
import type { MqttClient } from 'mqtt';
import type { IPublishPacket } from 'mqtt-packet';
import { uid, waitUntil, type Inbox, type Received } from './clients.js';
import type { RawClient } from './raw-client.js';

export interface SentinelOptions {
  /** QoS of the sentinel itself; default 2 (see above). */
  qos?: 0 | 1 | 2;
  /** How long the sentinel may take to arrive; default 3 s. */
  timeoutMs?: number;
}

/**
 * Publishes a unique sentinel on `topic` from `publisher`, waits until every inbox in `inboxes` has
 * it, removes it from them (so later assertions see only real messages) and returns, per inbox,
 * what had arrived before it.
 */
export async function fenceWithSentinel(
  publisher: MqttClient,
  topic: string,
  inboxes: readonly Inbox[],
  options: SentinelOptions = {},
): Promise<Received[][]> {
  const text = uid('sentinel');
  await publisher.publishAsync(topic, text, { qos: options.qos ?? 2 });
  const isSentinel = (m: Received) => m.text === text;
  await Promise.all(inboxes.map((inbox) => inbox.waitFor(1, options.timeoutMs ?? 3_000, isSentinel)));
  return inboxes.map((inbox) => {
    const at = inbox.messages.findIndex(isSentinel);
    const before = inbox.messages.slice(0, at);
    inbox.messages.splice(at, 1);
    return before;
  });
}

/** fenceWithSentinel for one inbox: the texts that arrived before the sentinel. */
export async function textsBeforeSentinel(publisher: MqttClient, topic: string, inbox: Inbox, options: SentinelOptions = {}): Promise<string[]> {
  const [before] = await fenceWithSentinel(publisher, topic, [inbox], options);
  return before!.map((m) => m.text);
}

/**
 * For a raw client (test/helpers/raw-client.ts): the PUBLISH packets `raw` received before a QoS 0
 * sentinel that `publisher` sends to `topic`, which `raw` must subscribe to. QoS 0 is not held
 * back by Receive Maximum or by messages waiting in the session's queue [MQTT-3.3.4-9 counts QoS 1
 * and 2 only], so it fences a connection whose QoS 1/2 window is full: what is held back stays
 * behind it.
 */
export async function rawPublishesBeforeSentinel(raw: RawClient, publisher: MqttClient, topic: string, timeoutMs = 3_000): Promise<IPublishPacket[]> {
  const text = uid('sentinel');
  await publisher.publishAsync(topic, text, { qos: 0 });
  const at = () => raw.received<IPublishPacket>('publish').findIndex((p) => p.payload.toString() === text);
  await waitUntil(() => at() >= 0, timeoutMs, 'the QoS 0 sentinel');
  return raw.received<IPublishPacket>('publish').slice(0, at());
}

// Limits (client id length, connection count, subscriptions per connection) and robustness
// against hostile or broken peers (malformed bytes, no CONNECT, second CONNECT, garbage,
// truncated packets, stalled readers). After each abuse the server must still be alive and
// serving. Also checks that connect/disconnect log lines identify the client.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IConnackPacket, IDisconnectPacket, IPublishPacket, ISubackPacket } from 'mqtt-packet';
import {
  assertServes,
  connectClient,
  disconnect,
  sleep,
  subscriber,
  uid,
  waitUntil,
  withTimeout,
  type Connected,
  type ProtocolVersion,
} from '../helpers/clients.js';
import { rawConnect, type RawClient } from '../helpers/raw-client.js';
import { fenceWithSentinel } from '../helpers/sentinel.js';
import { rssBytes, type LogLine, type TestServer } from '../helpers/server.js';
import { freshServer, installCleanup, useServer } from '../helpers/suite.js';

installCleanup();
const vname = (v: ProtocolVersion) => (v === 4 ? 'v3.1.1' : 'v5');
const code = (ack: IConnackPacket, v: ProtocolVersion) => (v === 5 ? ack.reasonCode : ack.returnCode);

describe('limits', () => {
  const server = useServer({ limits: { connectTimeoutMs: 500 } });

  for (const v of [4, 5] as const) {
    test(`${vname(v)}: a client id longer than 128 bytes is refused (v5 0x85, v3.1.1 rc 2)`, async () => {
      const raw = await rawConnect('tcp', server(), { protocolVersion: v });
      const ack = await raw.connect({ clientId: 'x'.repeat(129) });
      assert.equal(code(ack, v), v === 5 ? 0x85 : 2);
      await raw.waitClosed();

      // 128 bytes is fine (multi-byte characters count as bytes: 64 x 'é' = 128 bytes).
      const ok = await rawConnect('tcp', server(), { protocolVersion: v });
      assert.equal(code(await ok.connect({ clientId: 'é'.repeat(64) }), v), 0);
      const tooLong = await rawConnect('tcp', server(), { protocolVersion: v });
      assert.notEqual(code(await tooLong.connect({ clientId: 'é'.repeat(65) }), v), 0, '130 bytes in 65 characters');
    });
  }

  test('topic limits (maxTopicLevels 8, maxTopicBytes 256): at the limit delivered, beyond it refused', async () => {
    const root = uid('lvl'); // one level
    const eight = `${root}/2/3/4/5/6/7/8`;
    const nine = `${eight}/9`;
    const long = `${root}/${'x'.repeat(256 - root.length)}`; // 257 bytes
    const watcher = await subscriber(server(), `${root}/#`, 1);
    for (const v of [4, 5] as const) {
      const ok = await rawConnect('tcp', server(), { protocolVersion: v });
      await ok.connect();
      ok.send({ cmd: 'publish', topic: eight, payload: Buffer.from(`eight-v${v}`), qos: 1, messageId: 1, dup: false, retain: false });
      await ok.expect('puback');
      for (const [name, topic] of [['nine levels', nine], ['257 bytes', long]] as const) {
        const raw = await rawConnect('tcp', server(), { protocolVersion: v });
        await raw.connect();
        raw.send({ cmd: 'publish', topic, payload: Buffer.from('too-far'), qos: 1, messageId: 1, dup: false, retain: false });
        await Promise.race([raw.expect('puback').catch(() => undefined), raw.waitClosed().catch(() => undefined)]);
        const puback = raw.received<{ cmd: 'puback'; reasonCode?: number }>('puback')[0];
        assert.ok(raw.closed || (v === 5 && (puback?.reasonCode ?? 0) >= 0x80), `v${v} ${name}: accepted: ${raw.describe()}`);
      }
      const sub = await rawConnect('tcp', server(), { protocolVersion: v });
      await sub.connect();
      sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: eight, qos: 0 }, { topic: nine, qos: 0 }] });
      const suback = (await sub.expect('suback')) as ISubackPacket;
      assert.equal(suback.granted[0], 0);
      assert.ok((suback.granted[1] as number) >= 0x80, `v${v}: a nine-level filter was granted`);
    }
    // Every publish above was answered (PUBACK or close): a sentinel sent now comes after them.
    const fence = await connectClient(server());
    const [got] = await fenceWithSentinel(fence.client, `${root}/fence`, [watcher.inbox]);
    assert.deepEqual(got!.map((m) => m.text).sort(), ['eight-v4', 'eight-v5']);
  });

  test('limits.maxConnections=2: the extra connection is refused (v5 0x97), a slot frees on close', async () => {
    const srv = await freshServer({ limits: { maxConnections: 2 } });
    try {
      const a = await connectClient(srv, { protocolVersion: 5 });
      await connectClient(srv, { protocolVersion: 4, transport: 'ws' });

      const extra5 = await rawConnect('tcp', srv, { protocolVersion: 5 });
      const ack5 = await extra5.connect().catch((err: Error) => assert.fail(`v5: expected CONNACK 0x97: ${err.message}`));
      assert.equal(ack5.reasonCode, 0x97, 'Quota exceeded');
      await extra5.waitClosed();

      const extraWs = await rawConnect('ws', srv, { protocolVersion: 4 }).catch(() => undefined);
      if (extraWs) {
        if (!extraWs.closed) extraWs.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: uid('extra'), clean: true, keepalive: 0 });
        await extraWs.waitClosed();
        const ack4 = extraWs.received<IConnackPacket>('connack')[0];
        if (ack4) assert.notEqual(ack4.returnCode, 0, 'v3.1.1 over ws: not accepted');
      }

      await disconnect(a.client);
      await waitUntil(() => a.inbox.closed, 2_000, 'a to close');
      // The server may take a moment to account for the closed socket.
      let replacement;
      const deadline = Date.now() + 3_000;
      for (;;) {
        try {
          replacement = await connectClient(srv, { protocolVersion: 5 });
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await sleep(100);
        }
      }
      assert.equal(replacement.connack.reasonCode, 0);
    } finally {
      await srv.stop();
    }
  });

  for (const v of [4, 5] as const) {
    test(`${vname(v)}: limits.maxSubscriptionsPerConnection=3: further filters get ${v === 5 ? '0x97' : '0x80'}`, async () => {
      const srv = await freshServer({ limits: { maxSubscriptionsPerConnection: 3 } });
      try {
        const raw = await rawConnect('tcp', srv, { protocolVersion: v });
        await raw.connect();
        const root = uid('subs');
        const fail = v === 5 ? 0x97 : 0x80;
        raw.send({
          cmd: 'subscribe',
          messageId: 1,
          subscriptions: [0, 1, 2, 3, 4].map((i) => ({ topic: `${root}/${i}`, qos: 1 as const })),
        });
        const s1 = (await raw.expect('suback')) as ISubackPacket;
        assert.deepEqual(s1.granted, [1, 1, 1, fail, fail]);

        raw.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: `${root}/5`, qos: 0 }] });
        assert.deepEqual(((await raw.expect('suback')) as ISubackPacket).granted, [fail]);

        // Re-subscribing to an existing filter replaces it; it is not an extra subscription.
        raw.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: `${root}/0`, qos: 0 }] });
        assert.deepEqual(((await raw.expect('suback')) as ISubackPacket).granted, [0]);

        // Unsubscribing frees a slot.
        raw.send({ cmd: 'unsubscribe', messageId: 4, unsubscriptions: [`${root}/1`] });
        await raw.expect('unsuback');
        raw.send({ cmd: 'subscribe', messageId: 5, subscriptions: [{ topic: `${root}/6`, qos: 1 }] });
        assert.deepEqual(((await raw.expect('suback')) as ISubackPacket).granted, [1]);
        assert.equal(raw.closed, false);
      } finally {
        await srv.stop();
      }
    });
  }
});

describe('robustness: the server survives broken peers', () => {
  const server = useServer({ limits: { connectTimeoutMs: 500 } });

  test('no CONNECT at all: closed after limits.connectTimeoutMs (500 ms)', async () => {
    for (const transport of ['tcp', 'ws'] as const) {
      const raw = await rawConnect(transport, server(), { protocolVersion: 4 });
      const closedAt = await raw.waitClosed(4_000);
      const elapsed = closedAt - raw.openedAt;
      assert.ok(elapsed >= 300 && elapsed <= 3_000, `${transport}: closed after ${elapsed} ms`);
      assert.equal(raw.packets.length, 0, 'nothing is sent to a client that never connected');
    }
    await assertServes(server());
  });

  test('garbage first packet (an HTTP request on the MQTT port): closed promptly', async () => {
    const raw = await rawConnect('tcp', server(), { protocolVersion: 4 });
    raw.sendBytes(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    const closedAt = await raw.waitClosed(3_000);
    assert.ok(closedAt - raw.openedAt < 3_000);
    assert.equal(raw.received('connack').length, 0);
    await assertServes(server());
  });

  test('a first packet that is not CONNECT (PINGREQ) closes the connection [MQTT-3.1.0-1]', async () => {
    for (const v of [4, 5] as const) {
      const raw = await rawConnect('tcp', server(), { protocolVersion: v });
      raw.send({ cmd: 'pingreq' });
      await raw.waitClosed(3_000);
      assert.equal(raw.received('pingresp').length, 0);
    }
    await assertServes(server());
  });

  test('random bytes over WebSocket close the connection', async () => {
    const raw = await rawConnect('ws', server(), { protocolVersion: 4 });
    raw.sendBytes(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0x03]));
    await raw.waitClosed(3_000);
    await assertServes(server());
  });

  const malformed: Array<[string, number[]]> = [
    ['reserved packet type 0', [0x00, 0x00]],
    ['PUBREL with wrong fixed-header flags [MQTT-3.6.1-1]', [0x60, 0x02, 0x00, 0x01]],
    ['SUBSCRIBE with wrong fixed-header flags [MQTT-3.8.1-1]', [0x80, 0x08, 0x00, 0x01, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x00]],
    ['PUBLISH with QoS 3 [MQTT-3.3.1-4]', [0x36, 0x07, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x00, 0x01]],
    ['remaining length with 5 continuation bytes', [0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]],
    ['SUBSCRIBE with no topic filters [MQTT-3.8.3-3]', [0x82, 0x02, 0x00, 0x01]],
    ['PUBLISH topic with invalid UTF-8 [MQTT-1.5.3-1]', [0x30, 0x05, 0x00, 0x02, 0xc3, 0x28, 0x78]],
    ['PUBLISH topic containing U+0000 [MQTT-1.5.3-2]', [0x30, 0x05, 0x00, 0x02, 0x61, 0x00, 0x78]],
    // Packet identifiers of QoS > 0 PUBLISH, SUBSCRIBE and UNSUBSCRIBE are non-zero: v3.1.1
    // [MQTT-2.3.1-1], v5 [MQTT-2.2.1-3].
    ['PUBLISH QoS 1 with packet identifier 0 [MQTT-2.3.1-1]', [0x32, 0x07, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x00, 0x00]],
    ['PUBLISH QoS 2 with packet identifier 0 [MQTT-2.3.1-1]', [0x34, 0x07, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x00, 0x00]],
    ['SUBSCRIBE with packet identifier 0 [MQTT-2.3.1-1]', [0x82, 0x08, 0x00, 0x00, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x00]],
    ['UNSUBSCRIBE with packet identifier 0 [MQTT-2.3.1-1]', [0xa2, 0x07, 0x00, 0x00, 0x00, 0x03, 0x61, 0x2f, 0x62]],
    ['SUBSCRIBE requesting QoS 3 [MQTT-3.8.3-4]', [0x82, 0x08, 0x00, 0x01, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x03]],
  ];
  // Version-specific fixtures, already in that version's encoding.
  const malformedV4: Array<[string, number[]]> = [
    ['v3.1.1 SUBSCRIBE options with reserved bits set [MQTT-3.8.3-4]', [0x82, 0x08, 0x00, 0x01, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x04]],
    ['v3.1.1 AUTH (reserved packet type 15)', [0xf0, 0x00]],
  ];
  const malformedV5: Array<[string, number[]]> = [
    ['v5 SUBSCRIBE options with reserved bits 6-7 set [MQTT-3.8.3-5]', [0x82, 0x09, 0x00, 0x01, 0x00, 0x00, 0x03, 0x61, 0x2f, 0x62, 0xc0]],
    ['v5 SUBSCRIBE with Retain Handling 3 (protocol error, §3.8.3.1)', [0x82, 0x09, 0x00, 0x01, 0x00, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x30]],
    ['v5 PUBLISH from a client carrying a Subscription Identifier [MQTT-3.3.4-6]', [0x30, 0x09, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x02, 0x0b, 0x01, 0x78]],
    ['v5 PUBLISH with Payload Format Indicator twice (protocol error, §3.3.2.3.2)', [0x30, 0x0b, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x04, 0x01, 0x01, 0x01, 0x01, 0x78]],
    ['v5 AUTH without an authentication method in CONNECT (protocol error, §4.12)', [0xf0, 0x00]],
    ['v5 SUBSCRIBE with Subscription Identifier 0 (protocol error, §3.8.2.1.2)', [0x82, 0x0b, 0x00, 0x01, 0x02, 0x0b, 0x00, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x01]],
  ];
  const cases: Array<[string, number[], ReadonlyArray<4 | 5>]> = [
    ...malformed.map(([n, b]) => [n, b, [4, 5]] as [string, number[], ReadonlyArray<4 | 5>]),
    ...malformedV4.map(([n, b]) => [n, b, [4]] as [string, number[], ReadonlyArray<4 | 5>]),
    ...malformedV5.map(([n, b]) => [n, b, [5]] as [string, number[], ReadonlyArray<4 | 5>]),
  ];
  for (const [name, bytes, versions] of cases) {
    test(`malformed after CONNECT: ${name} -> closed`, async () => {
      const failures: string[] = [];
      for (const v of versions) {
        const raw = await rawConnect('tcp', server(), { protocolVersion: v });
        await raw.connect();
        // Shared fixtures are v3.1.1 bytes; v5 PUBLISH/SUBSCRIBE/UNSUBSCRIBE need a properties section.
        raw.sendBytes(v === 5 && versions.length === 2 ? toV5(bytes) : bytes);
        try {
          await raw.waitClosed(2_000);
        } catch {
          failures.push(`${vname(v)}: not closed, got ${raw.describe()}`);
          continue;
        }
        if (v === 5) {
          const d = raw.received<IDisconnectPacket>('disconnect')[0];
          if (d && d.reasonCode! < 0x80) failures.push(`v5: DISCONNECT reason 0x${d.reasonCode?.toString(16)} is not an error`);
        }
      }
      assert.deepEqual(failures, []);
      await assertServes(server());
    });
  }

  // CONNECT "MQTT" level 5, clean, keepalive 0, the given properties, client id "x".
  const connectV5WithProps = (props: number[]) => [0x10, 14 + props.length, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05, 0x02, 0x00, 0x00, props.length, ...props, 0x00, 0x01, 0x78];
  const badConnectsV5: Array<[string, number[]]> = [
    ['v5 Receive Maximum 0 (protocol error, §3.1.2.11.3)', connectV5WithProps([0x21, 0x00, 0x00])],
    ['v5 Maximum Packet Size 0 (protocol error, §3.1.2.11.4)', connectV5WithProps([0x27, 0x00, 0x00, 0x00, 0x00])],
    ['v5 Session Expiry Interval given twice (protocol error, §3.1.2.11.2)', connectV5WithProps([0x11, 0, 0, 0, 10, 0x11, 0, 0, 0, 10])],
  ];
  for (const [name, bytes] of badConnectsV5) {
    test(`malformed CONNECT: ${name} -> no successful CONNACK, closed`, async () => {
      const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
      raw.sendBytes(bytes);
      try {
        await raw.waitClosed(2_000);
      } catch {
        assert.fail(`not closed, got ${raw.describe()}`);
      }
      for (const a of raw.received<IConnackPacket>('connack')) assert.ok(a.reasonCode! >= 0x80, `CONNACK 0x${a.reasonCode?.toString(16)}`);
      await assertServes(server());
    });
  }

  // CONNECT "MQTT" level 4, keepalive 0, client id "x", with the given flags byte.
  const connectWithFlags = (flags: number) => [0x10, 13, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, flags, 0x00, 0x00, 0x00, 0x01, 0x78];
  const badConnects: Array<[string, number[]]> = [
    ['reserved flag bit set [MQTT-3.1.2-3]', connectWithFlags(0x03)],
    ['Will QoS without the Will flag [MQTT-3.1.2-13]', connectWithFlags(0x0a)],
    ['Will Retain without the Will flag [MQTT-3.1.2-15]', connectWithFlags(0x22)],
    ['v3.1.1 password flag without user name flag [MQTT-3.1.2-22]', connectWithFlags(0x42)],
    // Will flag, QoS 0, clean; will topic "a/+", will message "m", then client id "x".
    ['a Will Topic containing a wildcard [MQTT-3.3.2-2]', [0x10, 21, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x06, 0x00, 0x00, 0x00, 0x01, 0x78, 0x00, 0x03, 0x61, 0x2f, 0x2b, 0x00, 0x01, 0x6d]],
  ];
  for (const [name, bytes] of badConnects) {
    test(`malformed CONNECT: ${name} -> closed without a successful CONNACK`, async () => {
      const raw = await rawConnect('tcp', server(), { protocolVersion: 4 });
      raw.sendBytes(bytes);
      await raw.waitClosed(3_000);
      for (const a of raw.received<IConnackPacket>('connack')) assert.notEqual(a.returnCode, 0);
      await assertServes(server());
    });
  }

  for (const v of [4, 5] as const) {
    test(`${vname(v)}: a second CONNECT on a live connection is a protocol error [MQTT-3.1.0-2]`, async () => {
      const raw = await rawConnect('tcp', server(), { protocolVersion: v });
      await raw.connect();
      raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clientId: uid('second'), clean: true, keepalive: 0 });
      await raw.waitClosed(3_000);
      assert.equal(raw.received('connack').length, 1, 'no second CONNACK');
      if (v === 5) {
        const d = raw.received<IDisconnectPacket>('disconnect')[0];
        assert.ok(d, `expected DISCONNECT 0x82, got ${raw.describe()}`);
        assert.equal(d.reasonCode, 0x82);
      }
      await assertServes(server());
    });
  }

  test('truncated CONNECT then silence: closed by the connect timeout', async () => {
    const raw = await rawConnect('tcp', server(), { protocolVersion: 4 });
    raw.sendBytes([0x10, 0x20, 0x00, 0x04, 0x4d, 0x51]); // claims 32 bytes, sends 4
    const closedAt = await raw.waitClosed(4_000);
    assert.ok(closedAt - raw.openedAt <= 3_000, `closed after ${closedAt - raw.openedAt} ms`);
    await assertServes(server());
  });

  test('truncated PUBLISH then silence: closed by keep-alive', async () => {
    const raw = await rawConnect('tcp', server(), { protocolVersion: 4 });
    await raw.connect({ keepalive: 1 });
    const t0 = Date.now();
    raw.sendBytes([0x30, 0x64, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x01, 0x02]); // claims 100 bytes
    const closedAt = await raw.waitClosed(6_000);
    assert.ok(closedAt - t0 <= 4_000, `closed after ${closedAt - t0} ms`);
    await assertServes(server());
  });

  test('unsupported protocol level: CONNACK rc 1 (or v5 0x84) and close [MQTT-3.1.2-2]', async () => {
    const raw = await rawConnect('tcp', server(), { protocolVersion: 4 });
    // CONNECT "MQTT" level 6, clean, keepalive 0, client id "x".
    raw.sendBytes([0x10, 13, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x06, 0x02, 0x00, 0x00, 0x00, 0x01, 0x78]);
    await raw.waitClosed(3_000);
    const ack = raw.received<IConnackPacket>('connack')[0];
    if (ack) assert.ok(ack.returnCode === 1 || ack.returnCode === 0x84, `return code ${ack.returnCode}`);
    await assertServes(server());
  });

  test('wrong protocol name: closed without a successful CONNACK [MQTT-3.1.2-1]', async () => {
    const raw = await rawConnect('tcp', server(), { protocolVersion: 4 });
    raw.sendBytes([0x10, 13, 0x00, 0x04, 0x4d, 0x51, 0x58, 0x58, 0x04, 0x02, 0x00, 0x00, 0x00, 0x01, 0x78]);
    await raw.waitClosed(3_000);
    for (const a of raw.received<IConnackPacket>('connack')) assert.notEqual(a.returnCode, 0);
    await assertServes(server());
  });

  test('a burst of 200 connections (half never send CONNECT) that close abruptly', async () => {
    const raws: RawClient[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const opened = await Promise.all(
        Array.from({ length: 20 }, async (_, j) => {
          const i = batch * 20 + j;
          const r = await rawConnect(i % 2 ? 'ws' : 'tcp', server(), { protocolVersion: i % 4 < 2 ? 4 : 5 });
          if (i % 3 === 0) await r.connect();
          return r;
        }),
      );
      raws.push(...opened);
    }
    for (const r of raws) r.destroy();
    // At once, while the server is still handling 200 closes.
    await assertServes(server());
  });
});

/**
 * Publishes a sentinel to `topic` (QoS 1) until `raw` has received one, every 500 ms for at most
 * 15 s: when it is in, everything delivered to `raw` before it is in too. (A QoS 0 subscriber whose
 * buffer is still full drops one, hence the retries.)
 */
async function sentinelArrives(raw: RawClient, publisher: Connected['client'], topic: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  const arrived = () => raw.received<IPublishPacket>('publish').some((p) => p.payload.toString('latin1', 0, 8) === 'sentinel');
  while (!arrived()) {
    if (Date.now() > deadline) throw new Error(`no sentinel within 15 s: ${raw.describe()}`);
    await publisher.publishAsync(topic, 'sentinel', { qos: 1 });
    await waitUntil(arrived, 500, 'the sentinel').catch(() => undefined);
  }
}

/**
 * Rewrites a v3.1.1 fixture for v5 by inserting the empty properties section (one 0x00 byte)
 * where v5 has one, so the packet is malformed for the same reason in both versions.
 */
function toV5(bytes: number[]): number[] {
  const [b0, len] = bytes as [number, number];
  const type = b0 >> 4;
  if (bytes.length < 4 || len >= 0x80) return bytes;
  let at = -1;
  if (type === 8 || type === 10) at = 4; // SUBSCRIBE / UNSUBSCRIBE: after the packet identifier
  if (type === 3) {
    // PUBLISH: after the topic name and (QoS > 0) the packet identifier
    const topicLen = (bytes[2]! << 8) | bytes[3]!;
    at = 4 + topicLen + (((b0 >> 1) & 3) > 0 ? 2 : 0);
  }
  if (at < 0 || at > bytes.length) return bytes;
  return [b0, len + 1, ...bytes.slice(2, at), 0x00, ...bytes.slice(at)];
}

describe('stalled subscribers do not hold others back (limits.maxOutboundBufferBytes default)', () => {
  const MESSAGES = 2_000;
  const PAYLOAD = 16 * 1024; // 2,000 x 16 KB = ~32 MB offered to the stalled subscriber
  const RSS_GROWTH_LIMIT = 150 * 1024 * 1024;
  // What a stalled reader can hold: its kernel receive buffer (not grown, since it never read)
  // + the server's kernel send buffer (tcp_wmem max 4 MB) + limits.maxOutboundBufferBytes (1 MB)
  // + framing slack. Everything else offered to it must have been dropped (QoS 0).
  const STALLED_BYTES_LIMIT = 16 * 1024 * 1024;

  for (const transport of ['tcp', 'ws'] as const) {
    test(`${transport}: a subscriber that stops reading does not stall the topic or grow the server`, { timeout: 90_000 }, async (t) => {
      const srv: TestServer = await freshServer();
      try {
        const topic = uid('stall');
        const stalled = await rawConnect(transport, srv, { protocolVersion: 4 });
        await stalled.connect();
        stalled.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] });
        await stalled.expect('suback');
        stalled.pause();

        const healthy = await subscriber(srv, topic, 1, { protocolVersion: 5, transport });
        const pub = await connectClient(srv, { protocolVersion: 5 });

        // Warm up so the baseline includes JIT and buffers for this traffic shape.
        const payload = Buffer.alloc(PAYLOAD, 0x61);
        const WARM = 20;
        for (let i = 0; i < WARM; i++) await pub.client.publishAsync(topic, payload, { qos: 1 });
        await healthy.inbox.waitFor(WARM);
        await sleep(200);
        const rssBefore = rssBytes(srv.pid);
        let rssMax = rssBefore;
        const sampler = setInterval(() => {
          try {
            rssMax = Math.max(rssMax, rssBytes(srv.pid));
          } catch {
            // process gone: asserted below
          }
        }, 50);

        const t0 = Date.now();
        try {
          // Publish in windows of 100 QoS 1 messages so the publisher itself is flow-controlled.
          for (let i = 0; i < MESSAGES; i += 100) {
            const batch = [];
            for (let j = i; j < Math.min(i + 100, MESSAGES); j++) {
              batch.push(pub.client.publishAsync(topic, payload, { qos: 1 }));
            }
            await Promise.all(batch);
          }
          await healthy.inbox.waitFor(WARM + MESSAGES, 30_000);
        } finally {
          clearInterval(sampler);
        }
        const elapsed = Date.now() - t0;
        rssMax = Math.max(rssMax, rssBytes(srv.pid));
        const growth = rssMax - rssBefore;
        assert.equal(healthy.inbox.messages.length, WARM + MESSAGES, 'every QoS 1 message reached the healthy subscriber');
        assert.ok(elapsed < 30_000, `healthy subscriber took ${elapsed} ms`);
        assert.ok(
          growth < RSS_GROWTH_LIMIT,
          `RSS grew by ${(growth / 1048576).toFixed(1)} MB (from ${(rssBefore / 1048576).toFixed(1)} MB)`,
        );
        assert.ok(srv.isAlive());

        // Once it reads again, the stalled subscriber gets only what was buffered: the rest of
        // its QoS 0 messages were dropped, not queued without bound. Everything buffered is in
        // once a sentinel published after it arrives (one may be dropped while the buffer is
        // still full: send another).
        stalled.resume();
        await sentinelArrives(stalled, pub.client, topic);
        const offered = MESSAGES * PAYLOAD;
        t.diagnostic(
          `healthy got ${MESSAGES} x ${PAYLOAD} B in ${elapsed} ms; RSS +${(growth / 1048576).toFixed(1)} MB; ` +
            `stalled got ${(stalled.bytesReceived / 1048576).toFixed(1)} MB of ${(offered / 1048576).toFixed(0)} MB`,
        );
        assert.ok(
          stalled.bytesReceived < STALLED_BYTES_LIMIT,
          `stalled subscriber received ${(stalled.bytesReceived / 1048576).toFixed(1)} MB of ${(offered / 1048576).toFixed(0)} MB after resuming`,
        );
        assert.equal(stalled.closed, false, 'dropping QoS 0 is enough; the slow subscriber may stay connected');

        // The server still serves new clients promptly.
        await assertServes(srv);
        stalled.destroy();
      } finally {
        await srv.stop();
      }
    });
  }
});

describe('a stalled QoS 1 subscriber (online, not reading, not acking)', () => {
  test('its backlog is bounded by maxInflightMessages + maxQueuedMessagesPerSession, newest kept', { timeout: 60_000 }, async (t) => {
    const INFLIGHT = 20;
    const QUEUED = 200;
    const srv = await freshServer({ limits: { maxInflightMessages: INFLIGHT, maxQueuedMessagesPerSession: QUEUED } });
    try {
      const topic = uid('stall1');
      const stalled = await rawConnect('tcp', srv, { protocolVersion: 5 });
      await stalled.connect();
      stalled.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] });
      await stalled.expect('suback');
      stalled.pause();
      const healthy = await subscriber(srv, topic, 1, { protocolVersion: 4 });
      const pub = await connectClient(srv, { protocolVersion: 5 });
      const COUNT = 3_000;
      const payload = (i: number) => Buffer.concat([Buffer.from(`${i}:`), Buffer.alloc(4 * 1024, 0x62)]);
      // Batches smaller than the queue limit, paced by the healthy subscriber, so only the
      // stalled one ever has a backlog (the healthy one must not lose anything).
      const BATCH = 50;
      for (let i = 0; i < COUNT; i += BATCH) {
        await Promise.all(Array.from({ length: BATCH }, (_, j) => pub.client.publishAsync(topic, payload(i + j), { qos: 1 })));
        await healthy.inbox.waitFor(i + BATCH, 5_000);
      }
      assert.equal(healthy.inbox.messages.length, COUNT);

      // Now read and acknowledge everything the stalled subscriber was kept.
      stalled.autoAck = true;
      stalled.resume();
      for (const p of stalled.received<IPublishPacket>('publish')) stalled.send({ cmd: 'puback', messageId: p.messageId! });
      // The sentinel is queued behind what was kept (it may push out the oldest: one less kept).
      await sentinelArrives(stalled, pub.client, topic);
      const got = stalled
        .received<IPublishPacket>('publish')
        .filter((p) => !p.payload.toString('latin1', 0, 8).startsWith('sentinel'))
        .map((p) => Number(p.payload.toString('latin1', 0, 8).split(':')[0]));
      const distinct = new Set(got);
      t.diagnostic(`stalled QoS 1 subscriber was kept ${distinct.size} of ${COUNT} messages`);
      assert.ok(distinct.size <= INFLIGHT + QUEUED + 20, `kept ${distinct.size} messages for a stalled subscriber`);
      assert.ok(distinct.size >= QUEUED, `kept only ${distinct.size}`);
      assert.ok(distinct.has(COUNT - 1), 'the newest message is among those kept');
      assert.equal(stalled.closed, false);
    } finally {
      await srv.stop();
    }
  });
});

describe('logs', () => {
  test('connect and disconnect log lines carry clientId and the remote address', async () => {
    const srv = await freshServer({ logLevel: 'debug' });
    try {
      for (const transport of ['tcp', 'ws'] as const) {
        const clientId = uid(`log-${transport}`);
        const c = await connectClient(srv, { clientId, transport });
        await disconnect(c.client);
        const hasAddress = (l: LogLine) => JSON.stringify(l).includes('127.0.0.1');
        const mentions = (l: LogLine) => JSON.stringify(l).includes(clientId);
        const lines = async () => {
          await srv.waitForLog((l) => mentions(l) && /disconnect|clos/i.test(String(l.msg)), 3_000);
          return srv.logLines().filter(mentions);
        };
        const mine = await lines();
        const connectLine = mine.find((l) => /connect/i.test(String(l.msg)) && !/disconnect/i.test(String(l.msg)));
        const disconnectLine = mine.find((l) => /disconnect|clos/i.test(String(l.msg)));
        assert.ok(connectLine, `${transport}: no connect line for ${clientId}: ${JSON.stringify(mine)}`);
        assert.ok(disconnectLine, `${transport}: no disconnect line for ${clientId}`);
        for (const l of [connectLine, disconnectLine]) {
          assert.equal(l.clientId, clientId, `field clientId in ${JSON.stringify(l)}`);
          assert.ok(hasAddress(l), `remote address in ${JSON.stringify(l)}`);
        }
      }
    } finally {
      await srv.stop();
    }
  });

  test('SIGTERM stops the server cleanly; v5 clients are told why', async () => {
    const srv = await freshServer();
    const c = await connectClient(srv, { protocolVersion: 5 });
    const c4 = await connectClient(srv, { protocolVersion: 4, transport: 'ws' });
    srv.kill('SIGTERM');
    const { code: exitCode, signal } = await withTimeout(srv.exited, 8_000, 'exit after SIGTERM');
    assert.ok(exitCode === 0 || signal === 'SIGTERM', `exit code ${exitCode} signal ${signal}`);
    await waitUntil(() => c.inbox.closed && c4.inbox.closed, 3_000, 'clients to be closed');
    const d = c.inbox.disconnects[0];
    if (d) assert.equal(d.reasonCode, 0x8b, 'Server shutting down');
    await srv.stop();
  });
});

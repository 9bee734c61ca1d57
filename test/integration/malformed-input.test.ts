// Issue 13: a malformed message never reaches storage or another client, and the smaller
// protocol holes of item 8 (UTF-8 in filters and client ids, MQIsdp with level 4, a v5 client
// whose Maximum Packet Size is smaller than our CONNACK).
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import type { IConnackPacket, IDisconnectPacket, IPublishPacket, ISubackPacket, Packet } from 'mqtt-packet';
import { assertServes, connectClient, uid, type ProtocolVersion } from '../helpers/clients.js';
import { rawConnect, type RawClient } from '../helpers/raw-client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { installCleanup, useServer } from '../helpers/suite.js';

installCleanup();
const hex = (s: string) => Buffer.from(s, 'hex');
const str = (s: string | Buffer) => {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  return [b.length >> 8, b.length & 0xff, ...b];
};
const errorLines = (server: TestServer) => server.logLines().filter((l) => (l.level ?? 0) >= 50);

/** Subscribes a clean raw client to `filter` with retained messages; returns what arrived before PINGRESP. */
async function retainedFor(server: TestServer, filter: string, v: ProtocolVersion): Promise<{ raw: RawClient; retained: IPublishPacket[] }> {
  const raw = await rawConnect('tcp', server, { protocolVersion: v });
  await raw.connect();
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 1, ...(v === 5 ? { rh: 0 } : {}) }] } as Packet);
  await raw.expect('suback');
  raw.send({ cmd: 'pingreq' }); // retained messages are written before its answer
  await raw.expect('pingresp');
  raw.autoAck = true;
  return { raw, retained: raw.received<IPublishPacket>('publish').filter((p) => p.retain) };
}

describe('the poison PUBLISH of issue 13 (a user property value longer than the packet)', () => {
  const server = useServer();

  test('is refused with DISCONNECT 0x81, is not stored, and other subscribers are unaffected', async () => {
    // A v5 subscriber to # that is connected before, and must stay connected after.
    const live = await connectClient(server(), { protocolVersion: 5 });
    await live.client.subscribeAsync('#', { qos: 1 });
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    raw.sendBytes(hex('101500044d5154540502003c000008706f69736f6e6572')); // CONNECT "poisoner", v5
    await raw.expect('connack');
    raw.sendBytes(hex('33190008706f69736f6e2f720007062600016bffff504f49534f4e')); // retained QoS 1 to poison/r
    await raw.waitClosed();
    const d = raw.received<IDisconnectPacket>('disconnect')[0];
    assert.equal(d?.reasonCode, 0x81, raw.describe());
    assert.equal(raw.received('puback').length, 0, 'not acknowledged');

    // Nothing stored: a new subscriber (v5 and v3.1.1) to # gets no poison/r.
    for (const v of [5, 4] as const) {
      const { raw: sub, retained } = await retainedFor(server(), '#', v);
      assert.deepEqual(retained.filter((p) => p.topic === 'poison/r'), []);
      assert.equal(sub.closed, false);
    }
    // The live subscriber got nothing from it and still receives.
    const topic = uid('after-poison');
    const pub = await connectClient(server(), { protocolVersion: 5 });
    await pub.client.publishAsync(topic, 'fine', { qos: 1, properties: { userProperties: { k: 'v' } } });
    await live.inbox.waitFor(1, 3_000);
    assert.deepEqual(live.inbox.messages.map((m) => m.topic), [topic]);
    assert.deepEqual({ ...live.inbox.messages[0]!.packet.properties?.userProperties }, { k: 'v' });
    assert.deepEqual(errorLines(server()), []);
  });

  test('real clients: every v5 PUBLISH property still goes through, retained, to v5 and v3.1.1 subscribers', async () => {
    const topic = uid('props');
    const pub = await connectClient(server(), { protocolVersion: 5 });
    const properties = {
      payloadFormatIndicator: true,
      messageExpiryInterval: 600,
      contentType: 'application/json; charset=utf-8',
      responseTopic: `${topic}/reply`,
      correlationData: Buffer.from([0, 1, 2, 0xff]),
      userProperties: { 'клíč': 'hodnota €', k: ['1', '2'] },
    };
    await pub.client.publishAsync(topic, '{"a":1}', { qos: 1, retain: true, properties });
    const v5 = await connectClient(server(), { protocolVersion: 5 });
    await v5.client.subscribeAsync(topic, { qos: 1 });
    const [m] = await v5.inbox.waitFor(1, 3_000);
    const got = m!.packet.properties!;
    assert.equal(got.contentType, properties.contentType);
    assert.equal(got.responseTopic, properties.responseTopic);
    assert.deepEqual(got.correlationData, properties.correlationData);
    assert.deepEqual({ ...got.userProperties }, properties.userProperties);
    const v4 = await connectClient(server(), { protocolVersion: 4 });
    await v4.client.subscribeAsync(topic, { qos: 1 });
    const [m4] = await v4.inbox.waitFor(1, 3_000);
    assert.equal(m4!.text, '{"a":1}');
    await pub.client.publishAsync(topic, '', { qos: 1, retain: true });
  });
});

describe('the HTTP API publishes only what MQTT can carry', () => {
  const server = useServer();

  test('a user property containing U+0000 is refused with 400 and nothing is stored', async () => {
    const topic = uid('http-null');
    const header = Buffer.from(JSON.stringify([{ k: 'a\u0000b' }])).toString('base64');
    const res = await fetch(`${server().httpUrl}/topics/${encodeURIComponent(topic)}?retain=true&qos=1`, {
      method: 'POST',
      headers: { 'x-amz-mqtt5-user-properties': header },
      body: 'x',
    });
    assert.equal(res.status, 400, await res.text());
    const { retained } = await retainedFor(server(), topic, 5);
    assert.deepEqual(retained, []);
  });

  test('a direct message whose content type contains U+0000 is refused with 400 and not delivered', async () => {
    const target = await connectClient(server(), { protocolVersion: 5 });
    const clientId = target.client.options.clientId!;
    const url = `${server().httpUrl}/connections/${encodeURIComponent(clientId)}/messages?topic=inbox&contentType=a%00b`;
    const res = await fetch(url, { method: 'POST', body: 'x' });
    assert.equal(res.status, 400, await res.text());
    const ok = await fetch(`${server().httpUrl}/connections/${encodeURIComponent(clientId)}/messages?topic=inbox&contentType=text%2Fplain`, { method: 'POST', body: 'y' });
    assert.equal(ok.status, 200, await ok.text());
    const [m] = await target.inbox.waitFor(1);
    assert.equal(m!.text, 'y');
    assert.equal(target.inbox.messages.length, 1);
  });
});

describe('a rule republishes only what MQTT can carry', () => {
  test('a user property rendered with U+0000 fails the republish action (errorAction), nothing delivered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-rule-props-'));
    const file = join(dir, 'switchboard.json');
    writeFileSync(file, JSON.stringify({
      store: { type: 'memory' },
      rules: [{
        name: 'props',
        sql: "SELECT * FROM 'rp/+'",
        actions: [{ republish: { topic: 'rp-out/${topic(2)}', headers: { userProperties: [{ key: 'k', value: '${v}' }] } } }],
        errorAction: { republish: { topic: 'rp-errors' } },
      }],
    }));
    const server = await startServer({ configFile: file });
    const sub = await connectClient(server, { protocolVersion: 5 });
    await sub.client.subscribeAsync(['rp-out/#', 'rp-errors'], { qos: 1 });
    const pub = await connectClient(server, { protocolVersion: 5 });
    await pub.client.publishAsync('rp/bad', JSON.stringify({ v: 'a\u0000b' }), { qos: 1 });
    await pub.client.publishAsync('rp/good', JSON.stringify({ v: 'fine' }), { qos: 1 });
    const got = await sub.inbox.waitFor(2, 5_000);
    const byTopic = Object.fromEntries(got.map((m) => [m.topic, m]));
    assert.deepEqual(Object.keys(byTopic).sort(), ['rp-errors', 'rp-out/good']);
    assert.deepEqual({ ...byTopic['rp-out/good']!.packet.properties?.userProperties }, { k: 'fine' });
    const error = JSON.parse(byTopic['rp-errors']!.text) as { failures: { failedAction: string; errorMessage: string }[] };
    assert.equal(error.failures[0]!.failedAction, 'RepublishAction');
    assert.match(error.failures[0]!.errorMessage, /user property/);
    assert.deepEqual(errorLines(server), []);
    await server.stop();
  });
});

describe('UTF-8 strings are well-formed and without U+0000 [MQTT-1.5.4-1, 1.5.4-2]', () => {
  const server = useServer();

  for (const v of [4, 5] as const) {
    const name = v === 5 ? 'v5' : 'v3.1.1';
    test(`${name}: a SUBSCRIBE filter "a\\xff" is a Malformed Packet: ${v === 5 ? 'DISCONNECT 0x81' : 'closed'}, no SUBACK`, async () => {
      const raw = await rawConnect('tcp', server(), { protocolVersion: v });
      await raw.connect();
      // SUBSCRIBE id 1, (v5: no properties), filter "a\xff", QoS 0
      const body = [0, 1, ...(v === 5 ? [0] : []), ...str(Buffer.from([0x61, 0xff])), 0];
      raw.sendBytes([0x82, body.length, ...body]);
      await raw.waitClosed();
      assert.deepEqual(raw.received<ISubackPacket>('suback'), []);
      if (v === 5) assert.equal(raw.received<IDisconnectPacket>('disconnect')[0]?.reasonCode, 0x81, raw.describe());
    });

    for (const [what, id] of [['ill-formed UTF-8', [0x63, 0xff]], ['U+0000', [0x63, 0x00, 0x64]]] as const) {
      test(`${name}: a client identifier with ${what} is refused: closed without a successful CONNACK`, async () => {
        const raw = await rawConnect('tcp', server(), { protocolVersion: v });
        // CONNECT "MQTT" level v, clean, keep-alive 0, (v5: no properties), client id.
        const body = [...str('MQTT'), v, 0x02, 0, 0, ...(v === 5 ? [0] : []), ...str(Buffer.from(id))];
        raw.sendBytes([0x10, body.length, ...body]);
        await raw.waitClosed();
        for (const a of raw.received<IConnackPacket>('connack')) assert.ok((v === 5 ? a.reasonCode! : a.returnCode!) !== 0, raw.describe());
      });
    }

    test(`${name}: a user name with ill-formed UTF-8 is refused`, async () => {
      const raw = await rawConnect('tcp', server(), { protocolVersion: v });
      const body = [...str('MQTT'), v, 0x82, 0, 0, ...(v === 5 ? [0] : []), ...str('c'), ...str(Buffer.from([0xc3, 0x28]))];
      raw.sendBytes([0x10, body.length, ...body]);
      await raw.waitClosed();
      for (const a of raw.received<IConnackPacket>('connack')) assert.ok((v === 5 ? a.reasonCode! : a.returnCode!) !== 0, raw.describe());
    });
  }

  test('v5: a user property of ill-formed UTF-8 in PUBLISH is refused with DISCONNECT 0x81', async () => {
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    await raw.connect();
    const props = [0x26, ...str('k'), ...str(Buffer.from([0xed, 0xa0, 0x80]))]; // a UTF-16 surrogate
    const body = [...str('t/u'), props.length, ...props, 0x78];
    raw.sendBytes([0x31, body.length, ...body]); // retained QoS 0
    await raw.waitClosed();
    assert.equal(raw.received<IDisconnectPacket>('disconnect')[0]?.reasonCode, 0x81, raw.describe());
    const { retained } = await retainedFor(server(), 't/u', 5);
    assert.deepEqual(retained, []);
  });
});

describe('a Response Topic is a topic name [MQTT-3.3.2-14]', () => {
  const server = useServer();

  test('v5 PUBLISH with Response Topic "a/#": DISCONNECT 0x82, not stored', async () => {
    const topic = uid('resp');
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    await raw.connect();
    raw.send({ cmd: 'publish', topic, payload: Buffer.from('q'), qos: 1, messageId: 1, retain: true, dup: false, properties: { responseTopic: 'a/#' } });
    await raw.waitClosed();
    assert.equal(raw.received<IDisconnectPacket>('disconnect')[0]?.reasonCode, 0x82, raw.describe());
    const { retained } = await retainedFor(server(), topic, 5);
    assert.deepEqual(retained, []);
  });

  test('v5 will with Response Topic "+/x": CONNACK 0x82', async () => {
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    const ack = await raw.connect({ will: { topic: uid('w'), payload: Buffer.from('w'), qos: 0, retain: false, properties: { responseTopic: '+/x' } } });
    assert.equal(ack.reasonCode, 0x82);
    await raw.waitClosed();
  });
});

describe('protocol name and level go together [MQTT-3.1.2-1, 3.1.2-2]', () => {
  const server = useServer();

  for (const [name, level] of [['MQIsdp', 4], ['MQIsdp', 5], ['MQTT', 3]] as const) {
    test(`"${name}" with protocol level ${level}: CONNACK 0x01 (unacceptable protocol version), closed`, async () => {
      const raw = await rawConnect('tcp', server(), { protocolVersion: 4 });
      const body = [...str(name), level, 0x02, 0, 0, ...(level === 5 ? [0] : []), ...str(uid('pl'))];
      raw.sendBytes([0x10, body.length, ...body]);
      await raw.waitClosed();
      const acks = raw.received<IConnackPacket>('connack');
      assert.equal(acks.length, 1, raw.describe());
      assert.equal(acks[0]!.returnCode, 1);
    });
  }

  test('"MQIsdp" with level 3 (MQTT 3.1) is still accepted', async () => {
    const raw = await rawConnect('tcp', server(), { protocolVersion: 4 });
    const body = [...str('MQIsdp'), 3, 0x02, 0, 0, ...str(uid('v31'))];
    raw.sendBytes([0x10, body.length, ...body]);
    const ack = (await raw.expect('connack')) as IConnackPacket;
    assert.equal(ack.returnCode, 0);
  });
});

describe('a v5 client with a small Maximum Packet Size gets a CONNACK it can take [MQTT-3.1.2-24]', () => {
  const server = useServer();

  test('Maximum Packet Size 10: a successful CONNACK of at most 10 bytes, then normal service', async () => {
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    const ack = await raw.connect({ clientId: uid('small'), properties: { maximumPacketSize: 10 } }, 2_000);
    assert.equal(ack.reasonCode, 0);
    assert.ok(raw.bytesReceived <= 10, `CONNACK of ${raw.bytesReceived} bytes`);
    raw.send({ cmd: 'pingreq' });
    await raw.expect('pingresp');
    // An empty client id: the assigned one is what matters most and is sent when it fits.
    const roomy = await rawConnect('tcp', server(), { protocolVersion: 5 });
    const ack2 = await roomy.connect({ clientId: '', properties: { maximumPacketSize: 40 } }, 2_000);
    assert.equal(ack2.reasonCode, 0);
    assert.match(String(ack2.properties?.assignedClientIdentifier), /^sb-/);
    assert.ok(roomy.bytesReceived <= 40, `CONNACK of ${roomy.bytesReceived} bytes`);
  });

  test('Maximum Packet Size 4 (below any CONNACK): closed at once, nothing sent', async () => {
    const raw = await rawConnect('tcp', server(), { protocolVersion: 5 });
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: uid('tiny'), clean: true, keepalive: 0, properties: { maximumPacketSize: 4 } });
    await raw.waitClosed(2_000);
    assert.equal(raw.bytesReceived, 0);
    await assertServes(server());
  });
});

describe('data stored by an older version', () => {
  test('a retained message whose user property value is null (as 0.x stored it) is delivered without it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-poisoned-'));
    const file = join(dir, 'switchboard.json');
    writeFileSync(file, JSON.stringify({ store: { type: 'sqlite', path: join(dir, 'data') } }));
    let server = await startServer({ configFile: file, keepStore: true });
    const pub = await connectClient(server, { protocolVersion: 5 });
    await pub.client.publishAsync('legacy/ok', 'ok', { qos: 1, retain: true });
    await pub.client.publishAsync('legacy/poison', 'POISON', { qos: 1, retain: true, properties: { userProperties: { k: 'x', good: 'y' } } });
    await server.stop();
    // What the old parser made of the poison PUBLISH: {"k": null}.
    const dbFile = readdirSync(join(dir, 'data')).find((f) => f.endsWith('.db') || f.endsWith('.sqlite'));
    assert.ok(dbFile, 'the SQLite file');
    const db = new Database(join(dir, 'data', dbFile));
    const changed = db.prepare("UPDATE retained SET properties = ? WHERE topic = 'legacy/poison'").run('{"userProperties":[["k",null],["good","y"]]}').changes;
    db.close();
    assert.equal(changed, 1);

    server = await startServer({ configFile: file, keepStore: true });
    for (const v of [5, 4] as const) {
      const { raw, retained } = await retainedFor(server, 'legacy/#', v);
      assert.deepEqual(retained.map((p) => p.topic).sort(), ['legacy/ok', 'legacy/poison'], raw.describe());
      if (v === 5) assert.deepEqual({ ...retained.find((p) => p.topic === 'legacy/poison')!.properties?.userProperties }, { good: 'y' });
      assert.equal(raw.closed, false);
    }
    assert.deepEqual(errorLines(server), []);
    await server.stop();
  });
});

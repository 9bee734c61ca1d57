// Interop with a second, independent client implementation: Debian's mosquitto_pub and
// mosquitto_sub (libmosquitto), over TCP, MQTT v3.1.1 and v5.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { connectClient, subscriber, uid, withTimeout } from '../helpers/clients.js';
import { textsBeforeSentinel } from '../helpers/sentinel.js';
import { useServer } from '../helpers/suite.js';

const server = useServer();
const SUB = '/usr/bin/mosquitto_sub';
const PUB = '/usr/bin/mosquitto_pub';
const STDBUF = '/usr/bin/stdbuf';
const skip = [SUB, PUB, STDBUF].every((f) => existsSync(f)) ? false : 'needs /usr/bin/mosquitto_sub, mosquitto_pub and stdbuf';

const VERSIONS = [
  { flag: 'mqttv311', name: 'v3.1.1' },
  { flag: 'mqttv5', name: 'v5' },
] as const;

/** Output format: one line per message, fields separated by '|'. */
const FORMAT = 'MSG|%t|%q|%r|%p';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a mosquitto client to completion (bounded: SIGKILL after timeoutMs). */
function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<Run> {
  return new Promise((res) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

/**
 * Starts mosquitto_sub with -d so that "received SUBACK" tells us when it is subscribed;
 * `subscribed` resolves then, `done` when it exits.
 */
function startSub(args: string[], timeoutMs = 15_000) {
  // mosquitto_sub block-buffers stdout into a pipe; stdbuf -oL makes the SUBACK line visible now.
  const child = spawn(STDBUF, ['-oL', SUB, '-d', '-F', FORMAT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let onSuback: () => void;
  const subscribed = new Promise<void>((res) => (onSuback = res));
  child.stdout.on('data', (d) => {
    stdout += d;
    if (/received SUBACK/.test(stdout)) onSuback();
  });
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<Run & { messages: string[][] }>((res) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      const messages = stdout
        .split('\n')
        .filter((l) => l.startsWith('MSG|'))
        .map((l) => l.split('|').slice(1));
      res({ code, stdout, stderr, messages });
    });
  });
  return {
    subscribed: withTimeout(subscribed, 5_000, `mosquitto_sub SUBACK; stdout: ${stdout} stderr: ${stderr}`),
    done,
    kill: () => child.kill('SIGKILL'),
  };
}

const hostArgs = () => ['-h', '127.0.0.1', '-p', String(server().mqttPort)];

describe('mosquitto_sub receives what MQTT.js publishes', { skip }, () => {
  for (const v of VERSIONS) {
    test(`${v.name}: mosquitto_sub -C 3 gets QoS 0/1/2 messages from an MQTT.js publisher`, async () => {
      const root = uid('mosq-sub');
      const sub = startSub([...hostArgs(), '-V', v.flag, '-q', '2', '-t', `${root}/#`, '-C', '3', '-W', '10']);
      try {
        await sub.subscribed;
        const pub = await connectClient(server(), { protocolVersion: v.flag === 'mqttv5' ? 4 : 5, transport: 'ws' });
        for (const qos of [0, 1, 2] as const) await pub.client.publishAsync(`${root}/q${qos}`, `p${qos}`, { qos });
        const result = await sub.done;
        assert.equal(result.code, 0, `exit code; stderr: ${result.stderr}`);
        const got = result.messages.map(([topic, qos, retain, payload]) => ({ topic, qos, retain, payload }));
        got.sort((a, b) => a.topic!.localeCompare(b.topic!));
        assert.deepEqual(got, [
          { topic: `${root}/q0`, qos: '0', retain: '0', payload: 'p0' },
          { topic: `${root}/q1`, qos: '1', retain: '0', payload: 'p1' },
          { topic: `${root}/q2`, qos: '2', retain: '0', payload: 'p2' },
        ]);
      } finally {
        sub.kill();
      }
    });
  }

  test('v3.1.1 persistent session: mosquitto_sub -c gets QoS 1 messages published while it was away', async () => {
    const id = uid('mosq-persist');
    const topic = uid('mosq-persist-t');
    const first = await run(SUB, [...hostArgs(), '-V', 'mqttv311', '-c', '-i', id, '-q', '1', '-t', topic, '-E']);
    assert.equal(first.code, 0, first.stderr);
    const pub = await connectClient(server(), { protocolVersion: 5 });
    await pub.client.publishAsync(topic, 'while-away-1', { qos: 1 });
    await pub.client.publishAsync(topic, 'while-away-2', { qos: 1 });
    const again = await run(SUB, [...hostArgs(), '-V', 'mqttv311', '-c', '-i', id, '-q', '1', '-t', topic, '-C', '2', '-W', '5']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(again.stdout.trim().split('\n'), ['while-away-1', 'while-away-2']);
  });

  test('v5 persistent session (-c -x 300): offline QoS 1 message delivered', async () => {
    const id = uid('mosq-persist5');
    const topic = uid('mosq-persist5-t');
    const first = await run(SUB, [...hostArgs(), '-V', 'mqttv5', '-c', '-x', '300', '-i', id, '-q', '1', '-t', topic, '-E']);
    assert.equal(first.code, 0, first.stderr);
    const pub = await connectClient(server(), { protocolVersion: 4 });
    await pub.client.publishAsync(topic, 'while-away', { qos: 1 });
    const again = await run(SUB, [...hostArgs(), '-V', 'mqttv5', '-c', '-x', '300', '-i', id, '-q', '1', '-t', topic, '-C', '1', '-W', '5']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.trim(), 'while-away');
  });
});

describe('mosquitto_pub publishes to MQTT.js subscribers', { skip }, () => {
  for (const v of VERSIONS) {
    test(`${v.name}: mosquitto_pub -r -q 1 sets a retained message a later subscriber receives`, async () => {
      const topic = uid('mosq-ret');
      const r = await run(PUB, [...hostArgs(), '-V', v.flag, '-q', '1', '-r', '-t', topic, '-m', `kept-${v.flag}`]);
      assert.equal(r.code, 0, r.stderr);
      const sub = await subscriber(server(), topic, 1, { protocolVersion: 5, transport: 'ws' });
      const [m] = await sub.inbox.waitFor(1);
      assert.equal(m!.text, `kept-${v.flag}`);
      assert.equal(m!.packet.retain, true);
      assert.equal(m!.packet.qos, 1);

      // mosquitto_pub -r -n clears it.
      const clear = await run(PUB, [...hostArgs(), '-V', v.flag, '-q', '1', '-r', '-n', '-t', topic]);
      assert.equal(clear.code, 0, clear.stderr);
      const later = await subscriber(server(), topic, 1, { protocolVersion: 4 });
      // Retained messages follow the SUBACK at once: a sentinel published now comes after any.
      const fence = await connectClient(server());
      assert.deepEqual(await textsBeforeSentinel(fence.client, topic, later.inbox), []);
    });
  }

  test('v5: mosquitto_pub user properties and content type reach an MQTT.js v5 subscriber', async () => {
    const topic = uid('mosq-props');
    const sub = await subscriber(server(), topic, 2, { protocolVersion: 5 });
    const r = await run(PUB, [
      ...hostArgs(),
      '-V', 'mqttv5',
      '-q', '2',
      '-t', topic,
      '-m', '{"t":21.5}',
      '-D', 'publish', 'user-property', 'unit', 'celsius',
      '-D', 'publish', 'content-type', 'application/json',
      '-D', 'publish', 'message-expiry-interval', '120',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [m] = await sub.inbox.waitFor(1);
    assert.equal(m!.text, '{"t":21.5}');
    assert.equal(m!.packet.qos, 2);
    assert.deepEqual({ ...m!.packet.properties?.userProperties }, { unit: 'celsius' });
    assert.equal(m!.packet.properties?.contentType, 'application/json');
    assert.ok((m!.packet.properties?.messageExpiryInterval ?? 0) > 100);
  });

  test('mosquitto_pub -> mosquitto_sub, v5 publisher to v3.1.1 subscriber, QoS 2', async () => {
    const topic = uid('mosq-both');
    const sub = startSub([...hostArgs(), '-V', 'mqttv311', '-q', '2', '-t', topic, '-C', '1', '-W', '10']);
    try {
      await sub.subscribed;
      const r = await run(PUB, [...hostArgs(), '-V', 'mqttv5', '-q', '2', '-t', topic, '-m', 'between-mosquittos']);
      assert.equal(r.code, 0, r.stderr);
      const result = await sub.done;
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(result.messages, [[topic, '2', '0', 'between-mosquittos']]);
    } finally {
      sub.kill();
    }
  });

  test('a will set by mosquitto_sub is published when it is killed', async () => {
    const willTopic = uid('mosq-will');
    const watcher = await subscriber(server(), willTopic, 1);
    const sub = startSub([...hostArgs(), '-V', 'mqttv5', '-t', uid('mosq-idle'), '--will-topic', willTopic, '--will-payload', 'mosq-died', '--will-qos', '1']);
    await sub.subscribed;
    sub.kill();
    const [m] = await watcher.inbox.waitFor(1, 3_000);
    assert.equal(m!.text, 'mosq-died');
  });
});

describe('v5 properties from mosquitto_pub (libmosquitto encodes them, we check them on the wire)', { skip }, () => {
  test('user properties and content type, retained, reach a later mosquitto_sub and MQTT.js subscriber', async () => {
    const topic = uid('mosq-props');
    const r = await run(PUB, [
      ...hostArgs(), '-V', 'mqttv5', '-q', '1', '-r', '-t', topic, '-m', 'with-props',
      '-D', 'publish', 'user-property', 'k', 'v€', '-D', 'publish', 'content-type', 'text/plain',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const sub = await subscriber(server(), topic, 1, { protocolVersion: 5 });
    const [m] = await sub.inbox.waitFor(1);
    assert.equal(m!.text, 'with-props');
    assert.deepEqual({ ...m!.packet.properties?.userProperties }, { k: 'v€' });
    assert.equal(m!.packet.properties?.contentType, 'text/plain');
    const again = await run(SUB, [...hostArgs(), '-V', 'mqttv5', '-t', topic, '-C', '1', '-W', '5']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.trim(), 'with-props');
    await run(PUB, [...hostArgs(), '-V', 'mqttv5', '-q', '1', '-r', '-t', topic, '-n']);
  });
});

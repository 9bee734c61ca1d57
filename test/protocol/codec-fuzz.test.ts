// Seeded, bounded mutation fuzzing of the packet reader (codec.ts + wire-check.ts): whatever the
// bytes, the reader either refuses them with a ProtocolError or emits packets whose every message
// can be encoded again for every protocol version (what a retained or queued copy needs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnectPacket, IPublishPacket, ISubscribePacket, IUnsubscribePacket, Packet } from 'mqtt-packet';
import { PacketReader } from '../../src/protocol/codec.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { encodePublish } from '../../src/mqtt/encode-publish.js';
import { messageProblem, type Message, type MessageProperties } from '../../src/shared/message.js';
import { connectPackets, fuzzSeed, mutate, pick, prng, sessionPackets } from '../helpers/mqtt-fuzz.js';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 20_000);
const TIME_BUDGET_MS = 10_000;

/** Every form a subscriber may get the message in must encode. */
function assertDeliverable(message: Message, what: string): void {
  assert.equal(messageProblem(message), null, `${what}: ${messageProblem(message)}`);
  for (const version of [4, 5] as const) {
    for (const qos of [0, 1] as const) {
      encodePublish(message, { version, qos, retain: true, dup: false, packetId: 1, subscriptionIds: [1], topicAlias: 0, omitTopic: false }, Date.now());
    }
  }
}

function check(packet: Packet): void {
  switch (packet.cmd) {
    case 'publish': {
      const p = packet as IPublishPacket;
      const { topicAlias: _a, messageExpiryInterval: _e, subscriptionIdentifier: _s, ...forwarded } = p.properties ?? {};
      const properties = Object.keys(forwarded).length > 0 ? (forwarded as MessageProperties) : undefined;
      // A PUBLISH that only names an alias has an empty topic; the handler resolves it.
      if (p.topic.length === 0) return;
      assertDeliverable({ topic: p.topic, payload: p.payload as Buffer, qos: p.qos, retain: p.retain, properties, expiresAt: 0, publisherId: 'x' }, 'PUBLISH');
      return;
    }
    case 'connect': {
      const c = packet as IConnectPacket;
      assert.equal(typeof c.clientId, 'string');
      if (c.username !== undefined) assert.equal(typeof c.username, 'string');
      if (c.will) {
        const { willDelayInterval: _d, messageExpiryInterval: _e, ...forwarded } = (c.will.properties ?? {}) as Record<string, unknown>;
        const properties = Object.keys(forwarded).length > 0 ? (forwarded as MessageProperties) : undefined;
        assertDeliverable({ topic: c.will.topic, payload: c.will.payload as Buffer, qos: 0, retain: c.will.retain === true, properties, expiresAt: 0, publisherId: 'x' }, 'will');
      }
      return;
    }
    case 'subscribe':
      for (const s of (packet as ISubscribePacket).subscriptions) assert.equal(typeof s.topic, 'string');
      return;
    case 'unsubscribe':
      for (const t of (packet as IUnsubscribePacket).unsubscriptions) assert.equal(typeof t, 'string');
      return;
  }
}

test('fuzz: mutated packets of every type are refused or emitted deliverable', () => {
  const seed = fuzzSeed();
  console.log(`codec fuzz seed ${seed} (FUZZ_SEED=${seed} to reproduce)`);
  const rng = prng(seed);
  const connects = { 4: connectPackets(4, 'fuzz'), 5: connectPackets(5, 'fuzz') };
  const sessions = { 4: sessionPackets(4), 5: sessionPackets(5) };
  const corpus = { 4: [...connects[4], ...sessions[4]], 5: [...connects[5], ...sessions[5]] };
  const started = Date.now();
  let emitted = 0;
  let refused = 0;
  let i = 0;
  for (; i < ITERATIONS && Date.now() - started < TIME_BUDGET_MS; i++) {
    const v = rng() < 0.5 ? 4 : 5;
    const bytes: Buffer[] = [];
    const connect = pick(rng, connects[v]);
    bytes.push(rng() < 0.2 ? mutate(rng, connect, corpus[v]) : connect);
    const n = 1 + Math.floor(rng() * 4);
    for (let k = 0; k < n; k++) {
      const base = pick(rng, sessions[v]);
      bytes.push(rng() < 0.85 ? mutate(rng, base, corpus[v]) : base);
    }
    const input = Buffer.concat(bytes);
    const context = () => `seed ${seed}, iteration ${i}, input ${input.toString('hex')}`;
    const r = new PacketReader(1 << 16, {
      onPacket: (p) => {
        emitted++;
        try {
          check(p);
        } catch (err) {
          assert.fail(`${context()}: emitted ${p.cmd} is not deliverable: ${(err as Error).message}`);
        }
      },
      onError: (e) => {
        refused++;
        assert.ok(e instanceof ProtocolError, `${context()}: refused with ${String(e)}`);
        assert.ok(e.reasonCode >= 0x80, `${context()}: refusal reason 0x${e.reasonCode.toString(16)}`);
      },
    });
    // Fed in random pieces, as a socket would.
    let at = 0;
    while (at < input.length) {
      const size = 1 + Math.floor(rng() * 64);
      try {
        r.push(input.subarray(at, at + size));
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        assert.fail(`${context()}: the reader threw ${(err as Error).stack}`);
      }
      at += size;
    }
  }
  console.log(`codec fuzz: ${i} inputs, ${emitted} packets emitted, ${refused} refused, ${Date.now() - started} ms`);
  assert.ok(emitted > 0 && refused > 0);
});

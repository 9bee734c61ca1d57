// The one-pass PUBLISH decoder against the general path it stands in for (wire-check.ts, then
// mqtt-packet, then codec.ts's checks): for every packet it accepts, the general path accepts it
// too and returns the same packet; the common forms are accepted (so the fast path is taken).
// Seeded mutations of valid PUBLISH packets probe the edges; FUZZ_SEED=<seed> reproduces a run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { decodePublish } from '../../src/protocol/publish-decoder.js';
import { checkWire } from '../../src/protocol/wire-check.js';
import { PacketReader } from '../../src/protocol/codec.js';
import { fuzzSeed, mutate, pick, prng, sessionPackets } from '../helpers/mqtt-fuzz.js';

/** What mqtt-packet makes of one whole packet (a fresh parser each time), or null if it fails. */
function viaMqttPacket(bytes: Buffer, version: 4 | 5): Record<string, unknown> | null {
  const parser = mqttPacket.parser({ protocolVersion: version });
  let out: Packet | null = null;
  let failed = false;
  parser.on('packet', (p: Packet) => (out = p));
  parser.on('error', () => (failed = true));
  parser.parse(bytes);
  return failed || out === null ? null : { ...(out as object) };
}

const gen = (p: IPublishPacket, v: 4 | 5) => mqttPacket.generate(p, { protocolVersion: v });

function commonForms(): { bytes: Buffer; version: 4 | 5 }[] {
  const out: { bytes: Buffer; version: 4 | 5 }[] = [];
  for (const version of [4, 5] as const) {
    for (const qos of [0, 1, 2] as const) {
      for (const retain of [false, true]) {
        for (const dup of qos > 0 ? [false, true] : [false]) {
          for (const [topic, payload] of [
            ['bench/tp/42', Buffer.alloc(64, 0x61)],
            ['a', Buffer.alloc(0)],
            ['dévices/ключ/😀', Buffer.from('x')],
            ['big/payload', Buffer.alloc(20_000, 7)], // a 3-byte Remaining Length
          ] as const) {
            const p: IPublishPacket = { cmd: 'publish', topic, payload, qos, retain, dup };
            if (qos > 0) p.messageId = 65535;
            out.push({ bytes: gen(p, version), version });
          }
        }
      }
    }
  }
  return out;
}

test('the common forms are decoded as mqtt-packet decodes them', () => {
  for (const { bytes, version } of commonForms()) {
    const fast = decodePublish(bytes, version);
    assert.notEqual(fast, null, `not taken: ${bytes.subarray(0, 24).toString('hex')}`);
    assert.deepStrictEqual({ ...fast }, viaMqttPacket(bytes, version));
  }
});

test('anything with v5 properties is left to the general path', () => {
  const p: IPublishPacket = { cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 1, messageId: 3, retain: false, dup: false, properties: { contentType: 'text/plain' } };
  assert.equal(decodePublish(gen(p, 5), 5), null);
});

test('the packet reader takes the fast path and refuses what the fast path leaves', () => {
  const got: Packet[] = [];
  const errors: Error[] = [];
  const reader = new PacketReader(1 << 20, { onPacket: (p) => got.push(p), onError: (e) => errors.push(e) });
  reader.push(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c', clean: true, keepalive: 0 }, { protocolVersion: 4 }));
  reader.push(Buffer.concat([gen({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('one'), qos: 1, messageId: 9, retain: false, dup: false }, 4)]));
  assert.equal(errors.length, 0);
  assert.equal((got[1] as IPublishPacket).topic, 'a/b');
  assert.equal((got[1] as IPublishPacket).payload.toString(), 'one');
  // Packet identifier 0 on QoS 1: the fast path declines, the general path refuses [MQTT-2.2.1-3].
  reader.push(Buffer.from('3206000161000078', 'hex'));
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /non-zero packet identifier/);
});

test('fuzz: whatever the decoder accepts, the general path accepts the same way', () => {
  const seed = fuzzSeed();
  console.log(`publish decoder fuzz seed ${seed} (FUZZ_SEED=${seed} to reproduce)`);
  const rng = prng(seed);
  const seeds: { bytes: Buffer; version: 4 | 5 }[] = [...commonForms().filter((f) => f.bytes.length < 200)];
  for (const version of [4, 5] as const) {
    for (const bytes of sessionPackets(version)) if (bytes[0]! >> 4 === 3) seeds.push({ bytes, version });
  }
  const corpus = seeds.map((s) => s.bytes);
  let accepted = 0;
  let declined = 0;
  const deadline = Date.now() + 8000;
  for (let i = 0; i < 20_000 && Date.now() < deadline; i++) {
    const { bytes: original, version } = pick(rng, seeds);
    const bytes = mutate(rng, original, corpus);
    if (bytes.length < 2 || bytes[0]! >> 4 !== 3) continue;
    // Only whole packets reach the decoder (PacketReader frames them): skip mutants whose
    // Remaining Length does not match their size.
    let length = 0;
    let multiplier = 1;
    let pos = 1;
    let complete = false;
    for (let k = 0; k < 4 && pos < bytes.length; k++) {
      const b = bytes[pos++]!;
      length += (b & 0x7f) * multiplier;
      multiplier *= 128;
      if ((b & 0x80) === 0) {
        complete = true;
        break;
      }
    }
    if (!complete || pos + length !== bytes.length) continue;
    const fast = decodePublish(bytes, version);
    if (fast === null) {
      declined++;
      continue;
    }
    accepted++;
    const hex = bytes.toString('hex');
    assert.equal(checkWire(bytes, version), null, `accepted what wire-check refuses: ${hex}`);
    const general = viaMqttPacket(bytes, version);
    assert.notEqual(general, null, `accepted what mqtt-packet refuses: ${hex}`);
    assert.deepStrictEqual({ ...fast }, general, hex);
    if (fast.qos === 0) assert.equal(fast.dup, false, hex);
    else assert.ok(fast.messageId! > 0, hex);
  }
  assert.ok(accepted > 100 && declined > 100, `accepted ${accepted}, declined ${declined}`);
});

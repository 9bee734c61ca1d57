// What src/protocol/codec.ts relies on in mqtt-packet beyond its documented API, checked against
// the installed copy. codec.ts shares one parser between all connections (see sharedParser there):
// it writes the parser's `settings` before every parse, tells a whole parse from a partial one by
// `_stateCounter`, `_list.length` and `_pos`, recovers with `_resetState()` and `_pos = 0`,
// classifies errors by their message text, and answers PUBACK without the parser in the shape the
// parser would give. None of that is promised by mqtt-packet's semver, so the dependency is pinned
// to an exact version (package.json and package-lock.json) and this file fails, naming the change,
// when an upgrade breaks one of these assumptions. Before moving the pin: run this file against
// the new version and adapt codec.ts where it fails. (Decision and measurement: docs/architecture.md.)
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { PacketReader } from '../../src/protocol/codec.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const readJson = (file: string): Record<string, any> => JSON.parse(readFileSync(file, 'utf8'));
const installed: string = readJson(path.join(repo, 'node_modules/mqtt-packet/package.json')).version;
const relied = (what: string) => `mqtt-packet ${installed}: ${what}`;

/** The private surface codec.ts drives, as it declares it. */
type Internals = ReturnType<typeof mqttPacket.parser> & {
  settings: object;
  _list: { length: number };
  _stateCounter: number;
  _pos: number;
  _resetState(): void;
};

function parserWithEvents(version: 4 | 5) {
  const parser = mqttPacket.parser({ protocolVersion: version }) as Internals;
  const packets: Packet[] = [];
  const errors: Error[] = [];
  parser.on('packet', (p: Packet) => packets.push(p));
  parser.on('error', (e: Error) => errors.push(e));
  return { parser, packets, errors };
}

const idle = (p: Internals) => p._stateCounter === 0 && p._list.length === 0 && p._pos === 0;

const publish4 = mqttPacket.generate({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('hi'), qos: 1, messageId: 5, retain: false, dup: false }, { protocolVersion: 4 });
const publish5 = mqttPacket.generate(
  { cmd: 'publish', topic: 'a/b', payload: Buffer.from('hi'), qos: 1, messageId: 5, retain: false, dup: false, properties: { contentType: 'text/plain' } },
  { protocolVersion: 5 },
);
const connect = (level: number, protocolId = 'MQTT') => {
  const bytes = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c', clean: true, keepalive: 0 }, { protocolVersion: 4 });
  const out = Buffer.from(bytes);
  out.write(protocolId, 4, 'latin1'); // protocol name bytes after the fixed header and length prefix
  out[8] = level;
  return out;
};

describe('mqtt-packet is pinned', () => {
  test('package.json, package-lock.json and node_modules name the same exact version', () => {
    const pkg = readJson(path.join(repo, 'package.json'));
    const lock = readJson(path.join(repo, 'package-lock.json'));
    const wanted: string = pkg.dependencies['mqtt-packet'];
    assert.match(wanted, /^\d+\.\d+\.\d+$/, `package.json must pin mqtt-packet to an exact version (codec.ts drives its internals), not "${wanted}"`);
    assert.equal(lock.packages[''].dependencies['mqtt-packet'], wanted, 'package-lock.json\'s root entry must name the same mqtt-packet version as package.json');
    assert.equal(lock.packages['node_modules/mqtt-packet'].version, wanted, 'package-lock.json must resolve mqtt-packet to the pinned version');
    assert.equal(installed, wanted, `node_modules has mqtt-packet ${installed}, package.json pins ${wanted}: run npm ci`);
  });
});

describe('the private parser state codec.ts drives', () => {
  test('a parser has settings, _list, _stateCounter and _resetState, and starts idle', () => {
    const { parser } = parserWithEvents(4);
    assert.equal(typeof parser.parse, 'function', relied('parser().parse is gone'));
    assert.equal(typeof parser._resetState, 'function', relied('parser()._resetState() is gone: parseWhole uses it to recover from a failed parse'));
    assert.equal(typeof parser._stateCounter, 'number', relied('parser()._stateCounter is not a number: parseWhole reads it to tell a whole parse from a partial one'));
    assert.equal(parser._stateCounter, 0, relied('a new parser\'s _stateCounter is not 0'));
    assert.equal(typeof parser._list?.length, 'number', relied('parser()._list.length is not a number: parseWhole reads it to see bytes left over'));
    assert.equal(parser._list.length, 0, relied('a new parser\'s _list is not empty'));
    assert.deepEqual(parser.settings, { protocolVersion: 4 }, relied('parser(options) no longer keeps its options as `settings`: codec.ts sets the protocol version there per parse'));
  });

  test('a whole packet is emitted synchronously inside parse() and leaves the parser idle', () => {
    const { parser, packets, errors } = parserWithEvents(4);
    parser.parse(publish4);
    assert.equal(packets.length, 1, relied('a whole PUBLISH is not emitted before parse() returns: codec.ts reads the result right after the call'));
    assert.deepEqual(errors, []);
    assert.ok(idle(parser), relied(`after a whole packet the parser is not idle (_stateCounter ${parser._stateCounter}, _list.length ${parser._list.length}, _pos ${parser._pos}): parseWhole would reset it after every packet and refuse every packet`));
  });

  test('a partial packet leaves the parser visibly busy; _resetState() and _pos = 0 make it whole again', () => {
    const { parser, packets, errors } = parserWithEvents(4);
    parser.parse(publish4.subarray(0, publish4.length - 3));
    assert.equal(packets.length, 0);
    assert.ok(!idle(parser), relied('a partial packet leaves _stateCounter, _list.length and _pos as if idle: parseWhole could not see a short read and would leak it into the next connection\'s packet'));
    parser._resetState();
    parser._pos = 0;
    assert.ok(idle(parser), relied('_resetState() plus _pos = 0 does not make the parser idle again'));
    parser.parse(publish4);
    assert.equal(packets.length, 1, relied('after _resetState() the next whole packet is not parsed'));
    assert.equal((packets[0] as mqttPacket.IPublishPacket).payload.toString(), 'hi', relied('after _resetState() the next packet is read from the wrong place'));
    assert.deepEqual(errors, []);
  });

  test('an error is emitted synchronously, and _resetState() recovers from it', () => {
    const { parser, packets, errors } = parserWithEvents(4);
    const qos3 = Buffer.from(publish4);
    qos3[0] = 0x36; // PUBLISH with both QoS bits set
    parser.parse(qos3);
    assert.equal(errors.length, 1, relied('a malformed packet does not emit "error" before parse() returns'));
    parser._resetState();
    parser._pos = 0;
    parser.parse(publish4);
    assert.equal(packets.length, 1, relied('after an error and _resetState() the next packet is not parsed'));
  });

  test('settings written between parses switch v5 property parsing on and off', () => {
    const { parser, packets } = parserWithEvents(4);
    parser.settings = { protocolVersion: 5 };
    parser.parse(publish5);
    assert.equal((packets[0] as mqttPacket.IPublishPacket).properties?.contentType, 'text/plain', relied('writing `settings = { protocolVersion: 5 }` no longer makes the parser read v5 properties'));
    parser.settings = { protocolVersion: 4 };
    parser.parse(publish4);
    assert.equal((packets[1] as mqttPacket.IPublishPacket).payload.toString(), 'hi', relied('writing `settings = { protocolVersion: 4 }` back does not return to v3.1.1 parsing'));
  });

  test('a bridge CONNECT (level | 0x80) is reported as bridgeMode with the plain level', () => {
    const { parser, packets } = parserWithEvents(4);
    parser.parse(connect(0x84));
    const p = packets[0] as mqttPacket.IConnectPacket & { bridgeMode?: boolean };
    assert.equal(p?.protocolVersion, 4, relied('a bridge CONNECT\'s protocolVersion is not the level without 0x80'));
    assert.equal(p?.bridgeMode, true, relied('a bridge CONNECT no longer sets bridgeMode: codec.ts passes it on to SUBSCRIBE parsing'));
  });
});

describe('the error messages codec.ts classifies', () => {
  const errorFor = (bytes: Buffer) => {
    const { parser, errors } = parserWithEvents(4);
    parser.parse(bytes);
    assert.equal(errors.length, 1, relied(`no error for ${bytes.toString('hex')}`));
    return errors[0]!.message;
  };

  test('an unknown protocol level says "protocol version" (CONNACK unsupported protocol version)', () => {
    assert.match(errorFor(connect(6)), /protocol version/i, relied('the unknown-level error no longer mentions "protocol version": classifyParseError would call it malformed'));
  });

  test('an unknown protocol name says "protocolId" (CONNACK unsupported protocol version)', () => {
    assert.match(errorFor(connect(4, 'MQTX')), /protocolId/i, relied('the unknown-protocol-name error no longer mentions "protocolId": classifyParseError would call it malformed'));
  });

  test('other errors mention neither, and are classified as malformed', () => {
    const qos3 = Buffer.from(publish4);
    qos3[0] = 0x36;
    const message = errorFor(qos3);
    assert.doesNotMatch(message, /protocol version|protocolId/i, relied(`"${message}" would be classified as a protocol version problem`));
  });
});

describe('the PUBACK fast path answers what mqtt-packet would', () => {
  for (const version of [4, 5] as const) {
    test(`v${version === 4 ? '3.1.1' : '5'}: the same fields as the parser`, () => {
      const bytes = Buffer.from([0x40, 0x02, 0x12, 0x34]);
      const { parser, packets } = parserWithEvents(version);
      parser.parse(bytes);
      const fast: Packet[] = [];
      const reader = new PacketReader(1024, { onPacket: (p) => fast.push(p), onError: (e) => assert.fail(e.message) });
      reader.push(mqttPacket.generate({ cmd: 'connect', protocolVersion: version, clientId: 'c', clean: true, keepalive: 0 }, { protocolVersion: version }));
      reader.push(bytes);
      assert.deepEqual({ ...fast[1] }, { ...packets[0] }, relied(`a plain v${version} PUBACK parses to a different object than codec.ts's pubackPacket() builds`));
    });
  }
});

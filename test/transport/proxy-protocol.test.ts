import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { MAX_V2_PAYLOAD, parseProxyHeader, V1_MAX_BYTES } from '../../src/transport/proxy-protocol.js';

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** A v2 header: version 2, `command`, `family`/STREAM, the given address block and TLVs. */
function v2(command: number, family: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = 0x20 | command;
  head[1] = (family << 4) | 1;
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([SIG, head, body]);
}

function ipv4Block(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  Buffer.from(src).copy(b, 0);
  Buffer.from(dst).copy(b, 4);
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

const MQTT = Buffer.from([0x10, 0x00]);

describe('PROXY protocol v1', () => {
  test('TCP4, TCP6 and UNKNOWN; the bytes after the header are left alone', () => {
    const line = Buffer.from('PROXY TCP4 203.0.113.5 192.0.2.1 56324 1883\r\n');
    assert.deepEqual(parseProxyHeader(Buffer.concat([line, MQTT])), { kind: 'header', consumed: line.length, source: { address: '203.0.113.5', port: 56324, destination: { address: '192.0.2.1', port: 1883 } } });
    const six = Buffer.from('PROXY TCP6 2001:DB8::5 2001:db8::1 1 1883\r\n');
    assert.deepEqual(parseProxyHeader(six), { kind: 'header', consumed: six.length, source: { address: '2001:db8::5', port: 1, destination: { address: '2001:db8::1', port: 1883 } } });
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY TCP6 ::ffff:203.0.113.5 ::1 1 2\r\n')), { kind: 'header', consumed: 39, source: { address: '203.0.113.5', port: 1, destination: { address: '::1', port: 2 } } });
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), { kind: 'header', consumed: 15, source: null });
  });

  test('incomplete until the CRLF, at most 107 bytes', () => {
    const line = 'PROXY TCP4 203.0.113.5 192.0.2.1 56324 1883\r\n';
    for (let n = 1; n < line.length; n++) assert.equal(parseProxyHeader(Buffer.from(line.slice(0, n))).kind, 'incomplete', `${n} bytes`);
    assert.equal(parseProxyHeader(Buffer.from(`PROXY UNKNOWN ${'x'.repeat(V1_MAX_BYTES)}`)).kind, 'invalid');
  });

  test('malformed lines are refused', () => {
    for (const bad of [
      'PROXY TCP4 203.0.113.5 192.0.2.1 56324\r\n',
      'PROXY TCP4 203.0.113.500 192.0.2.1 1 2\r\n',
      'PROXY TCP4 203.0.113.05 192.0.2.1 1 2\r\n',
      'PROXY TCP4 2001:db8::1 192.0.2.1 1 2\r\n',
      'PROXY TCP6 203.0.113.5 ::1 1 2\r\n',
      'PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n',
      'PROXY TCP4 203.0.113.5 192.0.2.1 65536 2\r\n',
      'PROXY TCP4 203.0.113.5 192.0.2.1 01 2\r\n',
      'PROXY TCP4  203.0.113.5 192.0.2.1 1 2\r\n',
      'PROXY UDP4 203.0.113.5 192.0.2.1 1 2\r\n',
      'PROXX TCP4 203.0.113.5 192.0.2.1 1 2\r\n',
      'GET / HTTP/1.1\r\n',
    ]) {
      assert.equal(parseProxyHeader(Buffer.from(bad)).kind, 'invalid', JSON.stringify(bad));
    }
    assert.equal(parseProxyHeader(MQTT).kind, 'invalid');
  });
});

describe('PROXY protocol v2', () => {
  test('PROXY over IPv4 and IPv6, with TLVs skipped', () => {
    const h = v2(1, 1, Buffer.concat([ipv4Block([203, 0, 113, 5], [192, 0, 2, 1], 56324, 1883), Buffer.from([0x04, 0x00, 0x02, 0xaa, 0xbb])]));
    assert.deepEqual(parseProxyHeader(Buffer.concat([h, MQTT])), { kind: 'header', consumed: h.length, source: { address: '203.0.113.5', port: 56324, destination: { address: '192.0.2.1', port: 1883 } } });
    const six = Buffer.alloc(36);
    Buffer.from('20010db8000000000000000000000005', 'hex').copy(six, 0);
    Buffer.from('20010db8000000000000000000000001', 'hex').copy(six, 16);
    six.writeUInt16BE(4711, 32);
    six.writeUInt16BE(8883, 34);
    assert.deepEqual(parseProxyHeader(v2(1, 2, six)), { kind: 'header', consumed: 52, source: { address: '2001:db8::5', port: 4711, destination: { address: '2001:db8::1', port: 8883 } } });
    const mapped = Buffer.alloc(36);
    Buffer.from('00000000000000000000ffffcb007105', 'hex').copy(mapped, 0);
    assert.equal((parseProxyHeader(v2(1, 2, mapped)) as { source: { address: string } }).source.address, '203.0.113.5');
  });

  test('LOCAL and non-IP families name no client', () => {
    assert.deepEqual(parseProxyHeader(v2(0, 0, Buffer.alloc(0))), { kind: 'header', consumed: 16, source: null });
    assert.deepEqual(parseProxyHeader(v2(1, 3, Buffer.alloc(216))), { kind: 'header', consumed: 232, source: null });
  });

  test('incomplete until the declared length has arrived', () => {
    const h = v2(1, 1, ipv4Block([203, 0, 113, 5], [192, 0, 2, 1], 1, 2));
    for (let n = 1; n < h.length; n++) assert.equal(parseProxyHeader(h.subarray(0, n)).kind, 'incomplete', `${n} bytes`);
  });

  test('wrong version, command, family, a short address block or an oversized length are refused', () => {
    const good = v2(1, 1, ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2));
    const version = Buffer.from(good);
    version[12] = 0x11;
    const command = Buffer.from(good);
    command[12] = 0x22;
    const family = Buffer.from(good);
    family[13] = 0x41;
    const signature = Buffer.from(good);
    signature[5] = 0x0c;
    const huge = Buffer.from(good);
    huge.writeUInt16BE(MAX_V2_PAYLOAD + 1, 14);
    for (const [name, bad] of Object.entries({ version, command, family, signature, huge, short4: v2(1, 1, Buffer.alloc(11)), short6: v2(1, 2, Buffer.alloc(35)) })) {
      assert.equal(parseProxyHeader(bad).kind, 'invalid', name);
    }
  });

  test('seeded mutations never throw and never consume more than they were given', () => {
    let seed = 13;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const bases = [Buffer.from('PROXY TCP4 203.0.113.5 192.0.2.1 56324 1883\r\n'), v2(1, 1, ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), v2(1, 2, Buffer.alloc(36))];
    for (let i = 0; i < 20000; i++) {
      const b = Buffer.from(bases[i % bases.length]!);
      for (let k = 0; k < 1 + Math.floor(rand() * 3); k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      const cut = b.subarray(0, Math.floor(rand() * (b.length + 1)));
      const r = parseProxyHeader(cut);
      if (r.kind === 'header') assert.ok(r.consumed <= cut.length);
    }
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { forwardedFor, parseHop, resolveClientAddress, TrustedProxies, UNKNOWN_ADDRESS } from '../../src/auth/client-address.js';

describe('client address behind trusted proxies', () => {
  const loopback = new TrustedProxies(['127.0.0.1/32', '::1']);
  const chain = new TrustedProxies(['127.0.0.1/32', '10.0.0.0/8']);

  test('the configured list is validated', () => {
    assert.throws(() => new TrustedProxies(['10.0.0.0/33']), /10\.0\.0\.0\/33/);
    assert.throws(() => new TrustedProxies(['proxy.example']), /proxy\.example/);
    assert.ok(new TrustedProxies([]).empty);
  });

  test('hops: ports, brackets, quotes, mapped addresses; garbage is null', () => {
    assert.equal(parseHop(' 203.0.113.5 '), '203.0.113.5');
    assert.equal(parseHop('203.0.113.5:4711'), '203.0.113.5');
    assert.equal(parseHop('"[2001:db8::1]:4711"'), '2001:db8::1');
    assert.equal(parseHop('2001:db8::1'), '2001:db8::1');
    assert.equal(parseHop('::ffff:203.0.113.5'), '203.0.113.5');
    for (const bad of ['unknown', '_hidden', '', 'evil.example', '[::1', '1.2.3.4:x', '999.1.1.1']) assert.equal(parseHop(bad), null, bad);
  });

  test('Forwarded: the for= of each element', () => {
    assert.deepEqual(forwardedFor('for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711"'), ['192.0.2.60', '"[2001:db8:cafe::17]:4711"']);
    assert.deepEqual(forwardedFor('proto=https'), ['']);
  });

  test('an untrusted peer is the client, whatever it forwards', () => {
    assert.deepEqual(resolveClientAddress('192.0.2.7', { 'x-forwarded-for': '203.0.113.5' }, loopback), { address: '192.0.2.7', proxiedBy: undefined });
    assert.deepEqual(resolveClientAddress('127.0.0.1', { 'x-forwarded-for': '203.0.113.5' }, new TrustedProxies([])), { address: '127.0.0.1', proxiedBy: undefined });
  });

  test('a trusted peer: the rightmost untrusted hop', () => {
    assert.deepEqual(resolveClientAddress('127.0.0.1', { 'x-forwarded-for': '198.51.100.9, 203.0.113.5' }, loopback), { address: '203.0.113.5', proxiedBy: '127.0.0.1' });
    assert.deepEqual(resolveClientAddress('127.0.0.1', { 'x-forwarded-for': '198.51.100.9, 203.0.113.5, 10.1.2.3' }, chain), { address: '203.0.113.5', proxiedBy: '127.0.0.1' });
    // Every hop trusted: the leftmost one.
    assert.deepEqual(resolveClientAddress('127.0.0.1', { 'x-forwarded-for': '10.9.9.9, 10.1.2.3' }, chain), { address: '10.9.9.9', proxiedBy: '127.0.0.1' });
    // No header: the proxy itself (still relayed, so never local).
    assert.deepEqual(resolveClientAddress('127.0.0.1', {}, loopback), { address: '127.0.0.1', proxiedBy: '127.0.0.1' });
    // The client's own spoofed entries stay to the left of what the proxy appended.
    assert.equal(resolveClientAddress('127.0.0.1', { 'x-forwarded-for': '127.0.0.1, 203.0.113.5' }, loopback).address, '203.0.113.5');
  });

  test('an unreadable hop where the client should be: unknown, never a trusted address', () => {
    assert.equal(resolveClientAddress('127.0.0.1', { 'x-forwarded-for': '203.0.113.5, garbage' }, loopback).address, UNKNOWN_ADDRESS);
    assert.equal(resolveClientAddress('127.0.0.1', { forwarded: 'for=unknown' }, loopback, 'forwarded').address, UNKNOWN_ADDRESS);
  });

  test('only the configured header is read', () => {
    const headers = { forwarded: 'for=198.51.100.1', 'x-forwarded-for': '203.0.113.5' };
    assert.equal(resolveClientAddress('127.0.0.1', headers, loopback).address, '203.0.113.5');
    assert.equal(resolveClientAddress('127.0.0.1', headers, loopback, 'forwarded').address, '198.51.100.1');
    assert.equal(resolveClientAddress('::1', { forwarded: 'for="[2001:db8::1]:4711"' }, loopback, 'forwarded').address, '2001:db8::1');
  });
});

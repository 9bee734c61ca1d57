import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { isLocalRequest, isLoopbackAddress, isLoopbackHost, isLoopbackOrigin, PROXY_HEADERS } from '../../src/auth/local-request.js';

describe('the loopback rule', () => {
  test('loopback addresses', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) assert.ok(isLoopbackAddress(a), a);
    for (const a of ['', '10.0.0.1', '128.0.0.1', '::', '::2', 'localhost', '203.0.113.5', '::ffff:10.0.0.1', '1.127.0.0']) assert.ok(!isLoopbackAddress(a), a);
  });

  test('loopback Host values, with or without a port', () => {
    for (const h of ['localhost', 'LOCALHOST:8080', 'app.localhost:3000', '127.0.0.1', '127.0.0.1:8080', '[::1]', '[::1]:8080', '127.9.9.9:1']) assert.ok(isLoopbackHost(h), h);
    for (const h of [
      '',
      'rebind.evil.example',
      'rebind.evil.example:8080',
      'localhost.evil.example',
      '127.0.0.1.nip.io',
      'evil.example:127',
      '[::1',
      '::1',
      '127.0.0.1:80:80',
      '127.0.0.1:x',
      '[::2]:80',
      'localhost:',
      '0.0.0.0:8080',
      'a..localhost',
      'a b.localhost',
    ]) {
      assert.ok(!isLoopbackHost(h), h);
    }
  });

  test('loopback origins', () => {
    for (const o of ['http://localhost:8080', 'https://127.0.0.1', 'http://[::1]:5173', 'http://app.localhost']) assert.ok(isLoopbackOrigin(o), o);
    for (const o of ['null', 'http://evil.example', 'file://', 'ws://localhost', 'http://localhost.evil.example', 'https://127.0.0.1.evil.example', 'http://localhost/path', 'localhost']) {
      assert.ok(!isLoopbackOrigin(o), o);
    }
  });

  const local = (headers: Record<string, string> | undefined, peerAddress = '127.0.0.1', proxied = false) => isLocalRequest({ peerAddress, proxied, headers });

  test('a request from this machine with a loopback Host and no Origin or a loopback Origin is local', () => {
    assert.ok(local({ host: '127.0.0.1:8080' }));
    assert.ok(local({ host: 'localhost:8080', origin: 'http://localhost:8080' }, '::1'));
    assert.ok(local({ host: 'localhost:8080', origin: 'http://127.0.0.1:5173' }));
  });

  test('MQTT over TCP (no headers) is judged by its peer and the PROXY protocol alone', () => {
    assert.ok(local(undefined));
    assert.ok(!local(undefined, '203.0.113.5'));
    assert.ok(!local(undefined, '127.0.0.1', true));
  });

  test('the reproductions of issue 13 item 5 are not local', () => {
    // Cross-site WebSocket hijacking and cross-site POST: another site's Origin.
    assert.ok(!local({ host: 'localhost:8080', origin: 'http://evil.example' }));
    // DNS rebinding: the attacker's name as Host.
    assert.ok(!local({ host: 'rebind.evil.example:8080' }));
    // A reverse proxy on this machine.
    assert.ok(!local({ host: 'app.example.com', origin: 'https://app.example.com', 'x-forwarded-for': '203.0.113.5' }));
  });

  test('every proxy header, an opaque Origin, a missing Host, a remote peer or a relayed connection make it not local', () => {
    for (const name of PROXY_HEADERS) assert.ok(!local({ host: '127.0.0.1', [name]: '127.0.0.1' }), name);
    assert.ok(!local({ host: '127.0.0.1', origin: 'null' }));
    assert.ok(!local({}));
    assert.ok(!local({ host: '127.0.0.1' }, '10.0.0.2'));
    assert.ok(!local({ host: '127.0.0.1' }, '127.0.0.1', true));
  });
});

import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';

import {
  AuthorizerInvokeError,
  checkAuthorizerDefinition,
  DEFAULT_AUTHORIZER_TIMEOUT_MS,
  resolveHandlerPath,
  type AuthorizerDefinition,
} from '../../src/auth/authorizer.js';

const ok: AuthorizerDefinition = {
  name: 'Acme_Auth=1,x@y-z',
  type: 'function',
  handler: './authorizer.mjs',
  status: 'ACTIVE',
  tokenKeyName: 'token',
  signingDisabled: false,
  tokenSigningPublicKeys: { k1: '-----BEGIN PUBLIC KEY-----...' },
  timeoutMs: DEFAULT_AUTHORIZER_TIMEOUT_MS,
};

describe('checkAuthorizerDefinition', () => {
  test('a complete definition passes', () => {
    assert.equal(checkAuthorizerDefinition(ok), null);
    assert.equal(checkAuthorizerDefinition({ ...ok, type: 'http', handler: undefined, url: 'https://auth.example.com/iot' }), null);
    assert.equal(checkAuthorizerDefinition({ ...ok, signingDisabled: true, tokenKeyName: undefined, tokenSigningPublicKeys: undefined }), null);
  });

  const cases: [string, Partial<AuthorizerDefinition>, RegExp][] = [
    ['empty name', { name: '' }, /authorizer name must be 1-128 characters/],
    ['129-character name', { name: 'a'.repeat(129) }, /authorizer name/],
    ['name with a space', { name: 'my auth' }, /authorizer name/],
    ['function without handler', { handler: undefined }, /needs handler/],
    ['http without url', { type: 'http', url: undefined }, /needs url/],
    ['http with a bad url', { type: 'http', url: 'not a url' }, /not a valid URL/],
    ['http with a file url', { type: 'http', url: 'file:///etc/passwd' }, /must be http: or https:/],
    ['zero timeout', { timeoutMs: 0 }, /timeoutMs must be a positive integer/],
    ['signing without tokenKeyName', { tokenKeyName: undefined }, /tokenKeyName is required when signing is enabled/],
    ['signing without keys', { tokenSigningPublicKeys: {} }, /tokenSigningPublicKeys is required/],
  ];
  for (const [name, change, message] of cases) {
    test(name, () => {
      assert.match(checkAuthorizerDefinition({ ...ok, ...change }) ?? '', message);
    });
  }
});

test('resolveHandlerPath', () => {
  assert.equal(resolveHandlerPath('/abs/a.mjs', '/base'), '/abs/a.mjs');
  assert.equal(resolveHandlerPath('auth/a.cjs', '/base'), resolve('/base', 'auth/a.cjs'));
});

test('AuthorizerInvokeError carries a stable code', () => {
  const e = new AuthorizerInvokeError('TIMEOUT', 'x timed out');
  assert.equal(e.name, 'AuthorizerInvokeError');
  assert.equal(e.code, 'TIMEOUT');
  assert.ok(e instanceof Error);
});

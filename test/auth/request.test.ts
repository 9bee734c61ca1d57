import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, test } from 'node:test';

import type { AuthorizerDefinition } from '../../src/auth/authorizer.js';
import {
  buildEvent,
  findToken,
  prepareAuthorizerEvent,
  selectAuthorizer,
  type CredentialSources,
} from '../../src/auth/request.js';

describe('selectAuthorizer', () => {
  test('from WebSocket Upgrade headers', () => {
    const s = selectAuthorizer({
      transport: 'wss',
      upgradeUrl: '/mqtt',
      headers: { 'x-amz-customauthorizer-name': 'Acme', 'x-amz-customauthorizer-signature': 'ab+c/=' },
    });
    assert.equal(s.authorizerName, 'Acme');
    assert.equal(s.signature, 'ab+c/=');
    assert.equal(s.queryString, '');
    assert.equal(s.usernameParams, null);
    assert.equal(s.cleanUsername, undefined);
  });

  test('header names are matched whatever their case', () => {
    const s = selectAuthorizer({ transport: 'ws', headers: { 'X-Amz-CustomAuthorizer-Name': 'Acme' } });
    assert.equal(s.authorizerName, 'Acme');
  });

  test('a percent-encoded signature header is decoded', () => {
    const s = selectAuthorizer({ transport: 'ws', headers: { 'x-amz-customauthorizer-signature': 'ab%2Bc%2F%3D' } });
    assert.equal(s.signature, 'ab+c/=');
  });

  test('from the Upgrade query string, signature URL-decoded', () => {
    const s = selectAuthorizer({
      transport: 'wss',
      upgradeUrl: '/mqtt?x-amz-customauthorizer-name=Acme&token=abc&x-amz-customauthorizer-signature=ab%2Bc%2F%3D%3D',
    });
    assert.equal(s.authorizerName, 'Acme');
    assert.equal(s.signature, 'ab+c/==');
    assert.equal(s.queryString, '?x-amz-customauthorizer-name=Acme&token=abc&x-amz-customauthorizer-signature=ab%2Bc%2F%3D%3D');
  });

  test('from the MQTT username query, ignoring SDK= and Version= metrics', () => {
    const s = selectAuthorizer({
      transport: 'tls',
      username: 'alice?x-amz-customauthorizer-name=Acme&token=T1&x-amz-customauthorizer-signature=ab%2Bc%3D&SDK=aws-iot-device-sdk-js-v2&Version=1.19.0',
    });
    assert.equal(s.authorizerName, 'Acme');
    assert.equal(s.signature, 'ab+c=');
    assert.equal(s.cleanUsername, 'alice');
    assert.equal(s.usernameParams?.get('SDK'), 'aws-iot-device-sdk-js-v2');
    assert.equal(s.usernameParams?.get('Version'), '1.19.0');
    assert.equal(s.queryString, '');
  });

  test('metrics alone name no authorizer', () => {
    const s = selectAuthorizer({ transport: 'tls', username: 'alice?SDK=IoTDeviceSDK/JS&Version=2.13.0' });
    assert.equal(s.authorizerName, undefined);
    assert.equal(s.signature, undefined);
    assert.equal(s.cleanUsername, 'alice');
  });

  test('a username without "?" has no parameters', () => {
    const s = selectAuthorizer({ transport: 'tcp', username: 'alice' });
    assert.equal(s.usernameParams, null);
    assert.equal(s.cleanUsername, 'alice');
  });

  test('a raw "+" stays "+" (an unencoded base64 signature still verifies)', () => {
    const s = selectAuthorizer({ transport: 'tcp', username: '?x-amz-customauthorizer-signature=ab+c/==' });
    assert.equal(s.signature, 'ab+c/==');
    assert.equal(s.cleanUsername, '');
  });

  test('a malformed percent escape leaves the value as sent', () => {
    const s = selectAuthorizer({ transport: 'ws', upgradeUrl: '/mqtt?x-amz-customauthorizer-name=A%zz' });
    assert.equal(s.authorizerName, 'A%zz');
  });

  test('empty values count as absent', () => {
    const s = selectAuthorizer({
      transport: 'ws',
      headers: { 'x-amz-customauthorizer-name': '' },
      upgradeUrl: '/mqtt?x-amz-customauthorizer-name=',
      username: 'u?x-amz-customauthorizer-name=FromUser',
    });
    assert.equal(s.authorizerName, 'FromUser');
  });

  test('headers win over the Upgrade query, which wins over the username', () => {
    const all: CredentialSources = {
      transport: 'wss',
      headers: { 'x-amz-customauthorizer-name': 'H' },
      upgradeUrl: '/mqtt?x-amz-customauthorizer-name=Q',
      username: 'u?x-amz-customauthorizer-name=U',
    };
    assert.equal(selectAuthorizer(all).authorizerName, 'H');
    assert.equal(selectAuthorizer({ ...all, headers: {} }).authorizerName, 'Q');
    assert.equal(selectAuthorizer({ ...all, headers: {}, upgradeUrl: '/mqtt' }).authorizerName, 'U');
  });
});

describe('findToken', () => {
  test('from a header, the key name compared case-insensitively', () => {
    assert.equal(findToken({ transport: 'ws', headers: { 'x-token': 'T-header' } }, 'X-Token'), 'T-header');
  });

  test('the first of repeated header values', () => {
    assert.equal(findToken({ transport: 'ws', headers: { 'x-token': ['one', 'two'] } }, 'x-token'), 'one');
  });

  test('from the Upgrade query', () => {
    assert.equal(findToken({ transport: 'ws', upgradeUrl: '/mqtt?token=abc%20def' }, 'token'), 'abc def');
  });

  test('from the username query, among SDK metrics', () => {
    const src: CredentialSources = { transport: 'tls', username: 'dev?SDK=Java&x-amz-customauthorizer-name=A&token=eyJ0.eyJ.sig&Version=1' };
    assert.equal(findToken(src, 'token'), 'eyJ0.eyJ.sig');
  });

  test('header, then Upgrade query, then username', () => {
    const src: CredentialSources = {
      transport: 'wss',
      headers: { token: 'H' },
      upgradeUrl: '/mqtt?token=Q',
      username: 'u?token=U',
    };
    assert.equal(findToken(src, 'token'), 'H');
    assert.equal(findToken({ ...src, headers: {} }, 'token'), 'Q');
    assert.equal(findToken({ ...src, headers: {}, upgradeUrl: '/mqtt' }, 'token'), 'U');
  });

  test('query names are case-sensitive; absent and empty give undefined', () => {
    assert.equal(findToken({ transport: 'ws', upgradeUrl: '/mqtt?Token=abc' }, 'token'), undefined);
    assert.equal(findToken({ transport: 'ws', upgradeUrl: '/mqtt?token=' }, 'token'), undefined);
    assert.equal(findToken({ transport: 'tcp' }, 'token'), undefined);
    assert.equal(findToken({ transport: 'tcp', username: 'u?token=x' }, ''), undefined);
  });
});

describe('buildEvent', () => {
  const base = { signatureVerified: false, connectionId: 'e56f08c3-c559-490f-aa9f-7e8427d0f57b' };

  test('tcp: mqtt only, password base64 of the raw bytes', () => {
    const event = buildEvent(
      { transport: 'tcp', username: 'myUserName', password: Buffer.from('myPassword'), clientId: 'myClientId' },
      base,
    );
    assert.deepEqual(event, {
      signatureVerified: false,
      protocols: ['mqtt'],
      protocolData: { mqtt: { username: 'myUserName', password: 'bXlQYXNzd29yZA==', clientId: 'myClientId' } },
      connectionMetadata: { id: 'e56f08c3-c559-490f-aa9f-7e8427d0f57b' },
    });
  });

  test('binary passwords are encoded byte for byte', () => {
    const event = buildEvent({ transport: 'tcp', password: Buffer.from([0x00, 0xff, 0x80, 0x0a]) }, base);
    assert.equal(event.protocolData?.mqtt?.password, 'AP+ACg==');
  });

  test('tls: tls and mqtt, SNI as serverName, token and signatureVerified', () => {
    const event = buildEvent(
      { transport: 'tls', serverName: 'mqtt.example.com', username: 'u?x-amz-customauthorizer-name=A&token=T', clientId: 'c1' },
      { ...base, token: 'T', signatureVerified: true },
    );
    assert.deepEqual(event, {
      token: 'T',
      signatureVerified: true,
      protocols: ['tls', 'mqtt'],
      protocolData: {
        tls: { serverName: 'mqtt.example.com' },
        // The username as sent, query included ([unconfirmed] whether AWS strips it).
        mqtt: { username: 'u?x-amz-customauthorizer-name=A&token=T', clientId: 'c1' },
      },
      connectionMetadata: { id: base.connectionId },
    });
    assert.deepEqual(Object.keys(event), ['token', 'signatureVerified', 'protocols', 'protocolData', 'connectionMetadata']);
  });

  test('ws: http and mqtt, headers flattened, queryString with its "?"', () => {
    const event = buildEvent(
      {
        transport: 'ws',
        upgradeUrl: '/mqtt?x-amz-customauthorizer-name=A&token=abc',
        headers: { host: 'broker:8080', 'x-request-id': 'abc123', 'x-multi': ['a', 'b'], 'x-absent': undefined },
        clientId: 'c1',
      },
      base,
    );
    assert.deepEqual(event, {
      signatureVerified: false,
      protocols: ['http', 'mqtt'],
      protocolData: {
        http: {
          headers: { host: 'broker:8080', 'x-request-id': 'abc123', 'x-multi': 'a,b' },
          queryString: '?x-amz-customauthorizer-name=A&token=abc',
        },
        mqtt: { clientId: 'c1' },
      },
      connectionMetadata: { id: base.connectionId },
    });
  });

  test('wss: tls, http and mqtt; no query gives queryString ""', () => {
    const event = buildEvent({ transport: 'wss', serverName: 'iot.example.com', upgradeUrl: '/mqtt', headers: {} }, base);
    assert.deepEqual(event.protocols, ['tls', 'http', 'mqtt']);
    assert.deepEqual(event.protocolData, {
      tls: { serverName: 'iot.example.com' },
      http: { headers: {}, queryString: '' },
    });
  });

  test('empty username, password and client id are left out, and so is an empty mqtt object', () => {
    const event = buildEvent({ transport: 'tcp', username: '', password: Buffer.alloc(0), clientId: '' }, base);
    assert.deepEqual(event, { signatureVerified: false, protocols: ['mqtt'], connectionMetadata: { id: base.connectionId } });
  });

  test('no serverName on tls: no tls object', () => {
    const event = buildEvent({ transport: 'tls', clientId: 'c' }, base);
    assert.deepEqual(event.protocolData, { mqtt: { clientId: 'c' } });
  });
});

describe('prepareAuthorizerEvent', () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const signed: AuthorizerDefinition = {
    name: 'Signed',
    type: 'function',
    handler: 'x.mjs',
    status: 'ACTIVE',
    tokenKeyName: 'token',
    signingDisabled: false,
    tokenSigningPublicKeys: { k1: pem },
    timeoutMs: 5000,
  };
  const sig = (token: string) => sign('sha256', Buffer.from(token), privateKey).toString('base64');

  test('a good signature in the username query (URL-encoded) verifies', () => {
    const username = `u?x-amz-customauthorizer-name=Signed&token=tok&x-amz-customauthorizer-signature=${encodeURIComponent(sig('tok'))}`;
    const prepared = prepareAuthorizerEvent({ transport: 'tls', username }, signed, { connectionId: 'id1' });
    assert.ok(prepared.ok);
    assert.equal(prepared.event.token, 'tok');
    assert.equal(prepared.event.signatureVerified, true);
  });

  test('refusals before invoking: no token, no signature, bad signature, INACTIVE', () => {
    const cases: [CredentialSources, AuthorizerDefinition, RegExp][] = [
      [{ transport: 'tls', username: 'u' }, signed, /no token under "token"/],
      [{ transport: 'tls', username: 'u?token=tok' }, signed, /no x-amz-customauthorizer-signature/],
      [
        { transport: 'ws', headers: { token: 'tok', 'x-amz-customauthorizer-signature': sig('other') } },
        signed,
        /does not verify/,
      ],
      [{ transport: 'tls', username: 'u' }, { ...signed, status: 'INACTIVE' }, /INACTIVE/],
    ];
    for (const [src, def, message] of cases) {
      const prepared = prepareAuthorizerEvent(src, def, { connectionId: 'id' });
      assert.equal(prepared.ok, false);
      assert.match(prepared.ok ? '' : prepared.error, message);
    }
  });

  test('signing disabled: signatureVerified false, the token still passed when found', () => {
    const def: AuthorizerDefinition = { ...signed, signingDisabled: false, tokenSigningPublicKeys: {} };
    const open: AuthorizerDefinition = { ...def, signingDisabled: true };
    const prepared = prepareAuthorizerEvent({ transport: 'ws', upgradeUrl: '/mqtt?token=t1' }, open, { connectionId: 'id' });
    assert.ok(prepared.ok);
    assert.equal(prepared.event.token, 't1');
    assert.equal(prepared.event.signatureVerified, false);
    const none = prepareAuthorizerEvent({ transport: 'tcp' }, { ...open, tokenKeyName: undefined } as AuthorizerDefinition, { connectionId: 'id' });
    assert.ok(none.ok);
    assert.equal('token' in none.event, false);
  });
});

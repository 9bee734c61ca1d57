import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, test } from 'node:test';

import { checkSigningKeys, decodeSignature, verifyTokenSignature } from '../../src/auth/signature.js';

function rsaPair(bits = 2048) {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return { pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey };
}

const a = rsaPair();
const b = rsaPair();
const token = 'allow-this-device';
// What `printf %s "$TOKEN" | openssl dgst -sha256 -sign key.pem | base64 -w0` prints.
const goodSig = sign('sha256', Buffer.from(token, 'utf8'), a.privateKey).toString('base64');

describe('verifyTokenSignature', () => {
  test('a signature by the key verifies', () => {
    assert.equal(verifyTokenSignature(token, goodSig, { k: a.pem }), true);
  });

  test('every key is tried', () => {
    assert.equal(verifyTokenSignature(token, goodSig, { first: b.pem, second: a.pem }), true);
  });

  test('another token, another key, a tampered signature: false', () => {
    assert.equal(verifyTokenSignature('allow-this-device2', goodSig, { k: a.pem }), false);
    assert.equal(verifyTokenSignature(token, goodSig, { k: b.pem }), false);
    const bytes = Buffer.from(goodSig, 'base64');
    bytes[10] = (bytes[10] ?? 0) ^ 1;
    assert.equal(verifyTokenSignature(token, bytes.toString('base64'), { k: a.pem }), false);
  });

  test('the token is signed as UTF-8', () => {
    const t = 'tøken-✓';
    const sig = sign('sha256', Buffer.from(t, 'utf8'), a.privateKey).toString('base64');
    assert.equal(verifyTokenSignature(t, sig, { k: a.pem }), true);
  });

  test('garbage is rejected cleanly, never thrown', () => {
    for (const garbage of ['', 'not base64!', '====', 'abc', goodSig.slice(0, 100), 'QUJD', '%2B%2F']) {
      assert.equal(verifyTokenSignature(token, garbage, { k: a.pem }), false, garbage);
    }
  });

  test('no keys, or keys that do not parse: false', () => {
    assert.equal(verifyTokenSignature(token, goodSig, {}), false);
    assert.equal(verifyTokenSignature(token, goodSig, { bad: 'not a pem' }), false);
    assert.equal(verifyTokenSignature(token, goodSig, { bad: 'not a pem', good: a.pem }), true);
  });

  test('transport artefacts: form-decoded "+" (space) and line-wrapped base64', () => {
    assert.equal(verifyTokenSignature(token, goodSig.replace(/\+/g, ' '), { k: a.pem }), true);
    const wrapped = goodSig.replace(/(.{76})/g, '$1\n');
    assert.equal(verifyTokenSignature(token, wrapped, { k: a.pem }), true);
  });
});

describe('decodeSignature', () => {
  test('strict base64', () => {
    assert.deepEqual(decodeSignature('QUJD'), Buffer.from('ABC'));
    assert.deepEqual(decodeSignature('QUI='), Buffer.from('AB'));
    assert.equal(decodeSignature('QUI'), null);
    assert.equal(decodeSignature('QU-_'), null);
    assert.equal(decodeSignature(''), null);
  });
});

describe('checkSigningKeys', () => {
  test('RSA 2048 passes', () => {
    assert.equal(checkSigningKeys({ k: a.pem, l: b.pem }), null);
  });

  test('short RSA keys, non-RSA keys and non-PEM text are reported by name', () => {
    const short = rsaPair(1024);
    assert.match(checkSigningKeys({ small: short.pem }) ?? '', /tokenSigningPublicKeys\.small: key is 1024 bits, at least 2048/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    assert.match(checkSigningKeys({ ec }) ?? '', /tokenSigningPublicKeys\.ec: expected an RSA key, got ec/);
    assert.match(checkSigningKeys({ junk: 'hello' }) ?? '', /tokenSigningPublicKeys\.junk: not a PEM public key/);
  });
});

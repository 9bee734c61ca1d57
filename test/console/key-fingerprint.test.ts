// The Authorizers page's key summary (issue 17: an authorizer's signing keys are listed by name,
// size and fingerprint): the fingerprint is SHA-256 of the PEM's DER bytes, as openssl prints it.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { sha256, summarizeKey } from '../../src/console/key-fingerprint.js';

test('sha256 agrees with node:crypto across block boundaries', () => {
  const lengths = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000, 4097];
  for (const n of lengths) {
    const data = randomBytes(n);
    assert.equal(Buffer.from(sha256(data)).toString('hex'), createHash('sha256').update(data).digest('hex'), `length ${n}`);
  }
  assert.equal(Buffer.from(sha256(new TextEncoder().encode('abc'))).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('an RSA key: its size and the fingerprint of its DER bytes, for SPKI and PKCS#1 PEM', () => {
  for (const bits of [2048, 3072]) {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
    const spki = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const spkiDer = publicKey.export({ type: 'spki', format: 'der' });
    const summary = summarizeKey(spki);
    const hex = createHash('sha256').update(spkiDer).digest('hex');
    assert.deepEqual(summary, { sha256: hex, short: hex.slice(0, 16).match(/../g)!.join(':'), kind: `RSA ${bits}-bit` });
    const pkcs1 = publicKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    assert.equal(summarizeKey(pkcs1)?.kind, `RSA ${bits}-bit`);
    assert.equal(summarizeKey(pkcs1)?.sha256, createHash('sha256').update(publicKey.export({ type: 'pkcs1', format: 'der' })).digest('hex'));
  }
});

test('not RSA, not PEM, or a withheld value', () => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  assert.equal(summarizeKey(publicKey.export({ type: 'spki', format: 'pem' }).toString())?.kind, 'public key');
  assert.equal(summarizeKey('(withheld: not a PEM public key)'), null);
  assert.equal(summarizeKey('-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----'), null);
  // Truncated DER: a fingerprint, no size, no exception.
  assert.equal(summarizeKey('-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG\n-----END PUBLIC KEY-----')?.kind, 'public key');
});

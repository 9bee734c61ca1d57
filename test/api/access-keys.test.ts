// Access keys: AWS-shaped ids and secrets, the secret sealed at rest with AES-256-GCM, and the
// secret lookup the SigV4 verifier uses (checked end to end with an SDK-signed request).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { buildQueryString, HttpRequest } from '@smithy/core/protocols';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import { createSigV4Verifier } from '../../src/api/access-keys.js';
import { verifySigV4 } from '../../src/api/sigv4/verify.js';
import {
  ACCESS_KEY_ID_PATTERN,
  createAccessKey,
  MemoryAccessKeyStore,
  sealSecret,
  secretLookup,
  unsealSecret,
  type AccessKeyRecord,
} from '../../src/store/access-key-store.js';

const sealingKey = randomBytes(32);
const POLICY = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Publish', Resource: '*' }] };

describe('createAccessKey', () => {
  test('AWS-shaped id and 40-character secret; only the sealed secret is kept', () => {
    const { record, secretAccessKey } = createAccessKey([POLICY], sealingKey, 'ci publisher');
    assert.match(record.accessKeyId, ACCESS_KEY_ID_PATTERN);
    assert.match(record.accessKeyId, /^AKIA[A-Z0-9]{16}$/);
    assert.match(secretAccessKey, /^[A-Za-z0-9+/]{40}$/);
    assert.equal(record.status, 'Active');
    assert.equal(record.description, 'ci publisher');
    assert.deepEqual(record.policyDocuments, [POLICY]);
    assert.ok(!Number.isNaN(Date.parse(record.createdAt)));
    assert.ok(!JSON.stringify(record).includes(secretAccessKey), 'the plain secret must not be in the record');
    assert.equal(unsealSecret(record, sealingKey), secretAccessKey);
  });

  test('no description property when none is given', () => {
    assert.equal('description' in createAccessKey([], sealingKey).record, false);
  });

  test('ids and secrets differ between keys', () => {
    const ids = new Set<string>();
    const secrets = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const { record, secretAccessKey } = createAccessKey([], sealingKey);
      ids.add(record.accessKeyId);
      secrets.add(secretAccessKey);
    }
    assert.equal(ids.size, 200);
    assert.equal(secrets.size, 200);
  });

  test('a sealing key that is not 32 bytes is refused', () => {
    assert.throws(() => createAccessKey([], randomBytes(16)), /32 bytes/);
  });
});

describe('unsealSecret', () => {
  test('sealing the same secret twice gives different ciphertexts (random IV)', () => {
    const { record } = createAccessKey([], sealingKey);
    const again = createAccessKey([], sealingKey).record;
    assert.notEqual(record.secretSealed, again.secretSealed);
    assert.match(record.secretSealed, /^v1\.[A-Za-z0-9_-]+$/);
  });

  test('a wrong sealing key fails', () => {
    const { record } = createAccessKey([], sealingKey);
    assert.throws(() => unsealSecret(record, randomBytes(32)), /cannot be unsealed/);
  });

  test('a sealed secret moved to another key id fails (the id is authenticated data)', () => {
    const a = createAccessKey([], sealingKey).record;
    const b = createAccessKey([], sealingKey).record;
    assert.throws(() => unsealSecret({ ...b, secretSealed: a.secretSealed }, sealingKey), /cannot be unsealed/);
  });

  test('a flipped ciphertext bit, truncation or unknown format fails', () => {
    const { record } = createAccessKey([], sealingKey);
    const raw = Buffer.from(record.secretSealed.slice(3), 'base64url');
    raw[raw.length - 1]! ^= 1;
    assert.throws(() => unsealSecret({ ...record, secretSealed: `v1.${raw.toString('base64url')}` }, sealingKey), /cannot be unsealed/);
    assert.throws(() => unsealSecret({ ...record, secretSealed: 'v1.AAAA' }, sealingKey), /truncated/);
    assert.throws(() => unsealSecret({ ...record, secretSealed: 'v9.AAAA' }, sealingKey), /format/);
  });
});

describe('MemoryAccessKeyStore', () => {
  test('put, get, list sorted by id, delete', () => {
    const store = new MemoryAccessKeyStore();
    const records = [createAccessKey([], sealingKey).record, createAccessKey([], sealingKey).record, createAccessKey([], sealingKey).record];
    for (const r of records) store.put(r);
    assert.deepEqual(
      store.list().map((r) => r.accessKeyId),
      records.map((r) => r.accessKeyId).sort(),
    );
    assert.equal(store.get(records[1]!.accessKeyId), records[1]);
    store.put({ ...records[1]!, status: 'Inactive' });
    assert.equal(store.get(records[1]!.accessKeyId)?.status, 'Inactive');
    assert.equal(store.list().length, 3);
    assert.equal(store.delete(records[1]!.accessKeyId), true);
    assert.equal(store.delete(records[1]!.accessKeyId), false);
    assert.equal(store.get(records[1]!.accessKeyId), undefined);
    assert.equal(store.list().length, 2);
  });
});

describe('secretLookup', () => {
  test('Active keys only; status, rotation and deletion are seen at once', () => {
    const store = new MemoryAccessKeyStore();
    const { record, secretAccessKey } = createAccessKey([], sealingKey);
    store.put(record);
    const lookup = secretLookup(store, sealingKey);
    assert.equal(lookup(record.accessKeyId), secretAccessKey);
    assert.equal(lookup(record.accessKeyId), secretAccessKey);
    assert.equal(lookup('AKIANOSUCHKEY0000000'), undefined);

    store.put({ ...record, status: 'Inactive' });
    assert.equal(lookup(record.accessKeyId), undefined);
    store.put(record);
    assert.equal(lookup(record.accessKeyId), secretAccessKey);

    // A new secret for the same id (sealed under the same id) replaces the memoised one.
    const other = createAccessKey([], sealingKey);
    const rotated: AccessKeyRecord = { ...record, secretSealed: sealSecret(record.accessKeyId, other.secretAccessKey, sealingKey) };
    store.put(rotated);
    assert.equal(lookup(record.accessKeyId), other.secretAccessKey);

    store.delete(record.accessKeyId);
    assert.equal(lookup(record.accessKeyId), undefined);
  });

  test('a record that cannot be unsealed is treated as unknown', () => {
    const store = new MemoryAccessKeyStore();
    const { record } = createAccessKey([], randomBytes(32));
    store.put(record);
    assert.equal(secretLookup(store, sealingKey)(record.accessKeyId), undefined);
  });

  test('end to end: a request signed by @smithy/signature-v4 with a created key verifies', async () => {
    const store = new MemoryAccessKeyStore();
    const { record, secretAccessKey } = createAccessKey([POLICY], sealingKey);
    store.put(record);
    const signingDate = new Date();
    const signer = new SignatureV4({
      service: 'iotdata',
      region: 'local',
      credentials: { accessKeyId: record.accessKeyId, secretAccessKey },
      sha256: Hash.bind(null, 'sha256'),
    });
    const body = Buffer.from('hello');
    const signed = (await signer.sign(
      new HttpRequest({ method: 'POST', hostname: 'localhost', path: '/topics/t', query: { qos: '1' }, headers: { host: 'localhost:8080' }, body }),
      { signingDate },
    )) as HttpRequest;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(signed.headers)) headers[k.toLowerCase()] = v;
    const request = { method: 'POST', path: signed.path, query: buildQueryString(signed.query as Record<string, string>), headers, body };
    const lookup = secretLookup(store, sealingKey);
    assert.deepEqual(verifySigV4(request, lookup, { services: ['iotdata'] }), { ok: true, accessKeyId: record.accessKeyId, region: 'local', service: 'iotdata' });
    store.put({ ...record, status: 'Inactive' });
    const denied = verifySigV4(request, lookup, { services: ['iotdata'] });
    assert.equal(denied.ok, false);
    if (!denied.ok) assert.deepEqual([denied.status, denied.code, denied.reason], [403, 'ForbiddenException', 'unknown-key']);
  });
});

describe('createSigV4Verifier', () => {
  test('aws:SourceIp in a key policy is judged per request, not fixed by the first caller', async () => {
    const store = new MemoryAccessKeyStore();
    const onlyTen = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'iot:Publish', Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }],
    };
    const { record, secretAccessKey } = createAccessKey([onlyTen], sealingKey);
    store.put(record);
    const signer = new SignatureV4({
      service: 'iotdata',
      region: 'local',
      credentials: { accessKeyId: record.accessKeyId, secretAccessKey },
      sha256: Hash.bind(null, 'sha256'),
    });
    const signed = (await signer.sign(
      new HttpRequest({ method: 'POST', hostname: 'localhost', path: '/topics/t', query: {}, headers: { host: 'localhost:8080' }, body: Buffer.from('x') }),
    )) as HttpRequest;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(signed.headers)) headers[k.toLowerCase()] = v;
    const verify = createSigV4Verifier(store, sealingKey);
    const callFrom = (remoteAddress: string) => {
      const caller = verify({ method: 'POST', path: '/topics/t', query: '', headers, body: Buffer.from('x'), remoteAddress, secure: false });
      assert.ok(!(caller instanceof Error), 'the signature verifies');
      return caller.policy!.allows('iot:Publish', 'arn:aws:iot:local:123456789012:topic/t');
    };
    assert.equal(callFrom('10.1.2.3'), true);
    assert.equal(callFrom('203.0.113.5'), false, 'a caller outside 10.0.0.0/8 must not reuse the first caller\'s verdict');
    assert.equal(callFrom('10.9.9.9'), true);
  });
});

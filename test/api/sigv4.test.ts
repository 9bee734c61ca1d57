// SigV4 verification, proven against independent signers: @smithy/signature-v4 (what the AWS SDK
// for JavaScript v3 signs with), AWS's published SigV4 test-suite vectors, and the real
// @aws-sdk/client-iot-data-plane client talking to a node:http server over a socket.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  DeleteConnectionCommand,
  GetRetainedMessageCommand,
  IoTDataPlaneClient,
  ListRetainedMessagesCommand,
  PublishCommand,
} from '@aws-sdk/client-iot-data-plane';
import { buildQueryString, HttpRequest } from '@smithy/core/protocols';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import { canonicalPath, canonicalQuery, parseQuery } from '../../src/api/sigv4/canonical.js';
import { sigV4Kind, verifySigV4, type SigV4Request, type SigV4Result } from '../../src/api/sigv4/verify.js';

const AKID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const SERVICES = ['iotdata', 'iotdevicegateway'];
const HOST = 'abc123-ats.iot.us-east-1.amazonaws.com';
const SIGNED_AT = Date.UTC(2024, 4, 1, 12, 0, 0);
const Sha256 = Hash.bind(null, 'sha256');

const lookup = (id: string) => (id === AKID ? SECRET : undefined);
const at = (t: number) => ({ services: SERVICES, now: () => t });

function signer(service: string, secretAccessKey = SECRET, sessionToken?: string): SignatureV4 {
  return new SignatureV4({
    service,
    region: 'us-east-1',
    credentials: { accessKeyId: AKID, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) },
    sha256: Sha256,
    uriEscapePath: true, // what the iotdata client uses (the default)
  });
}

/** A smithy request as it goes on the wire, in the shape the verifier takes. */
function toWire(r: HttpRequest, body: Buffer = Buffer.alloc(0)): SigV4Request {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) headers[k.toLowerCase()] = v;
  return { method: r.method, path: r.path, query: buildQueryString(r.query as Record<string, string>), headers, body };
}

const BODY = Buffer.from([0x00, 0xff, 0x10, 0x80, 0x0a, 0x0d, 0x7f]);
const USER_PROPS = Buffer.from(JSON.stringify([{ deviceName: 'alpha' }, { deviceCnt: '45' }])).toString('base64');

function publishRequest(): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    protocol: 'https:',
    hostname: HOST,
    path: '/topics/a%2Fb',
    query: { qos: '1', retain: 'true', contentType: 'application/x-thing' },
    headers: {
      host: HOST,
      'content-type': 'application/octet-stream',
      'content-length': String(BODY.length),
      'x-amz-mqtt5-user-properties': USER_PROPS,
      'x-amz-mqtt5-correlation-data': Buffer.from('corr-1').toString('base64'),
    },
    body: BODY,
  });
}

async function signedPublish(service = 'iotdata', secret = SECRET): Promise<SigV4Request> {
  const signed = await signer(service, secret).sign(publishRequest(), { signingDate: new Date(SIGNED_AT) });
  return toWire(signed as HttpRequest, BODY);
}

function assertFail(result: SigV4Result, status: number, code: string, reason: string): void {
  assert.equal(result.ok, false, 'expected a failure');
  if (result.ok) return;
  assert.deepEqual({ status: result.status, code: result.code, reason: result.reason }, { status, code, reason }, result.message);
}

describe('canonical request parts', () => {
  test('paths are normalised and encoded once more (non-S3 rule)', () => {
    const cases: [string, string][] = [
      ['/topics/a%2Fb', '/topics/a%252Fb'],
      ['/topics/a%20b', '/topics/a%2520b'],
      ['/topics/%24aws%2Fthings%2Fx', '/topics/%2524aws%252Fthings%252Fx'],
      ["/topics/a!b'c(d)*", '/topics/a%21b%27c%28d%29%2A'],
      ['/topics/a~b-c_d.e', '/topics/a~b-c_d.e'],
      ['/a/./b/../c', '/a/c'],
      ['//x//y/', '/x/y/'],
      ['/', '/'],
      ['', '/'],
      ['/mqtt', '/mqtt'],
    ];
    for (const [raw, canonical] of cases) assert.equal(canonicalPath(raw), canonical, raw);
  });

  test('paths match what @smithy/signature-v4 computes', () => {
    const s = signer('iotdata') as unknown as { getCanonicalPath(r: { path: string }): string };
    for (const raw of ['/topics/a%2Fb', '/connections/dev%2F1', "/a/./b/../c%21!'", '//x//y/', '/retainedMessage']) {
      assert.equal(canonicalPath(raw), s.getCanonicalPath({ path: raw }), raw);
    }
  });

  test('query is decoded, re-encoded RFC 3986, sorted by name then value', () => {
    const cases: [string, string][] = [
      ['retain=true&qos=1', 'qos=1&retain=true'],
      ['b&a=', 'a=&b='],
      ['x=2&x=1&X=3', 'X=3&x=1&x=2'],
      ['topic=a%2Fb&t=%7E%21', 't=~%21&topic=a%2Fb'],
      ['p=a+b', 'p=a%2Bb'],
      ['p=%C3%A9', 'p=%C3%A9'],
      ['', ''],
    ];
    for (const [raw, canonical] of cases) assert.equal(canonicalQuery(parseQuery(raw)), canonical, raw);
    assert.throws(() => parseQuery('a=%zz'), URIError);
  });

  test('sigV4Kind tells the two forms from other schemes', () => {
    assert.equal(sigV4Kind({ headers: { authorization: 'AWS4-HMAC-SHA256 Credential=x' }, query: '' }), 'header');
    assert.equal(sigV4Kind({ headers: {}, query: 'a=1&X-Amz-Algorithm=AWS4-HMAC-SHA256' }), 'query');
    assert.equal(sigV4Kind({ headers: { authorization: 'Bearer x' }, query: 'token=1' }), undefined);
    assert.equal(sigV4Kind({ headers: {}, query: '' }), undefined);
  });
});

describe('AWS SigV4 test-suite vectors', () => {
  // aws-sig-v4-test-suite: service "service", region us-east-1, 20150830T123600Z.
  const now = Date.UTC(2015, 7, 30, 12, 36, 0);
  const options = { services: ['service'], now: () => now };
  const vector = (query: string, signature: string): SigV4Request => ({
    method: 'GET',
    path: '/',
    query,
    headers: {
      host: 'example.amazonaws.com',
      'x-amz-date': '20150830T123600Z',
      authorization: `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=${signature}`,
    },
    body: Buffer.alloc(0),
  });
  const vectorLookup = (id: string) => (id === 'AKIDEXAMPLE' ? SECRET : undefined);

  test('get-vanilla', () => {
    const r = verifySigV4(vector('', '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'), vectorLookup, options);
    assert.deepEqual(r, { ok: true, accessKeyId: 'AKIDEXAMPLE', region: 'us-east-1', service: 'service' });
  });

  test('get-vanilla-query-order-key-case', () => {
    const r = verifySigV4(vector('Param2=value2&Param1=value1', 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500'), vectorLookup, options);
    assert.equal(r.ok, true, JSON.stringify(r));
  });
});

describe('Authorization header form (signed with @smithy/signature-v4)', () => {
  for (const service of SERVICES) {
    test(`POST /topics/a%2Fb with query, binary body and MQTT 5 headers verifies for ${service}`, async () => {
      const req = await signedPublish(service);
      assert.match(String(req.headers.authorization), new RegExp(`/us-east-1/${service}/aws4_request`));
      assert.match(String(req.headers.authorization), /x-amz-mqtt5-user-properties/);
      assert.deepEqual(verifySigV4(req, lookup, at(SIGNED_AT)), { ok: true, accessKeyId: AKID, region: 'us-east-1', service });
    });
  }

  test('awkward paths and queries round-trip: reserved characters, $aws topics, dot segments, repeated keys', async () => {
    const cases: { path: string; query: Record<string, string | string[]> }[] = [
      { path: "/topics/%24aws%2Frules%2Fa%20b!'()*", query: { responseTopic: 'r/t', contentType: 'text/plain; charset=utf-8' } },
      { path: '/topics/caf%C3%A9%2F%2B%2F%23', query: { qos: '0' } },
      { path: '/connections/dev%2E1', query: { cleanSession: 'true', preventWillMessage: 'false' } },
      { path: '/', query: {} },
      { path: '/retainedMessage', query: { maxResults: '5', nextToken: 'a+b/c=d~e', x: ['2', '1'] } },
    ];
    for (const { path, query } of cases) {
      const request = new HttpRequest({ method: 'GET', protocol: 'https:', hostname: HOST, path, query, headers: { host: HOST } });
      const signed = (await signer('iotdata').sign(request, { signingDate: new Date(SIGNED_AT) })) as HttpRequest;
      const r = verifySigV4(toWire(signed), lookup, at(SIGNED_AT));
      assert.equal(r.ok, true, `${path}: ${JSON.stringify(r)}`);
    }
  });

  test('without x-amz-content-sha256 the body itself is hashed', async () => {
    const s = new SignatureV4({ service: 'iotdata', region: 'us-east-1', credentials: { accessKeyId: AKID, secretAccessKey: SECRET }, sha256: Sha256, applyChecksum: false });
    const req = toWire((await s.sign(publishRequest(), { signingDate: new Date(SIGNED_AT) })) as HttpRequest, BODY);
    assert.equal(req.headers['x-amz-content-sha256'], undefined);
    assert.equal(verifySigV4(req, lookup, at(SIGNED_AT)).ok, true);
    req.body = Buffer.from(BODY).fill(1, 0, 1);
    assertFail(verifySigV4(req, lookup, at(SIGNED_AT)), 403, 'ForbiddenException', 'signature-mismatch');
  });

  test('paths that normalise to another path are refused, so a signature cannot move to another route', async () => {
    for (const path of ['/topics/x/../a', '/topics/a//b', '/topics/./a', '/connections/.', '//topics/a']) {
      const request = new HttpRequest({ method: 'POST', protocol: 'https:', hostname: HOST, path, query: {}, headers: { host: HOST } });
      const signed = (await signer('iotdata').sign(request, { signingDate: new Date(SIGNED_AT) })) as HttpRequest;
      assertFail(verifySigV4(toWire(signed), lookup, at(SIGNED_AT)), 400, 'InvalidRequestException', 'malformed');
    }
  });

  test('headers the signer does not sign may change (user-agent, connection)', async () => {
    const req = await signedPublish();
    req.headers['user-agent'] = 'something else';
    req.headers.connection = 'close';
    assert.equal(verifySigV4(req, lookup, at(SIGNED_AT)).ok, true);
  });

  test('extra whitespace in a signed header value is canonicalised', async () => {
    const request = publishRequest();
    request.headers['x-custom'] = 'a   b\t c';
    const signed = (await signer('iotdata').sign(request, { signingDate: new Date(SIGNED_AT) })) as HttpRequest;
    const wire = toWire(signed, BODY);
    wire.headers['x-custom'] = 'a b c';
    assert.equal(verifySigV4(wire, lookup, at(SIGNED_AT)).ok, true);
  });

  describe('tampering is rejected', () => {
    const cases: [string, (r: SigV4Request) => void, number, string, string][] = [
      ['body', (r) => void (r.body = Buffer.concat([r.body, Buffer.from([1])])), 400, 'InvalidRequestException', 'payload-hash-mismatch'],
      ['body and its x-amz-content-sha256 together', (r) => {
        r.body = Buffer.from('evil');
        r.headers['x-amz-content-sha256'] = createHash('sha256').update(r.body).digest('hex');
      }, 403, 'ForbiddenException', 'signature-mismatch'],
      ['path: another topic', (r) => void (r.path = '/topics/a%2Fc'), 403, 'ForbiddenException', 'signature-mismatch'],
      ['path: encoded slash decoded', (r) => void (r.path = '/topics/a/b'), 403, 'ForbiddenException', 'signature-mismatch'],
      ['query: qos changed', (r) => void (r.query = r.query.replace('qos=1', 'qos=0')), 403, 'ForbiddenException', 'signature-mismatch'],
      ['query: parameter added', (r) => void (r.query += '&messageExpiry=5'), 403, 'ForbiddenException', 'signature-mismatch'],
      ['query: parameter removed', (r) => void (r.query = r.query.replace(/&?retain=true/, '')), 403, 'ForbiddenException', 'signature-mismatch'],
      ['signed header: user properties', (r) => void (r.headers['x-amz-mqtt5-user-properties'] = Buffer.from('[{"a":"b"}]').toString('base64')), 403, 'ForbiddenException', 'signature-mismatch'],
      ['signed header: content-type', (r) => void (r.headers['content-type'] = 'text/plain'), 403, 'ForbiddenException', 'signature-mismatch'],
      ['signed header: host', (r) => void (r.headers.host = 'evil.example'), 403, 'ForbiddenException', 'signature-mismatch'],
      ['signed header: removed', (r) => void delete r.headers['x-amz-mqtt5-correlation-data'], 403, 'ForbiddenException', 'signed-header-missing'],
      ['method', (r) => void (r.method = 'PUT'), 403, 'ForbiddenException', 'signature-mismatch'],
      ['x-amz-date (scope date kept)', (r) => void (r.headers['x-amz-date'] = '20240501T120001Z'), 403, 'ForbiddenException', 'signature-mismatch'],
      ['x-amz-date on another day', (r) => void (r.headers['x-amz-date'] = '20240502T120000Z'), 403, 'ForbiddenException', 'scope-date-mismatch'],
      ['key id unknown', (r) => void (r.headers.authorization = String(r.headers.authorization).replace(AKID, 'AKIAAAAAAAAAAAAAAAAA')), 403, 'ForbiddenException', 'unknown-key'],
      ['region in scope', (r) => void (r.headers.authorization = String(r.headers.authorization).replace('us-east-1', 'eu-west-1')), 403, 'ForbiddenException', 'signature-mismatch'],
      ['signature flipped', (r) => void (r.headers.authorization = String(r.headers.authorization).replace(/Signature=(.)/, (_, c: string) => `Signature=${c === '0' ? '1' : '0'}`)), 403, 'ForbiddenException', 'signature-mismatch'],
      ['signature upper-cased', (r) => void (r.headers.authorization = String(r.headers.authorization).replace(/Signature=(\w+)/, (_, s: string) => `Signature=${s.toUpperCase()}`)), 403, 'ForbiddenException', 'signature-mismatch'],
      ['signature truncated', (r) => void (r.headers.authorization = String(r.headers.authorization).slice(0, -2)), 403, 'ForbiddenException', 'signature-mismatch'],
      ['no authorization', (r) => void delete r.headers.authorization, 401, 'UnauthorizedException', 'missing'],
      ['other algorithm', (r) => void (r.headers.authorization = String(r.headers.authorization).replace('AWS4-HMAC-SHA256', 'AWS4-ECDSA-P256-SHA256')), 400, 'InvalidRequestException', 'malformed'],
      ['no Signature field', (r) => void (r.headers.authorization = String(r.headers.authorization).replace(/, Signature=\w+/, '')), 400, 'InvalidRequestException', 'malformed'],
      ['credential without terminator', (r) => void (r.headers.authorization = String(r.headers.authorization).replace('/aws4_request', '')), 400, 'InvalidRequestException', 'malformed'],
      ['host not signed', (r) => void (r.headers.authorization = String(r.headers.authorization).replace(';host;', ';')), 400, 'InvalidRequestException', 'malformed'],
      ['no x-amz-date', (r) => void delete r.headers['x-amz-date'], 400, 'InvalidRequestException', 'malformed'],
      ['garbage x-amz-date', (r) => void (r.headers['x-amz-date'] = '20240501T250000Z'), 400, 'InvalidRequestException', 'malformed'],
      ['UNSIGNED-PAYLOAD', (r) => void (r.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD'), 400, 'InvalidRequestException', 'unsupported-payload-hash'],
      ['both header and query forms', (r) => void (r.query += '&X-Amz-Signature=00'), 400, 'InvalidRequestException', 'both-forms'],
      ['malformed query encoding', (r) => void (r.query += '&x=%zz'), 400, 'InvalidRequestException', 'malformed'],
    ];
    for (const [name, mutate, status, code, reason] of cases) {
      test(name, async () => {
        const req = await signedPublish();
        mutate(req);
        assertFail(verifySigV4(req, lookup, at(SIGNED_AT)), status, code, reason);
      });
    }

    test('wrong secret', async () => {
      assertFail(verifySigV4(await signedPublish('iotdata', SECRET.replace('K7', 'K8')), lookup, at(SIGNED_AT)), 403, 'ForbiddenException', 'signature-mismatch');
    });

    test('service not in the accepted list', async () => {
      assertFail(verifySigV4(await signedPublish('s3'), lookup, at(SIGNED_AT)), 403, 'ForbiddenException', 'service-not-allowed');
      const onlyIotdata = { services: ['iotdata'], now: () => SIGNED_AT };
      assertFail(verifySigV4(await signedPublish('iotdevicegateway'), lookup, onlyIotdata), 403, 'ForbiddenException', 'service-not-allowed');
    });

    test('service changed in the scope after signing', async () => {
      const req = await signedPublish('iotdata');
      req.headers.authorization = String(req.headers.authorization).replace('/iotdata/', '/iotdevicegateway/');
      assertFail(verifySigV4(req, lookup, at(SIGNED_AT)), 403, 'ForbiddenException', 'signature-mismatch');
    });

    test('date skew: default window is 5 minutes either side', async () => {
      const req = await signedPublish();
      assert.equal(verifySigV4(req, lookup, at(SIGNED_AT + 5 * 60_000)).ok, true);
      assert.equal(verifySigV4(req, lookup, at(SIGNED_AT - 5 * 60_000)).ok, true);
      assertFail(verifySigV4(req, lookup, at(SIGNED_AT + 5 * 60_000 + 1000)), 403, 'ForbiddenException', 'expired');
      assertFail(verifySigV4(req, lookup, at(SIGNED_AT - 5 * 60_000 - 1000)), 403, 'ForbiddenException', 'not-yet-current');
      const wide = { services: SERVICES, now: () => SIGNED_AT + 14 * 60_000, clockSkewMs: 15 * 60_000 };
      assert.equal(verifySigV4(req, lookup, wide).ok, true);
    });
  });
});

describe('presigned query form (MQTT over WebSocket GET /mqtt)', () => {
  const upgradeHeaders = (host: string) => ({
    host,
    connection: 'Upgrade',
    upgrade: 'websocket',
    'sec-websocket-version': '13',
    'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'sec-websocket-protocol': 'mqtt',
  });

  async function presign(opts: { service?: string; expiresIn?: number; sessionToken?: string; host?: string } = {}): Promise<SigV4Request> {
    const host = opts.host ?? HOST;
    const request = new HttpRequest({ method: 'GET', protocol: 'wss:', hostname: HOST, path: '/mqtt', query: {}, headers: { host } });
    const signed = (await signer(opts.service ?? 'iotdevicegateway', SECRET, opts.sessionToken).presign(request, {
      signingDate: new Date(SIGNED_AT),
      expiresIn: opts.expiresIn ?? 3600,
    })) as HttpRequest;
    return { method: 'GET', path: '/mqtt', query: buildQueryString(signed.query as Record<string, string>), headers: upgradeHeaders(host), body: Buffer.alloc(0) };
  }

  test('a presigned URL verifies, for both service names', async () => {
    for (const service of SERVICES) {
      const req = await presign({ service });
      assert.equal(sigV4Kind(req), 'query');
      assert.match(req.query, /X-Amz-SignedHeaders=host/);
      assert.deepEqual(verifySigV4(req, lookup, at(SIGNED_AT + 60_000)), { ok: true, accessKeyId: AKID, region: 'us-east-1', service });
    }
  });

  test('valid until X-Amz-Expires, then expired', async () => {
    const req = await presign({ expiresIn: 3600 });
    assert.equal(verifySigV4(req, lookup, at(SIGNED_AT + 3600_000)).ok, true);
    assertFail(verifySigV4(req, lookup, at(SIGNED_AT + 3601_000)), 403, 'ForbiddenException', 'expired');
    assertFail(verifySigV4(req, lookup, at(SIGNED_AT - 10 * 60_000)), 403, 'ForbiddenException', 'not-yet-current');
  });

  test('X-Amz-Expires cannot be stretched after signing, nor exceed a week', async () => {
    const req = await presign({ expiresIn: 60 });
    const stretched = { ...req, query: req.query.replace('X-Amz-Expires=60', 'X-Amz-Expires=86400') };
    assertFail(verifySigV4(stretched, lookup, at(SIGNED_AT + 120_000)), 403, 'ForbiddenException', 'signature-mismatch');
    const tooLong = { ...req, query: req.query.replace('X-Amz-Expires=60', 'X-Amz-Expires=604801') };
    assertFail(verifySigV4(tooLong, lookup, at(SIGNED_AT)), 400, 'InvalidRequestException', 'malformed');
  });

  test('without X-Amz-Expires (hand-built like the AWS IoT device SDK v1) the skew window applies', async () => {
    // The canonical request of reference §6.2 written out literally; only the HMAC chain is smithy's.
    const scope = '20240501/us-east-1/iotdevicegateway/aws4_request';
    const query =
      `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${AKID}%2F${scope.replace(/\//g, '%2F')}` +
      '&X-Amz-Date=20240501T120000Z&X-Amz-SignedHeaders=host';
    const canonical = `GET\n/mqtt\n${query}\nhost:${HOST}\n\nhost\n${createHash('sha256').update('').digest('hex')}`;
    const toSign = `AWS4-HMAC-SHA256\n20240501T120000Z\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
    const signature = await signer('iotdevicegateway').sign(toSign, { signingDate: new Date(SIGNED_AT) });
    const req: SigV4Request = { method: 'GET', path: '/mqtt', query: `${query}&X-Amz-Signature=${signature}`, headers: upgradeHeaders(HOST), body: Buffer.alloc(0) };
    assert.equal(verifySigV4(req, lookup, at(SIGNED_AT + 4 * 60_000)).ok, true);
    req.query += '&X-Amz-Security-Token=abc%2Fdef';
    assert.equal(verifySigV4(req, lookup, at(SIGNED_AT + 4 * 60_000)).ok, true);
    assertFail(verifySigV4(req, lookup, at(SIGNED_AT + 6 * 60_000)), 403, 'ForbiddenException', 'expired');
  });

  test('session token signed in the canonical query (@smithy/signature-v4)', async () => {
    const req = await presign({ sessionToken: 'FQoGZXIvYXdzEJr//token+with/slashes=' });
    assert.match(req.query, /X-Amz-Security-Token=/);
    assert.equal(verifySigV4(req, lookup, at(SIGNED_AT)).ok, true);
  });

  test('session token appended after signing (AWS IoT device SDKs)', async () => {
    const req = await presign();
    req.query += `&X-Amz-Security-Token=${encodeURIComponent('FQoGZXIvYXdzEJr//token+with/slashes=')}`;
    assert.equal(verifySigV4(req, lookup, at(SIGNED_AT)).ok, true);
  });

  test('Host sent with :443 that was signed without it', async () => {
    const req = await presign();
    req.headers.host = `${HOST}:443`;
    assert.equal(verifySigV4(req, lookup, at(SIGNED_AT)).ok, true);
    req.headers.host = `${HOST}:8443`;
    assertFail(verifySigV4(req, lookup, at(SIGNED_AT)), 403, 'ForbiddenException', 'signature-mismatch');
  });

  test('tampering is rejected', async () => {
    const base = await presign();
    const mutations: [string, (r: SigV4Request) => void, string][] = [
      ['path', (r) => void (r.path = '/mqtt2'), 'signature-mismatch'],
      ['extra query parameter', (r) => void (r.query += '&clientId=x'), 'signature-mismatch'],
      ['signature', (r) => void (r.query = r.query.replace(/X-Amz-Signature=(.)/, (_, c: string) => `X-Amz-Signature=${c === 'a' ? 'b' : 'a'}`)), 'signature-mismatch'],
      ['credential key id', (r) => void (r.query = r.query.replace(AKID, 'AKIAZZZZZZZZZZZZZZZZ')), 'unknown-key'],
      ['scope service', (r) => void (r.query = r.query.replace('iotdevicegateway', 'iotdata')), 'signature-mismatch'],
      ['scope service not accepted', (r) => void (r.query = r.query.replace('iotdevicegateway', 'execute-api')), 'service-not-allowed'],
      ['host', (r) => void (r.headers.host = 'other.example'), 'signature-mismatch'],
      ['a body on GET', (r) => void (r.body = Buffer.from('x')), 'signature-mismatch'],
    ];
    for (const [name, mutate, reason] of mutations) {
      const req = { ...base, headers: { ...base.headers } };
      mutate(req);
      const r = verifySigV4(req, lookup, at(SIGNED_AT));
      assert.equal(r.ok, false, name);
      if (!r.ok) assert.equal(r.reason, reason, `${name}: ${r.message}`);
    }
    const missing = { ...base, query: base.query.replace(/&?X-Amz-Algorithm=[^&]*/, '') };
    assertFail(verifySigV4(missing, lookup, at(SIGNED_AT)), 400, 'InvalidRequestException', 'malformed');
    const doubled = { ...base, query: `${base.query}&X-Amz-Date=20240501T120000Z` };
    assertFail(verifySigV4(doubled, lookup, at(SIGNED_AT)), 400, 'InvalidRequestException', 'malformed');
    assertFail(verifySigV4({ ...base, query: '' }, lookup, at(SIGNED_AT)), 401, 'UnauthorizedException', 'missing');
  });
});

describe('the real @aws-sdk/client-iot-data-plane against a node:http server', () => {
  interface Seen {
    method: string;
    path: string;
    query: string;
    headers: IncomingMessage['headers'];
    body: Buffer;
    result: SigV4Result;
  }
  const seen: Seen[] = [];
  let server: Server;
  let endpoint: string;
  let port: number;

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = req.url ?? '/';
        const q = url.indexOf('?');
        const request: SigV4Request = {
          method: req.method ?? 'GET',
          path: q < 0 ? url : url.slice(0, q),
          query: q < 0 ? '' : url.slice(q + 1),
          headers: req.headers,
          body: Buffer.concat(chunks),
        };
        const result = verifySigV4(request, lookup, { services: SERVICES });
        seen.push({ ...request, headers: req.headers, result });
        if (result.ok) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{}');
        } else {
          res.writeHead(result.status, { 'content-type': 'application/json', 'x-amzn-errortype': result.code });
          res.end(JSON.stringify({ message: result.message }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    endpoint = `http://127.0.0.1:${port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const client = (secretAccessKey = SECRET) =>
    new IoTDataPlaneClient({ endpoint, region: 'eu-west-1', credentials: { accessKeyId: AKID, secretAccessKey }, maxAttempts: 1 });

  async function send(run: (c: IoTDataPlaneClient) => Promise<unknown>): Promise<Seen> {
    const before = seen.length;
    const c = client();
    try {
      await run(c);
    } finally {
      c.destroy();
    }
    assert.equal(seen.length, before + 1);
    const last = seen[seen.length - 1]!;
    assert.deepEqual(last.result, { ok: true, accessKeyId: AKID, region: 'eu-west-1', service: 'iotdata' });
    return last;
  }

  test('PublishCommand: POST /topics/{topic}, query for qos/retain/contentType, MQTT 5 headers, raw body', async () => {
    const payload = Buffer.from([0, 1, 2, 0xfe, 0xff]);
    const s = await send((c) =>
      c.send(
        new PublishCommand({
          topic: 'dt/a b/$x+#',
          qos: 1,
          retain: true,
          payload,
          userProperties: JSON.stringify([{ deviceName: 'alpha' }, { deviceCnt: '45' }]),
          contentType: 'application/json',
          correlationData: Buffer.from('corr').toString('base64'),
          responseTopic: 'reply/to',
          messageExpiry: 60,
          payloadFormatIndicator: 'UTF8_DATA',
        }),
      ),
    );
    assert.equal(s.method, 'POST');
    assert.equal(s.path, '/topics/dt%2Fa%20b%2F%24x%2B%23');
    assert.equal(s.query, 'contentType=application%2Fjson&messageExpiry=60&qos=1&responseTopic=reply%2Fto&retain=true');
    assert.deepEqual(s.body, payload);
    assert.equal(s.headers['content-type'], 'application/octet-stream');
    // userProperties: the SDK base64-encodes the JSON string it is given.
    assert.equal(Buffer.from(String(s.headers['x-amz-mqtt5-user-properties']), 'base64').toString(), '[{"deviceName":"alpha"},{"deviceCnt":"45"}]');
    // correlationData: sent as given (the caller passes base64).
    assert.equal(s.headers['x-amz-mqtt5-correlation-data'], Buffer.from('corr').toString('base64'));
    assert.equal(s.headers['x-amz-mqtt5-payload-format-indicator'], 'UTF8_DATA');
    assert.equal(s.headers['x-amz-content-sha256'], createHash('sha256').update(payload).digest('hex'));
    assert.equal(s.headers.host, `127.0.0.1:${port}`);
    const auth = String(s.headers.authorization);
    assert.match(auth, /^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\/\d{8}\/eu-west-1\/iotdata\/aws4_request, SignedHeaders=/);
    for (const h of ['host', 'x-amz-date', 'x-amz-content-sha256', 'content-type', 'x-amz-mqtt5-user-properties', 'x-amz-mqtt5-correlation-data']) {
      assert.match(auth, new RegExp(`SignedHeaders=[^,]*\\b${h}\\b`), h);
    }
  });

  test('PublishCommand with a plain topic and no options sends only what is set', async () => {
    const s = await send((c) => c.send(new PublishCommand({ topic: 'plain' })));
    assert.equal(s.method, 'POST');
    assert.equal(s.path, '/topics/plain');
    assert.equal(s.query, '');
    assert.equal(s.body.length, 0);
  });

  test('GetRetainedMessageCommand: GET /retainedMessage/{topic}', async () => {
    const s = await send((c) => c.send(new GetRetainedMessageCommand({ topic: 'a/b' })));
    assert.deepEqual([s.method, s.path, s.query, s.body.length], ['GET', '/retainedMessage/a%2Fb', '', 0]);
  });

  test('ListRetainedMessagesCommand: GET /retainedMessage?maxResults=&nextToken=', async () => {
    const s = await send((c) => c.send(new ListRetainedMessagesCommand({ maxResults: 5, nextToken: 'tok/+=' })));
    assert.deepEqual([s.method, s.path, s.query, s.body.length], ['GET', '/retainedMessage', 'maxResults=5&nextToken=tok%2F%2B%3D', 0]);
  });

  test('DeleteConnectionCommand: DELETE /connections/{clientId}?cleanSession=&preventWillMessage=', async () => {
    const s = await send((c) => c.send(new DeleteConnectionCommand({ clientId: 'dev/1', cleanSession: true, preventWillMessage: false })));
    assert.deepEqual([s.method, s.path, s.query, s.body.length], ['DELETE', '/connections/dev%2F1', 'cleanSession=true&preventWillMessage=false', 0]);
  });

  test('a wrong secret reaches the SDK as ForbiddenException (403)', async () => {
    const c = client('not-the-secret');
    try {
      await assert.rejects(c.send(new PublishCommand({ topic: 't', payload: Buffer.from('x') })), (err: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(err.name, 'ForbiddenException');
        assert.equal(err.$metadata?.httpStatusCode, 403);
        assert.match(err.message, /signature we calculated does not match/);
        return true;
      });
    } finally {
      c.destroy();
    }
  });

  test('an unknown key reaches the SDK as ForbiddenException (403)', async () => {
    const c = new IoTDataPlaneClient({ endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'AKIANOTKNOWN00000000', secretAccessKey: SECRET }, maxAttempts: 1 });
    try {
      await assert.rejects(c.send(new GetRetainedMessageCommand({ topic: 't' })), { name: 'ForbiddenException' });
    } finally {
      c.destroy();
    }
  });
});

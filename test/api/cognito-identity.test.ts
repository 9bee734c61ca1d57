// The Cognito Identity routes under a seeded fuzz: mutations of valid GetId and
// GetCredentialsForIdentity requests (body, target, content type) are answered 200 or with one of
// Cognito's client errors in AWS JSON 1.1 shape — never a 5xx, never a non-JSON body. Requests go
// through Fastify's inject (no socket), with a clock that opens a new rate-limit window each call.
import { systemClock } from '../../src/shared/clock.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { createHttpServer, type HttpApp } from '../../src/api/http-server.js';
import { AdminSessions } from '../../src/api/admin-sessions.js';
import { registerCognitoIdentityRoutes } from '../../src/api/cognito-identity.js';
import { IdentityPools } from '../../src/auth/identity-pools.js';
import { prng } from '../helpers/prng.js';

const POOL = 'us-east-1:0f1e2d3c-0000-4000-8000-000000000001';
const ERRORS = new Set(['InvalidParameterException', 'ResourceNotFoundException', 'NotAuthorizedException', 'SerializationException', 'UnknownOperationException', 'TooManyRequestsException']);

describe('Cognito identity routes (seeded fuzz)', () => {
  let app: HttpApp;
  let pools: IdentityPools;

  before(async () => {
    const config = validateConfig({
      listeners: { http: { host: '127.0.0.1', port: 0 }, mqtt: false },
      store: { type: 'memory' },
      auth: { identityPools: [{ id: POOL, unauthenticatedPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }] } }] },
    });
    const logger = pino({ level: 'silent' });
    app = createHttpServer({ listener: config.listeners.http as Exclude<typeof config.listeners.http, false>, logger, admin: config.admin, sessions: new AdminSessions() });
    pools = new IdentityPools(config.auth, randomBytes(32));
    let t = 0;
    registerCognitoIdentityRoutes(app, { pools, logger, clock: { ...systemClock, now: () => (t += 61_000) } });
    await app.ready();
  });

  after(async () => {
    await app?.close();
  });

  it('answers every mutation with 200 or a Cognito client error', async () => {
    const random = prng(0xc0917);
    const identity = pools.newIdentity(pools.get(POOL)!);
    const seeds: [string, string][] = [
      ['GetId', JSON.stringify({ IdentityPoolId: POOL })],
      ['GetId', JSON.stringify({ IdentityPoolId: POOL, AccountId: '123456789012', Logins: {} })],
      ['GetCredentialsForIdentity', JSON.stringify({ IdentityId: identity })],
    ];
    const alphabet = '{}[]":,0123456789abcdef-:\\\u0000éx nulltrue';
    const mutate = (text: string) => {
      const chars = [...text];
      for (let n = 1 + Math.floor(random() * 3); n > 0; n--) {
        const at = Math.floor(random() * (chars.length + 1));
        const c = alphabet[Math.floor(random() * alphabet.length)]!;
        const op = random();
        if (op < 0.4) chars.splice(at, 1, c);
        else if (op < 0.7) chars.splice(at, 0, c);
        else chars.splice(at, 1);
      }
      return chars.join('');
    };
    let ok = 0;
    for (let i = 0; i < 600; i++) {
      const [operation, body] = seeds[i % seeds.length]!;
      const target = random() < 0.1 ? mutate(`AWSCognitoIdentityService.${operation}`) : `AWSCognitoIdentityService.${operation}`;
      const res = await app.inject({
        method: 'POST',
        url: '/',
        headers: { 'content-type': random() < 0.1 ? 'text/plain' : 'application/x-amz-json-1.1', 'x-amz-target': target },
        payload: random() < 0.05 ? body : mutate(body),
      });
      if (res.statusCode === 200) {
        ok++;
        continue;
      }
      assert.equal(res.statusCode, 400, `${target} ${res.body}`);
      const error = JSON.parse(res.body) as { __type: string; message: string };
      assert.ok(ERRORS.has(error.__type), `unexpected error ${error.__type}`);
      assert.equal(res.headers['x-amzn-errortype'], error.__type);
      assert.equal(typeof error.message, 'string');
    }
    assert.ok(ok > 0, 'some requests still succeed');
  });
});

// GET /events reads a custom authorizer's token from a cookie only for a same-site request. A
// browser sends no Origin on a cross-site no-cors GET (<img src>, <iframe>, a link) but does send a
// SameSite=None cookie: such a request cannot read the stream, yet it would connect as the
// cookie's owner and take over its client ID. Fetch Metadata (Sec-Fetch-Site) tells it apart.
// Before: the cookie was used whenever Origin was absent.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startInProcessServer, endpointsOf } from '../helpers/in-process.js';
import type { RunningServer } from '../../src/server.js';
import { allow, answer, arn, doc, fixture, NAME_KEY, query, TokenAnswers } from '../helpers/auth.js';
import { SseReader } from '../helpers/sse.js';
import { uid } from '../helpers/clients.js';

const answers = new TokenAnswers();
let server: RunningServer;
let httpUrl: string;

before(async () => {
  Object.assign(process.env, answers.env);
  server = await startInProcessServer({
    auth: { authorizers: [{ name: 'ByToken', type: 'function', handler: fixture('e2e-by-token.js'), signingDisabled: true, tokenKeyName: 'token' }] },
  });
  httpUrl = endpointsOf(server).httpUrl;
});
after(async () => {
  await server.stop();
  answers.remove();
});

describe('GET /events: a cookie token and Sec-Fetch-Site', () => {
  test('a cross-site request without Origin does not connect with the cookie', async () => {
    const id = uid('c');
    const token = uid('tok');
    answers.set(token, answer([doc(allow('iot:Connect', arn(`client/${id}`)))]));
    const q = query({ [NAME_KEY]: 'ByToken', clientId: id });
    for (const site of ['cross-site', 'same-site']) {
      const r = await fetch(`${httpUrl}/events?${q}`, { headers: { cookie: `token=${token}`, 'sec-fetch-site': site, 'sec-fetch-mode': 'no-cors' } });
      assert.equal(r.status, 401, site);
      await r.body?.cancel();
    }
  });

  test('control: the same request from this origin (or typed by the user) connects', async () => {
    const id = uid('c');
    const token = uid('tok');
    answers.set(token, answer([doc(allow('iot:Connect', arn(`client/${id}`)))]));
    const q = query({ [NAME_KEY]: 'ByToken', clientId: id });
    for (const site of ['same-origin', 'none']) {
      const r = await SseReader.open(`${httpUrl}/events?${q}`, { headers: { cookie: `token=${token}`, 'sec-fetch-site': site } });
      try {
        assert.equal(r.response.status, 200, site);
        await r.named('connected');
      } finally {
        r.close();
      }
    }
  });
});

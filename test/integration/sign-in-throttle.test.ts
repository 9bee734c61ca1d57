// Console sign-in over real HTTP: after ten wrong passwords from one address, even the right one
// is answered 429 with Retry-After, so a password cannot be guessed at network speed; once the
// 15-minute window has passed (on the server's ManualClock) the right password works again.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningServer } from '../../src/server.js';
import { startInProcessServer } from '../helpers/in-process.js';
import { ManualClock } from '../../src/shared/clock.js';

const PASSWORD = 'correct horse battery';

describe('console sign-in is throttled per caller', { timeout: 60_000 }, () => {
  let server: RunningServer;
  const clock = new ManualClock();
  const signIn = (password: string) =>
    fetch(`http://127.0.0.1:${server.httpPort}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });

  before(async () => {
    server = await startInProcessServer({ admin: { username: 'admin', password: PASSWORD }, clock });
  });
  after(() => server?.stop());

  it('signs in, then refuses after ten failures with 429 and Retry-After', async () => {
    assert.equal((await signIn(PASSWORD)).status, 204);
    for (let i = 0; i < 10; i++) assert.equal((await signIn(`wrong-${i}`)).status, 401);
    const refused = await signIn(PASSWORD);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('x-amzn-errortype'), 'ThrottlingException');
    assert.equal(Number(refused.headers.get('retry-after')), 15 * 60);
  });

  it('the window ends 15 minutes after the first failure, not before', async () => {
    clock.advance(15 * 60_000 - 1000);
    const still = await signIn(PASSWORD);
    assert.equal(still.status, 429);
    assert.equal(Number(still.headers.get('retry-after')), 1);
    clock.advance(1000);
    assert.equal((await signIn(PASSWORD)).status, 204);
  });
});

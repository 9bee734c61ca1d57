// The pool on real worker threads, with the handler fixtures of test/fixtures/authorizers/.
// Under tsx this exercises the .ts worker bootstrap; the last test runs the compiled pool from
// dist/ when a build is present (npm test builds first).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { AuthorizerInvokeError, type AuthorizerEvent } from '../../src/auth/authorizer.js';
import { FunctionPool, MAX_BATCH } from '../../src/functions/function-pool.js';
import { buildEvent } from '../../src/auth/request.js';
import { validateAuthorizerResponse } from '../../src/auth/response.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/authorizers/${name}`, import.meta.url));
// Generous for calls expected to succeed: a cold worker under tsx takes a few hundred ms.
const SLOW_OK = 10_000;

const event: AuthorizerEvent = buildEvent(
  { transport: 'tcp', username: 'alice', password: Buffer.from('secret'), clientId: 'dev1' },
  { token: 'tok', signatureVerified: false, connectionId: 'conn-1' },
);

async function rejection(promise: Promise<unknown>): Promise<AuthorizerInvokeError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof AuthorizerInvokeError, `expected AuthorizerInvokeError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

describe('FunctionPool: handler styles', () => {
  const pool = new FunctionPool({ size: 2 });
  after(() => pool.close());

  test('CommonJS async handler in the AWS blog shape', async () => {
    const raw = await pool.invoke(fixture('blog-style.cjs'), event, SLOW_OK);
    const checked = validateAuthorizerResponse(raw);
    assert.ok(checked.ok, checked.ok ? '' : checked.error);
    assert.equal(checked.value.isAuthenticated, true);
    assert.equal(checked.value.principalId, 'alice');
    assert.match(checked.value.rawPolicyDocuments[0] ?? '', /client\/dev1/);
    const wrong = buildEvent({ transport: 'tcp', username: 'alice', password: Buffer.from('nope') }, { signatureVerified: false, connectionId: 'c' });
    assert.equal((await pool.invoke(fixture('blog-style.cjs'), wrong, SLOW_OK) as { isAuthenticated: boolean }).isAuthenticated, false);
  });

  test('ESM export const handler', async () => {
    const raw = (await pool.invoke(fixture('esm.mjs'), event, SLOW_OK)) as Record<string, unknown>;
    assert.equal(raw['principalId'], 'esm');
    assert.equal(raw['token'], 'tok');
    assert.ok(validateAuthorizerResponse(raw).ok);
  });

  test('export default { handler }', async () => {
    assert.deepEqual(await pool.invoke(fixture('default-export.mjs'), event, SLOW_OK), { via: 'default' });
  });

  test('callback style', async () => {
    assert.deepEqual(await pool.invoke(fixture('callback.cjs'), event, SLOW_OK), { via: 'callback', token: 'tok' });
  });

  test('a synchronous return value is accepted', async () => {
    assert.deepEqual(await pool.invoke(fixture('sync-return.cjs'), event, SLOW_OK), { via: 'sync' });
  });

  test('the handler sees the event exactly', async () => {
    assert.deepEqual(await pool.invoke(fixture('echo.mjs'), event, SLOW_OK), event);
    const ws = buildEvent(
      { transport: 'wss', serverName: 'h', upgradeUrl: '/mqtt?a=1', headers: { 'x-token': 't' } },
      { signatureVerified: true, connectionId: 'c2' },
    );
    assert.deepEqual(await pool.invoke(fixture('echo.mjs'), ws, SLOW_OK), ws);
  });

  test('a Lambda-like context', async () => {
    const ctx = (await pool.invoke(fixture('context.cjs'), event, 4000)) as Record<string, unknown>;
    assert.match(String(ctx['awsRequestId']), /^[0-9a-f-]{36}$/);
    assert.equal(ctx['functionName'], 'context');
    assert.equal(ctx['functionVersion'], '$LATEST');
    assert.equal(ctx['logGroupName'], '/aws/lambda/context');
    assert.equal(ctx['callbackWaitsForEmptyEventLoop'], true);
    const remaining = Number(ctx['remaining']);
    assert.ok(remaining > 0 && remaining <= 4000, `remaining ${remaining}`);
  });

  test('the module is loaded once per path and keeps its state', async () => {
    const solo = new FunctionPool({ size: 1 });
    try {
      const first = (await solo.invoke(fixture('counter.cjs'), event, SLOW_OK)) as { calls: number };
      const second = (await solo.invoke(fixture('counter.cjs'), event, SLOW_OK)) as { calls: number };
      assert.equal(first.calls, 1);
      assert.equal(second.calls, 2);
    } finally {
      await solo.close();
    }
  });

  test('relative handler paths resolve against the working directory', async () => {
    const relative = 'test/fixtures/authorizers/default-export.mjs';
    if (!existsSync(relative)) return; // run from another directory
    assert.deepEqual(await pool.invoke(relative, event, SLOW_OK), { via: 'default' });
  });

  test('concurrent invocations are all answered', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.invoke(fixture('echo.mjs'), { ...event, token: `t${i}` }, SLOW_OK)));
    assert.deepEqual(
      results.map((r) => (r as AuthorizerEvent).token),
      Array.from({ length: 20 }, (_, i) => `t${i}`),
    );
    assert.ok(pool.workerCount <= 2);
  });
});

describe('FunctionPool: failures', () => {
  const pool = new FunctionPool({ size: 1, unresponsiveAfterMs: 300 });
  before(async () => {
    await pool.invoke(fixture('counter.cjs'), event, SLOW_OK); // warm the worker
  });
  after(() => pool.close());

  const threadOf = async () => ((await pool.invoke(fixture('counter.cjs'), event, SLOW_OK)) as { threadId: number }).threadId;

  test('a synchronous throw', async () => {
    const e = await rejection(pool.invoke(fixture('throws.cjs'), event, SLOW_OK));
    assert.equal(e.code, 'HANDLER_ERROR');
    assert.match(e.message, /throws\.cjs failed: Error: token expired/);
  });

  test('a rejected promise', async () => {
    const e = await rejection(pool.invoke(fixture('rejects.mjs'), event, SLOW_OK));
    assert.equal(e.code, 'HANDLER_ERROR');
    assert.match(e.message, /TypeError: identity provider unreachable/);
  });

  test('callback(err)', async () => {
    const e = await rejection(pool.invoke(fixture('callback-error.cjs'), event, SLOW_OK));
    assert.equal(e.code, 'HANDLER_ERROR');
    assert.match(e.message, /failed: Unauthorized$/);
  });

  test('no handler export', async () => {
    const e = await rejection(pool.invoke(fixture('no-handler.mjs'), event, SLOW_OK));
    assert.equal(e.code, 'NO_HANDLER');
    assert.match(e.message, /no-handler\.mjs does not export a function named "handler"/);
  });

  test('a module that throws while loading', async () => {
    const e = await rejection(pool.invoke(fixture('load-error.mjs'), event, SLOW_OK));
    assert.equal(e.code, 'LOAD_ERROR');
    assert.match(e.message, /cannot load authorizer module .*load-error\.mjs: Error: missing configuration AUTH_SECRET/);
  });

  test('a module that does not exist', async () => {
    const e = await rejection(pool.invoke(fixture('missing.mjs'), event, SLOW_OK));
    assert.equal(e.code, 'LOAD_ERROR');
    assert.match(e.message, /missing\.mjs/);
  });

  test('a result that is not JSON-serialisable', async () => {
    const e = await rejection(pool.invoke(fixture('unserializable.mjs'), event, SLOW_OK));
    assert.equal(e.code, 'INVALID_RESULT');
    assert.match(e.message, /not JSON-serialisable/);
  });

  test('an invalid response is returned raw (validation is the caller\'s)', async () => {
    const raw = await pool.invoke(fixture('invalid-response.mjs'), event, SLOW_OK);
    const checked = validateAuthorizerResponse(raw);
    assert.equal(checked.ok, false);
    assert.match(checked.ok ? '' : checked.error, /principalId must be 1-128 alphanumeric characters/);
  });

  test('a handler that never answers times out; its worker is kept', async () => {
    const before = await threadOf();
    const started = Date.now();
    const e = await rejection(pool.invoke(fixture('hangs.mjs'), event, 200));
    const elapsed = Date.now() - started;
    assert.equal(e.code, 'TIMEOUT');
    assert.match(e.message, /hangs\.mjs timed out after 200 ms/);
    assert.ok(elapsed >= 190 && elapsed < 2000, `elapsed ${elapsed}`);
    await new Promise((r) => setTimeout(r, 400)); // past the ping grace
    assert.equal(await threadOf(), before);
  });

  test('a busy loop times out, the worker is replaced and the pool still works', async () => {
    const before = await threadOf();
    const e = await rejection(pool.invoke(fixture('busy-loop.mjs'), event, 200));
    assert.equal(e.code, 'TIMEOUT');
    // Sent while the stuck worker's ping is outstanding: queued, then run on the replacement.
    const after = await threadOf();
    assert.notEqual(after, before);
    assert.equal(pool.workerCount, 1);
    const again = (await pool.invoke(fixture('counter.cjs'), event, SLOW_OK)) as { threadId: number; calls: number };
    assert.equal(again.threadId, after);
  });

  test('a busy loop does not fail the other invocations on that worker: they run again on a fresh one', async () => {
    const before = await threadOf();
    const other = pool.invoke(fixture('slow.mjs'), event, SLOW_OK);
    const loop = rejection(pool.invoke(fixture('busy-loop.mjs'), event, 100));
    assert.equal((await loop).code, 'TIMEOUT');
    assert.ok(await other, 'the innocent invocation completed');
    assert.notEqual(await threadOf(), before, 'the blocked worker was replaced');
  });

  test('a busy loop on a cold worker (it may answer the first ping before spinning) is still caught', async () => {
    const cold = new FunctionPool({ size: 1, unresponsiveAfterMs: 200 });
    try {
      const started = Date.now();
      const other = cold.invoke(fixture('slow.mjs'), event, SLOW_OK);
      const loop = rejection(cold.invoke(fixture('busy-loop.mjs'), event, 50));
      assert.equal((await loop).code, 'TIMEOUT');
      assert.ok(await other);
      assert.ok(Date.now() - started < SLOW_OK / 2, 'caught by a re-check, not by the other timeout');
      assert.equal(((await cold.invoke(fixture('counter.cjs'), event, SLOW_OK)) as { calls: number }).calls, 1);
    } finally {
      await cold.close();
    }
  });

  test('a handler that crashes its worker: the invocation fails, the pool recovers', async () => {
    const e = await rejection(pool.invoke(fixture('crash.mjs'), event, SLOW_OK));
    assert.equal(e.code, 'WORKER_RESTARTED');
    assert.match(e.message, /crashed: uncaught in a timer/);
    assert.ok(await threadOf());
  });
});

describe('FunctionPool: batching', () => {
  const pool = new FunctionPool({ size: 1, unresponsiveAfterMs: 300 });
  before(async () => {
    await pool.invoke(fixture('echo.mjs'), event, SLOW_OK); // warm the worker
  });
  after(() => pool.close());

  test('invocations made in one turn travel in one message, and each gets its own result', async () => {
    const before = pool.messagesPosted;
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => pool.invoke(fixture('echo.mjs'), { ...event, token: `b${i}` }, SLOW_OK)));
    assert.deepEqual(
      results.map((r) => (r as AuthorizerEvent).token),
      Array.from({ length: 100 }, (_, i) => `b${i}`),
    );
    assert.equal(pool.messagesPosted - before, 1);
  });

  test('a throwing, a hanging and an unserialisable handler in a batch fail alone', async () => {
    const calls = Array.from({ length: 30 }, (_, i) => {
      if (i === 5) return pool.invoke(fixture('throws.cjs'), event, SLOW_OK);
      if (i === 12) return pool.invoke(fixture('hangs.mjs'), event, 300);
      if (i === 20) return pool.invoke(fixture('unserializable.mjs'), event, SLOW_OK);
      return pool.invoke(fixture('echo.mjs'), { ...event, token: `m${i}` }, SLOW_OK);
    });
    const settled = await Promise.allSettled(calls);
    for (const [i, s] of settled.entries()) {
      if (i === 5 || i === 12 || i === 20) {
        assert.equal(s.status, 'rejected', `call ${i}`);
        const e = (s as PromiseRejectedResult).reason as AuthorizerInvokeError;
        assert.equal(e.code, i === 5 ? 'HANDLER_ERROR' : i === 12 ? 'TIMEOUT' : 'INVALID_RESULT', `call ${i}`);
      } else {
        assert.equal(s.status, 'fulfilled', `call ${i}`);
        assert.equal(((s as PromiseFulfilledResult<unknown>).value as AuthorizerEvent).token, `m${i}`);
      }
    }
  });

  test('more than MAX_BATCH invocations in one turn are split over several messages', async () => {
    const before = pool.messagesPosted;
    const results = await Promise.all(Array.from({ length: MAX_BATCH + 10 }, (_, i) => pool.invoke(fixture('echo.mjs'), { ...event, token: `x${i}` }, SLOW_OK)));
    assert.equal((results[MAX_BATCH + 9] as AuthorizerEvent).token, `x${MAX_BATCH + 9}`);
    assert.equal(pool.messagesPosted - before, 2);
  });
});

describe('FunctionPool: lifecycle', () => {
  test('size is validated', () => {
    assert.throws(() => new FunctionPool({ size: 0 }), /size must be an integer from 1 to 64, got 0/);
    assert.throws(() => new FunctionPool({ size: 1.5 }), RangeError);
    assert.throws(() => new FunctionPool({ unresponsiveAfterMs: 0 }), /unresponsiveAfterMs/);
  });

  test('workers start on demand', async () => {
    const pool = new FunctionPool({ size: 3 });
    assert.equal(pool.workerCount, 0);
    await pool.invoke(fixture('echo.mjs'), event, SLOW_OK);
    assert.equal(pool.workerCount, 1);
    await pool.close();
  });

  test('close fails pending invocations, later ones are refused', async () => {
    const pool = new FunctionPool({ size: 1 });
    const pending = rejection(pool.invoke(fixture('hangs.mjs'), event, SLOW_OK));
    await pool.close();
    assert.equal((await pending).code, 'POOL_CLOSED');
    assert.equal((await rejection(pool.invoke(fixture('echo.mjs'), event, SLOW_OK))).code, 'POOL_CLOSED');
    assert.equal(pool.workerCount, 0);
  });

  test('a bad timeout is refused', async () => {
    const pool = new FunctionPool({ size: 1 });
    await assert.rejects(pool.invoke(fixture('echo.mjs'), event, 0), RangeError);
    await pool.close();
  });
});

const distPool = new URL('../../dist/functions/function-pool.js', import.meta.url);
const distWorker = new URL('../../dist/functions/function-worker.js', import.meta.url);
const haveDist = existsSync(fileURLToPath(distPool)) && existsSync(fileURLToPath(distWorker));

test('compiled pool from dist/ finds function-worker.js', { skip: haveDist ? false : 'no build in dist/ (run npm run build)' }, async () => {
  const mod = (await import(pathToFileURL(fileURLToPath(distPool)).href)) as { FunctionPool: typeof FunctionPool };
  const pool = new mod.FunctionPool({ size: 1 });
  try {
    assert.deepEqual(await pool.invoke(fixture('echo.mjs'), event, SLOW_OK), event);
    const e = await rejection(pool.invoke(fixture('throws.cjs'), event, SLOW_OK)).catch((x: unknown) => x as Error);
    assert.match((e as Error).message, /token expired/);
  } finally {
    await pool.close();
  }
});

// What a reload applies and what it leaves for a restart (src/config/reload.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../src/config/load.js';
import { applyReloadable, diffConfig, isEmpty } from '../../src/config/reload.js';
import type { AuthorizerRecord } from '../../src/store/authorizer-store.js';

const rule = (name: string, topic: string) => ({ name, sql: `SELECT * FROM '${topic}'`, actions: [{ republish: { topic: 'out' } }] });
const fn = (name: string, handler: string) => ({ name, type: 'function', handler, signingDisabled: true });

describe('config reload diff', () => {
  it('names added, removed and changed authorizers and rules, and changed reloadable limits', () => {
    const running = validateConfig({ auth: { anonymous: 'nobody', authorizers: [fn('A', 'a'), fn('B', 'b')] }, rules: [rule('r1', 'x'), rule('r2', 'y')] });
    const next = validateConfig({ auth: { anonymous: 'nobody', authorizers: [fn('B', 'b2'), fn('C', 'c')], defaultAuthorizer: 'C' }, rules: [rule('r2', 'y'), rule('r3', 'z')], limits: { maxConnections: 10 } });
    const changes = diffConfig(running, next);
    assert.deepEqual(changes.authorizers, { added: ['C'], removed: ['A'], changed: ['B'] });
    assert.deepEqual(changes.defaultAuthorizer, { from: null, to: 'C' });
    assert.deepEqual(changes.rules, { added: ['r3'], removed: ['r1'], changed: [] });
    assert.deepEqual(changes.limits, { maxConnections: { from: 100000, to: 10 } });
    assert.deepEqual(changes.needsRestart, []);
    assert.equal(isEmpty(changes), false);
  });

  it('settings that need a restart are named and kept', () => {
    const running = validateConfig({});
    const next = validateConfig({ listeners: { mqtt: { port: 1884 } }, limits: { maxPacketBytes: 4096, topicAliasMaximum: 2 }, log: { level: 'debug' } });
    const changes = diffConfig(running, next);
    assert.deepEqual(changes.needsRestart.sort(), ['limits.maxPacketBytes', 'limits.topicAliasMaximum', 'listeners.mqtt.port', 'log.level']);
    assert.equal(isEmpty(changes), true);
    const after = applyReloadable(running, next);
    assert.equal(after.limits.maxPacketBytes, running.limits.maxPacketBytes);
    assert.deepEqual(after.listeners, running.listeners);
    // Reported again on the next reload, until a restart.
    assert.deepEqual(diffConfig(after, next).needsRestart.sort(), changes.needsRestart.sort());
  });

  it('the first authorizer would close anonymous access on restart: reported, the mode kept', () => {
    const running = validateConfig({});
    const next = validateConfig({ auth: { authorizers: [fn('A', 'a')] } });
    assert.deepEqual(diffConfig(running, next).needsRestart, ['auth.anonymous']);
    const after = applyReloadable(running, next);
    assert.equal(after.auth.anonymous, 'loopback');
    // Back to the start file: nothing left that needs a restart.
    assert.deepEqual(diffConfig(after, running).needsRestart, []);
  });
});

describe('ConfigReloader when applying fails part-way', () => {
  it('answers a refusal instead of throwing (SIGHUP must not kill the process), and a later reload finishes the job', async () => {
    const { pino } = await import('pino');
    const { MemoryAuthorizerStore } = await import('../../src/store/authorizer-store.js');
    const { MemoryRuleStore } = await import('../../src/store/rule-store.js');
    const { RulesEngine } = await import('../../src/rules/engine.js');
    const { FunctionPool } = await import('../../src/functions/function-pool.js');
    const { ConfigReloader } = await import('../../src/api/config-reload.js');
    const { testBroker } = await import('../helpers/core.js');
    // The stores report commit failures asynchronously; a synchronous throw from put() stands for
    // any step of apply() failing after others took effect.
    class FailingOnce extends MemoryAuthorizerStore {
      failNext = true;
      override put(record: AuthorizerRecord): void {
        if (record.name === 'C' && this.failNext) {
          this.failNext = false;
          throw new Error('disk full');
        }
        super.put(record);
      }
    }
    const pool = new FunctionPool({ size: 1 });
    try {
      const running = validateConfig({ auth: { anonymous: 'nobody', authorizers: [fn('A', 'a')] } });
      const next = validateConfig({ auth: { anonymous: 'nobody', authorizers: [fn('A', 'a'), fn('B', 'b'), fn('C', 'c')] } });
      const authorizers = new FailingOnce();
      const { broker, counters } = testBroker();
      const logger = pino({ level: 'silent' });
      const rules = new RulesEngine({ broker, store: new MemoryRuleStore(), pool, counters, logger, accountId: '123456789012' });
      const reloader = new ConfigReloader({ load: () => next, running, limits: broker.limits, authorizers, baseDir: process.cwd(), rules, logger });
      const failed = reloader.reload();
      assert.equal(failed.ok, false);
      assert.match(failed.ok ? '' : failed.error, /failed part-way \(disk full\)/);
      const retried = reloader.reload();
      assert.equal(retried.ok, true);
      assert.deepEqual(authorizers.list().map((a) => a.name), ['B', 'C']);
    } finally {
      await pool.close();
    }
  });
});

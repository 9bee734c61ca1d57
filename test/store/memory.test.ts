import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/store/memory-store.js';
import { openStore } from '../../src/store/open.js';
import { runStoreContract } from './store-contract.js';

runStoreContract('memory', () => ({
  open: () => new MemoryStore(),
  cleanup() {},
}));

test('openStore({ type: "memory" }) gives a MemoryStore and touches no disk', async () => {
  const store = await openStore({ type: 'memory', path: '/nonexistent/never/created' });
  assert.ok(store instanceof MemoryStore);
  assert.equal(store.kind, 'memory');
  store.flush();
  store.close();
});

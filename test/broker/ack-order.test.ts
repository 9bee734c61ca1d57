import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckOrder } from '../../src/broker/ack-order.js';

test('acknowledgements leave in the order of their PUBLISHes, whichever becomes durable first [MQTT-4.6.0-2]', () => {
  const order = new AckOrder();
  const sent: number[] = [];
  assert.equal(order.idle, true);
  const ready = [1, 2, 3, 4].map((n) => order.add(() => sent.push(n)));
  assert.equal(order.idle, false);
  ready[1]!(); // 2 is durable (local only) before 1 (waiting for another node)
  ready[3]!();
  assert.deepEqual(sent, []);
  ready[0]!();
  assert.deepEqual(sent, [1, 2]);
  ready[2]!();
  assert.deepEqual(sent, [1, 2, 3, 4]);
  assert.equal(order.idle, true);
});

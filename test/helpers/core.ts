// A Broker in the test process on a ManualClock: the memory retained store, no session store, an
// allow-all authorization and a silent logger; limits are the config defaults unless overridden.
import { pino } from 'pino';
import { allowAll, type Authorization } from '../../src/auth/authorization.js';
import { Broker, type HistoryStamper } from '../../src/broker/broker.js';
import type { Will } from '../../src/broker/session.js';
import { validateConfig } from '../../src/config/load.js';
import type { Limits } from '../../src/config/schema.js';
import { Counters } from '../../src/metrics/counters.js';
import { ManualClock } from '../../src/shared/clock.js';
import type { Message, QoS } from '../../src/shared/message.js';
import { MemoryRetainedStore } from '../../src/store/retained-memory.js';

export interface TestBroker {
  broker: Broker;
  clock: ManualClock;
  counters: Counters;
}

export function testBroker(options: { limits?: Partial<Limits>; authorization?: Authorization; history?: HistoryStamper; clock?: ManualClock } = {}): TestBroker {
  const clock = options.clock ?? new ManualClock();
  const counters = new Counters();
  const limits = { ...validateConfig({}).limits, ...options.limits };
  const broker = new Broker({
    limits,
    retained: new MemoryRetainedStore(),
    counters,
    logger: pino({ level: 'silent' }),
    authorization: options.authorization ?? allowAll,
    sessionStore: null,
    afterCommit: (callback) => callback(),
    clock,
    history: options.history ?? null,
  });
  return { broker, clock, counters };
}

export function message(topic: string, fields: Partial<Omit<Message, 'topic'>> = {}): Message {
  return { topic, payload: Buffer.from('m'), qos: 0, retain: false, properties: undefined, expiresAt: 0, publisherId: undefined, ...fields };
}

export function will(topic: string, delaySeconds = 0, qos: QoS = 0): Will {
  return { message: message(topic, { qos, publisherId: 'owner' }), delaySeconds, expirySeconds: 0 };
}

export const subscribeOptions = { qos: 1 as QoS, noLocal: false, retainAsPublished: false, retainHandling: 0 as const, subscriptionId: undefined };

// Which member of a shared group gets a message (router.ts pickMember): only members allowed to
// receive the topic, connected ones first, round-robin; at QoS 1/2 an offline persistent member's
// queue; nobody when no permitted member can take it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClientPermissions } from '../../src/auth/authorization.js';
import { pickMember } from '../../src/broker/router.js';
import type { QoS } from '../../src/shared/message.js';
import { Session, type SharedGroup, type Subscription } from '../../src/broker/session.js';
import { FakeConnection } from '../helpers/fake-connection.js';

/** Receive allowed on topics under `prefix` only. */
const receiving = (prefix: string): ClientPermissions => ({
  canPublish: () => true,
  canSubscribe: () => true,
  canReceive: (topic) => topic.startsWith(prefix),
});
const everything = receiving('');
const nothing: ClientPermissions = { ...everything, canReceive: () => false };

interface MemberSpec {
  id: string;
  /** The connection's rights; omit for an offline member. */
  connected?: ClientPermissions;
  /** Offline: the last connection's rights (null: unknown, restored from the store). */
  last?: ClientPermissions | null;
  /** Session Expiry Interval; > 0 is persistent. */
  expiry?: number;
}

function group(...specs: MemberSpec[]): SharedGroup {
  const g: SharedGroup = { kind: 'shared', name: 'grp', filter: 'users/#', members: [], next: 0, connected: 0, live: false };
  for (const spec of specs) {
    const session = new Session(spec.id, 5, spec.expiry ?? 0, 10, null);
    if (spec.connected !== undefined) {
      new FakeConnection(spec.id, spec.connected).attach(session);
    } else {
      session.permissions = spec.last ?? null;
    }
    const sub: Subscription = {
      kind: 'direct',
      session,
      key: '$share/grp/users/#',
      filter: 'users/#',
      qos: 1,
      noLocal: false,
      retainAsPublished: false,
      retainHandling: 0,
      subscriptionId: undefined,
      group: g,
    };
    g.members.push(sub);
  }
  return g;
}

/** Member ids picked for `count` messages to `topic`. */
function picks(g: SharedGroup, count: number, topic = 'users/bob-s/x', qos: QoS = 1): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  for (let i = 0; i < count; i++) out.push(pickMember(g, { topic, qos })?.session.clientId);
  return out;
}

describe('pickMember', () => {
  test('connected members allowed to receive share the messages round-robin', () => {
    const g = group({ id: 'a', connected: everything }, { id: 'b', connected: everything }, { id: 'c', connected: everything });
    assert.deepEqual(picks(g, 6), ['a', 'b', 'c', 'a', 'b', 'c']);
  });

  test('a connected member that may not receive the topic is never picked (the issue: bob and alice)', () => {
    const g = group({ id: 'alice', connected: receiving('users/alice-s/') }, { id: 'bob', connected: receiving('users/bob-s/') });
    assert.deepEqual(picks(g, 10), Array(10).fill('bob'));
    assert.deepEqual(picks(g, 4, 'users/bob-s/x', 0), Array(4).fill('bob'));
    // Each topic is decided on its own.
    assert.deepEqual(picks(g, 2, 'users/alice-s/x'), ['alice', 'alice']);
  });

  test('no permitted connected member: QoS 1/2 go to a permitted persistent offline member, QoS 0 to nobody', () => {
    const g = group({ id: 'alice', connected: nothing }, { id: 'bob', last: everything, expiry: 60 });
    assert.deepEqual(picks(g, 3), ['bob', 'bob', 'bob']);
    assert.deepEqual(picks(g, 3, 'users/bob-s/x', 2), ['bob', 'bob', 'bob']);
    assert.deepEqual(picks(g, 2, 'users/bob-s/x', 0), [undefined, undefined]);
  });

  test('a connected permitted member is preferred to an offline one', () => {
    const g = group({ id: 'offline', last: everything, expiry: 60 }, { id: 'online', connected: everything });
    assert.deepEqual(picks(g, 4), Array(4).fill('online'));
  });

  test('an offline member whose last rights deny the topic is never picked; unknown rights come after known ones', () => {
    const denied = group({ id: 'denied', last: nothing, expiry: 60 });
    assert.deepEqual(picks(denied, 2), [undefined, undefined]);

    const mixed = group({ id: 'unknown', last: null, expiry: 60 }, { id: 'denied', last: nothing, expiry: 60 }, { id: 'known', last: everything, expiry: 60 });
    assert.deepEqual(picks(mixed, 3), ['known', 'known', 'known']);

    const restored = group({ id: 'denied', last: nothing, expiry: 60 }, { id: 'unknown', last: null, expiry: 60 });
    assert.deepEqual(picks(restored, 2), ['unknown', 'unknown']);
  });

  test('a non-persistent offline member never queues', () => {
    const g = group({ id: 'gone', last: everything, expiry: 0 });
    assert.deepEqual(picks(g, 2), [undefined, undefined]);
  });

  test('round-robin continues over the permitted offline members', () => {
    const g = group({ id: 'a', last: everything, expiry: 60 }, { id: 'x', last: nothing, expiry: 60 }, { id: 'b', last: everything, expiry: 60 });
    assert.deepEqual(picks(g, 4), ['a', 'b', 'a', 'b']);
  });
});

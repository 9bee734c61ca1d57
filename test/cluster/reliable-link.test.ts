import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InboundLink, OutboundLink, Ticket, type PendingFrame } from '../../src/cluster/reliable-link.js';
import { decodeMessageFrame, encodeMessageFrame } from '../../src/cluster/frames.js';

const frame = (n: number) => Buffer.from(`frame ${n}`);

describe('OutboundLink', () => {
  test("a publish's ticket is released once every frame it waits for is acknowledged or given up, not before; a given-up frame makes it a refusal", () => {
    const link = new OutboundLink(2);
    const released: boolean[] = [];
    const ticket = new Ticket((delivered) => released.push(delivered));
    const held: PendingFrame[] = [];
    for (let i = 0; i < 3; i++) {
      const p: PendingFrame = { seq: link.take(), frame: frame(i), sentAt: 0, waiters: null, settled: false };
      if (i < 2) {
        ticket.remaining++;
        p.waiters = [ticket];
      }
      held.push(p);
      link.holdFrame(p);
    }
    // The third frame pushed the first out of the full outbox: given up, its waiter settled.
    assert.equal(held[0]!.settled, true);
    assert.deepEqual(released, [], 'still waiting for frame 2');
    link.ack(1); // stale: nothing more
    assert.deepEqual(released, []);
    link.ack(2);
    assert.deepEqual(released, [false], 'released once, when its last frame was settled, as not delivered (frame 1 was given up)');
    link.ack(3);
    assert.equal(released.length, 1);
  });

  test('a ticket whose frames were all acknowledged is released as delivered', () => {
    const link = new OutboundLink(10);
    const released: boolean[] = [];
    const ticket = new Ticket((delivered) => released.push(delivered));
    for (let i = 0; i < 3; i++) {
      ticket.remaining++;
      link.holdFrame({ seq: link.take(), frame: frame(i), sentAt: 0, waiters: [ticket], settled: false });
    }
    link.ack(2);
    assert.deepEqual(released, []);
    link.ack(3);
    assert.deepEqual(released, [true]);
  });

  test("drain takes the unacknowledged frames, waiters and all (the receiver died: they go to its sessions' adopter)", () => {
    const link = new OutboundLink(100);
    const ticket = new Ticket(() => assert.fail('not released by draining'));
    for (let i = 0; i < 4; i++) link.holdFrame({ seq: link.take(), frame: frame(i), sentAt: 0, waiters: i === 3 ? [ticket] : null, settled: false });
    ticket.remaining = 1;
    link.ack(2);
    const drained = link.drain();
    assert.deepEqual(drained.map((d) => d.seq), [3, 4]);
    assert.equal(drained[1]!.waiters?.[0], ticket);
    assert.equal(link.unacked, 0);
  });

  test('holds frames until acknowledged cumulatively', () => {
    const link = new OutboundLink(100);
    for (let i = 0; i < 5; i++) link.hold(link.take(), frame(i), 0);
    assert.equal(link.unacked, 5);
    link.ack(3);
    assert.equal(link.unacked, 2);
    link.ack(2); // an old ack changes nothing
    assert.equal(link.unacked, 2);
  });

  test('re-sends every unacknowledged frame once the oldest waited long enough, bounded per call', () => {
    const link = new OutboundLink(100);
    for (let i = 0; i < 5; i++) link.hold(link.take(), frame(i), 1000);
    assert.deepEqual(link.due(1500, 1000, 10), []);
    const due = link.due(2000, 1000, 3);
    assert.deepEqual(due.map((d) => d.seq), [1, 2, 3]);
  });

  test('keeps at most `limit` frames and counts what it gave up', () => {
    const link = new OutboundLink(3);
    for (let i = 0; i < 5; i++) link.hold(link.take(), frame(i), 0);
    assert.equal(link.unacked, 3);
    assert.equal(link.lost, 2);
    assert.deepEqual(link.due(10, 0, 10).map((d) => d.seq), [3, 4, 5]);
  });

  test('keeps at most `byteLimit` bytes, giving up the oldest; a frame larger than the bound is held alone', () => {
    const kb = (n: number) => Buffer.alloc(1024, n);
    const link = new OutboundLink(1000, 4096);
    for (let i = 0; i < 4; i++) assert.equal(link.hold(link.take(), kb(i), 0), 0);
    assert.equal(link.heldBytes, 4096);
    assert.equal(link.hold(link.take(), kb(4), 0), 1, 'the fifth KiB gives up the first');
    assert.equal(link.heldBytes, 4096);
    assert.equal(link.lost, 1);
    assert.equal(link.lostToBytes, 1);
    assert.equal(link.gap, 1);
    // A 10 KiB frame: everything older goes, it stays.
    assert.equal(link.hold(link.take(), Buffer.alloc(10_240), 0), 4);
    assert.equal(link.unacked, 1);
    assert.equal(link.heldBytes, 10_240);
    assert.equal(link.lostToBytes, 5);
    // Acknowledged bytes are released.
    link.ack(6);
    assert.equal(link.heldBytes, 0);
    assert.equal(link.hold(link.take(), kb(7), 0), 0);
  });

  test('the count bound still applies under the byte bound, and is not counted as a byte drop', () => {
    const link = new OutboundLink(2, 1 << 20);
    for (let i = 0; i < 3; i++) link.hold(link.take(), frame(i), 0);
    assert.equal(link.lost, 1);
    assert.equal(link.lostToBytes, 0);
  });
});

describe('InboundLink', () => {
  test('delivers in order, drops duplicates, refuses gaps', () => {
    const link = new InboundLink();
    assert.equal(link.accept(1), 'deliver');
    assert.equal(link.accept(1), 'duplicate');
    assert.equal(link.accept(3), 'gap');
    assert.equal(link.accept(2), 'deliver');
    assert.equal(link.accept(3), 'deliver');
    assert.equal(link.delivered, 3);
  });

  test('acknowledges only past a run of ready frames, whatever order they become ready in', () => {
    const link = new InboundLink();
    const held = [1, 2, 3, 4].map((seq) => link.hold(seq));
    link.release(held[1]!); // 2 is committed, but 1 still waits for a node it passed a message on to
    link.release(held[2]!);
    assert.equal(link.acked, 0, 'an acknowledgement of 3 would say 1 is safe too');
    link.release(held[0]!);
    assert.equal(link.acked, 3);
    link.release(held[3]!);
    assert.equal(link.acked, 4);
    // Many at once, released in reverse: nothing until the first, then all.
    const more = Array.from({ length: 3000 }, (_, i) => link.hold(5 + i));
    for (let i = more.length - 1; i > 0; i--) link.release(more[i]!);
    assert.equal(link.acked, 4);
    link.release(more[0]!);
    assert.equal(link.acked, 3004);
  });
});

describe('recovery after the outbox overflowed', () => {
  /** One link pair over a "network" that is up or down; returns what the receiver delivered. */
  function pair(limit: number) {
    const out = new OutboundLink(limit);
    const inb = new InboundLink();
    const delivered: number[] = [];
    const send = (seq: number) => {
      const arrival = inb.accept(seq);
      if (arrival === 'deliver') delivered.push(seq);
      return arrival;
    };
    /** Publishes one frame: held, and sent when the network is up; the receiver acks at once. */
    const publish = (up: boolean) => {
      const seq = out.take();
      const dropped = out.hold(seq, frame(seq), 0);
      if (up) {
        send(seq);
        out.ack(inb.delivered);
      }
      return dropped;
    };
    return { out, inb, delivered, send, publish };
  }

  test('frames after an overflow are delivered once the receiver skips what was given up', () => {
    const { out, inb, delivered, send, publish } = pair(3);
    publish(true);
    publish(true);
    // Redis is down: frames 3..8 are held, not sent; the outbox keeps 3, so 3, 4 and 5 are given up.
    const dropped = [3, 4, 5, 6, 7, 8].map(() => publish(false));
    assert.deepEqual(dropped, [0, 0, 0, 1, 1, 1]);
    assert.equal(out.lost, 3);
    assert.equal(out.gap, 5, 'every frame up to 5 was acknowledged or given up');
    assert.equal(out.unacked, 3);

    // Redis is back. The frames still held, sent as they are, are gaps to the receiver: the link
    // is stuck (this was the bug: only a restart healed it).
    for (const f of out.due(10_000, 0, 100)) assert.equal(send(f.seq), 'gap');
    assert.deepEqual(delivered, [1, 2]);

    // The sender's skip: the receiver continues after 5 and reports the 3 frames it never got.
    assert.equal(inb.skip(out.gap), 3);
    for (const f of out.due(20_000, 0, 100)) send(f.seq);
    assert.deepEqual(delivered, [1, 2, 6, 7, 8]);
    assert.equal(out.ack(inb.delivered), 3, 'the acknowledgement past the gap closes it, with the count');
    assert.equal(out.gap, 0);
    assert.equal(out.unacked, 0);

    // And the link goes on as before.
    for (let i = 0; i < 5; i++) publish(true);
    assert.deepEqual(delivered, [1, 2, 6, 7, 8, 9, 10, 11, 12, 13]);
    assert.equal(out.lost, 3);
  });

  test('a repeated or stale skip changes nothing; an ack short of the gap keeps it open', () => {
    const { out, inb, delivered, send, publish } = pair(2);
    for (let i = 0; i < 5; i++) publish(false); // 1..3 given up, 4 and 5 held
    assert.equal(out.gap, 3);
    assert.equal(out.ack(2), 0, 'an ack below the gap does not close it');
    assert.equal(out.gap, 3);
    assert.equal(inb.skip(3), 3);
    assert.equal(inb.skip(3), 0, 'repeated (the sender resends it until acknowledged)');
    assert.equal(inb.skip(1), 0, 'stale');
    assert.equal(inb.skip(Number.NaN), 0);
    assert.equal(inb.delivered, 3);
    for (const f of out.due(1, 0, 100)) send(f.seq);
    assert.deepEqual(delivered, [4, 5]);
    // A frame that was given up and yet arrives late (sent before the overflow) is a duplicate.
    assert.equal(send(2), 'duplicate');
    assert.equal(out.ack(inb.delivered), 3);
  });

  test('another overflow before the receiver caught up moves the gap forward', () => {
    const { out, inb, delivered, send, publish } = pair(2);
    for (let i = 0; i < 4; i++) publish(false); // 1, 2 given up
    assert.equal(out.gap, 2);
    publish(false); // 3 given up too
    assert.equal(out.gap, 3);
    assert.equal(out.gapLost, 3);
    assert.equal(inb.skip(out.gap), 3);
    for (const f of out.due(1, 0, 100)) send(f.seq);
    assert.deepEqual(delivered, [4, 5]);
    assert.equal(out.ack(inb.delivered), 3);
  });
});

describe('message frames', () => {
  test('round-trip every field, binary payload and user-property order included', () => {
    const message = {
      topic: 'a/b',
      payload: Buffer.from([0, 255, 10, 13]),
      qos: 1 as const,
      retain: true,
      properties: { contentType: 'x', correlationData: Buffer.from([9]), userProperties: { z: '1', a: ['2', '3'] } },
      expiresAt: 123,
      publisherId: 'pub',
      receivedAt: 456,
      principal: 'me',
    };
    const back = decodeMessageFrame(encodeMessageFrame('node-1', 42, message, ['g\u0000a/#']));
    assert.equal(back.origin, 'node-1');
    assert.equal(back.seq, 42);
    assert.deepEqual(back.groups, ['g\u0000a/#']);
    assert.deepEqual(back.message, message);
    assert.deepEqual(Object.keys(back.message.properties!.userProperties!), ['z', 'a']);
    const best = decodeMessageFrame(encodeMessageFrame('n', 0, { ...message, properties: undefined, publisherId: undefined }, []));
    assert.equal(best.seq, 0);
    assert.equal(best.message.properties, undefined);
  });

  test('a cut-short frame is an error, not a crash', () => {
    const whole = encodeMessageFrame('n', 1, { topic: 't', payload: Buffer.from('p'), qos: 1, retain: false, properties: undefined, expiresAt: 0, publisherId: undefined }, []);
    assert.throws(() => decodeMessageFrame(whole.subarray(0, 20)));
  });
});

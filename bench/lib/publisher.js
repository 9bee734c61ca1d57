// What the generator sends: a burst (fan-out), a fixed-rate stream of timestamped probes
// (latency), and closed-loop publisher/subscriber pairs (throughput). Each is bounded in count
// and in time. Packets are built from one template; a batch is one socket write with one
// WebSocket frame per MQTT packet, as a browser's client would frame them.
import { publishTemplate, LATENCY_MARKER } from './mqtt-wire.js';
import { frameSize, writeFrame } from './ws-framing.js';

function unitSize(pool, tmpl) {
  return pool.ws ? frameSize(tmpl.bytes.length) : tmpl.bytes.length;
}

/** `k` copies of the template, packet identifiers from `firstId` (QoS 1) wrapping in 1..65535. */
function batchOf(pool, tmpl, k, firstId) {
  const len = tmpl.bytes.length;
  const unit = unitSize(pool, tmpl);
  const out = Buffer.allocUnsafe(unit * k);
  let id = firstId;
  for (let i = 0; i < k; i++) {
    if (tmpl.packetIdOffset >= 0) {
      tmpl.bytes[tmpl.packetIdOffset] = id >> 8;
      tmpl.bytes[tmpl.packetIdOffset + 1] = id & 0xff;
      id = id === 65535 ? 1 : id + 1;
    }
    if (pool.ws) writeFrame(out, i * unit, tmpl.bytes, 0, len);
    else tmpl.bytes.copy(out, i * unit);
  }
  return out;
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

function drained(socket, untilMs) {
  if (socket.writableLength === 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.off('drain', done);
      resolve(false);
    }, Math.max(0, untilMs - performance.now()));
    function done() {
      clearTimeout(timer);
      resolve(true);
    }
    socket.once('drain', done);
  });
}

/**
 * Publishes `count` messages on the pool's first connection as fast as the socket takes them.
 * QoS 1 keeps at most `window` unacknowledged. Resolves { sent, acked, t0Ns, writtenNs, doneNs }.
 */
export async function burst(pool, { topic, count, qos, window = 100, payloadSize = 64, batch = 32, timeoutMs = 60000 }) {
  const conn = pool.conns[0];
  const socket = conn.socket;
  const tmpl = publishTemplate(topic, payloadSize, qos);
  const deadline = performance.now() + timeoutMs;
  const t0Ns = process.hrtime.bigint();
  let sent = 0;
  if (qos === 0) {
    const full = batchOf(pool, tmpl, batch, 0);
    const unit = unitSize(pool, tmpl);
    while (sent < count && performance.now() < deadline) {
      const k = Math.min(batch, count - sent);
      const ok = socket.write(k === batch ? full : full.subarray(0, k * unit));
      sent += k;
      if (!ok) await drained(socket, deadline);
      else if ((sent / batch) % 8 === 0) await nextTurn();
    }
    const writtenNs = process.hrtime.bigint();
    await drained(socket, deadline);
    return { sent, acked: 0, t0Ns: String(t0Ns), writtenNs: String(writtenNs), doneNs: String(process.hrtime.bigint()) };
  }
  // QoS 1: a window of unacknowledged publishes, refilled from the PUBACK handler.
  let acked = 0;
  let inflight = 0;
  let nextId = 1;
  let writtenNs = 0n;
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      pool.onPubackHook = null;
      resolve({ sent, acked, t0Ns: String(t0Ns), writtenNs: String(writtenNs), doneNs: String(process.hrtime.bigint()) });
    };
    const refill = () => {
      const k = Math.min(window - inflight, count - sent);
      if (k <= 0) return;
      socket.write(batchOf(pool, tmpl, k, nextId));
      nextId = ((nextId - 1 + k) % 65535) + 1;
      sent += k;
      inflight += k;
      if (sent === count) writtenNs = process.hrtime.bigint();
    };
    const timer = setTimeout(finish, Math.max(0, deadline - performance.now()));
    pool.onPubackHook = () => {
      acked++;
      inflight--;
      if (acked >= count) return finish();
      if (inflight <= window - Math.min(batch, window >> 1)) refill();
    };
    refill();
  });
}

/**
 * `rate` probes per second for `durationMs`, each carrying process.hrtime.bigint() at the moment
 * it is written (CLOCK_MONOTONIC, the same clock in every process on the machine). Setting
 * `pool.abortPaced` stops it early (the parent does when the broker cannot keep up).
 */
export function paced(pool, { topic, rate, durationMs, payloadSize = 64 }) {
  const conn = pool.conns[0];
  const tmpl = publishTemplate(topic, payloadSize, 0);
  tmpl.bytes[tmpl.payloadOffset] = LATENCY_MARKER;
  const total = Math.floor((rate * durationMs) / 1000);
  const period = 1000 / rate;
  const t0 = performance.now();
  let n = 0;
  return new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - t0) / period) + 1);
      while (n < due) {
        tmpl.bytes.writeBigUInt64BE(process.hrtime.bigint(), tmpl.payloadOffset + 1);
        conn.send(tmpl.bytes);
        n++;
      }
      if (n >= total || pool.abortPaced) {
        pool.abortPaced = false;
        return resolve({ sent: n, aborted: n < total, lastSentNs: String(process.hrtime.bigint()) });
      }
      setTimeout(tick, Math.max(0, t0 + n * period - performance.now()));
    };
    tick();
  });
}

/**
 * Closed-loop throughput: publisher i publishes to the topic subscriber i alone subscribes to,
 * keeping at most `window` messages between them, refilled as the subscriber's reads arrive.
 * Counts deliveries in [warmup, warmup + duration]. A pair that makes no progress for three
 * seconds writes its in-flight messages off and starts again, so one drop cannot stall it; what is
 * lost is what never arrived once the run has drained (bounded wait).
 */
export function pairs(pubPool, subPool, { topicPrefix, window = 64, warmupMs = 1000, durationMs = 5000, payloadSize = 64, qos = 0 }) {
  const list = [];
  for (let i = 0; i < Math.min(pubPool.conns.length, subPool.conns.length); i++) {
    const tmpl = publishTemplate(`${topicPrefix}${i}`, payloadSize, qos);
    const batch = batchOf(pubPool, tmpl, window, 1);
    // QoS 1: where each copy's packet identifier sits in `batch` (the frame header comes first on
    // WebSocket), so each top-up can number its messages afresh.
    const idAt = qos ? tmpl.packetIdOffset + (unitSize(pubPool, tmpl) - tmpl.bytes.length) : -1;
    const pair = { pub: pubPool.conns[i], sub: subPool.conns[i], batch, unit: unitSize(pubPool, tmpl), idAt, nextId: 1, sent: 0, writtenOff: 0, seen: 0, seenAt: 0 };
    subPool.conns[i].pair = pair;
    list.push(pair);
  }
  let running = true;
  const topUp = (pair) => {
    if (!running) return;
    const inflight = pair.sent - pair.sub.received - pair.writtenOff;
    if (inflight > window >> 1) return;
    const k = window - inflight;
    if (pair.idAt < 0) pair.pub.socket.write(pair.batch.subarray(0, k * pair.unit));
    else {
      // A copy: a queued write must keep its own identifiers. Identifiers run on through
      // 1..65535, so none is reused while the broker may still hold it [MQTT-2.3.1-2].
      const out = Buffer.from(pair.batch.subarray(0, k * pair.unit));
      for (let j = 0; j < k; j++) {
        const at = j * pair.unit + pair.idAt;
        out[at] = pair.nextId >> 8;
        out[at + 1] = pair.nextId & 0xff;
        pair.nextId = pair.nextId === 65535 ? 1 : pair.nextId + 1;
      }
      pair.pub.socket.write(out);
    }
    pair.sent += k;
  };
  subPool.onPairRead = topUp;
  subPool.resetCounters();
  const total = () => list.reduce((n, p) => n + p.sent, 0);
  return new Promise((resolve) => {
    let startCount = 0;
    let startNs = 0n;
    const sweep = setInterval(() => {
      const now = performance.now();
      for (const pair of list) {
        if (pair.sub.received !== pair.seen) {
          pair.seen = pair.sub.received;
          pair.seenAt = now;
        } else if (running && now - pair.seenAt > 3000 && pair.sent - pair.sub.received - pair.writtenOff > 0) {
          pair.writtenOff = pair.sent - pair.sub.received;
          pair.seenAt = now;
          topUp(pair);
        }
      }
    }, 250);
    const t = performance.now();
    for (const pair of list) {
      pair.seenAt = t;
      topUp(pair);
    }
    setTimeout(() => {
      startCount = subPool.received;
      startNs = process.hrtime.bigint();
    }, warmupMs);
    setTimeout(() => {
      const endCount = subPool.received;
      const endNs = process.hrtime.bigint();
      running = false;
      const sent = total();
      const drainUntil = performance.now() + 3000;
      const finish = () => {
        if (subPool.received < sent && performance.now() < drainUntil) return void setTimeout(finish, 50);
        clearInterval(sweep);
        for (const c of subPool.conns) c.pair = null;
        subPool.onPairRead = null;
        resolve({ delivered: endCount - startCount, elapsedNs: String(endNs - startNs), sent, received: subPool.received, lost: Math.max(0, sent - subPool.received) });
      };
      finish();
    }, warmupMs + durationMs);
  });
}

// Many MQTT connections in one process, over raw TCP or the minimal WebSocket client, for the
// load generator. Every socket reads into one shared buffer (net `onread`): a read is consumed
// before the next one starts, and only a packet split across reads is copied. Acknowledgements
// produced by one read leave in one write. No per-connection closures: socket listeners are
// module-level functions that find their connection through a Symbol (as ws does).
import net from 'node:net';
import { percentiles } from './stats.js';
import {
  CONNACK, PUBACK, SUBACK, LATENCY_MARKER,
  encodeConnect, encodeSubscribe, readPackets,
} from './mqtt-wire.js';
import {
  upgradeRequest, readUpgradeResponse, readFrames, frame, frameSize, writeFrame, controlFrame,
  OP_CLOSE, OP_PING, OP_PONG,
} from './ws-framing.js';

const kConn = Symbol('bench.conn');

function handshakePercentiles(samples) {
  const p = percentiles(samples, [0.5, 0.99]);
  return { handshakeP50Ms: p.p50, handshakeP99Ms: p.p99 };
}
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

const S_TCP = 0;
const S_UPGRADE = 1;
const S_CONNECT = 2;
const S_SUBSCRIBE = 3;
const S_OPEN = 4;
const S_CLOSED = 5;

class Conn {
  constructor(pool, index) {
    this.pool = pool;
    this.index = index;
    this.socket = null;
    this.state = S_TCP;
    this.startedAt = 0;
    this.pending = null; // MQTT bytes of a packet split across reads
    this.wsPending = null; // WebSocket header split across reads
    this.wsRemaining = 0;
    this.wsOpcode = 0;
    this.wsControl = null;
    this.httpBuf = null;
    this.acks = null; // packet ids to PUBACK after this read
    this.received = 0;
    this.pair = null; // throughput mode: { pub, window, sent, template, ... }
    this.carry = null; // SSE: the last bytes of the previous read; JSON: a frame's cut first bytes
    this.frameStart = true; // JSON: the next data piece begins a frame
  }

  /** Sends one MQTT packet (framed for WebSocket). */
  send(bytes) {
    this.socket.write(this.pool.ws ? frame(bytes) : bytes);
  }

  onPacket(type, flags, buf, start, end) {
    const pool = this.pool;
    if (type === PUBACK) {
      pool.onPuback(this, (buf[start] << 8) | buf[start + 1]);
    } else if (type === CONNACK) {
      if (this.state !== S_CONNECT) return;
      const code = buf[start + 1];
      if (code !== 0) return pool.settle(this, new Error(`CONNACK return code ${code}`));
      if (pool.subscribe !== null) {
        this.state = S_SUBSCRIBE;
        this.send(pool.subscribeBytes ?? pool.subscribePacket(this));
      } else {
        pool.settle(this, null);
      }
    } else if (type === SUBACK) {
      if (this.state !== S_SUBSCRIBE) return;
      for (let i = start + 2; i < end; i++) {
        if (buf[i] === 0x80) return pool.settle(this, new Error('SUBACK refused a filter'));
      }
      pool.settle(this, null);
    }
  }
}

function onSocketConnect() {
  const conn = this[kConn];
  const pool = conn.pool;
  if (pool.web !== null) {
    conn.state = S_UPGRADE;
    const p = pool.webPath(conn);
    this.write(pool.web === 'json' ? upgradeRequest(pool.host, pool.port, p, null) : `GET ${p} HTTP/1.1\r\nHost: ${pool.host}:${pool.port}\r\nAccept: text/event-stream\r\n\r\n`);
  } else if (pool.ws) {
    conn.state = S_UPGRADE;
    this.write(upgradeRequest(pool.host, pool.port, pool.path));
  } else {
    conn.state = S_CONNECT;
    this.write(pool.connectPacket(conn));
  }
}

function onSocketRead(nread, buf) {
  const conn = this[kConn];
  try {
    conn.pool.onRead(conn, buf, nread);
  } catch (err) {
    conn.pool.fail(conn, err);
  }
  return true;
}

function onSocketError(err) {
  const conn = this[kConn];
  conn.error = err;
}

function onSocketClose() {
  const conn = this[kConn];
  const pool = conn.pool;
  if (conn.state === S_OPEN && !pool.closing) pool.unexpectedCloses++;
  if (conn.state !== S_OPEN && conn.state !== S_CLOSED) pool.settle(conn, conn.error ?? new Error('closed during handshake'));
  conn.state = S_CLOSED;
}

function onWsData(conn, buf, start, end) {
  readPackets(conn, conn.pool, buf, start, end);
}

// JSON over WebSocket (/ws) and Server-Sent Events (/events), issue 15. The generator does not
// parse what it receives: a delivery is counted by finding MESSAGE in the byte stream (a /ws text
// frame and an SSE `data:` line both start with it), with the last bytes of a read kept so that a
// marker cut across two reads is found too. The handshake (until `connected` or `subscribed`) is
// small and read as text.
const MESSAGE = Buffer.from('{"type":"message"');
const CARRY = MESSAGE.length - 1;

/**
 * /ws: one delivery is one text frame, so only the first bytes of each frame are compared (no
 * allocation unless a read cuts those bytes). readFrames hands over a frame's payload in pieces;
 * `conn.wsRemaining` is still the payload left including this piece.
 */
function onJsonData(conn, buf, start, end) {
  if (conn.state !== S_OPEN) return webHandshake(conn, buf.toString('utf8', start, end));
  const atStart = conn.frameStart;
  conn.frameStart = end - start === conn.wsRemaining;
  if (conn.carry !== null) {
    // The previous piece began the frame but held fewer bytes than the marker.
    const need = MESSAGE.length - conn.carry.length;
    const head = Buffer.concat([conn.carry, buf.subarray(start, start + Math.min(need, end - start))]);
    conn.carry = head.length < MESSAGE.length && !conn.frameStart ? head : null;
    if (conn.carry === null && head.length === MESSAGE.length && head.equals(MESSAGE)) countOne(conn);
    return;
  }
  if (!atStart) return;
  if (end - start >= MESSAGE.length) {
    if (buf.compare(MESSAGE, 0, MESSAGE.length, start, start + MESSAGE.length) === 0) countOne(conn);
  } else if (!conn.frameStart) conn.carry = Buffer.from(buf.subarray(start, end));
}

function countOne(conn) {
  conn.pool.received++;
  conn.received++;
}

/** SSE: events arrive many to a read; the marker is searched for, across read boundaries too. */
function onWebData(conn, buf, start, end) {
  if (conn.state !== S_OPEN) return webHandshake(conn, buf.toString('utf8', start, end));
  const pool = conn.pool;
  let n = 0;
  const view = buf.subarray(start, end);
  let tail = view;
  if (conn.carry !== null) {
    // The carry (< marker) and these first bytes (< marker) cannot hold it alone: a match here
    // spans the cut, and is not found again below.
    if (Buffer.concat([conn.carry, view.subarray(0, CARRY)]).indexOf(MESSAGE) >= 0) n++;
    if (view.length < CARRY) tail = Buffer.concat([conn.carry, view]);
    conn.carry = null;
  }
  for (let i = view.indexOf(MESSAGE); i >= 0; i = view.indexOf(MESSAGE, i + MESSAGE.length)) n++;
  if (tail.length > 0) conn.carry = Buffer.from(tail.subarray(Math.max(0, tail.length - CARRY)));
  pool.received += n;
  conn.received += n;
}

function webHandshake(conn, text) {
  const pool = conn.pool;
  const seen = (conn.httpBuf ?? '') + text;
  conn.httpBuf = seen;
  if (seen.includes('"type":"error"') || seen.includes('"ok":false')) return pool.settle(conn, new Error(`refused: ${seen.slice(0, 200)}`));
  const ready = pool.subscribe === null ? (pool.web === 'json' ? '"type":"connected"' : 'event: connected') : (pool.web === 'json' ? '"type":"subscribed"' : 'event: subscribed');
  if (seen.includes(ready)) {
    conn.httpBuf = null;
    pool.settle(conn, null);
    conn.frameStart = true;
  } else if (seen.length > 16384) pool.settle(conn, new Error('no answer to the handshake'));
}

function onWsControl(conn, opcode, payload) {
  if (opcode === OP_PING) conn.socket.write(controlFrame(OP_PONG, payload));
  else if (opcode === OP_CLOSE) conn.socket.destroy();
}

export class Pool {
  /**
   * target: { host, port, transport: 'tcp' | 'ws', path }.
   */
  constructor(target) {
    this.host = target.host;
    this.port = target.port;
    // 'json' (/ws) and 'sse' (/events) subscribe only: they never publish from the generator.
    this.web = target.transport === 'json' || target.transport === 'sse' ? target.transport : null;
    this.ws = target.transport === 'ws' || target.transport === 'json';
    this.path = target.path ?? '/mqtt';
    this.conns = [];
    this.subscribe = null;
    this.subscribeBytes = null;
    this.connectOptions = null;
    this.closing = false;
    this.unexpectedCloses = 0;
    this.resetCounters();
    // open() bookkeeping
    this.opening = null;
    // publisher bookkeeping (QoS 1 bursts)
    this.onPubackHook = null;
    // throughput mode: called after a read delivered messages to a paired subscriber
    this.onPairRead = null;
    // latency mode: set to stop a paced run early
    this.abortPaced = false;
  }

  resetCounters() {
    this.received = 0;
    this.lastRecvNs = 0n;
    this.firstRecvNs = 0n;
    for (const c of this.conns) c.received = 0;
  }

  /** Starts recording one latency sample per probe delivery, up to `capacity` samples. */
  startLatency(capacity) {
    this.latency = new Float64Array(capacity);
    this.latencyCount = 0;
    this.latencyDropped = 0;
  }

  stopLatency() {
    const samples = this.latency.subarray(0, this.latencyCount);
    this.latency = null;
    return samples;
  }

  subscribePacket(conn) {
    return encodeSubscribe(1, this.subscribe.map((f) => ({ topic: f.topic.replaceAll('{i}', String(conn.index)), qos: f.qos })));
  }

  /** The request path of a /ws or /events connection: its filters (and client ID) in the query. */
  webPath(conn) {
    const topics = (this.subscribe ?? []).map((f) => f.topic.replaceAll('{i}', String(conn.index)));
    const id = `${this.connectOptions.clientIdPrefix}${conn.index}`;
    if (this.web === 'json') return `/ws?clientId=${encodeURIComponent(id)}${topics.map((t) => `&subscribe=${encodeURIComponent(t)}`).join('')}`;
    return `/events?clientId=${encodeURIComponent(id)}${topics.map((t) => `&topic=${encodeURIComponent(t)}`).join('')}`;
  }

  connectPacket(conn) {
    const o = this.connectOptions;
    let username = o.username;
    // A distinct token per connection defeats an authorizer's result cache (every CONNECT runs it).
    if (o.uniqueToken) username = `bench?token=${o.clientIdPrefix}${conn.index}`;
    return encodeConnect({ clientId: `${o.clientIdPrefix}${conn.index}`, username, clean: o.clean, keepalive: o.keepalive });
  }

  /**
   * Opens `count` connections with at most `concurrency` handshakes in flight; each is done at
   * CONNACK, or at SUBACK when `subscribe` is given. Bounded by `timeoutMs` overall and
   * `handshakeTimeoutMs` per connection. Resolves { opened, failed, elapsedMs, errors }.
   */
  open({ count, concurrency, clientIdPrefix, clean = true, keepalive = 900, subscribe = null, username, uniqueToken = false, timeoutMs, handshakeTimeoutMs = 15000, localAddresses = null }) {
    this.connectOptions = { clientIdPrefix, clean, keepalive, username, uniqueToken };
    // `{i}` in a filter is replaced by the connection's index (one topic per subscriber).
    this.subscribe = subscribe && subscribe.length ? subscribe : null;
    this.subscribeBytes = this.subscribe && !this.subscribe.some((f) => f.topic.includes('{i}')) ? encodeSubscribe(1, this.subscribe) : null;
    const startedAt = performance.now();
    return new Promise((resolve) => {
      const op = {
        count, concurrency, started: 0, active: 0, opened: 0, failed: 0, errors: [], resolve,
        startedAt, deadline: startedAt + timeoutMs, handshakeTimeoutMs, localAddresses, sweep: null, lastDoneAt: startedAt,
        // Milliseconds from TCP connect() to CONNACK (or SUBACK) of each successful handshake.
        handshakeMs: new Float64Array(count), handshakes: 0,
      };
      this.opening = op;
      op.sweep = setInterval(() => this.sweepHandshakes(), 250);
      this.launch();
    });
  }

  launch() {
    const op = this.opening;
    while (op.active < op.concurrency && op.started < op.count) {
      if (performance.now() > op.deadline) break;
      const conn = new Conn(this, this.conns.length);
      this.conns.push(conn);
      op.started++;
      op.active++;
      conn.startedAt = performance.now();
      const options = { host: this.host, port: this.port, onread: { buffer: READ_BUFFER, callback: onSocketRead } };
      // Spread sources over 127.0.0.x so repeated storms never run short of ephemeral ports.
      if (op.localAddresses) options.localAddress = op.localAddresses[conn.index % op.localAddresses.length];
      const socket = net.connect(options);
      socket[kConn] = conn;
      conn.socket = socket;
      socket.setNoDelay(true);
      socket.on('connect', onSocketConnect);
      socket.on('error', onSocketError);
      socket.on('close', onSocketClose);
    }
    this.maybeFinish();
  }

  sweepHandshakes() {
    const op = this.opening;
    if (op === null) return;
    const now = performance.now();
    for (let i = this.conns.length - 1; i >= 0 && i >= this.conns.length - op.concurrency * 2; i--) {
      const c = this.conns[i];
      if (c.state < S_OPEN && now - c.startedAt > op.handshakeTimeoutMs) this.fail(c, new Error('handshake timed out'));
    }
    if (now > op.deadline) {
      for (const c of this.conns) if (c.state < S_OPEN) this.fail(c, new Error('open() deadline passed'));
      this.launch();
    }
  }

  fail(conn, err) {
    if (conn.state < S_OPEN) this.settle(conn, err);
    else if (conn.state === S_OPEN) {
      this.unexpectedCloses++;
      if (this.lastError === undefined) this.lastError = String(err.message ?? err);
    }
    conn.state = S_CLOSED;
    conn.socket.destroy();
  }

  /** A handshake ended: `err` null for success. */
  settle(conn, err) {
    const op = this.opening;
    if (conn.state === S_OPEN || conn.state === S_CLOSED || op === null) return;
    op.active--;
    if (err === null) {
      conn.state = S_OPEN;
      op.opened++;
      op.lastDoneAt = performance.now();
      if (op.handshakes < op.handshakeMs.length) op.handshakeMs[op.handshakes++] = op.lastDoneAt - conn.startedAt;
    } else {
      conn.state = S_CLOSED;
      op.failed++;
      if (op.errors.length < 5) op.errors.push(String(err.message ?? err));
      conn.socket.destroy();
    }
    this.launch();
  }

  maybeFinish() {
    const op = this.opening;
    if (op === null || op.active > 0) return;
    if (op.started < op.count && performance.now() <= op.deadline) return;
    clearInterval(op.sweep);
    this.opening = null;
    op.failed += op.count - op.started;
    op.resolve({
      opened: op.opened,
      failed: op.failed,
      elapsedMs: op.lastDoneAt - op.startedAt,
      errors: op.errors,
      ...handshakePercentiles(op.handshakeMs.subarray(0, op.handshakes)),
    });
  }

  onRead(conn, buf, nread) {
    const before = this.received;
    if (this.web !== null) {
      this.onWebRead(conn, buf, nread);
    } else if (conn.state === S_UPGRADE) {
      const prev = conn.httpBuf;
      const bytes = prev === null ? Buffer.from(buf.subarray(0, nread)) : Buffer.concat([prev, buf.subarray(0, nread)]);
      const at = readUpgradeResponse(bytes);
      if (at === -1) {
        conn.httpBuf = bytes;
        return;
      }
      conn.httpBuf = null;
      conn.state = S_CONNECT;
      conn.socket.write(frame(this.connectPacket(conn)));
      if (at < bytes.length) readFrames(conn, bytes, at, bytes.length, onWsData, onWsControl);
    } else if (this.ws) {
      if (this.latency) this.nowNs = process.hrtime.bigint();
      readFrames(conn, buf, 0, nread, onWsData, onWsControl);
    } else {
      if (this.latency) this.nowNs = process.hrtime.bigint();
      readPackets(conn, this, buf, 0, nread);
    }
    if (conn.acks !== null) this.flushAcks(conn);
    if (this.received !== before) {
      const now = process.hrtime.bigint();
      if (this.firstRecvNs === 0n) this.firstRecvNs = now;
      this.lastRecvNs = now;
      if (conn.pair !== null) this.onPairRead(conn.pair);
    }
  }

  onWebRead(conn, buf, nread) {
    if (conn.state === S_UPGRADE) {
      const prev = conn.wsHead ?? null;
      const bytes = prev === null ? Buffer.from(buf.subarray(0, nread)) : Buffer.concat([prev, buf.subarray(0, nread)]);
      let at;
      if (this.web === 'json') at = readUpgradeResponse(bytes);
      else {
        at = bytes.indexOf('\r\n\r\n');
        if (at >= 0) {
          const status = bytes.toString('latin1', 0, Math.min(at, 64)).split('\r\n')[0];
          if (!/^HTTP\/1\.1 200/.test(status)) throw new Error(`/events refused: ${status}`);
          at += 4;
        } else if (bytes.length > 8192) throw new Error('response head too long');
      }
      if (at === -1) {
        conn.wsHead = bytes;
        return;
      }
      conn.wsHead = null;
      conn.state = S_CONNECT;
      if (at < bytes.length) this.onWebBytes(conn, bytes, at, bytes.length);
      return;
    }
    this.onWebBytes(conn, buf, 0, nread);
  }

  onWebBytes(conn, buf, start, end) {
    // SSE's chunked transfer coding is not undone: chunk-size lines never contain the marker, and
    // the server writes whole events per chunk.
    if (this.web === 'json') readFrames(conn, buf, start, end, onJsonData, onWsControl);
    else onWebData(conn, buf, start, end);
  }

  /** PUBLISH: count it, queue its PUBACK for QoS 1, time it if it is a latency probe. */
  onPublish(conn, buf, header, start, end) {
    this.received++;
    conn.received++;
    let p = start + 2 + ((buf[start] << 8) | buf[start + 1]);
    if (header & 0x06) {
      const id = (buf[p] << 8) | buf[p + 1];
      p += 2;
      if (conn.acks === null) conn.acks = [id];
      else conn.acks.push(id);
    }
    if (this.latency !== null && p < end && buf[p] === LATENCY_MARKER) {
      if (this.latencyCount < this.latency.length) {
        this.latency[this.latencyCount++] = Number(this.nowNs - buf.readBigUInt64BE(p + 1)) / 1e6;
      } else {
        this.latencyDropped++;
      }
    }
  }

  flushAcks(conn) {
    const ids = conn.acks;
    conn.acks = null;
    const unit = this.ws ? frameSize(4) : 4;
    const out = Buffer.allocUnsafe(unit * ids.length);
    const ack = Buffer.from([0x40, 0x02, 0, 0]);
    let off = 0;
    for (let i = 0; i < ids.length; i++) {
      ack[2] = ids[i] >> 8;
      ack[3] = ids[i] & 0xff;
      if (this.ws) off = writeFrame(out, off, ack);
      else {
        ack.copy(out, off);
        off += 4;
      }
    }
    conn.socket.write(out);
  }

  onPuback(conn, packetId) {
    if (this.onPubackHook !== null) this.onPubackHook(conn, packetId);
  }

  stats(perConn = false) {
    const s = {
      connections: this.conns.filter((c) => c.state === S_OPEN).length,
      received: this.received,
      firstRecvNs: String(this.firstRecvNs),
      lastRecvNs: String(this.lastRecvNs),
      unexpectedCloses: this.unexpectedCloses,
    };
    if (perConn) {
      let min = Infinity;
      let max = 0;
      for (const c of this.conns) {
        if (c.state !== S_OPEN) continue;
        if (c.received < min) min = c.received;
        if (c.received > max) max = c.received;
      }
      s.minPerConn = min === Infinity ? 0 : min;
      s.maxPerConn = max;
    }
    return s;
  }

  /** Drops every connection with a TCP reset: no TIME_WAIT left behind for the next storm. */
  close() {
    this.closing = true;
    for (const c of this.conns) {
      if (c.state !== S_CLOSED) {
        c.state = S_CLOSED;
        if (typeof c.socket.resetAndDestroy === 'function' && c.socket.readyState === 'open') c.socket.resetAndDestroy();
        else c.socket.destroy();
      }
    }
    this.conns = [];
    this.closing = false;
  }
}

export { S_OPEN };

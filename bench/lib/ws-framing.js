// The least WebSocket client that MQTT over WebSocket needs (RFC 6455): an HTTP/1.1 upgrade
// offering the `mqtt` subprotocol [MQTT-6.0.0-3], masked binary frames out, and a streaming frame
// reader that hands data-frame payload slices straight to the MQTT reader without reassembling
// messages (an MQTT packet may span frames and a frame may hold several packets [MQTT-6.0.0-2]).
import { randomBytes } from 'node:crypto';

/** `protocol` null offers no subprotocol (Switchboard's JSON /ws takes none). */
export function upgradeRequest(host, port, path, protocol = 'mqtt') {
  const key = randomBytes(16).toString('base64');
  return Buffer.from(
    `GET ${path} HTTP/1.1\r\n` +
      `Host: ${host}:${port}\r\n` +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${key}\r\n` +
      'Sec-WebSocket-Version: 13\r\n' +
      (protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : '') +
      '\r\n',
  );
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * Reads the upgrade response from `buf` (the bytes so far). Returns -1 while incomplete, throws on
 * anything but 101, else the offset just past the headers (frames may follow in the same read).
 */
export function readUpgradeResponse(buf) {
  const at = buf.indexOf(CRLFCRLF);
  if (at === -1) {
    if (buf.length > 8192) throw new Error('upgrade response too long');
    return -1;
  }
  const statusLine = buf.toString('latin1', 0, Math.min(at, 64));
  if (!/^HTTP\/1\.1 101/.test(statusLine)) throw new Error(`upgrade refused: ${statusLine.split('\r\n')[0]}`);
  return at + 4;
}

/**
 * Frames `payload` as one masked binary frame. Masking is mandatory for clients (RFC 6455 5.3);
 * the key is all zeros, which leaves the payload bytes unchanged and costs no XOR. Servers may not
 * reject it (the key's unpredictability protects proxies, not servers).
 */
export function frameSize(payloadLength) {
  return (payloadLength < 126 ? 2 : payloadLength < 65536 ? 4 : 10) + 4 + payloadLength;
}

export function writeFrame(out, off, payload, payloadStart = 0, payloadEnd = payload.length) {
  const n = payloadEnd - payloadStart;
  out[off++] = 0x82;
  if (n < 126) {
    out[off++] = 0x80 | n;
  } else if (n < 65536) {
    out[off++] = 0x80 | 126;
    out.writeUInt16BE(n, off);
    off += 2;
  } else {
    out[off++] = 0x80 | 127;
    out.writeUInt32BE(0, off);
    out.writeUInt32BE(n, off + 4);
    off += 8;
  }
  out.writeUInt32BE(0, off);
  off += 4;
  payload.copy(out, off, payloadStart, payloadEnd);
  return off + n;
}

export function frame(payload) {
  const out = Buffer.allocUnsafe(frameSize(payload.length));
  writeFrame(out, 0, payload);
  return out;
}

/** A control frame (pong, close) with a masked payload of at most 125 bytes. */
export function controlFrame(opcode, payload) {
  const out = Buffer.allocUnsafe(6 + payload.length);
  out[0] = 0x80 | opcode;
  out[1] = 0x80 | payload.length;
  out.writeUInt32BE(0, 2);
  payload.copy(out, 6);
  return out;
}

export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/**
 * Streaming frame reader. `state` carries wsPending (a copied header fragment), wsRemaining (payload
 * bytes left in the current frame), wsOpcode and wsControl (a control frame's payload being
 * gathered). Data-frame payload goes to `onData(state, buf, start, end)`; a complete control frame
 * to `onControl(state, opcode, payload)`. Server frames are unmasked [RFC 6455 5.1].
 */
export function readFrames(state, chunk, start, end, onData, onControl) {
  let buf = chunk;
  let i = start;
  if (state.wsPending !== null) {
    const p = state.wsPending;
    buf = Buffer.allocUnsafe(p.length + (end - start));
    p.copy(buf, 0);
    chunk.copy(buf, p.length, start, end);
    state.wsPending = null;
    i = 0;
    end = buf.length;
  }
  while (i < end) {
    if (state.wsRemaining > 0) {
      const n = Math.min(state.wsRemaining, end - i);
      if (state.wsOpcode >= 0x8) state.wsControl.push(Buffer.from(buf.subarray(i, i + n)));
      else onData(state, buf, i, i + n);
      i += n;
      state.wsRemaining -= n;
      if (state.wsRemaining === 0 && state.wsOpcode >= 0x8) finishControl(state, onControl);
      continue;
    }
    if (end - i < 2) break;
    const b0 = buf[i];
    const b1 = buf[i + 1];
    if (b1 & 0x80) throw new Error('server frames must not be masked');
    let len = b1 & 0x7f;
    let h = 2;
    if (len === 126) {
      if (end - i < 4) break;
      len = buf.readUInt16BE(i + 2);
      h = 4;
    } else if (len === 127) {
      if (end - i < 10) break;
      len = buf.readUInt32BE(i + 2) * 4294967296 + buf.readUInt32BE(i + 6);
      h = 10;
    }
    i += h;
    state.wsOpcode = b0 & 0x0f;
    state.wsRemaining = len;
    if (state.wsOpcode >= 0x8) {
      state.wsControl = [];
      if (len === 0) finishControl(state, onControl);
    }
  }
  if (i < end) {
    const tail = Buffer.allocUnsafe(end - i);
    buf.copy(tail, 0, i, end);
    state.wsPending = tail;
  }
}

function finishControl(state, onControl) {
  const payload = Buffer.concat(state.wsControl);
  state.wsControl = null;
  onControl(state, state.wsOpcode, payload);
}

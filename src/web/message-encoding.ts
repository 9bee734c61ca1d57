// How a message looks to a JSON or SSE client, encoded once per broadcast (src/broker/broadcast.ts)
// and shared by every such subscriber: one Buffer per RETAIN flag for JSON over WebSocket, and the
// same body wrapped as an SSE event. No per-subscriber JSON.stringify.
//
//   {"type":"message","topic":"a/b","payload":{"t":21},"encoding":"json","retain":true,
//    "contentType":"application/json","responseTopic":"r","correlationData":"<base64>",
//    "userProperties":{"k":"v"}}
// payload: a JSON document arrives as JSON ("encoding":"json"), other UTF-8 text as a string
// ("text"), anything else as base64 ("base64"). The body is one line (SSE needs that: a JSON
// payload written over several lines is re-serialised once).
import type { EncodingKey } from '../broker/broadcast.js';
import type { Message } from '../shared/message.js';

export class MessageEncoder {
  private readonly message: Message;
  private readonly payload: string;
  private live: Buffer | null = null;
  private retained: Buffer | null = null;
  private sseLive: Buffer | null = null;
  private sseRetained: Buffer | null = null;

  constructor(message: Message) {
    this.message = message;
    this.payload = payloadField(message.payload);
  }

  /** The JSON object's text for a delivery with this RETAIN flag. */
  json(retain: boolean): Buffer {
    if (retain) return (this.retained ??= this.encode(true));
    return (this.live ??= this.encode(false));
  }

  /** The same as one Server-Sent Event (`data:` line, blank line). */
  sse(retain: boolean): Buffer {
    if (retain) return (this.sseRetained ??= sseEvent(this.json(true)));
    return (this.sseLive ??= sseEvent(this.json(false)));
  }

  private encode(retain: boolean): Buffer {
    const m = this.message;
    const p = m.properties;
    let text = '{"type":"message","topic":' + JSON.stringify(m.topic) + this.payload;
    if (retain) text += ',"retain":true';
    if (p !== undefined) {
      if (p.contentType !== undefined) text += ',"contentType":' + JSON.stringify(p.contentType);
      if (p.responseTopic !== undefined) text += ',"responseTopic":' + JSON.stringify(p.responseTopic);
      if (p.correlationData !== undefined) text += ',"correlationData":"' + p.correlationData.toString('base64') + '"';
      if (p.userProperties !== undefined) text += ',"userProperties":' + JSON.stringify(p.userProperties);
    }
    return Buffer.from(text + '}', 'utf8');
  }
}

/** `,"payload":…,"encoding":…` for these bytes. */
function payloadField(payload: Buffer): string {
  if (payload.length === 0) return ',"payload":"","encoding":"text"';
  const text = payload.toString('utf8');
  // Not valid UTF-8 (the decoder replaced something): bytes, in base64.
  if (!Buffer.from(text, 'utf8').equals(payload)) return ',"payload":"' + payload.toString('base64') + '","encoding":"base64"';
  if (looksLikeJson(text)) {
    try {
      const value: unknown = JSON.parse(text);
      // Embedded as sent when it is one line; otherwise re-serialised once (SSE data is one line).
      const embedded = text.includes('\n') || text.includes('\r') ? JSON.stringify(value) : text.trim();
      return ',"payload":' + embedded + ',"encoding":"json"';
    } catch {
      // Not JSON after all: text.
    }
  }
  return ',"payload":' + JSON.stringify(text) + ',"encoding":"text"';
}

/** Objects and arrays only: `42` or `true` as a payload are more likely text than JSON documents. */
function looksLikeJson(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    return c === 0x7b /* { */ || c === 0x5b /* [ */;
  }
  return false;
}

function sseEvent(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(6 + body.length + 2);
  out.write('data: ', 0, 'latin1');
  body.copy(out, 6);
  out[out.length - 2] = 0x0a;
  out[out.length - 1] = 0x0a;
  return out;
}

/** The JSON and SSE front-ends' key into a Broadcast. */
export const WEB_ENCODING: EncodingKey<MessageEncoder> = { create: (message) => new MessageEncoder(message) };

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
//
// A message kept in history carries its id ("id" in JSON, an `id:` line in SSE): the client's
// cursor after it (docs/history.md). On one node, and for every client that has heard from one
// origin only, that is the message's own id, so the shared bytes serve; a client whose cursor names
// several origins (a cluster) gets its own copy with its cursor (jsonFor, sseFor).
import type { EncodingKey } from '../broker/broadcast.js';
import { formatHistoryId } from '../shared/history-id.js';
import type { Message } from '../shared/message.js';

export class MessageEncoder {
  private readonly message: Message;
  private readonly payload: string;
  /** The message's own history id, when it is kept. */
  readonly idText: string | undefined;
  private live: Buffer | null = null;
  private retained: Buffer | null = null;
  private sseLive: Buffer | null = null;
  private sseRetained: Buffer | null = null;

  constructor(message: Message) {
    this.message = message;
    this.payload = payloadField(message.payload);
    this.idText = message.historyId === undefined ? undefined : formatHistoryId(message.historyId);
  }

  /** The JSON object's text for a delivery with this RETAIN flag. */
  json(retain: boolean): Buffer {
    if (retain) return (this.retained ??= this.encode(true));
    return (this.live ??= this.encode(false));
  }

  /** The same as one Server-Sent Event (`id:` line when kept, `data:` line, blank line). */
  sse(retain: boolean): Buffer {
    if (retain) return (this.sseRetained ??= sseEvent(this.json(true), this.idText));
    return (this.sseLive ??= sseEvent(this.json(false), this.idText));
  }

  /** For a client whose id (cursor) after this message is `id`: the shared bytes when they fit. */
  jsonFor(retain: boolean, id: string | undefined): Buffer {
    return id === this.idText ? this.json(retain) : this.encode(retain, id);
  }

  sseFor(retain: boolean, id: string | undefined): Buffer {
    return id === this.idText ? this.sse(retain) : sseEvent(this.encode(retain, id), id);
  }

  private encode(retain: boolean, id: string | undefined = this.idText): Buffer {
    const m = this.message;
    const p = m.properties;
    let text = '{"type":"message","topic":' + JSON.stringify(m.topic) + (id === undefined ? '' : ',"id":"' + id + '"') + this.payload;
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

/** `id: …` (ids and cursors are [a-z0-9_-]: nothing to escape) and `data: …` lines, blank line. */
function sseEvent(body: Buffer, id: string | undefined): Buffer {
  const idLine = id === undefined ? '' : 'id: ' + id + '\n';
  const head = idLine.length + 6;
  const out = Buffer.allocUnsafe(head + body.length + 2);
  out.write(idLine + 'data: ', 0, 'latin1');
  body.copy(out, head);
  out[out.length - 2] = 0x0a;
  out[out.length - 1] = 0x0a;
  return out;
}

/** The JSON and SSE front-ends' key into a Broadcast. */
export const WEB_ENCODING: EncodingKey<MessageEncoder> = { create: (message) => new MessageEncoder(message) };

// A message payload as a person would want to read it, and exactly as it was received: JSON
// pretty-printed from its own tokens (numbers never rewritten), other UTF-8 text as is, anything
// else as a hex dump (first 512 bytes). The raw view is the bytes as text, untouched.
import { h } from '../dom.js';
import { payloadText } from '../mqtt/test-session.js';
import { jsonTextView } from './json-view.js';
import { prettyJson } from './json-text.js';

const HEX_LIMIT = 512;

function hexDump(bytes: Uint8Array): string {
  const lines: string[] = [];
  const n = Math.min(bytes.length, HEX_LIMIT);
  for (let off = 0; off < n; off += 16) {
    const row = bytes.subarray(off, Math.min(off + 16, n));
    const hexes = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(6, '0')}  ${hexes.padEnd(47)}  ${ascii}`);
  }
  if (bytes.length > n) lines.push(`… ${bytes.length - n} more bytes`);
  return lines.join('\n');
}

export type PayloadKind = 'json' | 'text' | 'binary' | 'empty';

/** What a payload is, without building any DOM (the message list's one-line rows). */
export function payloadKind(bytes: Uint8Array, text: string | undefined): PayloadKind {
  if (bytes.length === 0) return 'empty';
  if (text === undefined) return 'binary';
  const t = text.trimStart();
  return (t.startsWith('{') || t.startsWith('[')) && prettyJson(text) !== undefined ? 'json' : 'text';
}

export function payloadView(bytes: Uint8Array, text = payloadText(bytes)): { kind: PayloadKind; el: HTMLElement } {
  if (bytes.length === 0) return { kind: 'empty', el: h('div', { class: 'payload-empty' }, '(empty payload)') };
  if (text === undefined) return { kind: 'binary', el: h('pre', { class: 'code hex' }, hexDump(bytes)) };
  const json = jsonTextView(text, 'payload');
  if (json !== undefined) return { kind: 'json', el: json };
  return { kind: 'text', el: h('pre', { class: 'code text payload' }, text) };
}

/** The payload exactly as received: its UTF-8 text unchanged, or the hex dump when it is binary. */
export function rawPayloadView(bytes: Uint8Array, text = payloadText(bytes)): HTMLElement {
  if (bytes.length === 0) return h('div', { class: 'payload-empty' }, '(empty payload)');
  return h('pre', { class: 'code raw payload-raw', 'data-testid': 'payload-raw' }, text ?? hexDump(bytes));
}

export function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

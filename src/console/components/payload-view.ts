// A message payload as a person would want to read it: JSON pretty-printed, other UTF-8 text as
// is, anything else as a hex dump (first 512 bytes).
import { h } from '../dom.js';
import { payloadText } from '../mqtt/test-session.js';
import { jsonView, parseJsonDocument } from './json-view.js';

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

export function payloadView(bytes: Uint8Array): { kind: PayloadKind; el: HTMLElement } {
  if (bytes.length === 0) return { kind: 'empty', el: h('div', { class: 'payload-empty' }, '(empty payload)') };
  const text = payloadText(bytes);
  if (text === undefined) return { kind: 'binary', el: h('pre', { class: 'code hex' }, hexDump(bytes)) };
  const json = parseJsonDocument(text);
  if (json !== undefined) return { kind: 'json', el: jsonView(json, 'payload') };
  return { kind: 'text', el: h('pre', { class: 'code text payload' }, text) };
}

export function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

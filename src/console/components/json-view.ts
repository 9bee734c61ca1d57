// Pretty-printed JSON with the syntax coloured: keys, strings, numbers, literals. Built as DOM
// text nodes (never markup), two-space indentation as JSON.stringify(v, null, 2) would print.
import { h, type Child } from '../dom.js';
import { prettyJson, type JsonPart } from './json-text.js';

function render(value: unknown, indent: string, out: Child[]): void {
  if (value === null) {
    out.push(h('span', { class: 'j-lit' }, 'null'));
  } else if (typeof value === 'string') {
    out.push(h('span', { class: 'j-str' }, JSON.stringify(value)));
  } else if (typeof value === 'number' || typeof value === 'bigint') {
    out.push(h('span', { class: 'j-num' }, String(value)));
  } else if (typeof value === 'boolean') {
    out.push(h('span', { class: 'j-lit' }, String(value)));
  } else if (Array.isArray(value)) {
    if (value.length === 0) {
      out.push('[]');
      return;
    }
    const inner = indent + '  ';
    out.push('[\n');
    value.forEach((item, i) => {
      out.push(inner);
      render(item, inner, out);
      out.push(i < value.length - 1 ? ',\n' : '\n');
    });
    out.push(indent + ']');
  } else if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) {
      out.push('{}');
      return;
    }
    const inner = indent + '  ';
    out.push('{\n');
    entries.forEach(([k, v], i) => {
      out.push(inner, h('span', { class: 'j-key' }, JSON.stringify(k)), ': ');
      render(v, inner, out);
      out.push(i < entries.length - 1 ? ',\n' : '\n');
    });
    out.push(indent + '}');
  } else {
    out.push(String(value));
  }
}

export function jsonView(value: unknown, cls = ''): HTMLPreElement {
  const parts: Child[] = [];
  render(value, '', parts);
  return h('pre', { class: `code json ${cls}`.trim() }, parts);
}

/**
 * A JSON text pretty-printed from its own tokens (json-text.ts), so numbers stay as written; for
 * payloads, which must be shown exactly as received. Undefined when it is not a JSON document.
 */
export function jsonTextView(text: string, cls = ''): HTMLPreElement | undefined {
  const parts = prettyJson(text);
  if (parts === undefined) return undefined;
  return h('pre', { class: `code json ${cls}`.trim() }, parts.map(partNode));
}

const PART_CLASS: Record<JsonPart['kind'], string | null> = { key: 'j-key', str: 'j-str', num: 'j-num', lit: 'j-lit', punct: null, space: null };

function partNode(p: JsonPart): Child {
  const cls = PART_CLASS[p.kind];
  return cls === null ? p.text : h('span', { class: cls }, p.text);
}

/** The value of a JSON text, or undefined when it is not JSON (only objects and arrays count). */
export function parseJsonDocument(text: string): unknown {
  const t = text.trim();
  if (!(t.startsWith('{') || t.startsWith('['))) return undefined;
  try {
    return JSON.parse(t) as unknown;
  } catch {
    return undefined;
  }
}

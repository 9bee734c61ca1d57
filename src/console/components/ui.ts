// Small shared pieces: cards, badges, empty states, segmented controls, page headers.
import { h, icon, type Child } from '../dom.js';

export function card(title: Child, body: Child, opts: { actions?: Child; cls?: string; sub?: Child } = {}): HTMLElement {
  return h(
    'section',
    { class: `card ${opts.cls ?? ''}`.trim() },
    title || opts.actions
      ? h('header', { class: 'card-head' }, h('div', null, h('h2', { class: 'card-title' }, title), opts.sub ? h('div', { class: 'card-sub' }, opts.sub) : null), opts.actions ? h('div', { class: 'card-actions' }, opts.actions) : null)
      : null,
    h('div', { class: 'card-body' }, body),
  );
}

export function badge(text: Child, kind: 'ok' | 'error' | 'warn' | 'muted' | 'info' = 'muted', title?: string): HTMLSpanElement {
  return h('span', { class: `badge badge-${kind}`, title }, text);
}

export function emptyState(title: string, text: Child, iconPaths?: string | readonly string[]): HTMLElement {
  return h('div', { class: 'empty' }, iconPaths ? icon(iconPaths, 'icon empty-icon') : null, h('strong', null, title), h('p', null, text));
}

export function pageHeader(title: string, sub: Child, actions?: Child): HTMLElement {
  return h('div', { class: 'page-head' }, h('div', null, h('h1', null, title), sub ? h('p', { class: 'page-sub' }, sub) : null), actions ? h('div', { class: 'page-actions' }, actions) : null);
}

/** A row of toggle buttons; `onChange` gets the chosen value. */
export function segmented<T extends string>(options: readonly { value: T; label: string }[], value: T, onChange: (v: T) => void, label: string): HTMLElement {
  const buttons = options.map((o) =>
    h('button', { type: 'button', class: 'seg-btn', 'aria-pressed': o.value === value ? 'true' : 'false', 'data-value': o.value }, o.label),
  );
  const el = h('div', { class: 'segmented', role: 'group', 'aria-label': label }, buttons);
  el.addEventListener('click', (e) => {
    const btn = (e.target as Element).closest('button');
    if (!btn) return;
    for (const b of buttons) b.setAttribute('aria-pressed', b === btn ? 'true' : 'false');
    onChange(btn.dataset.value as T);
  });
  return el;
}

/** A definition list from [label, value] pairs. */
export function facts(rows: readonly (readonly [string, Child])[]): HTMLDListElement {
  return h('dl', { class: 'facts' }, rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

export function errorBox(text: Child): HTMLElement {
  return h('div', { class: 'alert alert-error', role: 'alert' }, text);
}

// The test client's received messages as a virtualised list: whatever the number kept (up to
// MESSAGE_CAP), only the rows in view (plus a few) exist in the DOM, each one line high (time,
// topic, QoS, retain, size, a payload preview); one row at a time opens to the full message, with
// the pretty view beside the raw one.
//
// Newest first. While the reader is scrolled away from the top, or has a row open, the list is
// frozen at the newest message it showed: new messages are counted ("N new") and do not move the
// rows being read. Scrolling back to the top, or the "N new" button, lets them in.
//
// The session announces messages at most a few times a second (test-session.ts); this redraws on
// those announcements and on scrolling (once per animation frame), never per message.
import { h, replace, type Child } from '../dom.js';
import { formatBytes, formatClockMs } from '../format.js';
import { messageText, MESSAGE_CAP, type ReceivedMessage, type Subscription, type TestSession } from '../mqtt/test-session.js';
import { payloadKind, payloadView, rawPayloadView } from './payload-view.js';
import { badge, segmented } from './ui.js';

/** One row's height in CSS pixels (styles.css .msg-row says the same). */
export const ROW_HEIGHT = 34;
/** Rows drawn above and below the visible ones, so a fast scroll does not show blanks. */
const OVERSCAN = 8;
const PREVIEW_CHARS = 160;

export interface MessageList {
  el: HTMLElement;
  /** Only the messages of this subscription ('all': every kept message). */
  setSubscription(id: number | 'all'): void;
  /** Called when the session announces messages or subscriptions. */
  update(): void;
  destroy(): void;
}

function preview(m: ReceivedMessage): string {
  const text = messageText(m);
  if (m.payload.length === 0) return '(empty)';
  if (text === undefined) return [...m.payload.subarray(0, 24)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  const oneLine = text.length > PREVIEW_CHARS * 2 ? text.slice(0, PREVIEW_CHARS * 2) : text;
  return oneLine.replace(/\s+/g, ' ').slice(0, PREVIEW_CHARS);
}

function detail(m: ReceivedMessage, session: TestSession): HTMLElement {
  const text = messageText(m);
  const pretty = payloadView(m.payload, text);
  const raw = rawPayloadView(m.payload, text);
  const body = h('div', { class: 'msg-payload' }, pretty.el);
  const views = segmented(
    [
      { value: 'pretty', label: pretty.kind === 'json' ? 'Pretty JSON' : 'Pretty' },
      { value: 'raw', label: 'Raw' },
    ] as const,
    'pretty',
    (v) => replace(body, v === 'pretty' ? pretty.el : raw),
    'Payload view',
  );
  const props = m.properties;
  const chips: Child[] = [];
  const chip = (k: string, v: string, cls = 'chip', title?: string) => chips.push(h('span', { class: cls, title }, h('span', { class: 'chip-k' }, k), v));
  if (props.contentType) chip('content-type', props.contentType);
  if (props.responseTopic) chip('response-topic', props.responseTopic);
  if (props.correlationData) chip('correlation-data', props.correlationData);
  if (props.messageExpiryInterval !== undefined) chip('expiry', `${props.messageExpiryInterval} s`);
  for (const [k, v] of Object.entries(props.userProperties ?? {})) {
    for (const one of Array.isArray(v) ? v : [v]) chip(k, one, 'chip chip-user', 'user property');
  }
  const subs = m.subscriptionIds.map((id) => session.subscriptions.find((x) => x.id === id)?.filter).filter((f): f is string => f !== undefined);
  return h(
    'div',
    { class: 'msg-detail' },
    h(
      'div',
      { class: 'msg-detail-head' },
      h('code', { class: 'msg-full-topic' }, m.topic),
      h('span', { class: 'msg-meta' }, badge(`QoS ${m.qos}`, 'info'), m.retain ? badge('Retained', 'warn', 'retain flag set') : null, m.dup ? badge('DUP', 'muted') : null, `${formatBytes(m.payload.length)} · received ${new Date(m.receivedAt).toISOString()}`),
    ),
    subs.length ? h('div', { class: 'muted msg-subs' }, 'Matched ', subs.map((f, i) => [i ? ', ' : '', h('code', null, f)])) : null,
    chips.length ? h('div', { class: 'msg-props' }, chips) : null,
    views,
    body,
  );
}

export function messageList(session: TestSession, onOpen?: () => void): MessageList {
  let subscription: number | 'all' = 'all';
  let search = '';
  /** The newest seq shown while frozen; null: live (new messages go straight in at the top). */
  let frozenAt: number | null = null;
  let view: ReceivedMessage[] = [];
  let newCount = 0;
  let openSeq: number | null = null;
  /** The open row's height beyond ROW_HEIGHT, measured once it is drawn. */
  let openExtra = 0;
  let frame = 0;
  const rows = new Map<number, { el: HTMLElement; open: boolean }>();

  const searchBox = h('input', { type: 'search', class: 'msg-search', placeholder: 'Search topic and payload', 'aria-label': 'Search topic and payload', 'data-testid': 'message-search', autocomplete: 'off', spellcheck: 'false' });
  const newBtn = h('button', { type: 'button', class: 'btn btn-small btn-primary new-count', 'data-testid': 'new-count', hidden: true });
  const status = h('span', { class: 'muted msg-status', 'data-testid': 'message-status', 'aria-live': 'off' });
  const sizer = h('div', { class: 'msg-sizer' });
  const empty = h('div', { class: 'msg-empty' });
  const viewport = h('div', { class: 'msg-viewport', 'data-testid': 'messages', role: 'list', 'aria-label': 'Received messages' }, sizer);
  const el = h('div', { class: 'message-list' }, h('div', { class: 'msg-toolbar' }, searchBox, newBtn, status), empty, viewport);

  const openIndex = () => (openSeq === null ? -1 : view.findIndex((m) => m.seq === openSeq));
  const topOf = (i: number, open: number) => i * ROW_HEIGHT + (open >= 0 && i > open ? openExtra : 0);
  const indexAt = (y: number, open: number) => {
    if (open < 0 || y < (open + 1) * ROW_HEIGHT) return Math.floor(y / ROW_HEIGHT);
    if (y < (open + 1) * ROW_HEIGHT + openExtra) return open;
    return Math.floor((y - openExtra) / ROW_HEIGHT);
  };

  const matchesFilters = (m: ReceivedMessage, needle: string): boolean => {
    if (subscription !== 'all' && !m.subscriptionIds.includes(subscription)) return false;
    if (!needle) return true;
    if (m.topic.toLowerCase().includes(needle)) return true;
    const text = messageText(m);
    return text !== undefined && text.toLowerCase().includes(needle);
  };

  /**
   * Rebuilds `view` (newest first) from the session's kept messages and the filters. While frozen
   * the view is a snapshot: only the new messages are counted, and rows being read stay even if
   * the cap lets them go from the session meanwhile (at most MESSAGE_CAP more held, until thawed).
   */
  const rebuild = () => {
    const needle = search.trim().toLowerCase();
    const list = session.messages;
    newCount = 0;
    if (frozenAt !== null && view.length > 0) {
      for (let i = list.length - 1; i >= 0 && list[i]!.seq > frozenAt; i--) if (matchesFilters(list[i]!, needle)) newCount++;
      return;
    }
    const next: ReceivedMessage[] = [];
    for (let i = list.length - 1; i >= 0; i--) {
      const m = list[i]!;
      if (!matchesFilters(m, needle)) continue;
      if (frozenAt !== null && m.seq > frozenAt) newCount++;
      else next.push(m);
    }
    view = next;
    if (openSeq !== null && openIndex() < 0) {
      openSeq = null;
      openExtra = 0;
    }
  };

  const frozenWanted = () => viewport.scrollTop > 2 || openSeq !== null;

  const rowFor = (m: ReceivedMessage, isOpen: boolean): HTMLElement => {
    const cached = rows.get(m.seq);
    if (cached && cached.open === isOpen) return cached.el;
    const dots = m.subscriptionIds.map((id) => session.subscriptions.find((x) => x.id === id)).filter((x): x is Subscription => x !== undefined);
    const kind = payloadKind(m.payload, messageText(m));
    const line = h(
      'button',
      { type: 'button', class: 'msg-row', 'aria-expanded': String(isOpen), title: m.topic },
      h('time', { class: 'msg-time', datetime: new Date(m.receivedAt).toISOString() }, formatClockMs(m.receivedAt)),
      h('span', { class: 'msg-dots', 'aria-hidden': 'true' }, dots.map((d) => h('i', { class: 'sub-dot', style: `background:${d.color}` }))),
      h('code', { class: 'msg-topic' }, m.topic),
      h('span', { class: 'msg-qos' }, `QoS ${m.qos}`),
      m.retain ? h('span', { class: 'msg-retain', title: 'retain flag set' }, 'Retained') : null,
      h('span', { class: 'msg-size' }, `${kind === 'json' ? 'JSON · ' : ''}${formatBytes(m.payload.length)}`),
      h('span', { class: 'msg-preview' }, preview(m)),
    );
    line.addEventListener('click', () => toggle(m.seq));
    const row = h('article', { class: `msg${isOpen ? ' msg-open' : ''}`, role: 'listitem', 'data-topic': m.topic, 'data-seq': String(m.seq) }, line, isOpen ? detail(m, session) : null);
    rows.set(m.seq, { el: row, open: isOpen });
    return row;
  };

  const toggle = (seq: number) => {
    if (openSeq === seq) {
      openSeq = null;
      openExtra = 0;
    } else {
      openSeq = seq;
      openExtra = 0;
      onOpen?.();
    }
    if (frozenAt === null && openSeq !== null) frozenAt = view[0]?.seq ?? 0;
    draw();
    const row = rows.get(seq)?.el;
    row?.querySelector<HTMLButtonElement>('.msg-row')?.focus({ preventScroll: true });
  };

  /** Draws the rows in view; measures an open row and draws again if its height changed. */
  const draw = () => {
    const total = session.messages.length;
    const shown = view.length;
    const filtered = subscription !== 'all' || search.trim() !== '';
    status.textContent = `${shown.toLocaleString()}${filtered ? ' matching' : ''} of ${total.toLocaleString()} kept · newest ${MESSAGE_CAP.toLocaleString()} kept`;
    newBtn.hidden = newCount === 0;
    newBtn.textContent = `${newCount.toLocaleString()} new`;
    if (shown === 0) {
      const subs = session.subscriptions.length > 0;
      replace(
        empty,
        h('strong', null, !subs ? 'Nothing to show yet' : filtered && total > 0 ? 'No messages match' : 'No messages yet'),
        h(
          'p',
          null,
          !subs
            ? 'Subscribe to a topic filter, then publish to a matching topic from here or from any client.'
            : filtered && total > 0
              ? 'Change the search or choose All subscriptions.'
              : 'Messages that match your subscriptions appear here as they arrive.',
        ),
      );
      empty.hidden = false;
      viewport.hidden = true;
      sizer.replaceChildren();
      rows.clear();
      return;
    }
    empty.hidden = true;
    viewport.hidden = false;
    const open = openIndex();
    sizer.style.height = `${shown * ROW_HEIGHT + (open >= 0 ? openExtra : 0)}px`;
    const top = viewport.scrollTop;
    const height = viewport.clientHeight || 480;
    const first = Math.max(0, indexAt(top, open) - OVERSCAN);
    const last = Math.min(shown - 1, indexAt(top + height, open) + OVERSCAN);
    const keep = new Set<number>();
    const wanted: HTMLElement[] = [];
    for (let i = first; i <= last; i++) {
      const m = view[i]!;
      keep.add(m.seq);
      const row = rowFor(m, i === open);
      row.style.transform = `translateY(${topOf(i, open)}px)`;
      wanted.push(row);
    }
    for (const seq of rows.keys()) if (!keep.has(seq)) rows.delete(seq);
    // Only add and remove what changed: rows that stay keep their focus and their DOM.
    const present = new Set(sizer.children);
    for (const child of present) if (!wanted.includes(child as HTMLElement)) child.remove();
    for (const row of wanted) if (!present.has(row)) sizer.appendChild(row);
    if (open >= 0) {
      const openRow = rows.get(view[open]!.seq)!.el;
      const extra = Math.max(0, openRow.offsetHeight - ROW_HEIGHT);
      if (extra !== openExtra) {
        openExtra = extra;
        draw();
      }
    }
  };

  const scheduleDraw = () => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      draw();
    });
  };

  const update = () => {
    // Freeze or thaw according to where the reader is.
    if (frozenWanted()) {
      if (frozenAt === null) frozenAt = view[0]?.seq ?? 0;
    } else {
      frozenAt = null;
    }
    rebuild();
    scheduleDraw();
  };

  viewport.addEventListener('scroll', () => {
    const wasFrozen = frozenAt !== null;
    if (wasFrozen && !frozenWanted()) update();
    else if (!wasFrozen && frozenWanted()) update();
    else scheduleDraw();
  }, { passive: true });

  newBtn.addEventListener('click', () => {
    openSeq = null;
    openExtra = 0;
    viewport.scrollTop = 0;
    frozenAt = null;
    rebuild();
    draw();
  });

  let searchTimer = 0;
  searchBox.addEventListener('input', () => {
    window.clearTimeout(searchTimer);
    searchTimer = window.setTimeout(() => {
      search = searchBox.value;
      frozenAt = null;
      viewport.scrollTop = 0;
      update();
    }, 150);
  });

  update();
  return {
    el,
    setSubscription(id) {
      subscription = id;
      frozenAt = null;
      openSeq = null;
      openExtra = 0;
      viewport.scrollTop = 0;
      rows.clear();
      update();
    },
    update,
    destroy() {
      if (frame) cancelAnimationFrame(frame);
      window.clearTimeout(searchTimer);
    },
  };
}

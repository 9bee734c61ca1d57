// Connections: the live list of connected clients (searchable, refreshed every 2 s), a detail
// view per client (#/connections/{clientId}) and the administrator's disconnect (DISCONNECT 0x98
// Administrative action; AWS's DeleteConnection), after a confirmation.
import type { Connection } from '../api-types.js';
import { ApiError, errorText } from '../api.js';
import { debounce, h, icon, replace } from '../dom.js';
import { ICONS } from '../icons.js';
import { formatAgo, formatCount, formatDateTime } from '../format.js';
import { poll, type Context, type PageDefinition } from '../context.js';
import { confirmDialog } from '../components/dialog.js';
import { badge, card, emptyState, errorBox, facts, pageHeader } from '../components/ui.js';

const REFRESH_MS = 2000;

const link = (clientId: string) => `#/connections/${encodeURIComponent(clientId)}`;

async function disconnectClient(ctx: Context, clientId: string): Promise<boolean> {
  const ok = await confirmDialog({
    title: `Disconnect ${clientId}?`,
    body: 'The client receives DISCONNECT with reason 0x98 (Administrative action) on MQTT 5, or its connection is closed on 3.1.1. It may connect again.',
    confirm: 'Disconnect',
    danger: true,
  });
  if (!ok) return false;
  try {
    await ctx.api.disconnect(clientId);
    ctx.toasts.show(`Disconnected ${clientId}`, 'ok');
    return true;
  } catch (err) {
    ctx.toasts.show(`Cannot disconnect ${clientId}: ${errorText(err)}`, 'error', 6000);
    return false;
  }
}

function protocolBadge(c: Connection) {
  if (c.protocol === 'json') return badge('JSON', 'info');
  if (c.protocol === 'sse') return badge('SSE', 'info');
  return badge(`MQTT ${c.protocolVersion}`, c.protocolVersion === '5.0' ? 'info' : 'muted');
}

const PAGE_SIZE = 100;

/** Columns; `sort` is the server's sort key (GET /api/connections?sort=). */
const COLUMNS: readonly { label: string; sort?: string; num?: boolean }[] = [
  { label: 'Client ID', sort: 'clientId' },
  { label: 'Principal', sort: 'principal' },
  { label: 'Address', sort: 'address' },
  { label: 'Protocol' },
  { label: 'Connected', sort: 'connectedSince' },
  { label: 'Subs', sort: 'subscriptions', num: true },
  { label: 'In / out', sort: 'messagesIn', num: true },
  { label: 'Rate in / out', num: true },
  { label: 'Actions' },
];

/** Messages per second from two readings of a client's counters (the list polls every 2 s). */
interface Reading {
  at: number;
  in: number;
  out: number;
}

function rate(prev: Reading | undefined, now: Reading): string {
  if (!prev || now.at <= prev.at) return '–';
  const s = (now.at - prev.at) / 1000;
  const f = (n: number) => (n < 10 ? n.toFixed(1) : formatCount(Math.round(n)));
  return `${f(Math.max(0, now.in - prev.in) / s)} / ${f(Math.max(0, now.out - prev.out) / s)}`;
}

/** The row's menu: details and disconnect, instead of a red button on every row. */
function rowMenu(ctx: Context, c: Connection, refresh: () => void): HTMLElement {
  const open = h('button', { type: 'button', class: 'menu-item' }, 'Details');
  open.addEventListener('click', () => {
    location.hash = link(c.clientId);
  });
  const disconnect = h('button', { type: 'button', class: 'menu-item menu-danger', 'data-testid': 'row-disconnect' }, 'Disconnect…');
  const menu = h('details', { class: 'row-menu' }, h('summary', { class: 'btn btn-small btn-ghost', 'aria-label': `Actions for ${c.clientId}`, title: 'Actions' }, '⋯'), h('div', { class: 'menu' }, open, disconnect));
  disconnect.addEventListener('click', async (e) => {
    e.stopPropagation();
    menu.open = false;
    if (await disconnectClient(ctx, c.clientId)) refresh();
  });
  return menu;
}

function row(ctx: Context, c: Connection, rates: string, refresh: () => void): HTMLTableRowElement {
  const tr = h(
    'tr',
    { class: 'clickable', 'data-client-id': c.clientId },
    h('td', { 'data-label': 'Client ID' }, h('a', { href: link(c.clientId), class: 'mono strong' }, c.clientId)),
    h('td', { 'data-label': 'Principal' }, h('span', { class: 'mono' }, c.principal)),
    h('td', { 'data-label': 'Address' }, h('span', { class: 'mono' }, `${c.ipAddress}:${c.port}`)),
    h('td', { 'data-label': 'Protocol' }, protocolBadge(c), ' ', badge(c.transport, 'muted')),
    h('td', { 'data-label': 'Connected', title: formatDateTime(c.connectedSince) }, formatAgo(c.connectedSince)),
    h('td', { 'data-label': 'Subscriptions', class: 'num' }, String(c.subscriptions.length)),
    h('td', { 'data-label': 'In / out', class: 'num' }, `${formatCount(c.messagesIn)} / ${formatCount(c.messagesOut)}`),
    h('td', { 'data-label': 'Rate in / out (msg/s)', class: 'num', 'data-testid': 'rate' }, rates),
    h('td', { class: 'actions' }, rowMenu(ctx, c, refresh)),
  );
  tr.addEventListener('click', (e) => {
    if ((e.target as Element).closest('a,button,details')) return;
    location.hash = link(c.clientId);
  });
  return tr;
}

function listView(root: HTMLElement, ctx: Context): () => void {
  let q = '';
  let sort = 'clientId';
  let desc = false;
  let offset = 0;
  let total = 0;
  const readings = new Map<string, Reading>();
  const search = h('input', { type: 'search', placeholder: 'Search client ID, principal or IP address', 'aria-label': 'Search connections', 'data-testid': 'connections-search', autocomplete: 'off' });
  const count = h('span', { class: 'muted', 'data-testid': 'connections-count' });
  const prev = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'page-prev' }, 'Previous');
  const next = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'page-next' }, 'Next');
  const pager = h('div', { class: 'pager' }, prev, next);
  const body = h('div', { class: 'table-wrap' });
  const error = h('div');
  let generation = 0;

  const header = () =>
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        COLUMNS.map((col) => {
          const active = col.sort === sort;
          const th = h('th', { class: col.num ? 'num' : '', scope: 'col', 'aria-sort': active ? (desc ? 'descending' : 'ascending') : undefined });
          if (!col.sort) {
            th.append(col.label === 'Actions' ? h('span', { class: 'visually-hidden' }, col.label) : col.label);
            return th;
          }
          const btn = h('button', { type: 'button', class: 'th-sort', 'data-sort': col.sort }, col.label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, active ? (desc ? ' ▼' : ' ▲') : ''));
          btn.addEventListener('click', () => {
            desc = active ? !desc : false;
            sort = col.sort!;
            offset = 0;
            void refresh();
          });
          th.append(btn);
          return th;
        }),
      ),
    );

  const refresh = async () => {
    // An open row menu stays open: the poll waits until it is closed.
    if (body.querySelector('details.row-menu[open]')) return;
    const mine = ++generation;
    try {
      const list = await ctx.api.connections(q, PAGE_SIZE, { offset, sort, order: desc ? 'desc' : 'asc' });
      if (mine !== generation) return;
      total = list.total;
      if (offset > 0 && offset >= total) {
        offset = Math.max(0, Math.floor((total - 1) / PAGE_SIZE) * PAGE_SIZE);
        void refresh();
        return;
      }
      const { connections } = list;
      replace(error);
      count.textContent = connections.length ? `${formatCount(offset + 1)}–${formatCount(offset + connections.length)} of ${formatCount(total)} connected` : `${formatCount(total)} connected`;
      prev.disabled = offset === 0;
      next.disabled = offset + connections.length >= total;
      pager.hidden = total <= PAGE_SIZE;
      if (connections.length === 0) {
        replace(body, emptyState(q ? 'No match' : 'No clients connected', q ? `No connected client matches “${q}”.` : 'Clients appear here as soon as they connect.', ICONS.connections));
        return;
      }
      const now = Date.now();
      const rows = connections.map((c) => {
        const reading = { at: now, in: c.messagesIn, out: c.messagesOut };
        const r = rate(readings.get(c.clientId), reading);
        readings.set(c.clientId, reading);
        return row(ctx, c, r, () => void refresh());
      });
      // Readings of clients no longer on this page are let go (bounded by the page size).
      if (readings.size > PAGE_SIZE * 2) for (const id of [...readings.keys()]) if (!connections.some((c) => c.clientId === id)) readings.delete(id);
      replace(body, h('table', { class: 'table responsive', 'data-testid': 'connections-table' }, header(), h('tbody', null, rows)));
    } catch (err) {
      if (mine === generation) replace(error, errorBox(`Cannot list connections: ${errorText(err)}`));
    }
  };
  prev.addEventListener('click', () => {
    offset = Math.max(0, offset - PAGE_SIZE);
    void refresh();
  });
  next.addEventListener('click', () => {
    offset += PAGE_SIZE;
    void refresh();
  });
  search.addEventListener(
    'input',
    debounce(() => {
      q = search.value.trim();
      offset = 0;
      void refresh();
    }, 200),
  );

  replace(
    root,
    pageHeader('Connections', 'Clients connected to this server, live. Rates are messages per second over the last refresh.'),
    error,
    card(h('div', { class: 'search' }, icon(ICONS.search), search), [body, pager], { actions: count, cls: 'list-card' }),
  );
  void refresh();
  return poll(refresh, REFRESH_MS);
}

function detailView(root: HTMLElement, ctx: Context, clientId: string): () => void {
  const body = h('div');
  const disconnect = h('button', { type: 'button', class: 'btn btn-danger', 'data-testid': 'disconnect' }, 'Disconnect');
  let gone = false;
  disconnect.addEventListener('click', async () => {
    if (await disconnectClient(ctx, clientId)) location.hash = '#/connections';
  });

  const refresh = async () => {
    if (gone) return;
    try {
      const c = await ctx.api.connection(clientId);
      replace(
        body,
        h(
          'div',
          { class: 'detail-grid' },
          card(
            'Connection',
            facts([
              ['Client ID', h('span', { class: 'mono' }, c.clientId)],
              ['Principal', h('span', { class: 'mono' }, c.principal)],
              ['Address', h('span', { class: 'mono' }, `${c.ipAddress}:${c.port}`)],
              ['Protocol', [protocolBadge(c), ' over ', c.transport]],
              ['Connected since', `${formatDateTime(c.connectedSince)} (${formatAgo(c.connectedSince)})`],
              ['Keep alive', `${c.keepAliveSeconds} s`],
              ['Session', c.persistentSession ? 'persistent' : 'clean'],
            ]),
          ),
          card(
            'Traffic',
            facts([
              ['Messages in', formatCount(c.messagesIn)],
              ['Messages out', formatCount(c.messagesOut)],
              ['In flight', formatCount(c.inflight)],
              ['Queued', formatCount(c.queued)],
              ['Dropped', formatCount(c.droppedMessages)],
            ]),
          ),
          card(
            `Subscriptions (${c.subscriptions.length})`,
            c.subscriptions.length
              ? h('table', { class: 'table' }, h('thead', null, h('tr', null, h('th', null, 'Topic filter'), h('th', { class: 'num' }, 'QoS'))), h('tbody', null, c.subscriptions.map((sub) => h('tr', null, h('td', { class: 'mono' }, sub.topicFilter), h('td', { class: 'num' }, String(sub.qos))))))
              : h('p', { class: 'muted' }, 'No subscriptions.'),
            { cls: 'span-2' },
          ),
        ),
      );
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        gone = true;
        disconnect.disabled = true;
        replace(body, emptyState('Not connected', `${clientId} is not connected (any more).`, ICONS.connections));
      } else {
        replace(body, errorBox(errorText(err)));
      }
    }
  };

  replace(
    root,
    h('a', { href: '#/connections', class: 'back' }, icon(ICONS.back), 'All connections'),
    pageHeader(clientId, 'Connected client', disconnect),
    body,
  );
  void refresh();
  return poll(refresh, REFRESH_MS);
}

export const connectionsPage: PageDefinition = {
  path: 'connections',
  title: 'Connections',
  icon: ICONS.connections,
  mount(root, ctx, params) {
    let stop = () => undefined as void;
    const show = (p: string[]) => {
      stop();
      stop = p[0] ? detailView(root, ctx, p[0]) : listView(root, ctx);
    };
    show(params);
    return {
      update: show,
      unmount: () => stop(),
    };
  },
};

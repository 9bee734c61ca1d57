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
  return badge(`MQTT ${c.protocolVersion}`, c.protocolVersion === '5.0' ? 'info' : 'muted');
}

function row(ctx: Context, c: Connection, refresh: () => void): HTMLTableRowElement {
  const disconnect = h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', 'data-testid': 'disconnect', title: `Disconnect ${c.clientId}` }, 'Disconnect');
  disconnect.addEventListener('click', async (e) => {
    e.stopPropagation();
    if (await disconnectClient(ctx, c.clientId)) refresh();
  });
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
    h('td', { class: 'actions' }, disconnect),
  );
  tr.addEventListener('click', (e) => {
    if ((e.target as Element).closest('a,button')) return;
    location.hash = link(c.clientId);
  });
  return tr;
}

function listView(root: HTMLElement, ctx: Context): () => void {
  let q = '';
  const search = h('input', { type: 'search', placeholder: 'Search client ID, principal or IP address', 'aria-label': 'Search connections', 'data-testid': 'connections-search', autocomplete: 'off' });
  const count = h('span', { class: 'muted' });
  const body = h('div', { class: 'table-wrap' });
  const error = h('div');
  let generation = 0;

  const refresh = async () => {
    const mine = ++generation;
    try {
      const { connections, total } = await ctx.api.connections(q);
      if (mine !== generation) return;
      replace(error);
      count.textContent = `${formatCount(total)} connected${total > connections.length ? `, first ${connections.length} shown` : ''}`;
      if (connections.length === 0) {
        replace(body, emptyState(q ? 'No match' : 'No clients connected', q ? `No connected client matches “${q}”.` : 'Clients appear here as soon as they connect.', ICONS.connections));
        return;
      }
      replace(
        body,
        h(
          'table',
          { class: 'table responsive', 'data-testid': 'connections-table' },
          h('thead', null, h('tr', null, ['Client ID', 'Principal', 'Address', 'Protocol', 'Connected', 'Subs', 'In / out', ''].map((t) => h('th', { class: t === 'Subs' || t === 'In / out' ? 'num' : '' }, t)))),
          h('tbody', null, connections.map((c) => row(ctx, c, () => void refresh()))),
        ),
      );
    } catch (err) {
      if (mine === generation) replace(error, errorBox(`Cannot list connections: ${errorText(err)}`));
    }
  };
  search.addEventListener(
    'input',
    debounce(() => {
      q = search.value.trim();
      void refresh();
    }, 200),
  );

  replace(
    root,
    pageHeader('Connections', 'Clients connected to this server, live.'),
    error,
    card(h('div', { class: 'search' }, icon(ICONS.search), search), body, { actions: count, cls: 'list-card' }),
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

// Retained messages: list by topic filter, view one (payload pretty-printed, properties), delete
// one after a confirmation.
import type { RetainedMessage } from '../api-types.js';
import { errorText } from '../api.js';
import { debounce, h, icon, replace } from '../dom.js';
import { ICONS } from '../icons.js';
import { formatAgo, formatBytes, formatCount, formatDateTime } from '../format.js';
import { poll, type Context, type PageDefinition } from '../context.js';
import { confirmDialog } from '../components/dialog.js';
import { jsonView } from '../components/json-view.js';
import { base64ToBytes, payloadView } from '../components/payload-view.js';
import { badge, card, emptyState, errorBox, pageHeader } from '../components/ui.js';

const REFRESH_MS = 5000;

async function remove(ctx: Context, topic: string): Promise<boolean> {
  const ok = await confirmDialog({
    title: 'Delete the retained message?',
    body: `New subscribers to ${topic} will no longer receive it. This cannot be undone.`,
    confirm: 'Delete',
    danger: true,
  });
  if (!ok) return false;
  try {
    await ctx.api.deleteRetained(topic);
    ctx.toasts.show(`Deleted the retained message on ${topic}`, 'ok');
    return true;
  } catch (err) {
    ctx.toasts.show(errorText(err), 'error', 6000);
    return false;
  }
}

function detail(m: RetainedMessage): HTMLElement {
  const props = m.properties && Object.keys(m.properties).length ? m.properties : null;
  return h(
    'div',
    { class: 'retained-detail' },
    payloadView(base64ToBytes(m.payload)).el,
    props ? h('div', null, h('div', { class: 'doc-head' }, 'Properties'), jsonView(props)) : null,
  );
}

export const retainedPage: PageDefinition = {
  path: 'retained',
  title: 'Retained messages',
  icon: ICONS.retained,
  mount(root, ctx) {
    let filter = '#';
    const open = new Set<string>();
    const filterInput = h('input', { type: 'search', value: '#', 'aria-label': 'Topic filter', 'data-testid': 'retained-filter', autocomplete: 'off', spellcheck: 'false' });
    const count = h('span', { class: 'muted' });
    const body = h('div', { class: 'table-wrap' });
    const error = h('div');
    const refreshBtn = h('button', { type: 'button', class: 'btn btn-small' }, icon(ICONS.refresh), 'Refresh');
    let generation = 0;

    const refresh = async () => {
      const mine = ++generation;
      try {
        const { total, retained } = await ctx.api.retained(filter || '#');
        if (mine !== generation) return;
        replace(error);
        count.textContent = `${formatCount(total)} retained${total > retained.length ? `, first ${retained.length} shown` : ''}`;
        if (retained.length === 0) {
          replace(body, emptyState('No retained messages', ['Publish with the retain flag set and the message is kept for new subscribers. (Filter: ', h('code', null, filter || '#'), ')'], ICONS.retained));
          return;
        }
        const rows = retained.flatMap((m) => {
          const del = h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', 'data-testid': 'delete-retained', title: `Delete ${m.topic}` }, icon(ICONS.trash), 'Delete');
          del.addEventListener('click', async (e) => {
            e.stopPropagation();
            if (await remove(ctx, m.topic)) void refresh();
          });
          const isOpen = open.has(m.topic);
          const tr = h(
            'tr',
            { class: `clickable ${isOpen ? 'open' : ''}`, 'data-topic': m.topic },
            // A button, so the row opens from the keyboard too (the click reaches the row's handler).
            h('td', { 'data-label': 'Topic' }, h('button', { type: 'button', class: 'link-btn mono strong', 'aria-expanded': String(isOpen) }, m.topic)),
            h('td', { 'data-label': 'QoS' }, badge(`QoS ${m.qos}`, 'info')),
            h('td', { 'data-label': 'Size', class: 'num' }, formatBytes(m.payloadSize)),
            h('td', { 'data-label': 'Updated', title: m.lastModifiedTime ? formatDateTime(m.lastModifiedTime) : '' }, m.lastModifiedTime ? formatAgo(m.lastModifiedTime) : '—'),
            h('td', { class: 'actions' }, del),
          );
          tr.addEventListener('click', () => {
            if (open.has(m.topic)) open.delete(m.topic);
            else open.add(m.topic);
            void refresh();
          });
          return isOpen ? [tr, h('tr', { class: 'detail-row' }, h('td', { colspan: '5' }, detail(m)))] : [tr];
        });
        replace(
          body,
          h(
            'table',
            { class: 'table responsive', 'data-testid': 'retained-table' },
            h('thead', null, h('tr', null, h('th', null, 'Topic'), h('th', null, 'QoS'), h('th', { class: 'num' }, 'Size'), h('th', null, 'Updated'), h('th', null, ''))),
            h('tbody', null, rows),
          ),
        );
      } catch (err) {
        if (mine === generation) replace(error, errorBox(`Cannot list retained messages: ${errorText(err)}`));
      }
    };
    filterInput.addEventListener(
      'input',
      debounce(() => {
        filter = filterInput.value.trim();
        void refresh();
      }, 250),
    );
    refreshBtn.addEventListener('click', () => void refresh());

    replace(
      root,
      pageHeader('Retained messages', 'The last retained message on each topic, delivered to new subscribers.'),
      error,
      card(h('div', { class: 'search' }, icon(ICONS.search), filterInput), body, { actions: [count, refreshBtn], cls: 'list-card' }),
    );
    void refresh();
    const stop = poll(refresh, REFRESH_MS);
    return { unmount: stop };
  },
};

// Rules: the topic rules (SQL, actions, error action), enabled or not, with a switch. A server
// without the rules engine answers 404: shown as "not available", not as an error.
import type { RuleSummary } from '../api-types.js';
import { ApiError, errorText } from '../api.js';
import { h, replace } from '../dom.js';
import { ICONS } from '../icons.js';
import { formatDateTime } from '../format.js';
import type { Context, PageDefinition } from '../context.js';
import { jsonView } from '../components/json-view.js';
import { badge, card, emptyState, errorBox, pageHeader } from '../components/ui.js';

function actionName(a: Record<string, unknown>): string {
  return Object.keys(a)[0] ?? 'action';
}

function ruleCard(ctx: Context, r: RuleSummary, reload: () => void): HTMLElement {
  const toggle = h('button', { type: 'button', class: 'btn btn-small' }, r.ruleDisabled ? 'Enable' : 'Disable');
  toggle.addEventListener('click', async () => {
    toggle.disabled = true;
    try {
      await ctx.api.setRuleEnabled(r.name, r.ruleDisabled);
      ctx.toasts.show(`${r.ruleDisabled ? 'Enabled' : 'Disabled'} ${r.name}`, 'ok');
      reload();
    } catch (err) {
      ctx.toasts.show(errorText(err), 'error', 6000);
      toggle.disabled = false;
    }
  });
  return card(
    [r.name, ' ', r.ruleDisabled ? badge('Disabled', 'muted') : badge('Enabled', 'ok')],
    [
      r.description ? h('p', { class: 'muted' }, r.description) : null,
      h('pre', { class: 'code sql' }, r.sql),
      h(
        'div',
        { class: 'rule-actions' },
        r.actions.length
          ? r.actions.map((a) => h('details', { class: 'more' }, h('summary', null, badge(actionName(a), 'info'), ' action'), jsonView(a)))
          : h('span', { class: 'muted' }, 'No actions.'),
        r.errorAction ? h('details', { class: 'more' }, h('summary', null, badge(actionName(r.errorAction), 'warn'), ' error action'), jsonView(r.errorAction)) : null,
      ),
      r.lastModifiedAt ? h('p', { class: 'muted small' }, `Last modified ${formatDateTime(r.lastModifiedAt)}`) : null,
    ],
    { actions: toggle, cls: 'rule-card' },
  );
}

export const rulesPage: PageDefinition = {
  path: 'rules',
  title: 'Rules',
  icon: ICONS.rules,
  mount(root, ctx) {
    const body = h('div', { class: 'rules' }, h('p', { class: 'muted' }, 'Loading…'));
    const inCard = (el: HTMLElement) => h('section', { class: 'card' }, el);
    const load = async () => {
      try {
        const { rules, queued } = await ctx.api.rules();
        if (rules.length === 0) {
          replace(body, inCard(emptyState('No rules', ['Rules run SQL over messages and act on the result. Add them under ', h('code', null, 'rules'), ' in the configuration, or with ', h('code', null, 'switchboard rules create'), '.'], ICONS.rules)));
          return;
        }
        replace(body, queued ? h('p', { class: 'muted' }, `${queued} message(s) waiting for the rules engine.`) : null, rules.map((r) => ruleCard(ctx, r, () => void load())));
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) {
          replace(body, inCard(emptyState('Rules are not available', 'This server has no rules engine.', ICONS.rules)));
        } else {
          replace(body, errorBox(`Cannot list rules: ${errorText(err)}`));
        }
      }
    };
    replace(root, pageHeader('Rules', 'Topic rules: SQL over incoming messages, and the actions they trigger.'), body);
    void load();
    return { unmount: () => undefined };
  },
};

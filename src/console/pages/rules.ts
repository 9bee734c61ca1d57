// Rules: the topic rules (SQL, actions, error action), enabled or not, with a switch; a form to
// create or edit one (POST or PUT /api/rules), delete with a confirmation, and a box that runs the
// SQL against a sample message (POST /api/rules/test) without running any action. SQL errors
// ("line L, column C: ...") are shown under the SQL box with the position marked. A server
// without the rules engine answers 404: shown as "not available", not as an error.
import type { RuleInput, RuleStats, RuleSummary } from '../api-types.js';
import { ApiError, errorText } from '../api.js';
import { field, h, replace } from '../dom.js';
import { ICONS } from '../icons.js';
import { formatDateTime } from '../format.js';
import type { Context, PageDefinition } from '../context.js';
import { confirmDialog } from '../components/dialog.js';
import { jsonView } from '../components/json-view.js';
import { badge, card, emptyState, errorBox, pageHeader } from '../components/ui.js';

const EXAMPLE_SQL = "SELECT temperature, topic(2) AS id FROM 'sensors/+/data' WHERE temperature > 50";
const EXAMPLE_ACTIONS = '[\n  { "republish": { "topic": "alerts/${topic(2)}", "qos": 0 } }\n]';

function actionName(a: Record<string, unknown>): string {
  return Object.keys(a)[0] ?? 'action';
}

/** The action types the server runs (src/rules/rule-definition.ts). */
const ACTION_TYPES = ['republish', 'function', 'http', 'log'] as const;
const ACCEPTED = `accepted action types: ${ACTION_TYPES.join(', ')}`;

/** The first action that is not one object with one accepted type, named by field and position. */
function actionProblem(label: string, action: unknown, where: string): string | null {
  if (typeof action !== 'object' || action === null || Array.isArray(action)) return `${label}${where}: expected an object such as { "log": {} }; ${ACCEPTED}`;
  const keys = Object.keys(action);
  if (keys.length !== 1) return `${label}${where}: one action type per object, found ${keys.length ? keys.join(', ') : 'none'}; ${ACCEPTED}`;
  if (!(ACTION_TYPES as readonly string[]).includes(keys[0]!)) return `${label}${where}: "${keys[0]}" is not an action type; ${ACCEPTED}`;
  return null;
}

/** A server error about an action ("actions.1.http.url: ...") with the field in words. */
function actionErrorText(message: string): string {
  const m = /\bactions\.(\d+)(\.\S*)?:\s*(.*)$/s.exec(message);
  if (m) return `Actions, item ${Number(m[1]) + 1}${m[2] ? ` (${m[2].slice(1)})` : ''}: ${m[3]}; ${ACCEPTED}`;
  const e = /\berrorAction(\.\S*)?:\s*(.*)$/s.exec(message);
  if (e) return `Error action${e[1] ? ` (${e[1].slice(1)})` : ''}: ${e[2]}; ${ACCEPTED}`;
  return message;
}

const SQL_WORDS = new Set(['select', 'from', 'where', 'as', 'and', 'or', 'not', 'is', 'null', 'true', 'false', 'case', 'when', 'then', 'else', 'end', 'in', 'like', 'between', 'undefined', 'distinct']);

/**
 * Fields the SELECT and WHERE clauses read that the sample payload lacks (a first-level key), so
 * a "Not matched" or a missing output field is explained. A reading of the SQL text, not a parse:
 * function names (followed by '('), aliases (after AS), keywords and quoted text are skipped.
 */
export function fieldsMissingFromSample(sql: string, payload: string): { field: string; clause: 'SELECT' | 'WHERE' }[] {
  let sample: unknown;
  try {
    sample = JSON.parse(payload);
  } catch {
    return [];
  }
  if (typeof sample !== 'object' || sample === null || Array.isArray(sample)) return [];
  const keys = new Set(Object.keys(sample));
  const text = sql.replace(/'(?:[^']|'')*'/g, "''").replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const select = /select\s+([\s\S]*?)\s+from\s/i.exec(text)?.[1] ?? '';
  const where = /\swhere\s+([\s\S]*)$/i.exec(text)?.[1] ?? '';
  const out: { field: string; clause: 'SELECT' | 'WHERE' }[] = [];
  const seen = new Set<string>();
  for (const [clause, part] of [['SELECT', select], ['WHERE', where]] as const) {
    const ident = /([A-Za-z_][A-Za-z0-9_]*)(?:\.[A-Za-z_][A-Za-z0-9_]*)*/g;
    let m: RegExpExecArray | null;
    while ((m = ident.exec(part)) !== null) {
      const before = part.slice(0, m.index);
      const after = part.slice(m.index + m[0].length);
      const name = m[1]!;
      if (/^\s*\(/.test(after) || /\bas\s+$/i.test(before) || /[\d.]$/.test(before) || SQL_WORDS.has(name.toLowerCase())) continue;
      if (keys.has(name) || seen.has(`${clause}:${name}`)) continue;
      seen.add(`${clause}:${name}`);
      out.push({ field: name, clause });
    }
  }
  return out;
}

/** A rule's health on this server: executions, failures, and the last error with its action. */
function healthView(stats: RuleStats | undefined): HTMLElement {
  const s = stats ?? { executions: 0, failures: 0 };
  return h(
    'div',
    { class: 'rule-health', 'data-testid': 'rule-health' },
    h(
      'div',
      { class: 'rule-health-counts' },
      h('span', null, h('span', { class: 'muted' }, 'Executions '), h('b', { 'data-testid': 'rule-executions' }, s.executions.toLocaleString())),
      h('span', null, h('span', { class: 'muted' }, 'Failures '), h('b', { 'data-testid': 'rule-failures', class: s.failures > 0 ? 'text-error' : '' }, s.failures.toLocaleString())),
    ),
    s.lastError
      ? h(
          'div',
          { class: 'alert alert-error rule-last-error', 'data-testid': 'rule-last-error' },
          h('div', null, h('strong', null, 'Last error'), ` at ${formatDateTime(s.lastError.at)}, action `, h('code', null, s.lastError.action), s.lastError.resource ? [' (', h('code', null, s.lastError.resource), ')'] : null),
          h('div', null, s.lastError.message),
        )
      : null,
  );
}

/** Line and column (1-based) from an SQL error message, if it names them. */
function sqlPosition(message: string): { line: number; column: number } | null {
  const m = /line (\d+), column (\d+)/.exec(message);
  return m ? { line: Number(m[1]), column: Number(m[2]) } : null;
}

/** The SQL error, with the offending line and a caret under the column. */
function sqlErrorView(sql: string, message: string): HTMLElement {
  const pos = sqlPosition(message);
  const line = pos ? sql.split('\n')[pos.line - 1] : undefined;
  return h(
    'div',
    { class: 'alert alert-error sql-error', role: 'alert', 'data-testid': 'sql-error', 'data-line': pos?.line, 'data-column': pos?.column },
    h('div', null, message),
    pos && line !== undefined
      ? h(
          'pre',
          { class: 'sql-error-at' },
          line.slice(0, pos.column - 1),
          h('mark', null, line.slice(pos.column - 1, pos.column) || ' '),
          line.slice(pos.column),
          '\n',
          ' '.repeat(Math.max(0, pos.column - 1)) + '^',
        )
      : null,
  );
}

/** Selects the character at line/column in the textarea, so the caret sits on the error. */
function selectPosition(area: HTMLTextAreaElement, pos: { line: number; column: number }): void {
  const lines = area.value.split('\n');
  let offset = 0;
  for (let i = 0; i < pos.line - 1 && i < lines.length; i++) offset += lines[i]!.length + 1;
  offset = Math.min(area.value.length, offset + pos.column - 1);
  area.focus();
  area.setSelectionRange(offset, Math.min(area.value.length, offset + 1));
}

/** Parses a JSON textarea; `undefined` when empty and allowed. Throws with a readable message. */
function parseJsonField(label: string, text: string, kind: 'array' | 'object'): unknown {
  const t = text.trim();
  if (!t) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch (err) {
    throw new Error(`${label}: not JSON (${(err as Error).message})`);
  }
  if (kind === 'array' ? !Array.isArray(v) : typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new Error(`${label}: expected a JSON ${kind === 'array' ? 'array of actions' : 'object'}`);
  }
  return v;
}

interface Editor {
  el: HTMLElement;
  open(rule: RuleSummary | null): void;
}

function ruleEditor(ctx: Context, saved: () => void): Editor {
  let editing: string | null = null;
  const title = h('span', null, 'New rule');
  const name = h('input', { type: 'text', required: true, pattern: '[a-zA-Z0-9_]+', placeholder: 'high_temperature', 'data-testid': 'rule-name', autocomplete: 'off' });
  const sql = h('textarea', { rows: 4, spellcheck: 'false', class: 'mono', required: true, 'data-testid': 'rule-sql', id: 'rule-sql' });
  const sqlError = h('div', { class: 'sql-error-slot' });
  const description = h('input', { type: 'text', 'data-testid': 'rule-description', autocomplete: 'off' });
  const actions = h('textarea', { rows: 5, spellcheck: 'false', class: 'mono', 'data-testid': 'rule-actions' });
  const errorAction = h('textarea', { rows: 3, spellcheck: 'false', class: 'mono', 'data-testid': 'rule-error-action', placeholder: '{ "log": { "level": "error" } }' });
  const enabled = h('input', { type: 'checkbox', checked: true, 'data-testid': 'rule-enabled' });
  const save = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'rule-save' }, 'Save rule');
  const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
  const formError = h('div', { 'data-testid': 'rule-form-error' });

  // The test box: the SQL above against one sample message.
  const testTopic = h('input', { type: 'text', value: 'sensors/7/data', 'data-testid': 'rule-test-topic', autocomplete: 'off' });
  const testPayload = h('textarea', { rows: 3, spellcheck: 'false', class: 'mono', 'data-testid': 'rule-test-payload' }, '{"temperature": 60}');
  const testClientId = h('input', { type: 'text', placeholder: 'optional', 'data-testid': 'rule-test-client-id', autocomplete: 'off' });
  const testButton = h('button', { type: 'button', class: 'btn', 'data-testid': 'rule-test' }, 'Test SQL');
  const testResult = h('div', { class: 'test-result', 'data-testid': 'rule-test-result' });

  const showSqlError = (message: string) => {
    replace(sqlError, sqlErrorView(sql.value, message));
    const pos = sqlPosition(message);
    if (pos) selectPosition(sql, pos);
  };

  sql.addEventListener('input', () => replace(sqlError));

  testButton.addEventListener('click', async () => {
    replace(sqlError);
    testButton.disabled = true;
    replace(testResult, h('p', { class: 'muted' }, 'Testing…'));
    try {
      const r = await ctx.api.testRule({ sql: sql.value, topic: testTopic.value.trim(), payload: testPayload.value, ...(testClientId.value.trim() ? { clientId: testClientId.value.trim() } : {}) });
      const missing = fieldsMissingFromSample(sql.value, testPayload.value);
      replace(
        testResult,
        missing.length
          ? h(
              'div',
              { class: 'alert alert-warn', 'data-testid': 'rule-test-missing' },
              missing.map((x, i) => [i ? h('br') : null, `The sample has no field `, h('code', null, x.field), ` (read in ${x.clause}): it is undefined there.`]),
            )
          : null,
        r.matched
          ? [h('div', { class: 'verdict verdict-allow', 'data-testid': 'rule-test-verdict' }, h('strong', null, 'Matched'), h('span', null, 'the actions would get:')), jsonView(r.result, 'rule-test-output')]
          : h('div', { class: 'verdict verdict-deny', 'data-testid': 'rule-test-verdict' }, h('strong', null, 'Not matched'), h('span', null, 'the topic filter or the WHERE clause leaves this message out; no action would run.')),
      );
    } catch (err) {
      replace(testResult);
      if (err instanceof ApiError && sqlPosition(err.message)) showSqlError(err.message);
      else replace(testResult, errorBox(errorText(err)));
    } finally {
      testButton.disabled = false;
    }
  });

  const form = h(
    'form',
    { class: 'stack', 'data-testid': 'rule-form' },
    h('div', { class: 'form-grid' }, field('Name', name, 'letters, digits and _'), field('Description', description)),
    h('div', { class: 'field' }, h('label', { class: 'field-label', for: 'rule-sql' }, 'SQL'), sql, sqlError),
    field('Actions (JSON array)', actions, ["republish, function (handler: a function name in the server's functions.dir), http or log: ", h('code', null, '[{ "republish": { "topic": "alerts/${topic(2)}", "qos": 0 } }]')]),
    field('Error action (JSON object, optional)', errorAction, 'runs when an action fails'),
    h('label', { class: 'check' }, enabled, h('span', null, 'Enabled')),
    h(
      'details',
      { class: 'more rule-test', open: true },
      h('summary', null, 'Test this SQL against a sample message'),
      h(
        'div',
        { class: 'more-body stack' },
        h('div', { class: 'form-grid' }, field('Topic', testTopic), field('Client ID', testClientId, 'for clientid()')),
        field('Payload (JSON or any text)', testPayload),
        h('div', { class: 'form-actions' }, testButton),
        testResult,
      ),
    ),
    formError,
    h('div', { class: 'form-actions' }, save, cancel),
  );

  const el = h('div', { class: 'rule-editor', hidden: true }, card(title, form, { sub: 'Rules run SQL over incoming messages and pass the result to their actions.', cls: 'rule-editor-card' }));

  cancel.addEventListener('click', () => {
    el.hidden = true;
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    replace(formError);
    replace(sqlError);
    let body: RuleInput;
    try {
      const acts = parseJsonField('Actions', actions.value, 'array') as Record<string, unknown>[] | undefined;
      const errAct = parseJsonField('Error action', errorAction.value, 'object') as Record<string, unknown> | undefined;
      const problem = (acts ?? []).map((a, i) => actionProblem('Actions', a, `, item ${i + 1}`)).find((x) => x !== null) ?? (errAct ? actionProblem('Error action', errAct, '') : null);
      if (problem) throw new Error(problem);
      body = { name: (editing ?? name.value).trim(), sql: sql.value, ruleDisabled: !enabled.checked, actions: acts ?? [] };
      if (description.value.trim()) body.description = description.value.trim();
      if (errAct) body.errorAction = errAct;
    } catch (err) {
      replace(formError, errorBox(errorText(err)));
      return;
    }
    save.disabled = true;
    try {
      if (editing) await ctx.api.updateRule(editing, body);
      else await ctx.api.createRule(body);
      ctx.toasts.show(`${editing ? 'Saved' : 'Created'} ${body.name}`, 'ok');
      el.hidden = true;
      saved();
    } catch (err) {
      // An SQL error goes next to the SQL box; a template error in an action names a line and
      // column too, so the SQL alone is checked to tell them apart.
      let sqlBroken = false;
      if (err instanceof ApiError && sqlPosition(err.message)) {
        try {
          await ctx.api.testRule({ sql: body.sql, topic: 'a', payload: '{}' });
        } catch (sqlErr) {
          if (sqlErr instanceof ApiError && sqlPosition(sqlErr.message)) {
            showSqlError(sqlErr.message);
            sqlBroken = true;
          }
        }
      }
      if (!sqlBroken) replace(formError, errorBox(actionErrorText(errorText(err))));
    } finally {
      save.disabled = false;
    }
  });

  return {
    el,
    open(rule) {
      editing = rule?.name ?? null;
      replace(title, rule ? `Edit ${rule.name}` : 'New rule');
      name.value = rule?.name ?? '';
      name.disabled = rule !== null;
      sql.value = rule?.sql ?? EXAMPLE_SQL;
      description.value = rule?.description ?? '';
      actions.value = rule ? JSON.stringify(rule.actions, null, 2) : EXAMPLE_ACTIONS;
      errorAction.value = rule?.errorAction ? JSON.stringify(rule.errorAction, null, 2) : '';
      enabled.checked = rule ? !rule.ruleDisabled : true;
      replace(sqlError);
      replace(formError);
      replace(testResult);
      el.hidden = false;
      el.scrollIntoView({ block: 'start' });
      (rule ? sql : name).focus();
    },
  };
}

function ruleCard(ctx: Context, r: RuleSummary, reload: () => void, edit: (r: RuleSummary) => void): HTMLElement {
  const toggle = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'toggle-rule' }, r.ruleDisabled ? 'Enable' : 'Disable');
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
  const editButton = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'edit-rule' }, 'Edit');
  editButton.addEventListener('click', () => edit(r));
  const del = h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', 'data-testid': 'delete-rule' }, 'Delete');
  del.addEventListener('click', async () => {
    const ok = await confirmDialog({ title: `Delete ${r.name}?`, body: 'The rule stops acting on messages at once. This cannot be undone.', confirm: 'Delete rule', danger: true });
    if (!ok) return;
    del.disabled = true;
    try {
      await ctx.api.deleteRule(r.name);
      ctx.toasts.show(`Deleted ${r.name}`, 'ok');
      reload();
    } catch (err) {
      ctx.toasts.show(`Cannot delete ${r.name}: ${errorText(err)}`, 'error', 6000);
      del.disabled = false;
    }
  });
  const el = card(
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
      healthView(r.stats),
      r.lastModifiedAt ? h('p', { class: 'muted small' }, `Last modified ${formatDateTime(r.lastModifiedAt)}`) : null,
    ],
    { actions: [editButton, toggle, del], cls: 'rule-card' },
  );
  el.dataset.rule = r.name;
  el.dataset.enabled = String(!r.ruleDisabled);
  return el;
}

export const rulesPage: PageDefinition = {
  path: 'rules',
  title: 'Rules',
  icon: ICONS.rules,
  mount(root, ctx) {
    const body = h('div', { class: 'rules' }, h('p', { class: 'muted' }, 'Loading…'));
    const inCard = (el: HTMLElement) => h('section', { class: 'card' }, el);
    const editor = ruleEditor(ctx, () => void load());
    const newRule = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'new-rule', hidden: true }, 'New rule');
    newRule.addEventListener('click', () => editor.open(null));
    let shownShape = '';
    const load = async (poll = false) => {
      try {
        const { rules, queued } = await ctx.api.rules();
        // A poll redraws only the health of each rule, so open details and focus stay put.
        const shape = JSON.stringify(rules.map((r) => [r.name, r.lastModifiedAt, r.ruleDisabled]));
        if (poll && shape === shownShape) {
          for (const r of rules) {
            const old = body.querySelector(`[data-rule="${CSS.escape(r.name)}"] [data-testid=rule-health]`);
            old?.replaceWith(healthView(r.stats));
          }
          return;
        }
        shownShape = shape;
        newRule.hidden = false;
        if (rules.length === 0) {
          replace(body, inCard(emptyState('No rules', ['Rules run SQL over messages and act on the result. Create one with ', h('strong', null, 'New rule'), ', add them under ', h('code', null, 'rules'), ' in the configuration, or use ', h('code', null, 'switchboard rules create'), '.'], ICONS.rules)));
          return;
        }
        replace(body, queued ? h('p', { class: 'muted' }, `${queued} message(s) waiting for the rules engine.`) : null, rules.map((r) => ruleCard(ctx, r, () => void load(), (x) => editor.open(x))));
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) {
          newRule.hidden = true;
          replace(body, inCard(emptyState('Rules are not available', 'This server has no rules engine.', ICONS.rules)));
        } else {
          replace(body, errorBox(`Cannot list rules: ${errorText(err)}`));
        }
      }
    };
    replace(root, pageHeader('Rules', 'Topic rules: SQL over incoming messages, and the actions they trigger.', newRule), editor.el, body);
    void load();
    const timer = window.setInterval(() => void load(true), 5000);
    return { unmount: () => window.clearInterval(timer) };
  },
};

// Authorizers: the configured custom authorizers (status, default, description), a form that runs
// TestInvokeAuthorizer and shows the policy documents it returns, and a policy check (documents +
// action + resource -> Allow/Deny and the deciding statement).
// Longer than our usual file: the list, the create/edit form, test-invoke and the policy check share
// the page's authorizer state and statement numbering; split, each would re-fetch and re-number.
import type { AuthorizerDescription, AuthorizerSummary, PolicyCheckResult, TestInvokeInput, TestInvokeResult } from '../api-types.js';
import { errorText } from '../api.js';
import { field, h, replace } from '../dom.js';
import { ICONS } from '../icons.js';
import type { Context, PageDefinition } from '../context.js';
import { jsonView } from '../components/json-view.js';
import { badge, card, emptyState, errorBox, facts, pageHeader } from '../components/ui.js';
import { summarizeKey } from '../key-fingerprint.js';

/** Where each action's resource lives (AWS IoT policy resources). */
const ACTIONS: readonly { action: string; prefix: string }[] = [
  { action: 'iot:Connect', prefix: 'client/' },
  { action: 'iot:Publish', prefix: 'topic/' },
  { action: 'iot:Subscribe', prefix: 'topicfilter/' },
  { action: 'iot:Receive', prefix: 'topic/' },
  { action: 'iot:RetainPublish', prefix: 'topic/' },
  { action: 'iot:GetRetainedMessage', prefix: 'topic/' },
  { action: 'iot:ListRetainedMessages', prefix: '' },
  { action: 'iot:DeleteConnection', prefix: 'client/' },
];

const input = (attrs: Record<string, string | boolean | undefined> = {}) => h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', ...attrs });

/** "Name: value" lines -> headers object. */
function parseHeaders(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return Object.keys(out).length ? out : undefined;
}

function utf8Base64(text: string): string {
  let bin = '';
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** A policy document string from the authorizer, parsed when it is JSON. */
function documentValue(doc: string): unknown {
  try {
    return JSON.parse(doc) as unknown;
  } catch {
    return doc;
  }
}

/**
 * Policy documents with their statements numbered from 1 ("Policy document 1, statement 2"), the
 * same way in the test-invoke result and the policy check; `decider` is highlighted.
 */
function documentsView(docs: readonly unknown[], decider: { documentIndex: number; statementIndex: number } | null = null): HTMLElement[] {
  return docs.map((d, i) => {
    const statements = typeof d === 'object' && d !== null && 'Statement' in d ? (d as { Statement: unknown }).Statement : undefined;
    const list = Array.isArray(statements) ? statements : statements !== undefined ? [statements] : null;
    return h(
      'div',
      { class: 'doc' },
      h('div', { class: 'doc-head' }, `Policy document ${i + 1}`),
      list === null
        ? jsonView(d, 'policy-doc')
        : h(
            'ol',
            { class: 'statements' },
            list.map((st, j) => {
              const deciding = decider !== null && decider.documentIndex === i && decider.statementIndex === j;
              const sid = typeof st === 'object' && st !== null && typeof (st as { Sid?: unknown }).Sid === 'string' ? (st as { Sid: string }).Sid : null;
              return h(
                'li',
                { class: `statement${deciding ? ' statement-decider' : ''}`, 'data-testid': deciding ? 'deciding-statement' : undefined },
                h('div', { class: 'statement-head' }, `Statement ${j + 1}`, sid ? [' · Sid ', h('code', null, sid)] : null, deciding ? badge('decided', 'info') : null),
                jsonView(st, 'policy-doc'),
              );
            }),
          ),
    );
  });
}

/** "Policy document 1, statement 2 (Sid "x")": numbered from 1 as documentsView shows them. */
function decidedByText(r: PolicyCheckResult): string {
  if (!r.statement) return r.reason === 'implicitDeny' ? 'no statement (implicit deny)' : r.decidedBy;
  const { documentIndex, statementIndex, sid } = r.statement;
  return `Policy document ${documentIndex + 1}, statement ${statementIndex + 1}${sid ? ` (Sid "${sid}")` : ''}`;
}

/** Public keys from a description: name -> PEM text, or null when there are none. */
function publicKeysOf(d: AuthorizerDescription): [string, string][] | null {
  const keys = d.tokenSigningPublicKeys;
  if (typeof keys !== 'object' || keys === null) return null;
  const out = Object.entries(keys).filter((e): e is [string, string] => typeof e[1] === 'string');
  return out.length ? out : null;
}

/**
 * The signing keys, one row each: name, size and a short SHA-256 fingerprint; the PEM and the
 * whole fingerprint behind a disclosure (a <details>, so it opens from the keyboard too).
 */
function publicKeysView(keys: [string, string][]): HTMLElement {
  return h(
    'ul',
    { class: 'key-list', 'data-testid': 'authorizer-keys' },
    keys.map(([name, pem]) => {
      const key = summarizeKey(pem);
      return h(
        'li',
        { class: 'key', 'data-key-name': name },
        h('div', { class: 'key-head' }, h('code', { class: 'strong' }, name), key ? [h('span', { class: 'muted' }, key.kind), h('span', { class: 'mono small', 'data-testid': 'key-fingerprint', title: `SHA-256 ${key.sha256}` }, `SHA-256 ${key.short}…`)] : h('span', { class: 'muted' }, pem)),
        key
          ? h(
              'details',
              { class: 'more key-more' },
              h('summary', null, 'PEM and full fingerprint', h('span', { class: 'visually-hidden' }, ` of key ${name}`)),
              h('div', { class: 'more-body' }, h('p', { class: 'mono small key-sha' }, `SHA-256 ${key.sha256}`), h('pre', { class: 'mono small key-pem' }, pem.trim())),
            )
          : null,
      );
    }),
  );
}

/** An authorizer's description as labelled rows, not a JSON dump. */
function describeView(d: AuthorizerDescription): HTMLElement {
  const known = new Set(['authorizerName', 'authorizerArn', 'status', 'type', 'tokenKeyName', 'signingDisabled', 'isDefault', 'tokenSigningPublicKeys']);
  const keys = publicKeysOf(d);
  const label = (k: string) => k.replace(/([A-Z])/g, ' $1').replace(/^./, (c) => c.toUpperCase());
  const value = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : typeof v === 'boolean' ? (v ? 'yes' : 'no') : JSON.stringify(v));
  return facts([
    ['Name', d.authorizerName],
    ['ARN', h('code', null, d.authorizerArn)],
    ['Status', badge(d.status, d.status === 'ACTIVE' ? 'ok' : 'muted')],
    ['Type', d.type ?? '—'],
    ['Default', d.isDefault ? 'yes: clients that name no authorizer use it' : 'no'],
    ['Token key name', d.tokenKeyName ? h('code', null, d.tokenKeyName) : '—'],
    ['Token signing', d.signingDisabled === false ? 'on: tokens must be signed' : 'off'],
    ...(keys ? [[`Public keys (${keys.length})`, publicKeysView(keys)] as const] : []),
    ...Object.entries(d)
      .filter(([k, v]) => !known.has(k) && v !== undefined && v !== null)
      .map(([k, v]) => [label(k), typeof v === 'object' ? h('code', null, value(v)) : value(v)] as const),
  ]);
}

/**
 * Create an authorizer (POST /api/authorizers) or change one (PATCH /api/authorizers/{name}).
 * The name, the type and signing are fixed once created (as on AWS); a function is named by its
 * name in the server's functions.dir, never a path; a signing key is PEM text.
 */
function authorizerEditor(ctx: Context, saved: () => void): { el: HTMLElement; open(d: AuthorizerDescription | null): void } {
  let editing: string | null = null;
  /** The values shown when editing began: only what changed is sent (a config file's handler is a path the API would refuse). */
  let original: Record<string, string> = {};
  const title = h('span', null, 'New authorizer');
  const name = input({ 'data-testid': 'authorizer-name', required: true, placeholder: 'e.g. Devices' });
  const type = h('select', { 'data-testid': 'authorizer-type' }, h('option', { value: 'function' }, 'function (a handler in functions.dir)'), h('option', { value: 'http' }, 'http (POSTs the event to a URL)'));
  const handler = input({ 'data-testid': 'authorizer-handler', placeholder: 'function name, e.g. devices' });
  const url = input({ 'data-testid': 'authorizer-url', placeholder: 'https://auth.example.com/authorize' });
  const tokenKeyName = input({ 'data-testid': 'authorizer-token-key', placeholder: 'e.g. token' });
  const signed = h('input', { type: 'checkbox', 'data-testid': 'authorizer-signed' });
  const keyName = input({ value: 'key1', 'aria-label': 'Public key name' });
  const keyPem = h('textarea', { rows: 4, spellcheck: 'false', class: 'mono', 'data-testid': 'authorizer-key', placeholder: '-----BEGIN PUBLIC KEY-----' });
  const timeout = h('input', { type: 'number', min: '100', max: '60000', value: '5000', 'data-testid': 'authorizer-timeout' });
  const active = h('input', { type: 'checkbox', checked: true, 'data-testid': 'authorizer-active' });
  const error = h('div', { 'data-testid': 'authorizer-form-error' });
  const save = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'authorizer-save' }, 'Save authorizer');
  const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
  const handlerField = field('Function name', handler, 'a function in the server’s functions.dir');
  const urlField = field('URL', url);
  const keysNote = h('p', { class: 'muted small', 'data-testid': 'authorizer-keys-note', hidden: true });
  const keyFields = h('div', { class: 'stack' }, h('div', { class: 'form-grid' }, field('Public key name', keyName), field('Public key (PEM)', keyPem, 'verifies x-amz-customauthorizer-signature')), keysNote);
  const sync = () => {
    handlerField.hidden = type.value !== 'function';
    urlField.hidden = type.value !== 'http';
    keyFields.hidden = !signed.checked;
  };
  type.addEventListener('change', sync);
  signed.addEventListener('change', sync);
  const form = h(
    'form',
    { class: 'stack', 'data-testid': 'authorizer-form' },
    h('div', { class: 'form-grid' }, field('Name', name), field('Type', type), handlerField, urlField, field('Token key name', tokenKeyName, 'the query parameter or header holding the token'), field('Timeout (ms)', timeout)),
    h('label', { class: 'check' }, signed, h('span', null, 'Tokens are signed (needs a token key name and a public key)')),
    keyFields,
    h('label', { class: 'check' }, active, h('span', null, 'Active')),
    error,
    h('div', { class: 'form-actions' }, save, cancel),
  );
  const el = h('div', { class: 'rule-editor', hidden: true }, card(title, form, { cls: 'authorizer-editor' }));
  cancel.addEventListener('click', () => {
    el.hidden = true;
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    replace(error);
    const body: Record<string, unknown> = { status: active.checked ? 'ACTIVE' : 'INACTIVE', timeoutMs: Number(timeout.value) || 5000 };
    const changed = (key: string, value: string) => value !== '' && (editing === null || original[key] !== value);
    if (type.value === 'function' && changed('handler', handler.value.trim())) body.handler = handler.value.trim();
    if (type.value === 'http' && changed('url', url.value.trim())) body.url = url.value.trim();
    if (changed('tokenKeyName', tokenKeyName.value.trim())) body.tokenKeyName = tokenKeyName.value.trim();
    if (signed.checked && keyPem.value.trim()) body.tokenSigningPublicKeys = { [keyName.value.trim() || 'key1']: keyPem.value.trim() };
    if (editing === null) Object.assign(body, { name: name.value.trim(), type: type.value, signingDisabled: !signed.checked });
    save.disabled = true;
    try {
      if (editing === null) await ctx.api.createAuthorizer(body);
      else await ctx.api.updateAuthorizer(editing, body);
      ctx.toasts.show(`${editing === null ? 'Created' : 'Saved'} ${editing ?? String(body.name)}`, 'ok');
      el.hidden = true;
      saved();
    } catch (err) {
      // The server names the field ("tokenSigningPublicKeys: ..."); say which box that is.
      const text = errorText(err).replace(/\btokenSigningPublicKeys\b/, 'Public key (tokenSigningPublicKeys)').replace(/\btokenKeyName\b/, 'Token key name (tokenKeyName)').replace(/\bhandler\b/, 'Function name (handler)');
      replace(error, errorBox(text));
    } finally {
      save.disabled = false;
    }
  });
  return {
    el,
    open(d) {
      editing = d?.authorizerName ?? null;
      replace(title, d ? `Edit ${d.authorizerName}` : 'New authorizer');
      name.value = d?.authorizerName ?? '';
      name.disabled = d !== null;
      type.value = d?.type === 'http' ? 'http' : 'function';
      type.disabled = d !== null;
      handler.value = typeof d?.handler === 'string' ? d.handler : '';
      url.value = typeof d?.url === 'string' ? d.url : '';
      tokenKeyName.value = d?.tokenKeyName ?? '';
      signed.checked = d ? d.signingDisabled === false : false;
      signed.disabled = d !== null;
      keyPem.value = '';
      // A saved key replaces the whole map (UpdateAuthorizer's tokenSigningPublicKeys); say which keys go.
      const current = d ? publicKeysOf(d) : null;
      keyName.value = current?.[0]?.[0] ?? 'key1';
      keysNote.hidden = current === null;
      replace(keysNote, current ? `Current keys: ${current.map(([k]) => k).join(', ')} (listed in the details). A key saved here replaces all of them; leave the PEM empty to keep them.` : '');
      timeout.value = String(typeof d?.timeoutMs === 'number' ? d.timeoutMs : 5000);
      active.checked = d ? d.status === 'ACTIVE' : true;
      original = { handler: handler.value, url: url.value, tokenKeyName: tokenKeyName.value };
      sync();
      replace(error);
      el.hidden = false;
      el.scrollIntoView({ block: 'start' });
      (d ? tokenKeyName : name).focus();
    },
  };
}

function authorizerList(ctx: Context, onLoaded: (list: AuthorizerSummary[], def: string | null) => void, edit: (d: AuthorizerDescription | null) => void): { el: HTMLElement; reload(): void } {
  const body = h('div', { class: 'table-wrap' }, h('p', { class: 'muted' }, 'Loading…'));
  const details = new Map<string, HTMLElement>();

  const toggle = async (name: string, tr: HTMLTableRowElement) => {
    const open = details.get(name);
    if (open) {
      open.remove();
      details.delete(name);
      tr.classList.remove('open');
      return;
    }
    const cell = h('td', { colspan: '5' }, h('p', { class: 'muted' }, 'Loading…'));
    const detail = h('tr', { class: 'detail-row' }, cell);
    tr.after(detail);
    tr.classList.add('open');
    details.set(name, detail);
    try {
      const { authorizerDescription: d } = await ctx.api.authorizer(name);
      const toggleStatus = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'authorizer-toggle' }, d.status === 'ACTIVE' ? 'Disable' : 'Enable');
      const makeDefault = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'authorizer-default', hidden: d.isDefault === true }, 'Make default');
      const act = async (button: HTMLButtonElement, run: () => Promise<unknown>, done: string) => {
        button.disabled = true;
        try {
          await run();
          ctx.toasts.show(done, 'ok');
          reload();
        } catch (err) {
          ctx.toasts.show(errorText(err), 'error', 6000);
          button.disabled = false;
        }
      };
      toggleStatus.addEventListener('click', () => void act(toggleStatus, () => ctx.api.updateAuthorizer(name, { status: d.status === 'ACTIVE' ? 'INACTIVE' : 'ACTIVE' }), `${d.status === 'ACTIVE' ? 'Disabled' : 'Enabled'} ${name}`));
      makeDefault.addEventListener('click', () => void act(makeDefault, () => ctx.api.setDefaultAuthorizer(name), `${name} is the default authorizer`));
      const editBtn = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'authorizer-edit' }, 'Edit');
      editBtn.addEventListener('click', () => edit(d));
      replace(cell, describeView(d), h('div', { class: 'form-actions' }, editBtn, toggleStatus, makeDefault));
    } catch (err) {
      replace(cell, errorBox(errorText(err)));
    }
  };

  function reload(): void {
    details.clear();
    ctx.api
      .authorizers()
      .then(({ authorizers, defaultAuthorizerName }) => {
        onLoaded(authorizers, defaultAuthorizerName);
        if (authorizers.length === 0) {
          replace(
            body,
            emptyState('No authorizers', ['Add one under ', h('code', null, 'auth.authorizers'), ' in the configuration file, or with ', h('code', null, 'switchboard authorizers create'), '.'], ICONS.authorizers),
          );
          return;
        }
        replace(
          body,
          h(
            'table',
            { class: 'table responsive', 'data-testid': 'authorizers-table' },
            h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'Status'), h('th', null, 'Default'), h('th', null, 'ARN'), h('th', null, ''))),
            h(
              'tbody',
              null,
              authorizers.map((a) => {
                const tr = h(
                  'tr',
                  { class: 'clickable', 'data-authorizer': a.authorizerName },
                  h('td', { 'data-label': 'Name' }, h('span', { class: 'strong' }, a.authorizerName)),
                  h('td', { 'data-label': 'Status' }, badge(a.status, a.status === 'ACTIVE' ? 'ok' : 'muted')),
                  h('td', { 'data-label': 'Default' }, a.authorizerName === defaultAuthorizerName ? badge('Default', 'info') : h('span', { class: 'muted' }, '—')),
                  h('td', { 'data-label': 'ARN' }, h('span', { class: 'mono small' }, a.authorizerArn)),
                  h('td', { class: 'actions' }, h('button', { type: 'button', class: 'link-btn', 'aria-label': `Details of ${a.authorizerName}` }, 'Details')),
                );
                tr.addEventListener('click', () => void toggle(a.authorizerName, tr));
                return tr;
              }),
            ),
          ),
        );
      })
      .catch((err) => replace(body, errorBox(`Cannot list authorizers: ${errorText(err)}`)));
  }
  reload();

  const create = h('button', { type: 'button', class: 'btn btn-primary btn-small', 'data-testid': 'new-authorizer' }, 'New authorizer');
  create.addEventListener('click', () => edit(null));
  return { el: card('Custom authorizers', body, { sub: 'Clients select one with x-amz-customauthorizer-name; the default takes those that name none.', cls: 'list-card', actions: create }), reload };
}

function testForm(ctx: Context, usePolicies: (docs: unknown[], clientId: string) => void): { el: HTMLElement; setAuthorizers(list: AuthorizerSummary[], def: string | null): void } {
  const name = h('select', { 'data-testid': 'test-authorizer', required: true });
  const token = input({ 'data-testid': 'test-token' });
  const signature = input({ placeholder: 'base64' });
  const username = input({ 'data-testid': 'test-username' });
  const password = input({ placeholder: 'sent as base64, as AWS expects' });
  const clientId = input({ value: 'test-client', 'data-testid': 'test-client-id' });
  const headers = h('textarea', { rows: 2, placeholder: 'Name: value, one per line', spellcheck: 'false' });
  const queryString = input({ placeholder: '?key=value' });
  const serverName = input({ placeholder: 'SNI host name' });
  const result = h('div', { class: 'test-result', 'data-testid': 'test-result' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'test-invoke' }, 'Test authorizer');

  const form = h(
    'form',
    { class: 'stack' },
    h('div', { class: 'form-grid' }, field('Authorizer', name), field('Token', token), field('Token signature', signature, 'only when signing is on'), field('MQTT client ID', clientId)),
    h(
      'details',
      { class: 'more' },
      h('summary', null, 'MQTT, HTTP and TLS context'),
      h(
        'div',
        { class: 'more-body form-grid' },
        field('MQTT user name', username),
        field('MQTT password', password),
        field('HTTP headers', headers),
        field('HTTP query string', queryString),
        field('TLS server name', serverName),
      ),
    ),
    h('div', { class: 'form-actions' }, submit),
    result,
  );

  const show = (r: TestInvokeResult) => {
    const docs = r.policyDocuments.map(documentValue);
    const use = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'use-policies' }, 'Check these documents below');
    use.addEventListener('click', () => usePolicies(docs.filter((d) => typeof d === 'object'), clientId.value.trim()));
    replace(
      result,
      h(
        'div',
        { class: `verdict ${r.isAuthenticated ? 'verdict-allow' : 'verdict-deny'}` },
        h('strong', null, r.isAuthenticated ? 'Authenticated' : 'Not authenticated'),
        h('span', null, 'principal ', h('code', null, r.principalId || '—')),
      ),
      facts([
        ['Refresh after', `${r.refreshAfterInSeconds} s`],
        ['Disconnect after', `${r.disconnectAfterInSeconds} s`],
        ['Policy documents', String(docs.length)],
      ]),
      documentsView(docs),
      docs.length ? h('div', { class: 'form-actions' }, use) : null,
    );
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!name.value) return;
    const body: TestInvokeInput = {};
    if (token.value) body.token = token.value;
    if (signature.value.trim()) body.tokenSignature = signature.value.trim();
    const mqtt: NonNullable<TestInvokeInput['mqttContext']> = {};
    if (username.value) mqtt.username = username.value;
    if (password.value) mqtt.password = utf8Base64(password.value);
    if (clientId.value.trim()) mqtt.clientId = clientId.value.trim();
    if (Object.keys(mqtt).length) body.mqttContext = mqtt;
    const hdrs = parseHeaders(headers.value);
    if (hdrs || queryString.value.trim()) {
      body.httpContext = {};
      if (hdrs) body.httpContext.headers = hdrs;
      if (queryString.value.trim()) body.httpContext.queryString = queryString.value.trim();
    }
    if (serverName.value.trim()) body.tlsContext = { serverName: serverName.value.trim() };
    submit.disabled = true;
    replace(result, h('p', { class: 'muted' }, `Invoking ${name.value}…`));
    try {
      show(await ctx.api.testAuthorizer(name.value, body));
    } catch (err) {
      replace(result, errorBox(errorText(err)));
    } finally {
      submit.disabled = false;
    }
  });

  return {
    el: card('Test an authorizer', form, { sub: 'Runs it as test-invoke-authorizer does, and shows what it returns.' }),
    setAuthorizers(list, def) {
      replace(
        name,
        list.length ? list.map((a) => h('option', { value: a.authorizerName, selected: a.authorizerName === def }, a.authorizerName)) : h('option', { value: '' }, 'No authorizers'),
      );
    },
  };
}

function policyCheck(ctx: Context): { el: HTMLElement; load(docs: unknown[], clientId: string): void } {
  const docs = h('textarea', { rows: 10, spellcheck: 'false', class: 'mono', 'data-testid': 'policy-documents', placeholder: '[{ "Version": "2012-10-17", "Statement": [ … ] }]' });
  const action = h('select', { 'data-testid': 'policy-action' }, ACTIONS.map((a) => h('option', { value: a.action }, a.action)));
  const resource = input({ value: 'client/test-client', 'data-testid': 'policy-resource', required: true });
  const clientId = input({ value: 'test-client', placeholder: 'for ${iot:ClientId}' });
  const sourceIp = input({ placeholder: 'for aws:SourceIp conditions' });
  const result = h('div', { class: 'check-result', 'data-testid': 'policy-result' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'policy-check' }, 'Check');

  // Offer the resource type that goes with the action, unless the user wrote something else.
  let autoPrefix = 'client/';
  action.addEventListener('change', () => {
    const prefix = ACTIONS.find((a) => a.action === action.value)?.prefix ?? '';
    const rest = resource.value.startsWith(autoPrefix) ? resource.value.slice(autoPrefix.length) : null;
    if (rest !== null && !resource.value.startsWith('arn:')) resource.value = prefix + (prefix === 'client/' ? clientId.value || rest : rest);
    autoPrefix = prefix;
  });

  const form = h(
    'form',
    { class: 'stack' },
    field('Policy documents (JSON: one document or an array)', docs),
    h(
      'div',
      { class: 'form-grid' },
      field('Action', action),
      field('Resource', resource, ['client/…, topic/…, topicfilter/… or a full ARN']),
      field('Client ID', clientId),
      field('Source IP', sourceIp),
    ),
    h('div', { class: 'form-actions' }, submit),
    result,
  );

  const show = (r: PolicyCheckResult) => {
    const reason = r.reason === 'allowed' ? 'Allowed by a statement' : r.reason === 'explicitDeny' ? 'Explicit deny' : 'Implicit deny: no statement allows it';
    replace(
      result,
      h(
        'div',
        { class: `verdict verdict-${r.effect === 'Allow' ? 'allow' : 'deny'}` },
        h('strong', { 'data-testid': 'policy-effect' }, r.effect),
        h('span', null, reason),
      ),
      facts([
        ['Resource', h('code', null, r.resource)],
        ['Decided by', h('span', { 'data-testid': 'decided-by' }, decidedByText(r))],
      ]),
      documentsView(checked, r.statement ?? null),
    );
  };
  let checked: unknown[] = [];

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let parsed: unknown;
    try {
      parsed = JSON.parse(docs.value);
    } catch (err) {
      replace(result, errorBox(`The policy documents are not JSON: ${(err as Error).message}`));
      return;
    }
    submit.disabled = true;
    checked = Array.isArray(parsed) ? parsed : [parsed];
    try {
      show(
        await ctx.api.checkPolicy({
          policyDocuments: checked,
          action: action.value,
          resource: resource.value.trim(),
          ...(clientId.value.trim() ? { clientId: clientId.value.trim() } : {}),
          ...(sourceIp.value.trim() ? { sourceIp: sourceIp.value.trim() } : {}),
        }),
      );
    } catch (err) {
      replace(result, errorBox(errorText(err)));
    } finally {
      submit.disabled = false;
    }
  });

  const el = card('Policy check', form, { sub: 'Would these documents allow this action on this resource?', cls: 'policy-card' });
  return {
    el,
    load(list, id) {
      docs.value = JSON.stringify(list.length === 1 ? list[0] : list, null, 2);
      if (id) {
        clientId.value = id;
        if (resource.value.startsWith('client/')) resource.value = `client/${id}`;
      }
      replace(result);
      el.scrollIntoView({ behavior: 'smooth', block: 'start' });
    },
  };
}

export const authorizersPage: PageDefinition = {
  path: 'authorizers',
  title: 'Authorizers',
  icon: ICONS.authorizers,
  mount(root, ctx) {
    const check = policyCheck(ctx);
    const test = testForm(ctx, (docs, id) => check.load(docs, id));
    const editor = authorizerEditor(ctx, () => list.reload());
    const list = authorizerList(ctx, (authorizers, def) => test.setAuthorizers(authorizers, def), (d) => editor.open(d));
    replace(
      root,
      pageHeader('Authorizers', 'Custom authorizers decide who connects and what each client may do.'),
      list.el,
      editor.el,
      h('div', { class: 'two-col' }, test.el, check.el),
    );
    return { unmount: () => undefined };
  },
};

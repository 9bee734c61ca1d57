// The MQTT test client, after AWS IoT's: connection settings (as the console user, or through a
// chosen custom authorizer with a token), subscribe and publish forms, the subscriptions with
// their SUBACK answers, and the received messages per subscription. The connection itself lives
// in TestSession (mqtt/test-session.ts); this file only shows it.
import type { AuthorizerSummary } from '../api-types.js';
import { errorText } from '../api.js';
import { h, icon, download, field, replace, type Child } from '../dom.js';
import { ICONS } from '../icons.js';
import { formatBytes, formatClockMs } from '../format.js';
import type { Context, PageDefinition } from '../context.js';
import { payloadView } from '../components/payload-view.js';
import { badge, card, emptyState, pageHeader, segmented } from '../components/ui.js';
import {
  websocketUrl,
  type ConnectSettings,
  type QoS,
  type ReceivedMessage,
  type Subscription,
  type TestSession,
} from '../mqtt/test-session.js';

const SHOWN_MESSAGES = 200;
const DEFAULT_PAYLOAD = '{\n  "message": "Hello from the Switchboard console"\n}';

function qosSelect(value: number, testid: string): HTMLSelectElement {
  return h(
    'select',
    { 'data-testid': testid },
    [0, 1, 2].map((q) => h('option', { value: String(q), selected: q === value }, `${q} — ${q === 0 ? 'at most once' : q === 1 ? 'at least once' : 'exactly once'}`)),
  );
}

const input = (attrs: Record<string, string | boolean | undefined>) => h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', ...attrs });

/** The connection card: status, Connect/Disconnect, and the settings form. */
function connectionCard(ctx: Context, session: TestSession): { el: HTMLElement; refresh(): void } {
  const s = { ...session.settings };
  let authorizers: AuthorizerSummary[] = [];
  let signing = false;

  const clientId = input({ value: s.clientId, 'data-testid': 'client-id' });
  const protocol = h(
    'select',
    { 'data-testid': 'protocol' },
    h('option', { value: '5', selected: s.protocolVersion === 5 }, 'MQTT 5'),
    h('option', { value: '4', selected: s.protocolVersion === 4 }, 'MQTT 3.1.1'),
  );
  const keepalive = h('input', { type: 'number', min: '0', max: '65535', value: String(s.keepalive) });
  const clean = h('input', { type: 'checkbox', checked: s.clean });
  const authorizerSelect = h('select', { 'data-testid': 'authorizer' });
  const tokenKeyName = input({ value: s.tokenKeyName, placeholder: 'e.g. token' });
  const token = input({ value: s.token, 'data-testid': 'token' });
  const signature = input({ value: s.tokenSignature, placeholder: 'base64, when signing is on' });
  const username = input({ value: s.username });
  const password = h('input', { type: 'password', value: s.password, autocomplete: 'off' });
  const signingHint = h('small', { class: 'field-hint' });
  const urlPreview = h('code', { class: 'url-preview' });
  const hint = h('div', { class: 'alert alert-info', hidden: true });

  const authorizerFields = h(
    'div',
    { class: 'form-grid' },
    field('Authorizer', authorizerSelect),
    field('Token key name', tokenKeyName, 'the query parameter the authorizer reads its token from'),
    field('Token', token),
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Token signature'), signature, signingHint),
    field('MQTT user name', username, 'optional; passed to the authorizer'),
    field('MQTT password', password, 'optional'),
  );

  const read = (): ConnectSettings => ({
    identity: s.identity,
    authorizerName: authorizerSelect.value,
    tokenKeyName: tokenKeyName.value.trim(),
    token: token.value,
    tokenSignature: signature.value.trim(),
    username: username.value,
    password: password.value,
    clientId: clientId.value.trim(),
    protocolVersion: protocol.value === '4' ? 4 : 5,
    keepalive: Math.max(0, Math.min(65535, Number(keepalive.value) || 0)),
    clean: clean.checked,
  });

  const preview = () => {
    urlPreview.textContent = websocketUrl(read(), location, true);
  };

  const loadAuthorizers = async () => {
    try {
      const list = await ctx.api.authorizers();
      authorizers = list.authorizers;
      replace(
        authorizerSelect,
        authorizers.length === 0 ? h('option', { value: '' }, 'No authorizers configured') : null,
        authorizers.map((a) =>
          h('option', { value: a.authorizerName, selected: a.authorizerName === (s.authorizerName || list.defaultAuthorizerName) }, `${a.authorizerName}${a.status === 'INACTIVE' ? ' (inactive)' : ''}`),
        ),
      );
      await describeAuthorizer();
    } catch (err) {
      replace(authorizerSelect, h('option', { value: '' }, `cannot list authorizers: ${errorText(err)}`));
    }
  };

  const describeAuthorizer = async () => {
    const name = authorizerSelect.value;
    if (!name) return;
    try {
      const { authorizerDescription: d } = await ctx.api.authorizer(name);
      if (d.tokenKeyName && !tokenKeyName.value) tokenKeyName.value = d.tokenKeyName;
      signing = d.signingDisabled === false;
      signingHint.textContent = signing ? 'required: this authorizer verifies token signatures' : 'not needed: signing is off for this authorizer';
    } catch {
      signingHint.textContent = '';
    }
    preview();
  };

  const identity = segmented(
    [
      { value: 'console', label: 'As the console user' },
      { value: 'authorizer', label: 'Through a custom authorizer' },
    ] as const,
    s.identity,
    (v) => {
      s.identity = v;
      authorizerFields.hidden = v !== 'authorizer';
      if (v === 'authorizer' && authorizers.length === 0) void loadAuthorizers();
      preview();
    },
    'Identity',
  );
  authorizerFields.hidden = s.identity !== 'authorizer';
  if (s.identity === 'authorizer') void loadAuthorizers();
  authorizerSelect.addEventListener('change', () => {
    tokenKeyName.value = '';
    void describeAuthorizer();
  });

  const settings = h(
    'form',
    { class: 'settings', hidden: true },
    h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'Connect'), identity),
    authorizerFields,
    h(
      'div',
      { class: 'form-grid' },
      field('Client ID', clientId),
      field('Protocol', protocol),
      field('Keep alive (s)', keepalive),
      h('label', { class: 'check' }, clean, h('span', null, 'Clean start')),
    ),
    h('div', { class: 'url-row' }, h('span', { class: 'muted' }, 'URL'), urlPreview),
  );
  settings.addEventListener('input', preview);
  settings.addEventListener('change', preview);
  settings.addEventListener('submit', (e) => e.preventDefault());

  const statusPill = h('span', { class: 'status-pill', 'data-testid': 'mqtt-status' });
  const summary = h('span', { class: 'conn-summary' });
  const connectBtn = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'connect' });
  const settingsBtn = h('button', { type: 'button', class: 'btn btn-ghost', 'aria-expanded': String(!settings.hidden) }, 'Settings');
  settingsBtn.addEventListener('click', () => {
    settings.hidden = !settings.hidden;
    settingsBtn.setAttribute('aria-expanded', String(!settings.hidden));
  });
  connectBtn.addEventListener('click', () => {
    if (session.state === 'disconnected') {
      const next = read();
      if (!next.clientId) {
        clientId.focus();
        return;
      }
      session.connect(next);
    } else {
      session.disconnect();
    }
  });

  const refresh = () => {
    const st = session.state;
    statusPill.className = `status-pill status-${st}`;
    statusPill.textContent = st === 'connected' ? 'Connected' : st === 'connecting' ? 'Connecting…' : 'Disconnected';
    connectBtn.textContent = st === 'disconnected' ? 'Connect' : 'Disconnect';
    connectBtn.className = `btn ${st === 'disconnected' ? 'btn-primary' : ''}`;
    const w = session.connectedWith;
    replace(
      summary,
      w
        ? [
            h('code', null, w.clientId),
            ' · ',
            w.identity === 'authorizer' ? ['via authorizer ', h('b', null, w.authorizerName || '(none)')] : ['as ', h('b', null, ctx.user === 'loopback' ? 'this machine' : ctx.user)],
            ` · MQTT ${w.protocolVersion === 5 ? '5' : '3.1.1'}`,
          ]
        : 'Not connected yet',
    );
    const last = session.activity[session.activity.length - 1];
    const refusedAsConsole = st === 'disconnected' && w?.identity === 'console' && last?.level === 'error' && /CONNACK|refused|before CONNACK/.test(session.activity.slice(-3).map((a) => a.text).join(' '));
    hint.hidden = !refusedAsConsole;
    if (refusedAsConsole) {
      hint.textContent = 'The server refused the connection: see the activity log below.';
    }
  };
  preview();
  refresh();

  const el = card(
    'Connection',
    [h('div', { class: 'conn-row' }, statusPill, summary, h('span', { class: 'spacer' }), settingsBtn, connectBtn), hint, settings],
    { cls: 'connection-card' },
  );
  return { el, refresh };
}

/** A list of key/value rows with add and remove (publish user properties). */
function keyValueEditor(): { el: HTMLElement; read(): { key: string; value: string }[] } {
  const rows = h('div', { class: 'kv-rows' });
  const addRow = (key = '', value = '') => {
    const k = input({ value: key, placeholder: 'key', 'aria-label': 'user property key' });
    const v = input({ value, placeholder: 'value', 'aria-label': 'user property value' });
    const remove = h('button', { type: 'button', class: 'btn btn-icon', title: 'Remove', 'aria-label': 'Remove property' }, icon(ICONS.close));
    const row = h('div', { class: 'kv-row' }, k, v, remove);
    remove.addEventListener('click', () => row.remove());
    rows.appendChild(row);
  };
  const add = h('button', { type: 'button', class: 'btn btn-ghost btn-small' }, icon(ICONS.plus), 'Add user property');
  add.addEventListener('click', () => addRow());
  return {
    el: h('div', { class: 'kv' }, rows, add),
    read: () =>
      [...rows.querySelectorAll('.kv-row')].map((row) => {
        const [k, v] = row.querySelectorAll('input');
        return { key: k!.value.trim(), value: v!.value };
      }),
  };
}

function subscribeForm(session: TestSession): HTMLElement {
  const filter = input({ placeholder: 'e.g. demo/# or $aws/events/presence/connected/+', 'data-testid': 'subscribe-topic', required: true });
  const qos = qosSelect(0, 'subscribe-qos');
  const noLocal = h('input', { type: 'checkbox', 'data-testid': 'no-local' });
  const rap = h('input', { type: 'checkbox', 'data-testid': 'retain-as-published' });
  const rh = h(
    'select',
    { 'data-testid': 'retain-handling' },
    h('option', { value: '0' }, '0 — send retained messages at subscribe'),
    h('option', { value: '1' }, '1 — only for a new subscription'),
    h('option', { value: '2' }, '2 — do not send'),
  );
  const v5only = h(
    'fieldset',
    { class: 'v5-options' },
    h('legend', null, 'MQTT 5 subscription options'),
    h('label', { class: 'check' }, noLocal, h('span', null, 'No local — not my own messages')),
    h('label', { class: 'check' }, rap, h('span', null, 'Retain as published')),
    field('Retain handling', rh),
  );
  const form = h(
    'form',
    { class: 'tab-form', 'data-testid': 'subscribe-form' },
    h('div', { class: 'inline-form' }, field('Topic filter', filter), h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'subscribe' }, 'Subscribe')),
    h('details', { class: 'more' }, h('summary', null, 'Additional configuration'), h('div', { class: 'more-body' }, field('Quality of service', qos), v5only)),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = filter.value.trim();
    if (!f) return;
    session.subscribe(f, {
      qos: Number(qos.value) as QoS,
      noLocal: noLocal.checked,
      retainAsPublished: rap.checked,
      retainHandling: Number(rh.value) as 0 | 1 | 2,
    });
    filter.value = '';
  });
  return form;
}

function publishForm(session: TestSession): HTMLElement {
  const topic = input({ value: 'demo/console', 'data-testid': 'publish-topic', required: true });
  const payload = h('textarea', { rows: 5, spellcheck: 'false', 'data-testid': 'publish-payload' }, DEFAULT_PAYLOAD);
  const qos = qosSelect(1, 'publish-qos');
  const retain = h('input', { type: 'checkbox', 'data-testid': 'publish-retain' });
  const contentType = input({ placeholder: 'e.g. application/json', 'data-testid': 'publish-content-type' });
  const props = keyValueEditor();
  const result = h('div', { class: 'publish-result', 'data-testid': 'publish-result', role: 'status' });
  const button = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'publish' }, 'Publish');
  const form = h(
    'form',
    { class: 'tab-form', 'data-testid': 'publish-form' },
    field('Topic name', topic),
    field('Message payload', payload),
    h('details', { class: 'more' }, h('summary', null, 'Additional configuration'), h(
      'div',
      { class: 'more-body' },
      h('div', { class: 'form-grid' }, field('Quality of service', qos), field('Content type (MQTT 5)', contentType), h('label', { class: 'check' }, retain, h('span', null, 'Retain message'))),
      h('div', { class: 'field' }, h('span', { class: 'field-label' }, 'User properties (MQTT 5)'), props.el),
    )),
    h('div', { class: 'form-actions' }, button, result),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const t = topic.value.trim();
    if (!t) return;
    button.disabled = true;
    replace(result, h('span', { class: 'muted' }, 'Publishing…'));
    const outcome = await session.publish({
      topic: t,
      payload: payload.value,
      qos: Number(qos.value) as QoS,
      retain: retain.checked,
      contentType: contentType.value.trim(),
      userProperties: props.read(),
    });
    button.disabled = false;
    result.className = `publish-result ${outcome.ok ? 'ok' : 'error'}`;
    replace(result, outcome.ok ? badge('Published', 'ok') : badge('Refused', 'error'), ' ', outcome.text);
  });
  return form;
}

function subscriptionItem(sub: Subscription, selected: boolean, session: TestSession, select: (id: number) => void): HTMLElement {
  const remove = h('button', { type: 'button', class: 'btn btn-icon', title: `Unsubscribe from ${sub.filter}`, 'aria-label': `Unsubscribe from ${sub.filter}` }, icon(ICONS.close));
  remove.addEventListener('click', (e) => {
    e.stopPropagation();
    session.unsubscribe(sub.id);
  });
  const state =
    sub.state === 'active'
      ? badge(`QoS ${sub.grantedQos ?? sub.options.qos}`, 'ok', 'granted')
      : sub.state === 'refused'
        ? badge('Refused', 'error')
        : sub.state === 'pending'
          ? badge('Subscribing…', 'muted')
          : badge('Not subscribed', 'muted', 'subscribed again on the next connect');
  const item = h(
    'li',
    { class: `sub ${selected ? 'selected' : ''} sub-${sub.state}`, 'data-filter': sub.filter, tabindex: '0' },
    h('i', { class: 'sub-dot', style: `background:${sub.color}` }),
    h(
      'div',
      { class: 'sub-main' },
      h('code', { class: 'sub-filter' }, sub.filter),
      h('div', { class: 'sub-meta' }, state, h('span', { class: 'sub-count' }, `${sub.count} msg`)),
      sub.state === 'refused' ? h('div', { class: 'sub-refusal', 'data-testid': 'suback-refusal' }, sub.refusal, sub.reasonString ? h('div', { class: 'reason-string' }, sub.reasonString) : null) : null,
    ),
    remove,
  );
  item.addEventListener('click', () => select(sub.id));
  item.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') select(sub.id);
  });
  return item;
}

function messageItem(m: ReceivedMessage, session: TestSession): HTMLElement {
  const dots = m.subscriptionIds.map((id) => session.subscriptions.find((x) => x.id === id)).filter((x): x is Subscription => x !== undefined);
  const { kind, el } = payloadView(m.payload);
  const props = m.properties;
  const chips: Child[] = [];
  if (props.contentType) chips.push(h('span', { class: 'chip' }, h('span', { class: 'chip-k' }, 'content-type'), props.contentType));
  if (props.responseTopic) chips.push(h('span', { class: 'chip' }, h('span', { class: 'chip-k' }, 'response-topic'), props.responseTopic));
  if (props.correlationData) chips.push(h('span', { class: 'chip' }, h('span', { class: 'chip-k' }, 'correlation-data'), props.correlationData));
  if (props.messageExpiryInterval !== undefined) chips.push(h('span', { class: 'chip' }, h('span', { class: 'chip-k' }, 'expiry'), `${props.messageExpiryInterval} s`));
  for (const [k, v] of Object.entries(props.userProperties ?? {})) {
    for (const one of Array.isArray(v) ? v : [v]) chips.push(h('span', { class: 'chip chip-user', title: 'user property' }, h('span', { class: 'chip-k' }, k), one));
  }
  return h(
    'article',
    { class: 'msg', 'data-topic': m.topic },
    h(
      'header',
      { class: 'msg-head' },
      h('span', { class: 'msg-dots' }, dots.map((d) => h('i', { class: 'sub-dot', style: `background:${d.color}`, title: d.filter }))),
      h('code', { class: 'msg-topic' }, m.topic),
      h(
        'span',
        { class: 'msg-meta' },
        badge(`QoS ${m.qos}`, 'info'),
        m.retain ? badge('Retained', 'warn', 'retain flag set: a retained message') : null,
        m.dup ? badge('DUP', 'muted') : null,
        h('span', { class: 'msg-size' }, `${kind === 'json' ? 'JSON · ' : ''}${formatBytes(m.payload.length)}`),
        h('time', { class: 'msg-time', datetime: new Date(m.receivedAt).toISOString() }, formatClockMs(m.receivedAt)),
      ),
    ),
    chips.length ? h('div', { class: 'msg-props' }, chips) : null,
    el,
  );
}

export const clientPage: PageDefinition = {
  path: 'client',
  title: 'MQTT test client',
  icon: ICONS.client,
  mount(root, ctx) {
    const session = ctx.session;
    let selected: number | 'all' = 'all';
    let tab: 'subscribe' | 'publish' = 'subscribe';
    const cache = new Map<number, HTMLElement>();

    const conn = connectionCard(ctx, session);
    const subForm = subscribeForm(session);
    const pubForm = publishForm(session);
    const formHost = h('div', null, subForm);
    const tabs = segmented(
      [
        { value: 'subscribe', label: 'Subscribe to a topic' },
        { value: 'publish', label: 'Publish to a topic' },
      ] as const,
      tab,
      (v) => {
        tab = v;
        replace(formHost, v === 'subscribe' ? subForm : pubForm);
      },
      'Subscribe or publish',
    );
    tabs.classList.add('tabs');

    const subList = h('ul', { class: 'subs', 'data-testid': 'subscriptions' });
    const messages = h('div', { class: 'messages', 'data-testid': 'messages' });
    const messagesTitle = h('span');
    const pauseBtn = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'pause' });
    const clearBtn = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'clear' }, icon(ICONS.trash), 'Clear');
    const exportBtn = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'export' }, icon(ICONS.download), 'Export');
    const activity = h('ol', { class: 'activity', 'data-testid': 'activity' });

    pauseBtn.addEventListener('click', () => session.setPaused(!session.paused));
    clearBtn.addEventListener('click', () => {
      session.clearMessages();
      cache.clear();
    });
    exportBtn.addEventListener('click', () => {
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      download(`switchboard-messages-${stamp}.json`, session.exportJson());
    });

    const select = (id: number | 'all') => {
      selected = selected === id ? 'all' : id;
      renderSubs();
      renderMessages();
    };

    const renderSubs = () => {
      if (selected !== 'all' && !session.subscriptions.some((x) => x.id === selected)) selected = 'all';
      const all = h(
        'li',
        { class: `sub sub-all ${selected === 'all' ? 'selected' : ''}`, tabindex: '0' },
        h('div', { class: 'sub-main' }, h('span', { class: 'sub-filter' }, 'All subscriptions'), h('div', { class: 'sub-meta' }, h('span', { class: 'sub-count' }, `${session.messages.length} msg`))),
      );
      all.addEventListener('click', () => select('all'));
      replace(
        subList,
        session.subscriptions.length ? all : h('li', { class: 'sub-none muted' }, 'No subscriptions yet. Subscribe to a topic filter above.'),
        session.subscriptions.map((sub) => subscriptionItem(sub, sub.id === selected, session, select)),
      );
    };

    let frame = 0;
    const renderMessages = () => {
      if (frame) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        const visible: ReceivedMessage[] = [];
        for (let i = session.messages.length - 1; i >= 0 && visible.length < SHOWN_MESSAGES; i--) {
          const m = session.messages[i]!;
          if (selected === 'all' || m.subscriptionIds.includes(selected)) visible.push(m);
        }
        const keep = new Set(visible.map((m) => m.seq));
        for (const seq of cache.keys()) if (!keep.has(seq)) cache.delete(seq);
        const sub = selected === 'all' ? null : session.subscriptions.find((x) => x.id === selected);
        replace(messagesTitle, sub ? ['Messages on ', h('code', null, sub.filter)] : 'Messages');
        pauseBtn.replaceChildren(icon(session.paused ? ICONS.play : ICONS.pause), session.paused ? `Resume${session.held.length ? ` (${session.held.length} held)` : ''}` : 'Pause');
        pauseBtn.classList.toggle('btn-warn', session.paused);
        if (visible.length === 0) {
          replace(
            messages,
            emptyState(
              session.subscriptions.length ? 'No messages yet' : 'Nothing to show yet',
              session.subscriptions.length ? 'Messages that match your subscriptions appear here as they arrive.' : 'Subscribe to a topic filter, then publish to a matching topic from here or from any client.',
              ICONS.client,
            ),
          );
          return;
        }
        messages.replaceChildren(
          ...visible.map((m) => {
            let el = cache.get(m.seq);
            if (!el) {
              el = messageItem(m, session);
              cache.set(m.seq, el);
            }
            return el;
          }),
        );
      });
    };

    const renderActivity = () => {
      const recent = session.activity.slice(-60).reverse();
      replace(
        activity,
        recent.length === 0
          ? h('li', { class: 'muted' }, 'Nothing yet.')
          : recent.map((a) => h('li', { class: `act act-${a.level}` }, h('time', null, formatClockMs(a.at)), h('span', null, a.text))),
      );
    };

    const stop = session.changed.listen((change) => {
      if (change === 'connection') conn.refresh();
      if (change === 'subscriptions') renderSubs();
      if (change === 'messages') {
        renderMessages();
        renderSubs();
      }
      if (change === 'activity') {
        renderActivity();
        conn.refresh();
      }
    });

    replace(
      root,
      pageHeader('MQTT test client', ['Subscribe and publish over MQTT on this server’s WebSocket endpoint, ', h('code', null, '/mqtt'), '.']),
      conn.el,
      h('section', { class: 'card tab-card' }, tabs, h('div', { class: 'card-body' }, formHost)),
      h(
        'div',
        { class: 'client-grid' },
        h(
          'div',
          { class: 'client-side' },
          card('Subscriptions', subList, { cls: 'subs-card' }),
          card('Activity', activity, { cls: 'activity-card', sub: 'what the server answered' }),
        ),
        card(messagesTitle, messages, { cls: 'messages-card', actions: [pauseBtn, clearBtn, exportBtn] }),
      ),
    );
    renderSubs();
    renderMessages();
    renderActivity();

    // As on AWS, opening the test client connects it (once; afterwards the user decides).
    if (!session.started) session.connect(session.settings);

    return {
      unmount() {
        stop();
        if (frame) cancelAnimationFrame(frame);
      },
    };
  },
};

// The MQTT test client, after AWS IoT's: connection settings (as the console user, or through a
// chosen custom authorizer with a token), subscribe and publish forms, the subscriptions with
// their SUBACK answers, and the received messages per subscription. The connection itself lives
// in TestSession (mqtt/test-session.ts); this file only shows it. Longer than our usual file: the
// four panels share one set of enabled/disabled states, which is clearer kept in one place.
import type { AuthorizerSummary } from '../api-types.js';
import { errorText } from '../api.js';
import { h, icon, download, field, replace } from '../dom.js';
import { ICONS } from '../icons.js';
import { formatClockMs } from '../format.js';
import type { Context, PageDefinition } from '../context.js';
import { messageList } from '../components/message-list.js';
import { badge, card, pageHeader, segmented } from '../components/ui.js';
import {
  MESSAGE_CAP,
  publishTopicProblem,
  websocketUrl,
  type ConnectSettings,
  type QoS,
  type Subscription,
  type TestSession,
} from '../mqtt/test-session.js';
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
  const refusal = h('div', { class: 'alert alert-error', role: 'alert', 'data-testid': 'connack-refusal', hidden: true });

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
    // A refused connect is shown here, where the user clicked Connect, with what it usually means.
    const r = session.refusal;
    refusal.hidden = r === null || st !== 'disconnected';
    if (r !== null) {
      replace(
        refusal,
        h('strong', null, `Refused: ${r.text}`),
        r.reasonString ? [' — ', h('span', { class: 'reason-string' }, r.reasonString)] : null,
        r.hint ? h('div', null, r.hint) : null,
      );
    }
    const last = session.activity[session.activity.length - 1];
    const closedEarly = r === null && st === 'disconnected' && w !== null && last?.level === 'error' && /before CONNACK|Cannot/.test(last.text);
    hint.hidden = !closedEarly;
    if (closedEarly) hint.textContent = `The connection failed: ${last.text}.`;
  };
  preview();
  refresh();

  const el = card(
    'Connection',
    [h('div', { class: 'conn-row' }, statusPill, summary, h('span', { class: 'spacer' }), settingsBtn, connectBtn), refusal, hint, settings],
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

/** A form whose submit button works only while the test client is connected. */
interface LiveForm {
  el: HTMLElement;
  refresh(): void;
}

const NOT_CONNECTED = 'Connect the test client first';

function subscribeForm(session: TestSession): LiveForm {
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
  const button = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'subscribe' }, 'Subscribe');
  const form = h(
    'form',
    { class: 'tab-form', 'data-testid': 'subscribe-form' },
    h('div', { class: 'inline-form' }, field('Topic filter', filter), button),
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
  const refresh = () => {
    button.disabled = session.state !== 'connected';
    button.title = button.disabled ? NOT_CONNECTED : '';
  };
  refresh();
  return { el: form, refresh };
}

function publishForm(session: TestSession): LiveForm {
  const topic = input({ value: 'demo/console', 'data-testid': 'publish-topic', required: true });
  const payload = h('textarea', { rows: 5, spellcheck: 'false', 'data-testid': 'publish-payload' }, DEFAULT_PAYLOAD);
  const qos = qosSelect(1, 'publish-qos');
  const retain = h('input', { type: 'checkbox', 'data-testid': 'publish-retain' });
  const contentType = input({ placeholder: 'e.g. application/json', 'data-testid': 'publish-content-type' });
  const props = keyValueEditor();
  const result = h('div', { class: 'publish-result', 'data-testid': 'publish-result', role: 'status' });
  const button = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'publish' }, 'Publish');
  const topicError = h('small', { class: 'field-error', 'data-testid': 'publish-topic-error', id: 'publish-topic-error', role: 'alert', hidden: true });
  let busy = false;
  const checkTopic = (): boolean => {
    const problem = topic.value.trim() === '' ? undefined : publishTopicProblem(topic.value.trim());
    topicError.hidden = problem === undefined;
    topicError.textContent = problem === undefined ? '' : `Not sent: ${problem}`;
    topic.setAttribute('aria-invalid', String(problem !== undefined));
    if (problem !== undefined) topic.setAttribute('aria-describedby', 'publish-topic-error');
    else topic.removeAttribute('aria-describedby');
    return problem === undefined;
  };
  topic.addEventListener('input', checkTopic);
  const form = h(
    'form',
    { class: 'tab-form', 'data-testid': 'publish-form' },
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Topic name'), topic, topicError),
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
    // Caught here, before sending: a server closes the connection on a wildcard topic name.
    if (!checkTopic()) {
      topic.focus();
      return;
    }
    busy = true;
    refresh();
    replace(result, h('span', { class: 'muted' }, 'Publishing…'));
    const outcome = await session.publish({
      topic: t,
      payload: payload.value,
      qos: Number(qos.value) as QoS,
      retain: retain.checked,
      contentType: contentType.value.trim(),
      userProperties: props.read(),
    });
    busy = false;
    refresh();
    result.className = `publish-result ${outcome.ok ? (outcome.acknowledged ? 'ok' : 'sent') : 'error'}`;
    replace(result, outcome.ok ? (outcome.acknowledged ? badge('Published', 'ok') : badge('Sent', 'info')) : badge(outcome.acknowledged ? 'Refused' : 'Not sent', 'error'), ' ', outcome.text);
  });
  const refresh = () => {
    button.disabled = busy || session.state !== 'connected';
    button.title = session.state !== 'connected' ? NOT_CONNECTED : '';
  };
  refresh();
  return { el: form, refresh };
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
      h('div', { class: 'sub-meta' }, state, h('span', { class: 'sub-count', 'data-sub-count': String(sub.id) }, `${sub.count.toLocaleString()} msg`)),
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

export const clientPage: PageDefinition = {
  path: 'client',
  title: 'MQTT test client',
  icon: ICONS.client,
  mount(root, ctx) {
    const session = ctx.session;
    let selected: number | 'all' = 'all';
    let tab: 'subscribe' | 'publish' = 'subscribe';

    const conn = connectionCard(ctx, session);
    const subForm = subscribeForm(session);
    const pubForm = publishForm(session);
    const formHost = h('div', null, subForm.el);
    const tabs = segmented(
      [
        { value: 'subscribe', label: 'Subscribe to a topic' },
        { value: 'publish', label: 'Publish to a topic' },
      ] as const,
      tab,
      (v) => {
        tab = v;
        replace(formHost, v === 'subscribe' ? subForm.el : pubForm.el);
      },
      'Subscribe or publish',
    );
    tabs.classList.add('tabs');

    const subList = h('ul', { class: 'subs', 'data-testid': 'subscriptions' });
    const list = messageList(session);
    const messagesTitle = h('span');
    const pauseBtn = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'pause' });
    const clearBtn = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'clear' }, icon(ICONS.trash), 'Clear');
    const exportBtn = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'export' }, icon(ICONS.download), 'Export');
    const activity = h('ol', { class: 'activity', 'data-testid': 'activity' });

    pauseBtn.addEventListener('click', () => session.setPaused(!session.paused));
    clearBtn.addEventListener('click', () => {
      session.clearMessages();
      list.setSubscription(selected); // drops a frozen snapshot too
    });
    exportBtn.addEventListener('click', () => {
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      download(`switchboard-messages-${stamp}.json`, session.exportJson());
    });

    const select = (id: number | 'all') => {
      selected = selected === id ? 'all' : id;
      list.setSubscription(selected);
      renderSubs();
      renderHead();
    };

    let subsShape = '';
    const renderSubs = () => {
      // Under traffic only the counts change: update them in place, so focus and hover stay put.
      const shape = JSON.stringify([selected, session.subscriptions.map((x) => [x.id, x.state, x.grantedQos, x.refusal, x.reasonString])]);
      if (shape === subsShape) {
        const total = subList.querySelector('[data-testid=total-count]');
        if (total) total.textContent = `${session.totalReceived.toLocaleString()} msg`;
        for (const sub of session.subscriptions) {
          const el = subList.querySelector(`[data-sub-count="${sub.id}"]`);
          if (el) el.textContent = `${sub.count.toLocaleString()} msg`;
        }
        return;
      }
      subsShape = shape;
      if (selected !== 'all' && !session.subscriptions.some((x) => x.id === selected)) {
        selected = 'all';
        list.setSubscription('all');
      }
      const all = h(
        'li',
        { class: `sub sub-all ${selected === 'all' ? 'selected' : ''}`, tabindex: '0' },
        h('div', { class: 'sub-main' }, h('span', { class: 'sub-filter' }, 'All subscriptions'), h('div', { class: 'sub-meta' }, h('span', { class: 'sub-count', 'data-testid': 'total-count', title: 'messages received since the last Clear; one matching two subscriptions counts once here and once in each' }, `${session.totalReceived.toLocaleString()} msg`))),
      );
      all.addEventListener('click', () => select('all'));
      replace(
        subList,
        session.subscriptions.length ? all : h('li', { class: 'sub-none muted' }, 'No subscriptions yet. Subscribe to a topic filter above.'),
        session.subscriptions.map((sub) => subscriptionItem(sub, sub.id === selected, session, select)),
      );
    };

    const renderHead = () => {
      const sub = selected === 'all' ? null : session.subscriptions.find((x) => x.id === selected);
      replace(messagesTitle, sub ? ['Messages on ', h('code', null, sub.filter)] : 'Messages');
      pauseBtn.replaceChildren(icon(session.paused ? ICONS.play : ICONS.pause), session.paused ? `Resume${session.held.length ? ` (${session.held.length.toLocaleString()} held)` : ''}` : 'Pause');
      pauseBtn.classList.toggle('btn-warn', session.paused);
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
      if (change === 'connection') {
        conn.refresh();
        subForm.refresh();
        pubForm.refresh();
      }
      if (change === 'subscriptions') {
        renderSubs();
        list.update();
      }
      if (change === 'messages') {
        renderHead();
        list.update();
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
        card(messagesTitle, list.el, { cls: 'messages-card', actions: [pauseBtn, clearBtn, exportBtn], sub: `The newest ${MESSAGE_CAP.toLocaleString()} messages are kept; click one to open it.` }),
      ),
    );
    renderSubs();
    renderHead();
    renderActivity();

    // As on AWS, opening the test client connects it (once; afterwards the user decides).
    if (!session.started) session.connect(session.settings);

    return {
      unmount() {
        stop();
        list.destroy();
      },
    };
  },
};

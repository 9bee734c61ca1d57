// Monitor: live charts of the server's kept history (1 s steps over 15 minutes, 10 s over an hour,
// 1 min over a day), redrawn every second, and totals in the units AWS bills. Polls
// /api/metrics (totals) and /api/metrics/history?since= (only the new steps).
import type { Metrics, MetricsPoint, Range } from '../api-types.js';
import { errorText } from '../api.js';
import { h, replace, type Child } from '../dom.js';
import { ICONS } from '../icons.js';
import { formatAxis, formatBytes, formatBytesAxis, formatClock, formatCount } from '../format.js';
import { poll, type PageDefinition } from '../context.js';
import { TimeChart, type ChartOptions, type ChartSeries } from '../components/time-chart.js';
import { errorBox, pageHeader, segmented } from '../components/ui.js';

const RANGE_MS: Record<Range, number> = { '15m': 15 * 60_000, '1h': 3_600_000, '24h': 86_400_000 };
const RANGES = [
  { value: '15m', label: '15 minutes' },
  { value: '1h', label: '1 hour' },
  { value: '24h', label: '24 hours' },
] as const;

const C = {
  blue: '#3b82f6',
  teal: '#14b8a6',
  violet: '#8b5cf6',
  amber: '#f59e0b',
  rose: '#f43f5e',
  green: '#22c55e',
  cyan: '#06b6d4',
  orange: '#f97316',
  slate: '#64748b',
};
const FAILURE_COLORS = [C.rose, C.orange, C.amber, C.violet, C.slate, C.cyan];

interface ChartDef {
  key: string;
  title: string;
  /** Per second (rates) or per step (counts). */
  rate: boolean;
  options: ChartOptions;
  series(points: MetricsPoint[], stepSeconds: number): ChartSeries[];
}

const perSecond = (v: number, step: number) => v / step;
const countOpts = (quietText: string): ChartOptions => ({ integer: true, format: formatCount, axisFormat: formatAxis, quietText, summary: 'total' });
/** Counters that are zero most of the time: bars per interval. */
const sparseOpts = (quietText: string): ChartOptions => ({ ...countOpts(quietText), bars: true });

const CHARTS: ChartDef[] = [
  {
    key: 'connected',
    title: 'Connected clients',
    rate: false,
    options: { area: true, integer: true, format: formatCount, axisFormat: formatAxis },
    series: (p) => [{ key: 'connected', label: 'connected', color: C.blue, values: p.map((x) => x.connected) }],
  },
  {
    key: 'connects',
    title: 'Connects and failures by reason',
    rate: false,
    options: sparseOpts('No connection attempts'),
    series: (p) => {
      const reasons = new Set<string>();
      for (const x of p) for (const r of Object.keys(x.failuresByReason)) reasons.add(r);
      return [
        { key: 'connects', label: 'succeeded', color: C.green, values: p.map((x) => x.connects) },
        ...[...reasons].sort().map((r, i) => ({ key: `fail:${r}`, label: r, color: FAILURE_COLORS[i % FAILURE_COLORS.length]!, values: p.map((x) => x.failuresByReason[r] ?? 0) })),
      ];
    },
  },
  {
    key: 'messages',
    title: 'Messages',
    rate: true,
    options: { area: true, format: (v) => `${formatCount(v)}/s`, axisFormat: formatAxis, quietText: 'No messages', summary: 'peak' },
    series: (p, step) => [
      { key: 'in', label: 'in', color: C.blue, values: p.map((x) => perSecond(x.messagesIn, step)) },
      { key: 'out', label: 'out', color: C.teal, values: p.map((x) => perSecond(x.messagesOut, step)) },
    ],
  },
  {
    key: 'bytes',
    title: 'Data',
    rate: true,
    options: { area: true, format: (v) => `${formatBytes(v)}/s`, axisFormat: formatBytesAxis, quietText: 'No traffic', summary: 'peak' },
    series: (p, step) => [
      { key: 'in', label: 'in', color: C.violet, values: p.map((x) => perSecond(x.bytesIn, step)) },
      { key: 'out', label: 'out', color: C.cyan, values: p.map((x) => perSecond(x.bytesOut, step)) },
    ],
  },
  {
    key: 'denials',
    title: 'Denials by action',
    rate: false,
    options: sparseOpts('Nothing denied'),
    series: (p) => [
      { key: 'connect', label: 'connect', color: C.rose, values: p.map((x) => x.denials.connect) },
      { key: 'publish', label: 'publish', color: C.orange, values: p.map((x) => x.denials.publish) },
      { key: 'subscribe', label: 'subscribe', color: C.amber, values: p.map((x) => x.denials.subscribe) },
      { key: 'receive', label: 'receive', color: C.violet, values: p.map((x) => x.denials.receive) },
    ],
  },
  {
    key: 'authorizer',
    title: 'Authorizer invocations',
    rate: false,
    options: { ...countOpts('No invocations'), area: true },
    series: (p) => [{ key: 'invocations', label: 'invocations', color: C.violet, values: p.map((x) => x.authorizerInvocations) }],
  },
  {
    key: 'rules',
    title: 'Rule executions and failures',
    rate: false,
    options: sparseOpts('No rules ran'),
    series: (p) => [
      { key: 'executions', label: 'executions', color: C.teal, values: p.map((x) => x.ruleExecutions) },
      { key: 'failures', label: 'failures', color: C.rose, values: p.map((x) => x.ruleFailures) },
    ],
  },
  {
    key: 'drops',
    title: 'QoS 0 messages dropped',
    rate: false,
    options: sparseOpts('Nothing dropped'),
    series: (p) => [{ key: 'qos0', label: 'dropped', color: C.amber, values: p.map((x) => x.qos0Dropped) }],
  },
];

function stepLabel(stepSeconds: number): string {
  return stepSeconds === 1 ? 'per second' : stepSeconds === 60 ? 'per minute' : `per ${stepSeconds} s`;
}

function stat(label: string, value: Child, sub: Child, cls = ''): HTMLElement {
  return h('div', { class: `stat ${cls}`.trim() }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-sub' }, sub));
}

/** "MQTT 10 · JSON 2 · SSE 1 · " when browser protocols are connected; '' otherwise. */
function byProtocol(m: Metrics): string {
  const p = m.connectedByProtocol;
  if (p === undefined || ((p.json ?? 0) === 0 && (p.sse ?? 0) === 0)) return '';
  return `MQTT ${formatCount(p.mqtt ?? 0)} · JSON ${formatCount(p.json ?? 0)} · SSE ${formatCount(p.sse ?? 0)} · `;
}

function totalsCards(m: Metrics, points: MetricsPoint[]): Child[] {
  const t = m.totals;
  const peak = points.reduce((a, p) => Math.max(a, p.connected), m.connected);
  const denials = t.denials.connect + t.denials.publish + t.denials.subscribe + t.denials.receive;
  return [
    stat('Connected now', formatCount(m.connected), `${byProtocol(m)}peak in view ${formatCount(peak)}`, 'stat-accent'),
    stat('Connection-minutes', formatCount(t.connectionMinutes), 'AWS’s billing unit'),
    stat('Billed messages', formatCount(t.billedMessages), 'messages in + out'),
    stat('Messages', [formatCount(t.messagesIn), h('small', null, ' in')], `${formatCount(t.messagesOut)} out`),
    stat('Data', [formatBytes(t.bytesIn), h('small', null, ' in')], `${formatBytes(t.bytesOut)} out`),
    stat('Connects', formatCount(t.connects), t.connectFailures ? h('span', { class: 'bad' }, `${formatCount(t.connectFailures)} failed`) : 'no failures', t.connectFailures ? 'stat-warn' : ''),
    stat('Denials', formatCount(denials), `connect ${formatCount(t.denials.connect)} · publish ${formatCount(t.denials.publish)} · subscribe ${formatCount(t.denials.subscribe)} · receive ${formatCount(t.denials.receive)}`, denials ? 'stat-warn' : ''),
    stat('Authorizer calls', formatCount(t.authorizerInvocations), 'custom authorizers'),
    stat('Rules', formatCount(t.ruleExecutions), t.ruleFailures ? h('span', { class: 'bad' }, `${formatCount(t.ruleFailures)} failed`) : 'executions, no failures'),
    stat('Dropped', formatCount(t.qos0Dropped + t.queueDropped), `${formatCount(t.qos0Dropped)} QoS 0 · ${formatCount(t.queueDropped)} queue`),
  ];
}

export const monitorPage: PageDefinition = {
  path: 'monitor',
  title: 'Monitor',
  icon: ICONS.monitor,
  mount(root, ctx) {
    let range: Range = '15m';
    let stepSeconds = 1;
    let points: MetricsPoint[] = [];
    let metrics: Metrics | null = null;
    let generation = 0;

    const charts = CHARTS.map((def) => ({ def, chart: new TimeChart(def.options), sub: h('span', { class: 'card-sub' }) }));
    const cards = h('div', { class: 'stats', 'data-testid': 'totals' });
    const status = h('span', { class: 'live' }, h('i', { class: 'live-dot' }), 'Live');
    const error = h('div');

    const draw = () => {
      const to = metrics?.time ?? points[points.length - 1]?.t ?? Date.now();
      // A server younger than the range: the window starts with the history (at least a
      // minute), instead of a chart that is empty but for its last few pixels.
      const first = points[0]?.t;
      const from = first === undefined ? to - RANGE_MS[range] : Math.max(to - RANGE_MS[range], Math.min(first - stepSeconds * 1000, to - 60_000));
      const partial = from > to - RANGE_MS[range];
      const shown = points.filter((p) => p.t >= from - stepSeconds * 1000);
      for (const { def, chart, sub } of charts) {
        sub.textContent = def.rate ? 'per second' : def.key === 'connected' ? `highest ${stepLabel(stepSeconds).replace('per', 'in each')}` : stepLabel(stepSeconds);
        chart.update({ times: shown.map((p) => p.t), series: def.series(shown, stepSeconds), domain: [from, to], stepMs: stepSeconds * 1000 });
      }
      if (metrics) replace(cards, totalsCards(metrics, shown));
      replace(status, h('i', { class: 'live-dot' }), `Live · ${formatClock(to)}`, partial ? h('span', { class: 'since' }, ` · since ${formatClock(from)}`) : null);
    };

    const load = async () => {
      const mine = ++generation;
      const [history, m] = await Promise.all([ctx.api.history(range), ctx.api.metrics()]);
      if (mine !== generation) return;
      stepSeconds = history.stepSeconds;
      points = history.points;
      metrics = m;
      draw();
    };

    const tick = async () => {
      const mine = generation;
      const last = points[points.length - 1]?.t;
      try {
        const [history, m] = await Promise.all([ctx.api.history(range, last), ctx.api.metrics()]);
        if (mine !== generation) return;
        // A server that ignores `since` answers with everything: keep only what is new.
        const fresh = last === undefined ? history.points : history.points.filter((p) => p.t > last);
        if (fresh.length) points = points.concat(fresh);
        const cutoff = m.time - RANGE_MS[range] - 60_000;
        if (points.length && points[0]!.t < cutoff) points = points.filter((p) => p.t >= cutoff);
        metrics = m;
        replace(error);
        status.classList.remove('stale');
        draw();
      } catch (err) {
        status.classList.add('stale');
        replace(error, errorBox(`Cannot update: ${errorText(err)}`));
      }
    };

    const picker = segmented(RANGES, range, (v) => {
      range = v;
      void load().catch((err) => replace(error, errorBox(errorText(err))));
    }, 'Time range');

    replace(
      root,
      pageHeader('Monitor', 'Live traffic on this server, updated every second.', [status, picker]),
      error,
      cards,
      h(
        'div',
        { class: 'charts' },
        charts.map(({ def, chart, sub }) =>
          h('section', { class: 'card chart-card', 'data-chart': def.key }, h('header', { class: 'card-head' }, h('div', null, h('h2', { class: 'card-title' }, def.title), sub)), h('div', { class: 'card-body' }, chart.el)),
        ),
      ),
    );
    void load().catch((err) => replace(error, errorBox(`Cannot load metrics: ${errorText(err)}`)));
    const stop = poll(tick, 1000);
    return {
      unmount() {
        stop();
        generation++;
        for (const { chart } of charts) chart.destroy();
      },
    };
  },
};

// A time-series chart in SVG: lines (optionally filled as areas) over a fixed time window, y axis
// with round ticks, time axis, a legend with the latest values, and a hover readout (a cursor
// line, a dot per series and a tooltip with every value at that instant). Drawn at the
// container's pixel width (redrawn on resize) so text is never scaled.
//
// Invariants: `times` is ascending and each series has one value per time; a gap longer than
// 2.5 steps (the server was down) breaks the line instead of drawing a slope across it.
import { h, s, type Child } from '../dom.js';
import { formatClock, formatHourMinute } from '../format.js';

export interface ChartSeries {
  key: string;
  label: string;
  color: string;
  values: readonly number[];
}

export interface ChartData {
  times: readonly number[];
  series: readonly ChartSeries[];
  /** The window shown, [from, to] in epoch ms. */
  domain: readonly [number, number];
  stepMs: number;
}

export interface ChartOptions {
  height?: number;
  /** Fill under each line. */
  area?: boolean;
  /** Whole numbers only on the y axis (counts). */
  integer?: boolean;
  /** Values in the legend and readout, e.g. "1.2 KB/s". */
  format: (v: number) => string;
  /** Values on the y axis (short). */
  axisFormat: (v: number) => string;
  /** Shown in the chart when every value is zero. */
  quietText?: string;
  /** What the legend shows per series: the latest value (default), the total or the peak in view. */
  summary?: 'now' | 'total' | 'peak';
  /**
   * Bars per interval instead of lines: for sparse counters (denials, failures), where a line
   * between a 3 and the zeros around it draws slopes that never happened.
   */
  bars?: boolean;
}

const MARGIN = { top: 10, right: 12, bottom: 24 };
const TICK_SECONDS = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200];
let chartSeq = 0;

/** A round step for about `divisions` steps up to `max`, and the axis top it gives. */
export function yScale(max: number, integer: boolean, divisions = 4): { step: number; top: number } {
  if (!(max > 0)) max = integer ? divisions : 1;
  const raw = max / divisions;
  const e = 10 ** Math.floor(Math.log10(raw));
  const f = raw / e;
  let step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * e;
  if (integer) step = Math.max(1, Math.round(step));
  return { step, top: Math.max(step, Math.ceil(max / step - 1e-9) * step) };
}

/** Time ticks on round local times, at most `maxTicks`. */
export function timeTicks(from: number, to: number, maxTicks: number): { ticks: number[]; seconds: number } {
  const span = (to - from) / 1000;
  const seconds = TICK_SECONDS.find((t) => span / t <= maxTicks) ?? 86400;
  const ms = seconds * 1000;
  const offset = new Date(from).getTimezoneOffset() * 60_000;
  const ticks: number[] = [];
  for (let t = Math.ceil((from - offset) / ms) * ms + offset; t <= to; t += ms) ticks.push(t);
  return { ticks, seconds };
}

function nearestIndex(times: readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(times[lo - 1]! - t) < Math.abs(times[lo]! - t)) return lo - 1;
  return lo;
}

export class TimeChart {
  readonly el: HTMLElement;
  private readonly plot: HTMLElement;
  private readonly legend: HTMLElement;
  private readonly tooltip: HTMLElement;
  private readonly id = ++chartSeq;
  private data: ChartData | null = null;
  private hoverX: number | null = null;
  private readonly resize: ResizeObserver;
  private lastWidth = 0;
  // Geometry of the last drawing, for the hover readout.
  private geo: { left: number; width: number; height: number; x: (t: number) => number; y: (v: number) => number } | null = null;
  private cursor: SVGGElement | null = null;

  constructor(private readonly options: ChartOptions) {
    this.legend = h('div', { class: 'legend' });
    this.tooltip = h('div', { class: 'chart-tip', hidden: true });
    this.plot = h('div', { class: 'chart-plot' }, this.tooltip);
    this.el = h('div', { class: 'chart' }, this.legend, this.plot);
    this.plot.addEventListener('pointermove', (e) => this.hover(e));
    this.plot.addEventListener('pointerdown', (e) => this.hover(e));
    this.plot.addEventListener('pointerleave', () => this.unhover());
    this.resize = new ResizeObserver(() => {
      const w = this.plot.clientWidth;
      if (w !== this.lastWidth) this.draw();
    });
    this.resize.observe(this.plot);
  }

  update(data: ChartData): void {
    this.data = data;
    let max = 0;
    for (const sr of data.series) for (const v of sr.values) if (v > max) max = v;
    // For tests and curious users: the largest value drawn.
    this.el.dataset.max = String(max);
    this.draw();
    this.drawLegend();
  }

  destroy(): void {
    this.resize.disconnect();
  }

  private drawLegend(): void {
    const d = this.data;
    if (!d) return;
    const summary = this.options.summary ?? 'now';
    this.legend.replaceChildren(
      ...d.series.map((sr) => {
        let value = sr.values.length ? sr.values[sr.values.length - 1]! : 0;
        if (summary === 'total') value = sr.values.reduce((a, v) => a + v, 0);
        if (summary === 'peak') value = sr.values.reduce((a, v) => Math.max(a, v), 0);
        return h(
          'span',
          { class: 'legend-item', 'data-series': sr.key },
          h('i', { class: 'swatch', style: `background:${sr.color}` }),
          h('span', { class: 'legend-label' }, sr.label),
          h('b', { class: 'legend-value' }, this.options.format(value)),
          h('small', { class: 'legend-kind' }, summary === 'now' ? 'now' : summary === 'total' ? 'in view' : 'peak'),
        );
      }),
    );
  }

  private draw(): void {
    const d = this.data;
    const width = Math.max(this.plot.clientWidth, 240);
    this.lastWidth = this.plot.clientWidth;
    const height = this.options.height ?? 150;
    if (!d) return;
    const [from, to] = d.domain;
    let max = 0;
    for (const sr of d.series) for (const v of sr.values) if (v > max) max = v;
    const { step, top } = yScale(max, this.options.integer ?? false);
    const labels: string[] = [];
    for (let v = 0; v <= top + step / 2; v += step) labels.push(this.options.axisFormat(v));
    const left = 10 + Math.max(...labels.map((l) => l.length)) * 6.6;
    const plotW = width - left - MARGIN.right;
    const plotH = height - MARGIN.top - MARGIN.bottom;
    const x = (t: number) => left + ((t - from) / (to - from)) * plotW;
    const y = (v: number) => MARGIN.top + plotH - (v / top) * plotH;
    this.geo = { left, width: plotW, height: plotH, x, y };

    const grid: Child[] = [];
    labels.forEach((label, i) => {
      const yy = Math.round(y(i * step)) + 0.5;
      grid.push(s('line', { class: i === 0 ? 'axis-line' : 'grid-line', x1: left, x2: left + plotW, y1: yy, y2: yy }));
      grid.push(s('text', { class: 'axis-text', x: left - 6, y: yy + 3.5, 'text-anchor': 'end' }, label));
    });
    const { ticks, seconds } = timeTicks(from, to, Math.max(2, Math.floor(plotW / 72)));
    for (const t of ticks) {
      const xx = Math.round(x(t)) + 0.5;
      grid.push(s('line', { class: 'tick-line', x1: xx, x2: xx, y1: MARGIN.top + plotH, y2: MARGIN.top + plotH + 4 }));
      grid.push(s('text', { class: 'axis-text', x: xx, y: height - 6, 'text-anchor': 'middle' }, seconds < 60 ? formatClock(t) : formatHourMinute(t)));
    }

    const defs: Child[] = [];
    const shapes: Child[] = [];
    const gap = d.stepMs * 2.5;
    if (this.options.bars) {
      // Side by side within each interval, a bar only where something was counted.
      const slot = Math.max(2, (d.stepMs / (to - from)) * plotW * 0.8);
      const bw = Math.max(1, slot / d.series.length);
      d.series.forEach((sr, si) => {
        for (let i = 0; i < d.times.length; i++) {
          const v = sr.values[i] ?? 0;
          const t = d.times[i]!;
          if (v <= 0 || t < from - d.stepMs) continue;
          const bx = x(t) - slot / 2 + si * bw;
          shapes.push(s('rect', { class: 'series-bar', x: bx.toFixed(1), y: y(v).toFixed(1), width: bw.toFixed(1), height: Math.max(1, y(0) - y(v)).toFixed(1), fill: sr.color, 'data-series': sr.key }));
        }
      });
    }
    d.series.forEach((sr, si) => {
      if (this.options.bars) return;
      let line = '';
      let area = '';
      let runStart = -1;
      let prevT = -Infinity;
      const closeRun = (endIdx: number) => {
        if (runStart < 0) return;
        area += `L${x(d.times[endIdx]!).toFixed(1)},${y(0).toFixed(1)}L${x(d.times[runStart]!).toFixed(1)},${y(0).toFixed(1)}Z`;
      };
      for (let i = 0; i < d.times.length; i++) {
        const t = d.times[i]!;
        if (t < from - d.stepMs) continue;
        const px = x(t).toFixed(1);
        const py = y(sr.values[i] ?? 0).toFixed(1);
        if (t - prevT > gap) {
          if (runStart >= 0) closeRun(i - 1);
          line += `M${px},${py}`;
          area += `M${px},${py}`;
          runStart = i;
        } else {
          line += `L${px},${py}`;
          area += `L${px},${py}`;
        }
        prevT = t;
      }
      if (runStart >= 0) closeRun(d.times.length - 1);
      if (!line) return;
      if (this.options.area) {
        const gid = `g${this.id}-${si}`;
        defs.push(
          s(
            'linearGradient',
            { id: gid, x1: 0, x2: 0, y1: 0, y2: 1 },
            s('stop', { offset: '0%', 'stop-color': sr.color, 'stop-opacity': 0.28 }),
            s('stop', { offset: '100%', 'stop-color': sr.color, 'stop-opacity': 0.02 }),
          ),
        );
        shapes.push(s('path', { d: area, fill: `url(#${gid})`, stroke: 'none' }));
      }
      shapes.push(s('path', { class: 'series-line', d: line, stroke: sr.color, 'data-series': sr.key }));
    });

    const quiet = max === 0 && d.times.length > 0 && this.options.quietText;
    this.cursor = s('g', { class: 'cursor', visibility: 'hidden' });
    const svg = s(
      'svg',
      { class: 'chart-svg', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': d.series.map((x) => x.label).join(', ') },
      s('defs', null, defs),
      grid,
      s('g', { class: 'series' }, shapes),
      quiet ? s('text', { class: 'quiet-text', x: left + plotW / 2, y: MARGIN.top + plotH / 2, 'text-anchor': 'middle' }, this.options.quietText!) : null,
      d.times.length === 0 ? s('text', { class: 'quiet-text', x: left + plotW / 2, y: MARGIN.top + plotH / 2, 'text-anchor': 'middle' }, 'Collecting data…') : null,
      this.cursor,
    );
    this.plot.querySelector('svg')?.remove();
    this.plot.insertBefore(svg, this.tooltip);
    if (this.hoverX !== null) this.showAt(this.hoverX);
  }

  private hover(e: PointerEvent): void {
    const rect = this.plot.getBoundingClientRect();
    this.hoverX = e.clientX - rect.left;
    this.showAt(this.hoverX);
  }

  private unhover(): void {
    this.hoverX = null;
    this.tooltip.hidden = true;
    this.cursor?.setAttribute('visibility', 'hidden');
  }

  private showAt(px: number): void {
    const d = this.data;
    const g = this.geo;
    if (!d || !g || !this.cursor || d.times.length === 0 || px < g.left - 4 || px > g.left + g.width + 4) {
      this.unhover();
      if (d && g) this.hoverX = px;
      return;
    }
    const [from, to] = d.domain;
    const t = from + ((px - g.left) / g.width) * (to - from);
    const i = nearestIndex(d.times, t);
    const ti = d.times[i]!;
    if (Math.abs(ti - t) > Math.max(d.stepMs * 3, (to - from) / 60)) {
      this.tooltip.hidden = true;
      this.cursor.setAttribute('visibility', 'hidden');
      return;
    }
    const cx = g.x(ti);
    this.cursor.replaceChildren(
      s('line', { class: 'cursor-line', x1: cx, x2: cx, y1: MARGIN.top, y2: MARGIN.top + g.height }),
      ...d.series.map((sr) => s('circle', { cx, cy: g.y(sr.values[i] ?? 0), r: 3.5, fill: sr.color, class: 'cursor-dot' })),
    );
    this.cursor.setAttribute('visibility', 'visible');
    this.tooltip.replaceChildren(
      h('div', { class: 'tip-time' }, formatClock(ti)),
      ...d.series.map((sr) =>
        h('div', { class: 'tip-row' }, h('i', { class: 'swatch', style: `background:${sr.color}` }), h('span', null, sr.label), h('b', null, this.options.format(sr.values[i] ?? 0))),
      ),
    );
    this.tooltip.hidden = false;
    const tipW = this.tooltip.offsetWidth;
    const plotW = this.plot.clientWidth;
    const left = cx + 14 + tipW > plotW ? cx - 14 - tipW : cx + 14;
    this.tooltip.style.left = `${Math.max(0, left)}px`;
    this.tooltip.style.top = `${MARGIN.top}px`;
  }
}

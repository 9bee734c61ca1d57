// A histogram with fixed buckets for the publish path: observe() is a short scan over the bounds
// and three additions. prom-client's Histogram.observe (a closure, label validation and hashing,
// a bucket looked up by its bound turned into a string) cost ~11% of the broker's CPU per delivery
// when every message has one subscriber (docs/benchmarks.md, issue #18: many publishers).
//
// For /metrics it is a prom-client metric by shape: a registry asks a metric for get() and reads
// { name, help, type, values, aggregator }, each value { labels, value, metricName }; this returns
// what a prom-client Histogram with the same buckets would (cumulative `_bucket` series with `le`,
// then `+Inf`, `_sum` and `_count`).
export interface HistogramExport {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  values: { labels: Record<string, string | number>; value: number; metricName: string }[];
}

export class BucketHistogram {
  readonly name: string;
  readonly help: string;
  private readonly bounds: readonly number[];
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last slot is above every bound. */
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(options: { name: string; help: string; buckets: readonly number[] }) {
    this.name = options.name;
    this.help = options.help;
    this.bounds = [...options.buckets].sort((a, b) => a - b);
    this.counts = new Float64Array(this.bounds.length + 1);
  }

  observe(value: number): void {
    // A non-number would poison the sum for good; prom-client throws, the publish path must not.
    if (!Number.isFinite(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  get(): Promise<HistogramExport> {
    const values: HistogramExport['values'] = [];
    const bucket = `${this.name}_bucket`;
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i]!;
      values.push({ labels: { le: this.bounds[i]! }, value: cumulative, metricName: bucket });
    }
    values.push({ labels: { le: '+Inf' }, value: this.count, metricName: bucket });
    values.push({ labels: {}, value: this.sum, metricName: `${this.name}_sum` });
    values.push({ labels: {}, value: this.count, metricName: `${this.name}_count` });
    return Promise.resolve({ name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values });
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

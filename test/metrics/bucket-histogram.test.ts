// The publish-path histogram exposes exactly what prom-client's Histogram would for the same
// observations (it replaced one on the publish path, issue #18), in the text format and as JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry, type Metric } from 'prom-client';
import { BucketHistogram } from '../../src/metrics/bucket-histogram.js';

const buckets = [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1];

test('same /metrics text and JSON as a prom-client Histogram', async () => {
  const ours = new BucketHistogram({ name: 'h_seconds', help: 'help text', buckets });
  const theirs = new Histogram({ name: 'h_seconds', help: 'help text', buckets, registers: [] });
  // Bounds themselves (le is inclusive), between them, below and above all, and zero.
  const values = [0, 0.00001, 0.000011, 0.00005, 0.0003, 0.001, 0.0049, 0.2, 1, 1.5, 30];
  for (let i = 0; i < 500; i++) values.push(((i * 7919) % 1000) / 1000 ** ((i % 4) + 1));
  for (const v of values) {
    ours.observe(v);
    theirs.observe(v);
  }
  const a = new Registry();
  a.registerMetric(ours as unknown as Metric);
  const b = new Registry();
  b.registerMetric(theirs);
  assert.equal(await a.metrics(), await b.metrics());
  // JSON too, but for prom-client's exemplar slots (null or undefined: we keep none).
  const plain = async (r: Registry) =>
    (await r.getMetricsAsJSON()).map((m) => ({ ...m, values: m.values.map((v) => ({ labels: v.labels, value: v.value, metricName: (v as { metricName?: string }).metricName })) }));
  assert.deepEqual(await plain(a), await plain(b));
  a.resetMetrics();
  b.resetMetrics();
  ours.observe(0.002);
  theirs.observe(0.002);
  assert.equal(await a.metrics(), await b.metrics());
});

test('a value that is not a finite number is not counted', async () => {
  const h = new BucketHistogram({ name: 'x', help: 'x', buckets: [1] });
  h.observe(Number.NaN);
  h.observe(Infinity);
  h.observe(0.5);
  const { values } = await h.get();
  assert.deepEqual(values.map((v) => v.value), [1, 1, 0.5, 1]);
});

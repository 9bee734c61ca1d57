// Order statistics for the harness: exact percentiles of latency samples and medians of
// repetitions.

/** Nearest-rank percentiles of `samples` (sorted in place). Keys: p50, p99, p99.9, max. */
export function percentiles(samples, qs) {
  samples.sort();
  const out = {};
  for (const q of qs) {
    const key = q === 1 ? 'max' : `p${+(q * 100).toFixed(1)}`;
    if (samples.length === 0) {
      out[key] = null;
      continue;
    }
    const rank = Math.min(samples.length - 1, Math.max(0, Math.ceil(q * samples.length) - 1));
    out[key] = samples[rank];
  }
  return out;
}

/** Median of the finite numbers in `values`; null when there are none. */
export function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

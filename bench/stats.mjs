// Order statistics shared by the load generator and the report.

/** @param {number[]} sorted ascending @param {number} q in [0, 1] */
export function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? null;
}

/** Count, median and 99th percentile of latencies. @param {number[]} values */
export function latencySummary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return { count: sorted.length, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
}

/** Median of the values that exist; null when none does. @param {(number | null | undefined)[]} values */
export function median(values) {
  const present = /** @type {number[]} */ (values.filter((v) => typeof v === 'number' && Number.isFinite(v)));
  if (present.length === 0) return null;
  const sorted = present.sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] ?? null) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

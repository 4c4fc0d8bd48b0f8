/**
 * One Workers Analytics Engine data point per request, when the binding
 * USAGE_EVENTS is bound, for dashboards over the SQL API (docs/clients.md
 * shows a query). The field order is the dataset's schema: append, never
 * reorder.
 *
 *   index1   client ("anonymous", or "" when no caller was established)
 *   blob1    client, blob2 alias ("" if none), blob3 route (the path
 *            template), blob4 method, blob5 the status class ("2xx", "4xx", ...)
 *   double1  status, double2 latency_ms (to the answer's last byte where the
 *            gateway read it, else to its headers), double3 ttfb_ms (to the
 *            answer's headers), double4 input_tokens, double5 output_tokens,
 *            double6 upstream_ms
 */

export interface UsageEvent {
  client: string;
  alias: string;
  route: string;
  method: string;
  status: number;
  latencyMs: number;
  ttfbMs: number;
  inputTokens: number;
  outputTokens: number;
  upstreamMs: number;
}

export function usageDataPoint(event: UsageEvent): AnalyticsEngineDataPoint {
  return {
    indexes: [event.client.slice(0, 96)],
    blobs: [event.client, event.alias, event.route, event.method, `${Math.floor(event.status / 100)}xx`],
    doubles: [event.status, event.latencyMs, event.ttfbMs, event.inputTokens, event.outputTokens, event.upstreamMs],
  };
}

/** Fire and forget: Analytics Engine takes the point without a round trip; a throwing binding costs the point only. */
export function writeUsageEvent(dataset: AnalyticsEngineDataset | undefined, event: UsageEvent): void {
  if (!dataset) return;
  try {
    dataset.writeDataPoint(usageDataPoint(event));
  } catch (err) {
    console.error(JSON.stringify({ level: 'error', error: `USAGE_EVENTS write failed: ${String(err).slice(0, 200)}` }));
  }
}

// Turns the benchmark's results into one table (terminal and Markdown), with
// each figure checked against its target.

/**
 * @typedef {object} Row
 * @property {string} figure
 * @property {string} [direct]
 * @property {string} [floor]
 * @property {string} [gateway]
 * @property {string} [gatewayRl]
 * @property {string} [portkey]
 * @property {string} [target]
 * @property {string} [result]
 */

const COLUMNS = /** @type {const} */ ([
  ['figure', 'figure'],
  ['direct', 'direct'],
  ['floor', 'floor'],
  ['gateway', 'gateway'],
  ['gatewayRl', 'gateway + rate limiter'],
  ['portkey', 'Portkey'],
  ['target', 'target'],
  ['result', 'result'],
]);

/** @param {number | null | undefined} x @param {number} digits */
const num = (x, digits) => (x === null || x === undefined ? '—' : x.toFixed(digits));
/** @param {number | null | undefined} x @param {number} digits */
const plus = (x, digits) => (x === null || x === undefined ? '—' : `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`);
/** @param {number | null | undefined} a @param {number | null | undefined} b */
const diff = (a, b) => (a === null || a === undefined || b === null || b === undefined ? null : a - b);
/** @param {boolean | null} ok */
const verdict = (ok) => (ok === null ? 'n/a' : ok ? 'met' : 'MISSED');
/** @param {number | null | undefined} a @param {number | null | undefined} b */
const ratio = (a, b) => (a && b ? a / b : null);
const kib = (/** @type {number | null} */ x) => (x === null ? null : x / 1024);

/**
 * Errors as "n (status: count, ...)" when there were any.
 * @param {{errors: number, statuses: Record<string, number>} | undefined} m
 */
function errorCell(m) {
  if (!m || m.errors === 0) return '0';
  const failed = Object.entries(m.statuses)
    .filter(([status]) => Number(status) >= 300)
    .map(([status, n]) => `${status}×${n}`);
  return `${m.errors}${failed.length ? ` (${failed.join(', ')})` : ''}`;
}

/** @param {any} r the results object written by run.mjs @returns {(Row | {section: string})[]} */
export function rows(r) {
  /** @type {(Row | {section: string})[]} */
  const out = [];
  const sp = r.smallPredict;
  out.push({ section: 'Small predict: ~200 B of JSON in and out (latency in ms)' });
  for (const c of r.plan.concurrency) {
    const m = sp[`c${c}`];
    for (const q of ['p50', 'p99']) {
      out.push({
        figure: `${q} latency, ${c} connection${c > 1 ? 's' : ''}`,
        direct: num(m.direct[q], 3),
        floor: num(m.floor[q], 3),
        gateway: num(m.gateway[q], 3),
        gatewayRl: num(m.gatewayRl?.[q], 3),
      });
      const checked = c === 1 && q === 'p50';
      out.push({
        figure: '  added over direct',
        floor: plus(diff(m.floor[q], m.direct[q]), 3),
        gateway: plus(diff(m.gateway[q], m.direct[q]), 3),
        gatewayRl: plus(diff(m.gatewayRl?.[q], m.direct[q]), 3),
        ...(checked ? overFloor(m, q, 0.1) : {}),
      });
    }
    if (c > 1) {
      const share = (/** @type {string} */ name) => ratio(m[name]?.rps, m.floor.rps);
      const cell = (/** @type {number | null} */ x) => `${verdict(x === null ? null : x >= 0.9)} (${num(x === null ? null : x * 100, 0)}%)`;
      out.push({
        figure: `requests/s, ${c} connections`,
        direct: num(m.direct.rps, 0),
        floor: num(m.floor.rps, 0),
        gateway: num(m.gateway.rps, 0),
        gatewayRl: num(m.gatewayRl?.rps, 0),
        target: '≥ 90% of floor',
        result: `${cell(share('gateway'))}; with rate limiter ${cell(share('gatewayRl'))}`,
      });
    }
    out.push({
      figure: `  errors, ${c} connection${c > 1 ? 's' : ''}`,
      direct: errorCell(m.direct),
      floor: errorCell(m.floor),
      gateway: errorCell(m.gateway),
      gatewayRl: errorCell(m.gatewayRl),
    });
  }

  const fb = r.streaming.firstByte;
  out.push({ section: 'Streaming predict (chunked)' });
  for (const q of ['p50', 'p99']) {
    out.push({
      figure: `first byte ${q} (ms)`,
      direct: num(fb.direct[q], 3),
      floor: num(fb.floor[q], 3),
      gateway: num(fb.gateway[q], 3),
      gatewayRl: num(fb.gatewayRl?.[q], 3),
    });
    out.push({
      figure: '  added over direct',
      floor: plus(diff(fb.floor[q], fb.direct[q]), 3),
      gateway: plus(diff(fb.gateway[q], fb.direct[q]), 3),
      gatewayRl: plus(diff(fb.gatewayRl?.[q], fb.direct[q]), 3),
      ...(q === 'p50' ? overFloor(fb, q, 0.2) : {}),
    });
  }
  const sizes = Object.keys(r.streaming.throughput);
  const largest = sizes[sizes.length - 1];
  for (const size of sizes) {
    const t = r.streaming.throughput[size];
    const share = ratio(t.gateway.mibPerSecond, t.floor.mibPerSecond);
    out.push({
      figure: `throughput, ${size.replace('MiB', ' MiB')} answer (MiB/s)`,
      direct: num(t.direct.mibPerSecond, 0),
      floor: num(t.floor.mibPerSecond, 0),
      gateway: num(t.gateway.mibPerSecond, 0),
      ...(size === largest
        ? { target: '≥ 90% of floor', result: `${verdict(share === null ? null : share >= 0.9)} (${num(share === null ? null : share * 100, 0)}%)` }
        : {}),
    });
  }
  for (const size of sizes) {
    const t = r.streaming.throughput[size];
    out.push({
      figure: `workerd peak RSS, ${size.replace('MiB', ' MiB')} answer (MiB)`,
      floor: num(kib(t.floor.peakRssKiB), 1),
      gateway: num(kib(t.gateway.peakRssKiB), 1),
    });
  }
  const first = r.streaming.throughput[sizes[0] ?? ''];
  const last = r.streaming.throughput[largest ?? ''];
  const growth = first && last ? kib(diff(last.gateway.peakRssKiB, first.gateway.peakRssKiB)) : null;
  out.push({
    figure: `  gateway growth, ${sizes[0]} → ${largest} (MiB)`,
    gateway: plus(growth, 1),
    target: '≤ +5 (flat)',
    result: verdict(growth === null ? null : growth <= 5),
  });

  const hit = r.cacheHit;
  if (hit) {
    out.push({ section: 'Cache hit: the small predict answered from the cache (floor: the same predict through to Baseten; latency in ms)' });
    for (const q of ['p50', 'p99']) {
      out.push({
        figure: `${q} latency, 1 connection`,
        direct: num(hit.direct[q], 3),
        floor: num(hit.floor[q], 3),
        gateway: num(hit.gateway[q], 3),
        gatewayRl: num(hit.gatewayRl?.[q], 3),
        ...(q === 'p50' ? overFloor(hit, q, 0.1) : {}),
      });
    }
    out.push({
      figure: '  calls reaching Baseten during the hits',
      gateway: String(hit.upstreamCalls),
      target: '0',
      result: verdict(hit.upstreamCalls === 0),
    });
    out.push({
      figure: '  errors',
      direct: errorCell(hit.direct),
      floor: errorCell(hit.floor),
      gateway: errorCell(hit.gateway),
      gatewayRl: errorCell(hit.gatewayRl),
    });
  }
  if (r.failover) out.push(...failoverRows(r));

  out.push({ section: 'OpenAI chat completions: this gateway vs Portkey (latency in ms)' });
  for (const mode of ['json', 'stream']) {
    const label = mode === 'json' ? 'non-streaming' : 'streaming';
    const one = r.openai[`${mode}_c1`];
    const many = r.openai[`${mode}_c32`];
    for (const q of ['p50', 'p99']) {
      out.push({ figure: `${label}: ${q}, 1 connection`, direct: num(one.direct[q], 3), gateway: num(one.gateway[q], 3), portkey: num(one.portkey[q], 3) });
      const ours = diff(one.gateway[q], one.direct[q]);
      const theirs = diff(one.portkey[q], one.direct[q]);
      out.push({
        figure: '  added over direct',
        gateway: plus(ours, 3),
        portkey: plus(theirs, 3),
        target: '< Portkey',
        result: ahead(ours, theirs, one, (a, b) => a < b),
      });
    }
    out.push({
      figure: `${label}: requests/s, 32 connections`,
      direct: num(many.direct.rps, 0),
      gateway: num(many.gateway.rps, 0),
      portkey: num(many.portkey.rps, 0),
      target: '> Portkey',
      result: ahead(many.gateway.rps, many.portkey.rps, many, (a, b) => a > b),
    });
    for (const [c, m] of [
      [1, one],
      [32, many],
    ]) {
      out.push({
        figure: `  errors, ${c} connection${c > 1 ? 's' : ''}`,
        direct: errorCell(m.direct),
        gateway: errorCell(m.gateway),
        portkey: errorCell(m.portkey),
      });
    }
  }

  const as = r.asyncSubmit;
  if (as) {
    out.push({ section: 'Async submit, one at a time (ms): the Idempotency-Key claim' });
    for (const q of ['p50', 'p99']) {
      out.push({ figure: `${q}, no key`, gateway: num(as.no_key[q], 3) });
      out.push({ figure: `${q}, new key (claim + answer kept)`, gateway: num(as.new_key[q], 3) });
      out.push({ figure: '  added by the claim', gateway: plus(diff(as.new_key[q], as.no_key[q]), 3) });
      out.push({ figure: `${q}, same key again (replay, no Baseten call)`, gateway: num(as.replay[q], 3) });
    }
    out.push({ figure: '  errors (no key / new key / replay)', gateway: `${as.no_key.errors} / ${as.new_key.errors} / ${as.replay.errors}` });
  }

  out.push({ section: 'Request path inside workerd (µs per request; upstream answers at once)' });
  const cpu = r.cpu;
  /** @type {[string, string, number][]} */
  const cases = [
    ['predict', 'small predict', 1],
    ['predictRl', 'small predict, rate limiter bound', 1],
    ['cacheHit', 'cache hit (small predict)', 1],
    ['predict64k', '64 KiB body', 1],
    ['batch32', 'batch of 32 rows', 32],
  ];
  for (const [key, label, fetches] of cases) {
    const c = cpu[key];
    if (!c) continue;
    const floorCase = c.floor ?? cpu.predict.floor;
    for (const clock of ['cpuMicros', 'wallMicros']) {
      const floor = floorCase?.status === 200 ? floorCase[clock] * (c.floor ? 1 : fetches) : null;
      const missing = c.gateway.status !== 200;
      const gateway = missing ? null : c.gateway[clock];
      const net = diff(gateway, floor);
      const checked = (key === 'predict' || key === 'predictRl') && clock === 'cpuMicros';
      out.push({
        figure: `${label}: ${clock === 'cpuMicros' ? 'workerd CPU' : 'Worker wall time'}`,
        floor: num(floor, 0),
        gateway: missing ? (c.gateway.status === 404 ? 'route missing (404)' : `HTTP ${c.gateway.status}`) : `${num(gateway, 0)} (${plus(net, 0)})`,
        ...(checked ? { target: "gateway's own < 300", result: `${verdict(net === null ? null : net < 300)} (${num(net, 0)})` } : {}),
      });
    }
  }

  out.push({ section: 'Bundle (wrangler deploy --dry-run)' });
  out.push({ figure: 'gateway Worker, raw (KiB)', gateway: num(r.bundle.rawBytes / 1024, 1) });
  out.push({
    figure: 'gateway Worker, gzipped (KiB)',
    gateway: num(r.bundle.gzipBytes / 1024, 1),
    target: '< 30',
    result: verdict(r.bundle.gzipBytes / 1024 < 30),
  });
  return out;
}

/**
 * The gateway's figure over the floor's, checked against `limit` (ms), with
 * and without the rate limiter.
 * @param {any} m figures by target
 * @param {string} q
 * @param {number} limit
 */
function overFloor(m, q, limit) {
  const cell = (/** @type {string} */ name) => {
    const added = diff(m[name]?.[q], m.floor[q]);
    return `${verdict(added === null ? null : added <= limit)} (${plus(added, 3)})`;
  };
  return { target: `≤ floor + ${limit.toFixed(3)}`, result: `${cell('gateway')}; with rate limiter ${cell('gatewayRl')}` };
}

/**
 * Fail-over, gateway only: an alias with fallbacks whose primary answers
 * against one without, and serving from the fallback when the primary refuses.
 * @param {any} r
 * @returns {Row[]}
 */
function failoverRows(r) {
  /** @type {(Row | {section: string})[]} */
  const out = [{ section: 'Fail-over: small predict through the gateway (latency in ms)' }];
  for (const c of r.plan.concurrency) {
    const m = r.failover.primaryAnswers[`c${c}`];
    const conns = `${c} connection${c > 1 ? 's' : ''}`;
    out.push({ figure: `p50, ${conns}: alias without fallbacks`, gateway: num(m.plain.p50, 3) });
    const added = diff(m.failover.p50, m.plain.p50);
    out.push({
      figure: `p50, ${conns}: with fallbacks, primary answers`,
      gateway: num(m.failover.p50, 3),
      ...(c === 1 ? { target: '≤ without + 0.100 (noise)', result: `${verdict(added === null ? null : added <= 0.1)} (${plus(added, 3)})` } : {}),
    });
    if (c > 1) {
      const share = ratio(m.failover.rps, m.plain.rps);
      out.push({
        figure: `requests/s, ${conns}: with / without fallbacks`,
        gateway: `${num(m.failover.rps, 0)} / ${num(m.plain.rps, 0)}`,
        result: `${num(share === null ? null : share * 100, 0)}%`,
      });
    }
    out.push({ figure: `  errors, ${conns}`, gateway: `${errorCell(m.failover)} / ${errorCell(m.plain)}` });
  }
  const t = r.failover.primaryRefuses;
  for (const q of ['p50', 'p99']) {
    out.push({ figure: `${q}: primary answers, no fallbacks`, gateway: num(t.plain[q], 3) });
    out.push({
      figure: `${q}: primary refuses the connection, served by fallback-1`,
      gateway: num(t.refused[q], 3),
      result: `${plus(diff(t.refused[q], t.plain[q]), 3)} over a direct answer`,
    });
    out.push({
      figure: `${q}: the same, primary's breaker open (skipped)`,
      gateway: num(t.refusedOpen[q], 3),
      result: `${plus(diff(t.refusedOpen[q], t.plain[q]), 3)}`,
    });
  }
  out.push({ figure: '  errors (refused / breaker open)', gateway: `${errorCell(t.refused)} / ${errorCell(t.refusedOpen)}` });
  return /** @type {Row[]} */ (out);
}

/**
 * "Ahead of Portkey": compared when both have figures; a target whose every
 * request failed has none, and the verdict says which failed.
 * @param {number | null} ours
 * @param {number | null} theirs
 * @param {any} m
 * @param {(a: number, b: number) => boolean} better
 */
function ahead(ours, theirs, m, better) {
  if (ours !== null && theirs !== null) return verdict(better(ours, theirs));
  if (ours === null && theirs === null) return 'n/a (both failed)';
  return ours === null ? `MISSED (gateway failed: ${errorCell(m.gateway)})` : `met (Portkey failed: ${errorCell(m.portkey)})`;
}

/** @param {any} r */
export function renderTable(r) {
  const all = rows(r);
  const widths = COLUMNS.map(([key, title]) => Math.max(title.length, ...all.map((row) => ('section' in row ? 0 : (row[key] ?? '').length))));
  const line = (/** @type {string[]} */ cells) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const out = [line(COLUMNS.map(([, title]) => title))];
  for (const row of all) out.push('section' in row ? `\n${row.section}` : line(COLUMNS.map(([key]) => row[key] ?? '')));
  return out.join('\n');
}

/** @param {any} r */
export function renderMarkdown(r) {
  const m = r.machine;
  const lines = [
    '# Gateway benchmark results',
    '',
    `Produced by \`${r.command}\` on ${r.date.slice(0, 10)}: ${m.nproc} × ${m.cpu}, Node ${m.node}, workerd ${m.workerd} (Miniflare ${m.miniflare}), Portkey gateway ${m.portkeyGateway}. Load average ${m.loadAverage.start} at the start, ${m.loadAverage.end} at the end.`,
    '',
    'Every figure is the median of the medians of ' +
      `${r.plan.repeats} repeats (${r.plan.cpuRepeats} inside workerd; targets take turns within each repeat), after a warm-up. ` +
      `Load runs last ${r.plan.seconds} s each (autocannon, in its own process); first byte is ${r.plan.ttfbCount} sequential requests. ` +
      '**direct**: the client calls the fake Baseten itself. **floor**: a pass-through Worker (`bench/floor-worker.js`) built and served exactly like the gateway. ' +
      'All targets run on this one machine, in front of the same fake upstream (`tools/fake-baseten.mjs`), so load generator, Worker and upstream share its cores.',
    '',
    `| ${COLUMNS.map(([, title]) => title).join(' | ')} |`,
    `| ${COLUMNS.map(() => '---').join(' | ')} |`,
  ];
  for (const row of rows(r)) {
    if ('section' in row) lines.push(`| **${row.section}** |${' |'.repeat(COLUMNS.length - 1)}`);
    // Markdown drops leading spaces: an arrow marks a row that details the one above.
    else lines.push(`| ${COLUMNS.map(([key]) => (row[key] ?? '').replace(/^ {2}/, '↳ ').replace(/\|/g, '\\|')).join(' | ')} |`);
  }
  lines.push('');
  return `${lines.join('\n')}\n`;
}

/**
 * POST /v1/models/{alias}/batch: `{"rows": [input, ...]}`, one predict per
 * row, at most `batch_concurrency` in flight, answers in row order. A row's
 * failure is that row's error, never the batch's; the alias's `timeout_ms` is
 * the deadline of the whole batch. Every row sent counts as one request
 * against the caller's rate limit and quota, all before the first is sent: a
 * batch they cannot cover is refused whole (429), so a batch cannot multiply
 * either; the caller's usage counts the rows too.
 */
import { admitMore, modelFor } from '../access.ts';
import { callBaseten } from '../baseten.ts';
import { jsonText, readAtMost, readJson, utf8 } from '../body.ts';
import type { ModelConfig } from '../config.ts';
import { config, type GatewayRequest } from '../context.ts';
import { HttpError } from '../errors.ts';
import { labelIndex, targetLabel } from '../failover.ts';
import { validateInput } from '../input-schema.ts';
import { mapBounded } from '../pool.ts';
import { wholeJson } from '../responses.ts';

/** One row's answer is read up to this much; a bigger one is that row's error. */
const ROW_ANSWER_MAX_BYTES = 4 * 1024 * 1024;
/** All rows' answers together stay well inside a Worker's 128 MB of memory. */
const BATCH_ANSWER_MAX_BYTES = 16 * 1024 * 1024;

/**
 * A row's output as the exact JSON text Baseten sent (re-encoding could
 * change numbers), or its error; for an alias with fallbacks, which target
 * answered it.
 */
type RowResult = ({ output: Uint8Array } | { error: HttpError }) & { target?: string };

interface BatchRun {
  request: GatewayRequest;
  model: ModelConfig;
  /** Fires at the batch deadline. */
  deadline: AbortSignal;
  /** The deadline or the caller's disconnect. */
  signal: AbortSignal;
  /** Answer bytes the batch may still keep. */
  budgetBytes: number;
  /** The furthest of the alias's targets any row was sent to: the batch's x-gateway-target. */
  furthestTarget: number;
}

export async function batch(request: GatewayRequest, env: Env): Promise<Response> {
  const model = modelFor(request);
  const { settings } = config(request);
  const { value } = await readJson(request, model.maxBodyBytes);
  const rows = rowsOf(value, settings.batchMaxRows);
  // Every row is checked before any is sent.
  const invalid = rows.map((row) => rowError(() => validateInput(model, row)));
  // Each row sent is a predict and counts as one request; the batch's own request already counted once.
  const sent = invalid.filter((error) => error === undefined).length;
  await admitMore(request, env, sent - 1);
  const deadline = AbortSignal.timeout(model.timeoutMs);
  const run: BatchRun = {
    request,
    model,
    deadline,
    signal: AbortSignal.any([deadline, request.signal]),
    budgetBytes: BATCH_ANSWER_MAX_BYTES,
    furthestTarget: -1,
  };
  const results = await mapBounded(rows, settings.batchConcurrency, async (row, i) => {
    const error = invalid[i];
    return error ? { error } : runRow(run, row);
  });
  if (run.furthestTarget >= 0) request.state.gatewayTarget = targetLabel(run.furthestTarget);
  return answer(results);
}

function rowsOf(value: unknown, maxRows: number): unknown[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !Array.isArray((value as { rows?: unknown }).rows)) {
    throw new HttpError('invalid_request', 'send {"rows": [input, ...]}');
  }
  const extra = Object.keys(value).find((key) => key !== 'rows');
  if (extra !== undefined) throw new HttpError('invalid_request', `unknown field "${extra.slice(0, 64)}": send {"rows": [input, ...]}`);
  const { rows } = value as { rows: unknown[] };
  if (rows.length > maxRows) throw new HttpError('payload_too_large', `a batch takes at most ${maxRows} rows; this one has ${rows.length}`);
  return rows;
}

/** The HttpError a step throws, or undefined when it passes. */
function rowError(step: () => void): HttpError | undefined {
  try {
    step();
    return undefined;
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
}

async function runRow(run: BatchRun, row: unknown): Promise<RowResult> {
  const served: { target?: string } = {};
  const result = await predictRow(run, row, served);
  return { ...result, ...served };
}

async function predictRow(run: BatchRun, row: unknown, served: { target?: string }): Promise<RowResult> {
  const { request, model, signal } = run;
  if (signal.aborted) return { error: stopped(run) };
  try {
    // A row's Baseten status is not the batch's: none is noted for the log line.
    const upstream = await callBaseten(
      config(request),
      model,
      { action: 'predict' },
      {
        requestId: request.state.requestId,
        callerHeaders: request.headers,
        body: JSON.stringify(row),
        contentType: 'application/json',
        timeoutMs: model.timeoutMs,
        signal,
        waitUntil: request.state.waitUntil,
        onTarget: (label) => {
          served.target = label;
          if (label !== 'none') run.furthestTarget = Math.max(run.furthestTarget, labelIndex(label));
        },
      },
    );
    const bytes = await readAtMost(upstream.body, ROW_ANSWER_MAX_BYTES);
    if (!bytes) return { error: new HttpError('upstream_error', `Baseten's answer is larger than ${ROW_ANSWER_MAX_BYTES} bytes`) };
    const text = utf8(bytes);
    if (text === undefined || !jsonText(text))
      return { error: new HttpError('upstream_error', `Baseten answered ${upstream.status} with a body that is not JSON`) };
    // Decoding dropped any byte order mark, which must not land in the middle of the batch's answer.
    const output = new TextEncoder().encode(text);
    run.budgetBytes -= output.byteLength;
    if (run.budgetBytes < 0)
      return { error: new HttpError('payload_too_large', `the batch's answers passed ${BATCH_ANSWER_MAX_BYTES} bytes: send fewer rows per batch`) };
    return { output };
  } catch (err) {
    if (signal.aborted) return { error: stopped(run) };
    if (err instanceof HttpError) return { error: err };
    return { error: new HttpError('upstream_error', "Baseten's answer broke off") };
  }
}

function stopped(run: BatchRun): HttpError {
  if (run.deadline.aborted) return new HttpError('upstream_timeout', `not done within the batch deadline of ${run.model.timeoutMs} ms`);
  return new HttpError('upstream_error', 'the caller went away');
}

/** `{"rows": [...]}` put together from each row's exact output bytes. */
function answer(results: RowResult[]): Response {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [encoder.encode('{"rows":[')];
  results.forEach((result, i) => {
    if (i > 0) parts.push(encoder.encode(','));
    const target = result.target === undefined ? '' : `,"target":${JSON.stringify(result.target)}`;
    if ('output' in result) {
      parts.push(encoder.encode('{"output":'), result.output, encoder.encode(`${target}}`));
    } else {
      const { type, message, status, details } = result.error;
      const { upstream_status, upstream_code } = details;
      parts.push(encoder.encode(JSON.stringify({ error: { type, message, status, upstream_status, upstream_code }, target: result.target })));
    }
  });
  parts.push(encoder.encode(']}'));
  return wholeJson(new Blob(parts));
}

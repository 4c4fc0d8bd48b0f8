/**
 * Every answer a worker test receives through `call()` is checked against the
 * OpenAPI document generated from the route table: the operation (method and
 * path template), the status, the content type and the JSON body, with a real
 * JSON Schema validator. A field renamed in code and not in the table fails
 * here. Each operation and status seen is reported to the collector that
 * test/contract/coverage.test.ts reads once every worker test has run.
 */

import { env } from 'cloudflare:test';
import { type Schema, Validator } from '@cfworker/json-schema';
import { inject } from 'vitest';
import { type ConfigSource, loadConfig } from '../../src/config.ts';
import { openApiDocument } from '../../src/openapi.ts';
import { API } from '../../src/route-table.ts';

// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document walked by key; the validator checks the values
type Json = Record<string, any>;
interface Operation {
  operationId: string;
  responses: Record<string, Json>;
}
interface Template {
  path: string;
  pattern: RegExp;
  params: number;
  item: Record<string, Operation>;
}

/** Built once per test file: the document, its path templates, a validator per schema. */
let built: { doc: Json; templates: Template[]; validators: WeakMap<object, Validator> } | undefined;

function contract() {
  if (built) return built;
  const doc = openApiDocument(API, loadConfig(env as ConfigSource));
  const templates = Object.entries(doc.paths as Record<string, Record<string, Operation>>).map(([path, item]) => ({
    path,
    item,
    params: (path.match(/\{/g) ?? []).length,
    pattern: new RegExp(
      `^${path
        .replace(/[.*+?^$()|[\]\\]/g, '\\$&')
        .replace(/\/\{route\}$/, '/(.+)')
        .replace(/\{\w+\}/g, '([^/]+)')}$`,
    ),
  }));
  // An alias's own path (its input schema in the body) wins over the template it copies.
  templates.sort((a, b) => a.params - b.params);
  built = { doc, templates, validators: new WeakMap() };
  return built;
}

export interface Answer {
  method: string;
  path: string;
  preflight: boolean;
  response: Response;
}

/** Throws, naming the route, when the answer is not one the document describes; reports the operation and status when it is. */
export async function checkAnswer({ method, path, preflight, response }: Answer): Promise<void> {
  const { doc, templates } = contract();
  const where = `${method} ${path} answered ${response.status}`;
  // CORS preflights are answered before routing, for any path.
  if (preflight) return response.status === 204 ? undefined : checkError(doc, response, where);
  const matching = templates.filter((template) => template.pattern.test(path));
  if (matching.length === 0) {
    if (response.status !== 404) throw new Error(`${where}: no documented path matches, so only 404 is expected`);
    return checkError(doc, response, where);
  }
  const operation = matching.map((template) => template.item[method.toLowerCase()]).find(Boolean);
  if (!operation) {
    if (response.status !== 405) throw new Error(`${where}: no documented ${method} on this path, so only 405 is expected`);
    return checkError(doc, response, where);
  }
  const reply = replyFor(doc, operation, response.status);
  if (!reply)
    throw new Error(`${where}: status not documented for operation ${operation.operationId} (documented: ${Object.keys(operation.responses).join(', ')})`);
  await checkBody(doc, reply, response, where);
  await report(operation.operationId.split('.')[0]!, response.status);
}

function replyFor(doc: Json, operation: Operation, status: number): Json | undefined {
  const reply = operation.responses[String(status)] ?? operation.responses[`${String(status)[0]}XX`];
  return reply?.$ref ? resolve(doc, reply.$ref) : reply;
}

async function checkError(doc: Json, response: Response, where: string): Promise<void> {
  await checkBody(doc, { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }, response, where);
}

async function checkBody(doc: Json, reply: Json, response: Response, where: string): Promise<void> {
  const content = reply.content as Record<string, { schema: Json }> | undefined;
  if (!content) return;
  const type = (response.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const mediaType = Object.keys(content).find((key) => key === type || key === '*/*' || (key.endsWith('/*') && type.startsWith(key.slice(0, -1))));
  if (mediaType === undefined) throw new Error(`${where}: content type "${type}" is not one of ${Object.keys(content).join(', ')}`);
  const schema = content[mediaType]!.schema;
  // Passed-through answers (a model's output, an event stream) are not the gateway's to describe, nor read here.
  if (mediaType !== 'application/json' || Object.keys(schema).length === 0) return;
  const text = await response.clone().text();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${where}: body is not JSON: ${text.slice(0, 200)}`);
  }
  const { valid, errors } = validatorFor(doc, schema).validate(value);
  if (!valid) {
    const problems = errors
      .map((error) => `${error.instanceLocation} ${error.error}`)
      .slice(-3)
      .join('; ');
    throw new Error(`${where}: body does not match its schema: ${problems}\n${text.slice(0, 500)}`);
  }
}

function validatorFor(doc: Json, schema: Json): Validator {
  const { validators } = contract();
  let validator = validators.get(schema);
  if (!validator) {
    // The document's "#/components/schemas/X" references become "#/$defs/X" of a standalone schema.
    const standalone = retarget({ ...schema, $defs: doc.components.schemas });
    validator = new Validator(standalone as Schema, '2020-12', false);
    validators.set(schema, validator);
  }
  return validator;
}

function retarget(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(retarget);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      key,
      key === '$ref' && typeof item === 'string' ? item.replace('#/components/schemas/', '#/$defs/') : retarget(item),
    ]),
  );
}

function resolve(doc: Json, ref: string): Json {
  return ref
    .slice(2)
    .split('/')
    .reduce((node: Json, key) => node[key], doc);
}

async function report(operationId: string, status: number): Promise<void> {
  const res = await fetch(`${inject('contractCollectorUrl')}/seen`, { method: 'POST', body: JSON.stringify({ operationId, status }) });
  await res.body?.cancel();
}

/**
 * An alias's `input_schema`: checked once against the supported subset of
 * JSON Schema draft 2020-12 when the config loads, prepared once per isolate,
 * and applied to predict bodies, batch rows and async `model_input` here at
 * the edge. @cfworker/json-schema interprets schemas without generating code,
 * which Workers forbid (no eval, no new Function).
 */
import { type OutputUnit, type Schema, Validator } from '@cfworker/json-schema';
import { HttpError } from './errors.ts';

const DRAFT = '2020-12';
const TYPES = ['array', 'boolean', 'integer', 'null', 'number', 'object', 'string'];
const COUNT = { type: 'integer', minimum: 0 };

/**
 * The keywords the gateway promises to enforce (and publishes in OpenAPI),
 * plus annotations. Anything else is refused at config load rather than
 * silently half-supported.
 */
export const SUPPORTED_SCHEMA: Schema = {
  $ref: '#/$defs/schema',
  $defs: {
    schema: {
      type: ['object', 'boolean'],
      properties: {
        $schema: { const: 'https://json-schema.org/draft/2020-12/schema' },
        title: { type: 'string' },
        description: { type: 'string' },
        default: true,
        examples: { type: 'array' },
        // One type name or a list of them; written without anyOf so that a violation has one clear message.
        type: { type: ['string', 'array'], pattern: `^(${TYPES.join('|')})$`, items: { enum: TYPES }, minItems: 1 },
        properties: { type: 'object', additionalProperties: { $ref: '#/$defs/schema' } },
        required: { type: 'array', items: { type: 'string' } },
        items: { $ref: '#/$defs/schema' },
        additionalProperties: { $ref: '#/$defs/schema' },
        enum: { type: 'array', minItems: 1 },
        const: true,
        minimum: { type: 'number' },
        maximum: { type: 'number' },
        exclusiveMinimum: { type: 'number' },
        exclusiveMaximum: { type: 'number' },
        minLength: COUNT,
        maxLength: COUNT,
        minItems: COUNT,
        maxItems: COUNT,
      },
      additionalProperties: false,
    },
  },
};

/** A schema ready to apply: the library's validator, and the plain schema its messages are read from. */
interface Prepared {
  validator: Validator;
  schema: unknown;
}

let supported: Prepared | undefined;
/** Keyed by the alias's frozen config entry: prepared once per isolate. */
const prepared = new WeakMap<WithInputSchema, Prepared>();

/** An alias's config entry, as far as validation goes (typed here so that config.ts, which imports this module, is not imported back). */
export interface WithInputSchema {
  inputSchema?: Readonly<Record<string, unknown>>;
}

function prepare(schema: Readonly<Record<string, unknown>>): Prepared {
  // The library annotates the schema objects it is given: it gets its own copy, never the frozen config.
  return { validator: new Validator(structuredClone(schema) as Schema, DRAFT, true), schema };
}

/** For the config loader: why a schema is outside the supported subset, e.g. "/properties/a/type: must be one of ...". */
export function inputSchemaProblem(schema: Readonly<Record<string, unknown>>): string | undefined {
  supported ??= prepare(SUPPORTED_SCHEMA);
  return problemOf(supported, schema);
}

/** Throws a 400 naming the first violation (`/prompt: must be string`) when the alias has a schema and `value` breaks it. */
export function validateInput(model: WithInputSchema, value: unknown): void {
  if (!model.inputSchema) return;
  let entry = prepared.get(model);
  if (!entry) {
    entry = prepare(model.inputSchema);
    prepared.set(model, entry);
  }
  const problem = problemOf(entry, value);
  if (problem !== undefined) throw new HttpError('invalid_request', problem);
}

function problemOf({ validator, schema }: Prepared, value: unknown): string | undefined {
  const { valid, errors } = validator.validate(value);
  if (valid) return undefined;
  // Short-circuit output lists the enclosing keywords first: the last unit is the actual violation.
  const unit = errors[errors.length - 1];
  return unit ? describe(unit, schema, value) : 'does not match the input schema';
}

const MESSAGE_MAX_CHARS = 300;

function describe(unit: OutputUnit, schema: unknown, value: unknown): string {
  const path = displayPath(unit.instanceLocation);
  const limit = at(schema, unit.keywordLocation, true);
  let message: string;
  switch (unit.keyword) {
    case 'false':
      message = 'is not allowed';
      break;
    case 'required':
      return `${displayPath(`${unit.instanceLocation}/${missingKey(limit, at(value, unit.instanceLocation, false))}`)}: is required`;
    case 'type':
      message = `must be ${[limit].flat().join(' or ')}`;
      break;
    case 'enum':
      message = `must be one of ${JSON.stringify(limit)}`;
      break;
    case 'const':
      message = `must be ${JSON.stringify(limit)}`;
      break;
    case 'minimum':
      message = `must be >= ${limit}`;
      break;
    case 'maximum':
      message = `must be <= ${limit}`;
      break;
    case 'exclusiveMinimum':
      message = `must be > ${limit}`;
      break;
    case 'exclusiveMaximum':
      message = `must be < ${limit}`;
      break;
    case 'minLength':
      message = `must be at least ${limit} characters long`;
      break;
    case 'maxLength':
      message = `must be at most ${limit} characters long`;
      break;
    case 'minItems':
      message = `must have at least ${limit} items`;
      break;
    case 'maxItems':
      message = `must have at most ${limit} items`;
      break;
    case 'pattern':
      message = `must match ${limit}`;
      break;
    default:
      message = unit.error;
  }
  return `${path}: ${message}`.slice(0, MESSAGE_MAX_CHARS);
}

function missingKey(required: unknown, object: unknown): string {
  const present = object && typeof object === 'object' ? object : {};
  const missing = Array.isArray(required) ? required.find((key) => typeof key === 'string' && !Object.hasOwn(present, key)) : undefined;
  return typeof missing === 'string' ? missing.replace(/~/g, '~0').replace(/\//g, '~1') : '';
}

/**
 * Follows a location of the library's output ("#/properties/a/type") into a
 * schema or an instance. In a schema, a "$ref" segment continues at the
 * referenced definition, as the validator did.
 */
function at(root: unknown, location: string, followRefs: boolean): unknown {
  let node = root;
  for (const segment of location.split('/').slice(1)) {
    if (node === null || typeof node !== 'object') return undefined;
    const record = node as Record<string, unknown>;
    const key = unescapeSegment(segment);
    // Own properties only: a caller's key such as "constructor" must not find something inherited.
    node = followRefs && key === '$ref' && typeof record.$ref === 'string' ? at(root, record.$ref, true) : Object.hasOwn(record, key) ? record[key] : undefined;
  }
  return node;
}

function unescapeSegment(segment: string): string {
  let text = segment;
  try {
    text = decodeURIComponent(segment);
  } catch {
    // the library encodes with encodeURI; a segment it did not encode is taken as is
  }
  return text.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** "#/a/0/b" becomes "/a/0/b" (a JSON Pointer), the whole input "/"; control characters never reach the message. */
function displayPath(location: string): string {
  let path = location.replace(/^#/, '');
  try {
    path = decodeURI(path);
  } catch {
    // shown encoded
  }
  return (path || '/').replace(/[\x00-\x1f\x7f]/g, '?').slice(0, 200);
}

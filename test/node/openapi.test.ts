// The OpenAPI document, generated from the route table and the config: valid OpenAPI 3.1, and complete.
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { openApiDocument } from '../../src/openapi.ts';
import { routePaths } from '../../src/route-spec.ts';
import { API, ROUTES } from '../../src/route-table.ts';
import { routerFor, routerPath } from '../../src/router.ts';
import { TEST_CLIENTS, TEST_MODELS } from '../config.ts';

// biome-ignore lint/suspicious/noExplicitAny: schemas are read as the document has them; the validator checks them
type Schema = any;
type Operation = {
  operationId: string;
  security: Record<string, string[]>[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, unknown>;
};
type Document = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, unknown>; schemas: Record<string, Schema> };
};

const config = parseConfig({
  ASYNC_REQUESTS: {},
  BASETEN_API_KEY: 'fake-baseten-key',
  BASETEN_URL_TEMPLATE: 'http://127.0.0.1:8788/{subdomain}',
  MODELS: TEST_MODELS,
  CLIENTS: TEST_CLIENTS,
  SETTINGS: { batch_max_rows: 100 },
});
const doc = openApiDocument(API, config) as Document;

describe('OpenAPI document', () => {
  it('is valid OpenAPI 3.1 with every $ref resolvable', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(() => validator.resolveRefs()).not.toThrow();
  });

  it('documents every route the router serves, and the router serves every route of the table', () => {
    const served = routerFor(ROUTES).routes.map(([method, , , path]) => `${method} ${path}`);
    const expected = ROUTES.flatMap((route) => routePaths(route).map(([, path]) => `${route.method.toUpperCase()} ${routerPath(path)}`));
    expect(served).toEqual([...expected, 'ALL *']);
    for (const route of ROUTES) {
      for (const [operationId, path] of routePaths(route)) expect(doc.paths[path]?.[route.method]?.operationId, `${route.method} ${path}`).toBe(operationId);
    }
  });

  it('documents the whole public contract, routes served by other modules included', () => {
    const expected = [
      'get /healthz',
      'get /openapi.json',
      'get /v1/models',
      'post /v1/models/{alias}/predict',
      'post /v1/models/{alias}/batch',
      'post /v1/models/{alias}/wake',
      'post /v1/models/{alias}/async',
      'get /v1/models/{alias}/async/queue',
      'get /v1/async/{request_id}',
      'delete /v1/async/{request_id}',
      'post /v1/webhooks/baseten',
      'get /v1/models/{alias}/sync/{route}',
      'post /v1/models/{alias}/sync/{route}',
      'post /v1/chat/completions',
      'post /v1/completions',
      'post /v1/embeddings',
    ];
    for (const route of expected) {
      const [method, path] = route.split(' ') as [string, string];
      expect(doc.paths[path]?.[method], route).toBeDefined();
    }
  });

  it("publishes an alias's input_schema as the body of its own predict, batch and async paths", () => {
    const schema = TEST_MODELS.typed.input_schema;
    const body = (path: string) => doc.paths[path]!.post!.requestBody!.content['application/json']!.schema;
    expect(body('/v1/models/typed/predict')).toEqual(schema);
    expect(body('/v1/models/typed/batch').properties.rows).toEqual({ type: 'array', items: schema, maxItems: 100 });
    expect(body('/v1/models/typed/async').properties.model_input).toEqual(schema);
    expect(doc.paths['/v1/models/typed/predict']!.post!.requestBody!.content['application/octet-stream']).toBeUndefined();
    // Aliases without a schema are served by the templated paths.
    expect(doc.paths['/v1/models/echo/predict']).toBeUndefined();
  });

  it('declares Bearer or Api-Key (or anonymous for public aliases), admin-only wake, the signed webhook and the error envelope', () => {
    const token = [{ bearer: [] }, { apiKey: [] }];
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['apiKey', 'basetenSignature', 'bearer']);
    expect(doc.paths['/v1/models/{alias}/predict']!.post!.security).toEqual([...token, {}]);
    expect(doc.paths['/v1/models/typed/predict']!.post!.security).toEqual(token);
    expect(doc.paths['/v1/models/{alias}/wake']!.post!.security).toEqual(token);
    expect(doc.paths['/v1/webhooks/baseten']!.post!.security).toEqual([{ basetenSignature: [] }]);
    expect(doc.paths['/healthz']!.get!.security).toEqual([]);
    expect(doc.paths['/v1/models/{alias}/batch']!.post!.responses['413']).toEqual({ $ref: '#/components/responses/payload_too_large' });
    expect(doc.components.schemas.Error.properties.error.required).toEqual(['type', 'message', 'request_id']);
  });

  it("documents Baseten's own paths once per shape and prefix, without per-alias copies", () => {
    const predictPaths = Object.keys(doc.paths).filter((path) => /\/(predict|run_remote)$/.test(path) && !path.includes('/sync/'));
    expect(predictPaths.sort()).toEqual(
      [
        '/v1/models/typed/predict',
        '/v1/models/{alias}/deployment/{deployment_id}/predict',
        '/v1/models/{alias}/deployment/{deployment_id}/run_remote',
        '/v1/models/{alias}/development/predict',
        '/v1/models/{alias}/development/run_remote',
        '/v1/models/{alias}/environments/{environment}/predict',
        '/v1/models/{alias}/environments/{environment}/run_remote',
        '/v1/models/{alias}/predict',
        '/v1/models/{alias}/production/predict',
        '/v1/models/{alias}/production/run_remote',
        '/v1/models/{alias}/run_remote',
      ].sort(),
    );
    expect(doc.paths['/v1/models/{alias}/environments/{environment}/async_predict']!.post!.operationId).toBe('basetenAsyncPredict.environment');
    expect(doc.paths['/v1/models/{alias}/async_request/{request_id}']!.get!.responses['200']).toMatchObject({
      content: { 'application/json': { schema: { $ref: '#/components/schemas/BasetenAsyncStatus' } } },
    });
  });

  it('gives every operation a unique operationId', () => {
    const ids = Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });
});

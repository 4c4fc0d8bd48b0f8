import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';
import { RATE_LIMIT_TEST_CLIENTS, TEST_API_KEY, TEST_CLIENTS, TEST_MODELS, TEST_ORIGINS, TEST_WEBHOOK_SECRET } from './test/config.ts';

export default defineConfig({
  test: {
    // The JSON report lets CI print one plain "N passed, N failed" line.
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
    // The gateway logs a JSON line per request: shown for failing tests only.
    silent: 'passed-only',
    // Most of a file's time is spent waiting on wrangler dev, the fake or a timeout, not on a core:
    // two files at once fit the two cores the suite is run on (the default keeps one core free).
    maxWorkers: 2,
    projects: [
      {
        // Unit and integration tests inside workerd, with real Miniflare KV and a fake Baseten on loopback.
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              bindings: {
                BASETEN_API_KEY: TEST_API_KEY,
                BASETEN_WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
                BASETEN_URL_TEMPLATE: `${inject('fakeBasetenUrl')}/{subdomain}`,
                BASETEN_MODEL_API_URL: `${inject('fakeBasetenUrl')}/model-api/v1`,
                MODELS: TEST_MODELS,
                CLIENTS: { ...TEST_CLIENTS, ...RATE_LIMIT_TEST_CLIENTS },
                ALLOWED_ORIGINS: TEST_ORIGINS,
                // Usage written at once, so a test awaiting its request's waitUntil does not wait out a flush window; test/worker/usage-flush.test.ts sets its own.
                SETTINGS: { usage_flush_ms: 0 },
              },
            },
          })),
        ],
        test: {
          name: 'worker',
          include: ['test/worker/**/*.test.ts'],
          globalSetup: ['test/setup/fake-baseten.global.ts', 'test/setup/contract.global.ts'],
          // Fails a test whose requests reached Baseten more often than it declared.
          setupFiles: ['test/worker/upstream-ledger.setup.ts'],
        },
      },
      {
        // After the worker tests: every route of the table was seen answering as documented.
        test: {
          name: 'contract',
          include: ['test/contract/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/setup/contract.global.ts'],
          sequence: { groupOrder: 1 },
        },
      },
      {
        // End-to-end tests in Node: wrangler dev, real HTTP clients, headless Chromium.
        test: {
          name: 'node',
          include: ['test/node/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 90_000,
        },
      },
    ],
  },
});

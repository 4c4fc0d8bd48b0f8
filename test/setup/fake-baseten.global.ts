/** Starts one fake Baseten on a free loopback port for the workerd tests, and stops it after. */
import type { TestProject } from 'vitest/node';
import { startFakeBaseten } from '../../tools/fake-baseten.mjs';
import { TEST_API_KEY, TEST_SERVED_NAMES, TEST_WEBHOOK_SECRET } from '../config.ts';

export default async function setup(project: TestProject) {
  const fake = await startFakeBaseten({ port: 0, apiKey: TEST_API_KEY, webhookSecrets: [TEST_WEBHOOK_SECRET], servedNames: TEST_SERVED_NAMES });
  project.provide('fakeBasetenUrl', fake.url);
  return async () => fake.close();
}

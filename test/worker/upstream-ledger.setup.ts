/**
 * Setup for the workerd tests: after each test, every upstream call made under
 * one of its request ids must have been declared or acknowledged by it (see
 * the ledger in helpers.ts). Calls made in beforeAll hooks are
 * checked once the file's tests are done.
 */
import { afterAll, afterEach, beforeEach } from 'vitest';
import { checkLedger, type Ledger, takeLedger } from './helpers.ts';

const outsideTests: Ledger = new Map();

beforeEach(() => {
  for (const [id, expectation] of takeLedger()) outsideTests.set(id, expectation);
});

afterEach(async () => {
  await checkLedger(takeLedger());
});

afterAll(async () => {
  for (const [id, expectation] of takeLedger()) outsideTests.set(id, expectation);
  await checkLedger(outsideTests);
});

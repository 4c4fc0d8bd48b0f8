/** Clients made through the admin API and the usage they read back, for the quota and usage tests. */
import { expect, vi } from 'vitest';
import type { UsageReport } from '../../src/usage-report.ts';
import { call, uniqueId } from './helpers.ts';

export interface MadeClient {
  name: string;
  token: string;
  [key: string]: unknown;
}

/** A client made through the admin API, with a name no other test uses. */
export async function makeClient(settings: Record<string, unknown> = {}, models: readonly string[] = ['echo', 'llm']): Promise<MadeClient> {
  const res = await call('/v1/admin/clients', { token: 'admin', json: { name: uniqueId('c').slice(0, 60), models, ...settings } });
  expect(res.status).toBe(201);
  return res.json<MadeClient>();
}

/** The caller's own usage over the last `days` UTC days. */
export async function usageOf(token: string, days = 2): Promise<UsageReport> {
  const res = await call(`/v1/usage?days=${days}`, { token });
  expect(res.status).toBe(200);
  return res.json<UsageReport>();
}

/** Counting runs after the answer (or a socket's close): wait until the meter holds what `check` wants. */
export async function usageWhen(token: string, check: (usage: UsageReport) => boolean): Promise<UsageReport> {
  let last: UsageReport | undefined;
  await vi.waitFor(
    async () => {
      last = await usageOf(token);
      expect(check(last)).toBe(true);
    },
    { timeout: 5000, interval: 50 },
  );
  return last!;
}

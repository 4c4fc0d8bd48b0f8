// Runs after the worker tests (sequence.groupOrder): every route of the table answered them at least once, as documented.
import { describe, expect, inject, it } from 'vitest';
import { ROUTES } from '../../src/route-table.ts';

async function seen(): Promise<Map<string, number[]>> {
  const res = await fetch(`${inject('contractCollectorUrl')}/seen`);
  const counts = (await res.json()) as Record<string, number>;
  const statuses = new Map<string, number[]>();
  for (const key of Object.keys(counts)) {
    const [operationId, status] = key.split(' ') as [string, string];
    statuses.set(operationId, [...(statuses.get(operationId) ?? []), Number(status)].sort());
  }
  return statuses;
}

describe('the worker tests against the route table', () => {
  it('saw every route answer with a documented status, a success among them', async () => {
    const statuses = await seen();
    expect(statuses.size, 'no answers were reported: run the worker project in the same vitest run').toBeGreaterThan(0);
    const unexercised = ROUTES.filter((route) => !(statuses.get(route.operationId) ?? []).some((status) => status < 300)).map(
      (route) => `${route.method.toUpperCase()} ${route.path} (seen: ${statuses.get(route.operationId)?.join(', ') ?? 'nothing'})`,
    );
    expect(unexercised).toEqual([]);
  });
});

/**
 * Collects which operations of the OpenAPI document the worker tests saw
 * answer, and with which statuses, for test/contract/coverage.test.ts. One
 * collector per vitest run, shared by the projects that list this setup (all
 * global setups run in vitest's main process).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';

interface Collector {
  url: string;
  users: number;
  close(): Promise<void>;
}

const SHARED = Symbol.for('baseten-gateway.contract-collector');
const shared = globalThis as typeof globalThis & { [SHARED]?: Promise<Collector> };

async function startCollector(): Promise<Collector> {
  /** "operationId status" → times seen. */
  const seen = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/seen') {
        const { operationId, status } = JSON.parse(body) as { operationId: string; status: number };
        const key = `${operationId} ${status}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        res.writeHead(204).end();
      } else if (req.method === 'GET' && req.url === '/seen') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(Object.fromEntries(seen)));
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    users: 0,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export default async function setup(project: TestProject) {
  shared[SHARED] ??= startCollector();
  const collector = await shared[SHARED];
  collector.users += 1;
  project.provide('contractCollectorUrl', collector.url);
  return async () => {
    collector.users -= 1;
    if (collector.users === 0) {
      delete shared[SHARED];
      await collector.close();
    }
  };
}

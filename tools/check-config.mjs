#!/usr/bin/env node
// Validates the gateway config of wrangler.toml (and .dev.vars) without serving.
// Usage: npm run check [-- --env production] [--config path/to/wrangler.toml]
// Secrets held by Cloudflare are not visible here; a missing BASETEN_API_KEY is
// reported as a note, not an error, so the rest of the config still gets checked.
import { getPlatformProxy } from 'wrangler';
import { parseConfig } from '../src/config.ts';

const option = (/** @type {string} */ name) => {
  const index = process.argv.indexOf(name);
  return index > 0 ? process.argv[index + 1] : undefined;
};
const environment = option('--env');
const proxy = await getPlatformProxy({ environment, configPath: option('--config'), persist: false });
try {
  const env = { ...proxy.env };
  if (!env.BASETEN_API_KEY) {
    console.log('note: BASETEN_API_KEY is not set here (`wrangler secret put BASETEN_API_KEY` before deploying)');
    env.BASETEN_API_KEY = 'placeholder';
  }
  const config = parseConfig(env);
  console.log(
    `config ok${environment ? ` (env ${environment})` : ''}: ${config.models.size} aliases, ${config.clients.length} clients, upstream ${config.urlTemplate}`,
  );
  // Where Baseten will deliver async results (the config refuses an async alias against Baseten without PUBLIC_BASE_URL).
  if ([...config.models.values()].some((model) => model.async)) {
    console.log(`async webhooks: ${config.publicBaseUrl ? `${config.publicBaseUrl}/v1/webhooks/baseten` : "the origin each caller used (allowed with a local upstream only)"}`);
  }
} catch (err) {
  console.error(`config error: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await proxy.dispose();
}

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
  // Clients made at run time, quotas and usage (docs/clients.md): each binding is optional, each missing one turns a feature off.
  const bound = (/** @type {string} */ name) => `${name} ${name in env ? 'bound' : 'not bound'}`;
  console.log(`clients: ${bound('CLIENT_KEYS')} (admin API), ${bound('CLIENT_METER')} (quotas, usage), ${bound('USAGE_EVENTS')} (Analytics Engine)`);
} catch (err) {
  console.error(`config error: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await proxy.dispose();
}

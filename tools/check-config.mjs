#!/usr/bin/env node
// `npm run check [-- --env production] [--secrets-file path] [--config path/to/wrangler.toml]`:
// validates the gateway config with the Worker's own parser, without serving.
// Without --env it checks what `npm run dev` would run (wrangler.toml's top level
// merged with .dev.vars). With --env it is a deploy preflight: placeholders, an
// endpoint no one can call, async without a webhook secret or public https URL.
// Secrets live at Cloudflare, not in wrangler.toml: pass the file you deploy
// them from (`wrangler deploy --secrets-file`) to have them checked too.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { experimental_readRawConfig, unstable_getVarsForDev, unstable_readConfig } from 'wrangler';
import { parseConfig } from '../src/config.ts';

const PLACEHOLDER = /REPLACE_WITH_\w*/;
const SECRET_NAMES = ['BASETEN_API_KEY', 'BASETEN_WEBHOOK_SECRET', 'CLIENTS'];
/** Bindings wrangler does not carry from the top level into a named environment. */
const NOT_INHERITED = { kv_namespaces: 'binding', ratelimits: 'name', durable_objects: 'name' };

/**
 * What a check found. `required` carries the environment's `secrets.required` from the preflight to the reachability check.
 * @typedef {{ errors: string[], warnings: string[], notes: string[], summary?: string, required?: string[] }} Report
 */
/** wrangler's config objects, read through its unstable API: their shape is wrangler's, not ours. @typedef {any} WranglerConfig */

/**
 * @param {object} options
 * @param {string} [options.configPath] wrangler.toml (default: the one in the working directory)
 * @param {string} [options.env] a named environment: the deploy preflight
 * @param {string} [options.secretsFile] the secrets that will be deployed (.env or JSON format)
 * @param {Record<string, string>} [options.overrides] values that win over wrangler.toml and .dev.vars (what `npm run dev` passes with --var)
 * @returns {Promise<Report>}
 */
export async function checkConfig({ configPath = 'wrangler.toml', env, secretsFile, overrides = {} } = {}) {
  /** @type {Report} */
  const report = { errors: [], warnings: [], notes: [] };
  const path = resolve(configPath);
  let raw;
  let config;
  try {
    raw = experimental_readRawConfig({ config: path }).rawConfig;
    config = unstable_readConfig({ config: path, env }, { hideWarnings: true });
  } catch (err) {
    report.errors.push(describeReadError(err, path));
    return report;
  }
  const secrets = secretsFile ? readSecretsFile(secretsFile, report) : {};
  const vars = env ? { ...config.vars, ...secrets } : { ...config.vars, ...devVars(config), ...overrides };
  if (env) preflight(raw, config, env, secrets, secretsFile, report);
  /** @type {Record<string, unknown>} */
  const source = { .../** @type {Record<string, unknown>} */ (withoutPlaceholders(vars)), ...fakeBindings(config) };
  if (!source.BASETEN_API_KEY) {
    report.notes.push(
      env
        ? `BASETEN_API_KEY is not checked here: set it with \`npx wrangler secret put BASETEN_API_KEY --env ${env}\` or put it in the file given to --secrets-file`
        : "BASETEN_API_KEY is not set here (npm run dev passes the fake Baseten's key)",
    );
    source.BASETEN_API_KEY = 'placeholder';
  }
  let parsed;
  try {
    // The preflight reports a missing or http PUBLIC_BASE_URL itself (reachability), with the other async problems.
    parsed = parseConfig(source, { requirePublicBaseUrl: !env });
  } catch (err) {
    report.errors.push(`${err instanceof Error ? err.message : String(err)}${env ? '' : devVarsHint(config)}`);
    return report;
  }
  if (env) reachability(parsed, vars, secretsFile, report);
  const where = env ? `env ${env}` : 'local dev';
  report.summary = `${where}: ${parsed.models.size} aliases, ${parsed.clients.length} clients, upstream ${parsed.urlTemplate}`;
  // Clients made at run time, quotas and usage (docs/clients.md): each binding is optional, each missing one turns a feature off.
  const datasets = (config.analytics_engine_datasets ?? []).map((/** @type {any} */ dataset) => dataset.binding);
  const bound = (/** @type {string} */ name) => `${name} ${name in source || datasets.includes(name) ? 'bound' : 'not bound'}`;
  report.notes.push(`clients: ${bound('CLIENT_KEYS')} (admin API), ${bound('CLIENT_METER')} (quotas, usage), ${bound('USAGE_EVENTS')} (Analytics Engine)`);
  return report;
}

/**
 * A TOML syntax error names file, line and column and shows the one line, never the whole file.
 * @param {any} err wrangler's parse error, with esbuild-style locations
 * @param {string} path
 */
function describeReadError(err, path) {
  const location = err?.location ?? err?.notes?.find((/** @type {any} */ note) => note.location)?.location;
  const reason = String(err?.text ?? err?.message ?? err).split('\n')[0];
  if (!location?.line) return `${path}: ${reason}`;
  const column = (location.column ?? 0) + 1;
  const line = location.lineText !== undefined ? `\n    ${location.lineText}\n    ${' '.repeat(column - 1)}^` : '';
  return `${location.file ?? path}:${location.line}:${column}: ${reason}${line}`;
}

/**
 * .dev.vars exactly as `wrangler dev` loads it: its entries replace (never merge into) the vars of the same name.
 * @param {WranglerConfig} config
 * @returns {Record<string, unknown>}
 */
function devVars(config) {
  const bindings = unstable_getVarsForDev(config.userConfigPath ?? config.configPath, undefined, {}, undefined, true, config.secrets);
  return Object.fromEntries(Object.entries(bindings).map(([name, binding]) => [name, binding.value]));
}

/** @param {WranglerConfig} config */
function devVarsHint(config) {
  const vars = devVars(config);
  return Object.keys(vars).length > 0 ? ` (values in .dev.vars replace wrangler.toml's: ${Object.keys(vars).join(', ')})` : '';
}

/**
 * The same formats `wrangler deploy --secrets-file` reads: a JSON object, or NAME=value lines.
 * @param {string} file
 * @param {Report} report
 * @returns {Record<string, string>}
 */
function readSecretsFile(file, report) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    report.errors.push(`--secrets-file ${file}: cannot read it`);
    return {};
  }
  if (text.trim().startsWith('{')) {
    try {
      return JSON.parse(text);
    } catch (err) {
      report.errors.push(`--secrets-file ${file}: invalid JSON (${err instanceof Error ? err.message.split(',')[0] : err})`);
      return {};
    }
  }
  const entries = text.split('\n').flatMap((line) => {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    return match ? [match] : [];
  });
  return Object.fromEntries(entries.map((match) => [match[1], (match[2] ?? '').replace(/^(['"])(.*)\1$/s, '$2')]));
}

/**
 * @param {WranglerConfig} raw the config as written, before wrangler applies the environment
 * @param {WranglerConfig} config the config wrangler would deploy for `env`
 * @param {string} env
 * @param {Record<string, string>} secrets
 * @param {string | undefined} secretsFile
 * @param {Report} report
 */
function preflight(raw, config, env, secrets, secretsFile, report) {
  for (const [where, value] of placeholders({
    vars: config.vars,
    kv_namespaces: config.kv_namespaces,
    ratelimits: config.ratelimits,
    routes: config.routes,
    route: config.route,
  })) {
    report.errors.push(`${where}: "${value}" is a placeholder: replace it (README "Deploying")`);
  }
  for (const limiter of config.ratelimits ?? []) {
    if (!PLACEHOLDER.test(String(limiter.namespace_id)) && !/^[1-9][0-9]*$/.test(String(limiter.namespace_id))) {
      report.errors.push(`ratelimits ${limiter.name}.namespace_id: must be a positive integer, unique within your Cloudflare account`);
    }
  }
  const section = `[env.${env}]`;
  if (config.workers_dev === false && !config.route && !(config.routes?.length > 0)) {
    report.warnings.push(
      `${section}: no route or custom domain and workers_dev = false: the deployed Worker has no URL (add routes or workers_dev = true, README "Deploying")`,
    );
  }
  const envVars = raw.env?.[env]?.vars ?? {};
  for (const name of Object.keys(raw.vars ?? {})) {
    if (!(name in envVars) && !(name in secrets))
      report.warnings.push(`vars.${name} is set at the top level only: ${section} does not get it (vars are not inherited)`);
  }
  for (const [key, id] of Object.entries(NOT_INHERITED)) {
    const top = key === 'durable_objects' ? raw.durable_objects?.bindings : raw[key];
    const own = key === 'durable_objects' ? raw.env?.[env]?.durable_objects?.bindings : raw.env?.[env]?.[key];
    for (const binding of top ?? []) {
      if (!(own ?? []).some((/** @type {any} */ b) => b[id] === binding[id]))
        report.warnings.push(`${key} ${binding[id]} is bound at the top level only: ${section} does not get it (bindings are not inherited)`);
    }
  }
  const required = config.secrets?.required ?? [];
  for (const name of SECRET_NAMES) {
    if (name in config.vars && name !== 'CLIENTS')
      report.errors.push(`${name} is a plain var in ${section}: make it a secret (\`npx wrangler secret put ${name} --env ${env}\`)`);
  }
  if (secretsFile) {
    for (const name of required) if (!(name in secrets)) report.errors.push(`${name}: listed in ${section} secrets.required but missing from ${secretsFile}`);
  }
  report.required = required;
}

/**
 * @param {unknown} value
 * @returns {Generator<[string, string]>}
 */
function* placeholders(value, where = '') {
  if (typeof value === 'string' && PLACEHOLDER.test(value)) yield [where, value];
  if (value && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      const name = Array.isArray(value) ? `${where}[${key}]` : where ? `${where}.${key}` : key;
      yield* placeholders(typeof child === 'string' && /^[[{]/.test(child.trim()) ? safeJson(child) : child, name.replace(/^vars\./, ''));
    }
  }
}

/** @param {string} text @returns {unknown} */
function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Placeholders are reported once, above; the rest of the config is checked as if they were filled in.
 * @param {unknown} value
 * @returns {unknown}
 */
function withoutPlaceholders(value) {
  if (typeof value === 'string') return PLACEHOLDER.test(value) ? value.replace(new RegExp(PLACEHOLDER, 'g'), 'placeholder') : value;
  if (Array.isArray(value)) return value.map(withoutPlaceholders);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutPlaceholders(v)]));
  return value;
}

/**
 * Stand-ins for the bindings, so the Worker's parser sees what the deployed Worker would.
 * @param {WranglerConfig} config
 */
function fakeBindings(config) {
  /** @type {Record<string, unknown>} */
  const bindings = {};
  for (const kv of config.kv_namespaces ?? []) bindings[kv.binding] = {};
  for (const limiter of config.ratelimits ?? []) bindings[limiter.name] = { limit: async () => ({ success: true }) };
  for (const object of config.durable_objects?.bindings ?? []) bindings[object.name] = {};
  return bindings;
}

/**
 * Whether anyone can call the deployed gateway, and whether async can deliver its results.
 * @param {import('../src/config.ts').Config} parsed
 * @param {Record<string, unknown>} vars
 * @param {string | undefined} secretsFile
 * @param {Report} report
 */
function reachability(parsed, vars, secretsFile, report) {
  const required = report.required ?? [];
  delete report.required;
  const hasPublic = [...parsed.models.values()].some((model) => model.public);
  const clientsKnown = vars.CLIENTS !== undefined;
  if (!hasPublic && parsed.clients.length === 0) {
    if (clientsKnown)
      report.errors.push(
        'no one can call this gateway: CLIENTS is empty and no alias is public (add a client with `npm run token`, or mark an alias "public": true)',
      );
    else if (!required.includes('CLIENTS'))
      report.errors.push(
        'no one can call this gateway: no alias is public and CLIENTS is not set (set it as a secret, list it in secrets.required, or pass --secrets-file)',
      );
    else report.notes.push('CLIENTS is a required secret: wrangler deploy refuses to deploy until it is set');
  }
  const asyncAliases = [...parsed.models.values()].filter((model) => model.async).map((model) => model.alias);
  if (asyncAliases.length === 0) return;
  const aliases = `async aliases (${asyncAliases.join(', ')})`;
  if (secretsFile ? !vars.BASETEN_WEBHOOK_SECRET : !required.includes('BASETEN_WEBHOOK_SECRET')) {
    const message = `BASETEN_WEBHOOK_SECRET: ${aliases} need it to accept Baseten's results (create it in Baseten's Secrets tab; see docs/async.md)`;
    if (secretsFile) report.errors.push(`${message}: missing from ${secretsFile}`);
    else report.warnings.push(`${message}: not visible here; pass --secrets-file or list it in secrets.required`);
  }
  if (!parsed.publicBaseUrl?.startsWith('https://')) {
    report.errors.push(`PUBLIC_BASE_URL: ${aliases} need the gateway's public https URL (e.g. https://gateway.example.com), where Baseten delivers results`);
  }
}

/** @param {string[]} argv @param {string} name */
function option(argv, name) {
  const index = argv.indexOf(name);
  return index >= 0 ? argv[index + 1] : undefined;
}

/** @param {string[]} argv */
async function main(argv) {
  const report = await checkConfig({ configPath: option(argv, '--config'), env: option(argv, '--env'), secretsFile: option(argv, '--secrets-file') });
  for (const note of report.notes) console.log(`note: ${note}`);
  for (const warning of report.warnings) console.log(`warning: ${warning}`);
  for (const error of report.errors) console.log(`error: ${error}`);
  if (report.errors.length > 0) {
    console.log(`config has ${report.errors.length} error(s)`);
    process.exitCode = 1;
  } else {
    console.log(`config ok (${report.summary})`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main(process.argv.slice(2));

/**
 * Every fenced shell, JavaScript and Python block of README.md and docs/*.md
 * is run here against a gateway started with the local dev config and the
 * fake Baseten, on free ports. Local URLs and the example production URL both
 * point at it; $GATEWAY_TOKEN is the dev token. Commands that cannot run here
 * are listed in SKIPPED with the reason, and their flags are checked against
 * the command's own --help.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalGateway } from '../../tools/local-gateway.mjs';

const run = promisify(execFile);
const ROOT = resolve('.');
const DEV_TOKEN = 'dev-token-change-me';

interface Block {
  file: string;
  line: number;
  lang: string;
  code: string;
}

/** Why each command is not run, by the start of its line. */
const SKIPPED: Record<string, string> = {
  'npm install': 'installs from the registry; node_modules is installed already',
  'npm run dev': 'long-running; test/node/dev.test.ts starts it, stops it with Ctrl+C and checks its config errors',
  'npm test': 'the whole suite, this file included',
  'npm run bench': 'runs for minutes and loads every core; not part of npm test',
  'npx wrangler login': 'needs a browser and a Cloudflare account',
  'npx wrangler kv namespace create': 'creates a namespace in a Cloudflare account',
  'npx wrangler deploy --env': 'uploads to a Cloudflare account',
  'npx wrangler secret put': 'writes a secret in a Cloudflare account',
  'npx wrangler tail': 'streams logs of a deployed Worker',
};

function blocks(): Block[] {
  const files = [
    'README.md',
    ...readdirSync('docs')
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
  return files.flatMap((file) => {
    const text = readFileSync(file, 'utf8');
    return [...text.matchAll(/^( *)```(\w*)\n([\s\S]*?)^\1```$/gm)].map((m) => ({
      file,
      line: text.slice(0, m.index).split('\n').length,
      lang: m[2]!,
      code: m[3]!
        .split('\n')
        .map((l) => l.slice(m[1]!.length))
        .join('\n'),
    }));
  });
}

/** One entry per command: continuation lines joined, comments and blank lines dropped. */
function commands(code: string): string[] {
  return code
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l && !l.startsWith('#'));
}

const skipReason = (command: string) => Object.entries(SKIPPED).find(([prefix]) => command.startsWith(prefix))?.[1];

const all = blocks();
const shell = all.filter((b) => ['sh', 'bash', 'shell'].includes(b.lang));
const skippedCommands = shell.flatMap((b) => commands(b.code).flatMap((c) => c.split('&&').map((part) => part.trim()))).filter((c) => skipReason(c));
const runnable = shell.filter((b) => !commands(b.code).every((c) => c.split('&&').every((part) => skipReason(part.trim()))));

let gateway: { url: string; stop(): Promise<void>; logs(): string };
let deployDir: string;
/** A curl config that ends each answer with a newline, so a block's answers are one JSON value a line. */
const curlHome = mkdtempSync(join(tmpdir(), 'docs-curl-'));
writeFileSync(join(curlHome, '.curlrc'), 'write-out = "\\n"\n');

beforeAll(async () => {
  gateway = await startLocalGateway({ servedNames: { llm001: 'Qwen/Qwen2.5-3B-Instruct' } });
  deployDir = filledInDeployment();
});
afterAll(async () => {
  await gateway?.stop();
  if (deployDir) rmSync(deployDir, { recursive: true, force: true });
  rmSync(curlHome, { recursive: true, force: true });
});

/** wrangler.toml with its production placeholders filled in as a user would, and the secrets file of step 7. */
function filledInDeployment(): string {
  const dir = mkdtempSync(join(tmpdir(), 'docs-deploy-'));
  const toml = readFileSync('wrangler.toml', 'utf8')
    .replace('main = "src/index.ts"', `main = "${join(ROOT, 'src/index.ts')}"`)
    .replace('directory = "./public"', `directory = "${join(ROOT, 'public')}"`)
    .replace('REPLACE_WITH_YOUR_KV_NAMESPACE_ID', '0f2ac74b498b48028cb68387c421e279')
    .replace('REPLACE_WITH_YOUR_CLIENT_KEYS_NAMESPACE_ID', '7d3e0c1b5a9f4e2d8c6b4a2f0e1d3c5b')
    .replace('REPLACE_WITH_YOUR_HOSTNAME', 'gateway.example.com')
    .replace('REPLACE_WITH_A_NUMBER', '42001')
    .replace('REPLACE_WITH_YOUR_MODEL_ID', 'abcd1234');
  writeFileSync(join(dir, 'wrangler.toml'), toml);
  const clients = { web: { token_sha256: 'f01d2474fd375b4c5eb46064b550034167661b86322f1e1d3cb7645512a06607', models: ['chat'] } };
  writeFileSync(join(dir, '.secrets.production'), `BASETEN_API_KEY=abcd1234.example\nCLIENTS=${JSON.stringify(clients)}\n`);
  return dir;
}

/** Local and example production URLs lead to the test's gateway. */
function localise(code: string): string {
  return code.replaceAll('http://127.0.0.1:8787', gateway.url).replaceAll('https://gateway.example.com', gateway.url);
}

async function sh(script: string, cwd = ROOT) {
  try {
    const { stdout, stderr } = await run('bash', ['-e', '-o', 'pipefail', '-c', script], {
      cwd,
      timeout: 20_000,
      env: { ...process.env, GATEWAY_TOKEN: DEV_TOKEN, NO_COLOR: '1', CURL_HOME: curlHome },
    });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, out: `${failed.stdout}${failed.stderr}` };
  }
}

/** The answers of a block's curls hold no error envelope, unless the docs say that row is an error. */
function expectNoErrorEnvelope(out: string) {
  for (const line of out.split('\n').filter((l) => l.startsWith('{'))) {
    const body = JSON.parse(line);
    expect(body, line).not.toHaveProperty('error');
  }
}

describe('docs: the commands are there', () => {
  it('finds shell, JavaScript and Python blocks across README and docs/', () => {
    expect(runnable.length).toBeGreaterThanOrEqual(10);
    expect(all.filter((b) => ['js', 'ts'].includes(b.lang)).length).toBeGreaterThanOrEqual(3);
    expect(all.some((b) => b.lang === 'python')).toBe(true);
  });

  it('runs no block that mixes a skipped command with runnable ones', () => {
    for (const block of runnable) {
      const mixed = commands(block.code).filter((c) => skipReason(c));
      expect(mixed, `${block.file}:${block.line}`).toEqual([]);
    }
  });
});

describe('docs: skipped-by-design commands are at least well-formed', () => {
  const wrangler = [...new Set(skippedCommands.filter((c) => c.startsWith('npx wrangler')))];
  it.each(wrangler)('%s: wrangler --help accepts its flags', async (command) => {
    const args = command.replace(/^npx wrangler /, '').split(/\s+/);
    const positional = args.filter((a, i) => !a.startsWith('-') && !(i > 0 && args[i - 1]!.startsWith('--')));
    const { stdout } = await run(process.execPath, [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), ...positional, '--help'], { cwd: ROOT });
    expect(stdout).toContain(
      `wrangler ${positional
        .filter((p) => /^[a-z]+$/.test(p))
        .slice(0, 3)
        .join(' ')}`,
    );
    for (const flag of args.filter((a) => a.startsWith('--'))) expect(stdout, `${command}: ${flag}`).toContain(flag);
  });

  it('npm commands name scripts that exist, with the flags their tools read', () => {
    const scripts = JSON.parse(readFileSync('package.json', 'utf8')).scripts as Record<string, string>;
    for (const command of skippedCommands.filter((c) => c.startsWith('npm run'))) {
      const [, , name, , ...flags] = command.split(/\s+/);
      expect(scripts, command).toHaveProperty(name!);
      const tool = /node (\S+)/.exec(scripts[name!]!)?.[1];
      for (const flag of flags.filter((f) => f.startsWith('--'))) expect(readFileSync(tool!, 'utf8'), command).toContain(flag);
    }
    expect(Object.keys(SKIPPED).every((prefix) => skippedCommands.some((c) => c.startsWith(prefix)))).toBe(true);
  });
});

describe('docs: every other command runs', () => {
  it.each(runnable.map((b) => [`${b.file}:${b.line}`, b] as const))('%s', async (_, block) => {
    const text = block.code;
    if (text.includes('--secrets-file .secrets.production')) {
      // Step 7, run where the placeholders are filled in as the guide says.
      const result = await sh(text.replace('npm run check --', `node ${join(ROOT, 'tools/check-config.mjs')}`), deployDir);
      expect(result.code, result.out).toBe(0);
      expect(result.out).toContain('config ok (env production: 1 aliases, 1 clients');
      return;
    }
    const result = await sh(localise(text));
    if (text.includes('npm run check -- --env production')) {
      // Step 1 on a fresh clone: fails, naming every placeholder.
      expect(result.code).toBe(1);
      for (const place of ['MODELS.chat.model_id', 'kv_namespaces[0].id', 'ratelimits[0].namespace_id', 'routes[0].pattern'])
        expect(result.out).toContain(place);
      return;
    }
    expect(result.code, result.out).toBe(0);
    expect(result.out.trim().length, `${block.file}:${block.line} printed nothing`).toBeGreaterThan(0);
    if (text.includes('/batch')) {
      for (const line of result.out.trim().split('\n')) expect(JSON.parse(line).rows[1].error).toBeDefined();
    } else if (text.startsWith('curl') || text.includes('\ncurl')) {
      expectNoErrorEnvelope(result.out);
    }
    if (text.includes('/async')) expect(result.out).toContain('"final":true');
    if (text.includes('scheduled')) await expect.poll(() => gateway.logs()).toContain('"event":"wake"');
  });

  const code = all.filter((b) => ['js', 'ts'].includes(b.lang));
  it.each(code.map((b) => [`${b.file}:${b.line}`, b] as const))('%s (node)', async (_, block) => {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', localise(block.code)], {
      cwd: ROOT,
      timeout: 20_000,
      env: { ...process.env, GATEWAY_TOKEN: DEV_TOKEN },
    });
    expect(stdout.length).toBeGreaterThan(0);
  });

  it.each(all.filter((b) => b.lang === 'python').map((b) => [`${b.file}:${b.line}`, b] as const))('%s (python: every name is defined)', async (_, block) => {
    // The openai package is not installed here; what can break a copied snippet is a name it never imports.
    const check = `
import ast, builtins, sys
tree = ast.parse(sys.stdin.read())
defined = set(dir(builtins))
for node in ast.walk(tree):
    if isinstance(node, (ast.Import, ast.ImportFrom)): defined.update((a.asname or a.name).split('.')[0] for a in node.names)
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store): defined.add(node.id)
missing = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - defined)
print(missing)`;
    const child = execFile('python3', ['-c', check]);
    child.stdin!.end(block.code);
    const out = await new Promise<string>((done) => {
      let text = '';
      child.stdout!.on('data', (d) => (text += d));
      child.on('close', () => done(text));
    });
    expect(out.trim()).toBe('[]');
  });
});

describe('the 401 says what is wrong', () => {
  it('tells an unknown token from a malformed header', async () => {
    const unknown = await fetch(`${gateway.url}/v1/models`, { headers: { authorization: 'Bearer wrong' } });
    expect(unknown.status).toBe(401);
    expect((await unknown.json()).error.message).toMatch(/^unknown token/);
    const malformed = await fetch(`${gateway.url}/v1/models`, { headers: { authorization: 'Basic d3Jvbmc=' } });
    expect(malformed.status).toBe(401);
    expect((await malformed.json()).error.message).toMatch(/^malformed Authorization header/);
  });
});

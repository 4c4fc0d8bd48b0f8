/**
 * `npm run dev` and `npm run check` as a newcomer meets them: a broken config
 * explained at once, a busy port in one line, Ctrl+C leaving nothing behind,
 * and a deploy preflight that refuses what no one could call.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../tools/local-gateway.mjs';

const run = promisify(execFile);
const ROOT = resolve('.');
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A copy of wrangler.toml (paths made absolute) in its own directory, with an optional .dev.vars and edits. */
function project(edit: (toml: string) => string = (t) => t, devVars?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'dev-test-'));
  dirs.push(dir);
  const toml = readFileSync('wrangler.toml', 'utf8')
    .replace('main = "src/index.ts"', `main = "${join(ROOT, 'src/index.ts')}"`)
    .replace('directory = "./public"', `directory = "${join(ROOT, 'public')}"`);
  writeFileSync(join(dir, 'wrangler.toml'), edit(toml));
  if (devVars !== undefined) writeFileSync(join(dir, '.dev.vars'), devVars);
  return join(dir, 'wrangler.toml');
}

async function tool(script: string, args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, script), ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 30_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, out: failed.stdout + failed.stderr };
  }
}

const check = (config: string, ...args: string[]) => tool('tools/check-config.mjs', ['--config', config, ...args]);

/** Processes whose command line names this port: wrangler, workerd and the fake all carry it. */
function processesOn(port: number): string[] {
  return readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid) && Number(pid) !== process.pid)
    .flatMap((pid) => {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
        return cmd.includes(`:${port}`) || cmd.includes(` ${port} `) || cmd.includes(`PORT=${port}`) ? [cmd] : [];
      } catch {
        return [];
      }
    });
}

async function listening(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer().once('error', () => done(true));
    server.listen(port, '127.0.0.1', () => server.close(() => done(false)));
  });
}

describe('npm run dev', () => {
  it('explains a broken .dev.vars at once and starts nothing', async () => {
    const config = project(undefined, 'MODELS={"echo":{"model_id":"demo01","environment":"production",}}\n');
    const started = Date.now();
    const { code, out } = await tool('tools/dev.mjs', ['--config', config], { PORT: String(await freePort()), FAKE_BASETEN_PORT: String(await freePort()) });
    expect(code).toBe(1);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(out).toContain('MODELS: invalid JSON at line 1, column 57 (offset 56): Expected double-quoted property name');
    expect(out).toContain("values in .dev.vars replace wrangler.toml's: MODELS");
    expect(out).not.toMatch(/^\s+at /m);
  });

  it('says a busy port in one line', async () => {
    const busy = createServer();
    await new Promise<void>((done) => busy.listen(0, '127.0.0.1', done));
    const port = (busy.address() as { port: number }).port;
    try {
      const { code, out } = await tool('tools/dev.mjs', [], { PORT: String(port), FAKE_BASETEN_PORT: String(await freePort()) });
      expect(code).toBe(1);
      expect(out.trim().split('\n')).toEqual([
        `npm run dev: port ${port} is already in use (another npm run dev?): stop it, or choose another with PORT=<port> npm run dev`,
      ]);
    } finally {
      busy.close();
    }
  });

  // Ctrl+C in a terminal signals the whole foreground process group; wrangler runs in a group of its own.
  it.each([
    ['while wrangler is starting', 'fake'],
    ['once the gateway answers', 'ready'],
  ])(
    'stops every process it started on Ctrl+C %s',
    async (_, moment) => {
      const port = await freePort();
      const fakePort = await freePort();
      const child = spawn(process.execPath, ['tools/dev.mjs'], {
        cwd: ROOT,
        detached: true,
        env: { ...process.env, PORT: String(port), FAKE_BASETEN_PORT: String(fakePort) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((done) => child.once('exit', done));
      try {
        if (moment === 'fake') {
          await expect.poll(() => listening(fakePort), { timeout: 20_000, interval: 100 }).toBe(true);
          await expect.poll(() => processesOn(port).some((cmd) => cmd.includes('wrangler')), { timeout: 10_000, interval: 50 }).toBe(true);
        } else {
          await expect.poll(() => out, { timeout: 50_000, interval: 250 }).toContain('playground');
          expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
        }
        process.kill(-child.pid!, 'SIGINT');
        expect(await exited).toBe(130);
        await expect.poll(() => processesOn(port), { timeout: 10_000 }).toEqual([]);
        expect(await listening(port)).toBe(false);
        expect(await listening(fakePort)).toBe(false);
      } finally {
        for (const cmd of processesOn(port)) console.error(`left running: ${cmd}`);
        if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
      }
    },
    90_000,
  );
});

describe.concurrent('npm run check', () => {
  it('names file, line and column of a TOML error, without printing the file', async () => {
    const config = project((t) => t.replace('workers_dev = false', 'workers_dev = = false'));
    const { code, out } = await check(config);
    expect(code).toBe(1);
    expect(out).toContain(`${config}:12:15: Invalid TOML document`);
    expect(out).toContain('workers_dev = = false');
    expect(out).not.toContain('compatibility_date');
    expect(out).not.toMatch(/^\s+at /m);
  });

  it('fails the shipped production template, naming each placeholder', async () => {
    const { code, out } = await check(project(), '--env', 'production');
    expect(code).toBe(1);
    for (const place of ['MODELS.chat.model_id', 'kv_namespaces[0].id', 'ratelimits[0].namespace_id', 'routes[0].pattern']) {
      expect(out).toContain(`error: ${place}: "REPLACE_WITH_`);
    }
  });

  /** The template filled in, then bent by `edit`. */
  const deployment = (edit: (toml: string) => string = (t) => t) =>
    project((t) =>
      edit(
        t
          .replace('REPLACE_WITH_YOUR_KV_NAMESPACE_ID', '0f2ac74b498b48028cb68387c421e279')
          .replace('REPLACE_WITH_YOUR_CLIENT_KEYS_NAMESPACE_ID', '7d3e0c1b5a9f4e2d8c6b4a2f0e1d3c5b')
          .replace('REPLACE_WITH_YOUR_HOSTNAME', 'gateway.example.com')
          .replace('REPLACE_WITH_A_NUMBER', '42001')
          .replace('REPLACE_WITH_YOUR_MODEL_ID', 'abcd1234'),
      ),
    );
  const secrets = (text: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'dev-test-secrets-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'secrets'), text);
    return join(dir, 'secrets');
  };
  const CLIENTS = 'CLIENTS={"web":{"token_sha256":"f01d2474fd375b4c5eb46064b550034167661b86322f1e1d3cb7645512a06607","models":["chat"]}}\n';

  it('passes a filled-in deployment, and prints each warning once', async () => {
    const { code, out } = await check(deployment(), '--env', 'production', '--secrets-file', secrets(`BASETEN_API_KEY=abc.def\n${CLIENTS}`));
    expect(code, out).toBe(0);
    expect(out).toContain('config ok (env production: 1 aliases, 1 clients');
    const warnings = out.split('\n').filter((l) => l.startsWith('warning:'));
    expect(warnings).toContain('warning: vars.BASETEN_URL_TEMPLATE is set at the top level only: [env.production] does not get it (vars are not inherited)');
    expect(new Set(warnings).size).toBe(warnings.length);
  });

  it('refuses a gateway no one can call', async () => {
    const config = deployment((t) => t.replace('secrets = { required = ["BASETEN_API_KEY", "CLIENTS"] }', 'secrets = { required = ["BASETEN_API_KEY"] }'));
    const { code, out } = await check(config, '--env', 'production');
    expect(code).toBe(1);
    expect(out).toContain('no one can call this gateway');
    const empty = await check(config, '--env', 'production', '--secrets-file', secrets('BASETEN_API_KEY=abc.def\nCLIENTS={}\n'));
    expect(empty.out).toContain('error: no one can call this gateway: CLIENTS is empty and no alias is public');
  });

  it('requires a webhook secret and a public https URL for async aliases', async () => {
    const config = deployment((t) => t.replace('wake = true } }', 'wake = true, async = true } }\nPUBLIC_BASE_URL = "http://gateway.example.com"'));
    const { code, out } = await check(config, '--env', 'production', '--secrets-file', secrets(`BASETEN_API_KEY=abc.def\n${CLIENTS}`));
    expect(code).toBe(1);
    expect(out).toMatch(/error: BASETEN_WEBHOOK_SECRET: async aliases \(chat\) need it .* missing from /);
    expect(out).toContain("error: PUBLIC_BASE_URL: async aliases (chat) need the gateway's public https URL");
    const unseen = await check(config, '--env', 'production');
    expect(unseen.out).toMatch(/warning: BASETEN_WEBHOOK_SECRET: .* not visible here; pass --secrets-file/);
  });

  it('warns when the deployment has no URL', async () => {
    const { out } = await check(
      deployment((t) => t.replace(/^routes = .*$/m, '')),
      '--env',
      'production',
      '--secrets-file',
      secrets(`BASETEN_API_KEY=abc.def\n${CLIENTS}`),
    );
    expect(out).toContain('warning: [env.production]: no route or custom domain and workers_dev = false');
  });

  it('shows no Durable Object warning for the class the Worker exports', async () => {
    const { out } = await check(project());
    expect(out).toContain('config ok (local dev: 10 aliases, 1 clients');
    expect(out).not.toMatch(/Durable Object/i);
  });
});

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'check-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function check(toml: string) {
  const path = join(dir, `wrangler-${Math.random().toString(36).slice(2)}.toml`);
  writeFileSync(path, toml.replace('main = "src/index.ts"', `main = "${join(process.cwd(), 'src/index.ts')}"`));
  try {
    const { stdout } = await run(process.execPath, ['tools/check-config.mjs', '--config', path]);
    return { code: 0, out: stdout };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, out: failed.stdout + failed.stderr };
  }
}

describe('npm run check', () => {
  it("accepts the repo's own wrangler.toml", async () => {
    const { code, out } = await check(readFileSync('wrangler.toml', 'utf8'));
    expect(code).toBe(0);
    expect(out).toContain('config ok');
  });

  it('fails naming the bad field, without serving', async () => {
    const bad = readFileSync('wrangler.toml', 'utf8').replace(
      '[vars.MODELS]',
      '[vars.MODELS]\nbroken = { model_id = "abc", environment = "production", development = true }',
    );
    const { code, out } = await check(bad);
    expect(code).toBe(1);
    expect(out).toContain('MODELS.broken: give exactly one of environment, deployment_id, development');
  });

  it('refuses an async alias against Baseten without an https PUBLIC_BASE_URL', async () => {
    const againstBaseten = readFileSync('wrangler.toml', 'utf8').replace(/^BASETEN_URL_TEMPLATE = .*$/m, '');
    const refused = await check(againstBaseten);
    expect(refused.code).toBe(1);
    expect(refused.out).toContain('PUBLIC_BASE_URL: required when an alias is async (MODELS.echo)');
    const http = await check(againstBaseten.replace('[vars]', '[vars]\nPUBLIC_BASE_URL = "http://gateway.example.com"'));
    expect(http.out).toContain('PUBLIC_BASE_URL: must be https');
    const ok = await check(againstBaseten.replace('[vars]', '[vars]\nPUBLIC_BASE_URL = "https://gateway.example.com"'));
    expect(ok.code).toBe(0);
  });
});

describe('npm run token', () => {
  it('prints a fresh token and a CLIENTS entry holding its SHA-256', async () => {
    const { stdout } = await run(process.execPath, ['tools/token.mjs', 'web', 'echo', 'chat', '--admin']);
    const token = /^\s+(bgw_\S+)$/m.exec(stdout)![1]!;
    const entry = JSON.parse(/^\s+(\{.*\})$/m.exec(stdout)![1]!);
    const { createHash } = await import('node:crypto');
    expect(entry).toEqual({ web: { token_sha256: createHash('sha256').update(token).digest('hex'), models: ['echo', 'chat'], admin: true } });
    const again = await run(process.execPath, ['tools/token.mjs', 'web']);
    expect(again.stdout).not.toContain(token);
  });

  it('refuses a client name that is not an identifier', async () => {
    await expect(run(process.execPath, ['tools/token.mjs', 'bad name!'])).rejects.toMatchObject({ code: 2 });
  });
});

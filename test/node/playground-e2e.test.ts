/**
 * The playground page in headless Chromium (Debian's /usr/bin/chromium, never
 * a downloaded browser), against the gateway under `wrangler dev` in front of
 * the fake Baseten. The page is also served from two other loopback origins,
 * one listed in ALLOWED_ORIGINS and one not, to prove CORS both ways.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalGateway } from '../../tools/local-gateway.mjs';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic',
];
const PUBLIC_DIR = join(import.meta.dirname, '..', '..', 'public');
const SCREENSHOTS_DIR = join(import.meta.dirname, '..', '..', 'test-results');
const SERVED = 'Qwen/Qwen2.5-3B-Instruct';
const LLM_TOKEN = 'playground-token-0123456789abcdef';
/** How long the page may take to show what a test waits for (vitest's default is 1 s). */
const WAIT = { timeout: 15_000 };
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

type Gateway = Awaited<ReturnType<typeof startLocalGateway>>;
let gateway: Gateway;
let allowedSite: Server;
let deniedSite: Server;
let browser: BrowserContext;
let profileDir: string;

/** The page's three files from another origin: what a frontend hosting the playground does. */
async function staticSite(): Promise<Server> {
  const files: Record<string, [string, string]> = {
    '/': ['index.html', 'text/html; charset=utf-8'],
    '/playground.js': ['playground.js', 'text/javascript; charset=utf-8'],
    '/playground.css': ['playground.css', 'text/css; charset=utf-8'],
  };
  const server = createServer((req, res) => {
    const file = files[new URL(req.url ?? '/', 'http://x').pathname];
    if (file) res.writeHead(200, { 'content-type': file[1] }).end(readFileSync(join(PUBLIC_DIR, file[0])));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const originOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** The `typed` alias's input schema, which the page reads from the gateway's own /openapi.json. */
const TYPED_SCHEMA = { type: 'object', required: ['prompt'], properties: { prompt: { type: 'string' }, max_tokens: { type: 'integer' } } };

beforeAll(async () => {
  [allowedSite, deniedSite] = await Promise.all([staticSite(), staticSite()]);
  gateway = await startLocalGateway({
    vars: {
      MODELS: {
        echo: { model_id: 'str001', environment: 'production', public: true },
        typed: { model_id: 'str001', environment: 'production', public: true, input_schema: TYPED_SCHEMA },
        llm: { model_id: 'llm001', environment: 'production', openai: { served_model_name: SERVED } },
        jobs: { model_id: 'job001', environment: 'production', public: true, async: true },
      },
      CLIENTS: { app: { token_sha256: sha256(LLM_TOKEN), models: ['*'] } },
      ALLOWED_ORIGINS: [originOf(allowedSite)],
    },
    servedNames: { llm001: SERVED },
  });
  profileDir = mkdtempSync(join(tmpdir(), 'playground-chromium-'));
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 900 },
  });
  mkdirSync(SCREENSHOTS_DIR, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  await Promise.all([allowedSite, deniedSite].map((s) => s && new Promise((resolve) => s.close(resolve))));
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
});

/** The page from `origin`, pointed at the gateway, its models loaded. */
async function openPlayground(origin = gateway.url, token = ''): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${origin}/`);
  await page.getByLabel('Gateway URL').fill(gateway.url);
  await page.getByLabel('Client token').fill(token);
  await page.getByRole('button', { name: 'Load models' }).click();
  await expect.poll(() => page.locator('#status').textContent(), WAIT).toMatch(/available/);
  return page;
}

const output = (page: Page) => page.locator('#output').textContent();
const upstreamFor = (modelId: string) => gateway.fake.requests.filter((r) => r.path.startsWith(`/model-${modelId}/`));

describe('playground served by the gateway', () => {
  it('serves the page at / while /v1/*, /healthz and unknown paths stay on the Worker', async () => {
    const page = await fetch(`${gateway.url}/`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('src="/playground.js"');
    expect(await (await fetch(`${gateway.url}/healthz`)).json()).toEqual({ status: 'ok' });
    for (const path of ['/v1/no-such-route', '/no-such-file.txt', '/openapi.json']) {
      const res = await fetch(`${gateway.url}${path}`);
      expect(res.headers.get('x-request-id')).toBeTruthy();
      if (res.status === 404) expect((await res.json()).error.type).toBe('not_found');
    }
  });

  it('loads the aliases this caller may use, and more with a token', async () => {
    const anonymous = await openPlayground();
    expect(await anonymous.locator('#alias option').allTextContents()).toEqual(['echo', 'typed', 'jobs']);
    await anonymous.close();
    const client = await openPlayground(gateway.url, LLM_TOKEN);
    expect(await client.locator('#alias option').allTextContents()).toEqual(['echo', 'typed', 'llm', 'jobs']);
    await client.close();
  });

  it('labels every control, and runs a predict from the keyboard alone', async () => {
    const page = await openPlayground();
    const unlabeled = await page.evaluate(() => Array.from(document.querySelectorAll<HTMLInputElement>('input, select, textarea, button'))
      .filter((control) => !control.labels?.length && !control.getAttribute('aria-label') && !control.textContent?.trim())
      .map((control) => control.outerHTML));
    expect(unlabeled).toEqual([]);

    const focusedId = () => page.evaluate(() => document.activeElement?.id);
    for (let presses = 0; presses < 12 && (await focusedId()) !== 'input'; presses++) await page.keyboard.press('Tab');
    expect(await focusedId()).toBe('input');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('{"prompt": "typed"}');
    await page.keyboard.press('Control+Enter');
    await expect.poll(() => page.locator('#status').textContent(), WAIT).toMatch(/^Done: HTTP 200/);
    expect(JSON.parse((await output(page))!)).toMatchObject({ input: { prompt: 'typed' } });
    await page.close();
  });

  it('shows predict output as it streams: the first chunk is on screen while the model is still sending', async () => {
    const page = await openPlayground();
    await page.getByLabel('Alias', { exact: true }).selectOption('echo');
    await page.getByLabel('Model input (JSON)').fill('{"fake":{"stream":{"chunks":4,"delay_ms":500}}}');
    await page.getByRole('button', { name: 'Send predict' }).click();

    await page.waitForFunction(() => {
      const text = document.getElementById('output')!.textContent!;
      return text.includes('chunk 0') && !text.includes('chunk 3');
    });
    const partial = await output(page);
    expect(upstreamFor('str001').at(-1)!.finished).toBe(false);
    expect(partial).toContain('chunk 0');
    expect(partial).not.toContain('chunk 3');

    await expect.poll(() => page.locator('#status').textContent(), WAIT).toMatch(/^Done: HTTP 200/);
    expect(await output(page)).toBe('chunk 0\nchunk 1\nchunk 2\nchunk 3\n');
    await page.screenshot({ path: join(SCREENSHOTS_DIR, 'playground-predict-desktop.png'), fullPage: true });
    await page.close();
  });

  it('stops a streaming predict: the partial output stays and the upstream request is cancelled', async () => {
    const page = await openPlayground();
    await page.getByLabel('Alias', { exact: true }).selectOption('echo');
    await page.getByLabel('Model input (JSON)').fill('{"fake":{"stream":{"chunks":50,"delay_ms":200}}}');
    await page.getByRole('button', { name: 'Send predict' }).click();
    await page.waitForFunction(() => document.getElementById('output')!.textContent!.includes('chunk 1'));
    await page.getByRole('button', { name: 'Stop' }).click();

    await expect.poll(() => page.locator('#status').textContent(), WAIT).toBe('Stopped.');
    await expect.poll(() => upstreamFor('str001').at(-1)!.aborted, WAIT).toBe(true);
    expect(await output(page)).not.toContain('chunk 49');
    expect(await page.getByRole('button', { name: 'Send predict' }).isEnabled()).toBe(true);
    expect(await page.locator('#error').isHidden()).toBe(true);
    await page.close();
  });

  it('streams a chat reply token by token and keeps the conversation', async () => {
    const page = await openPlayground(gateway.url, LLM_TOKEN);
    await page.getByLabel('Alias', { exact: true }).selectOption('llm');
    await page.getByRole('radio', { name: 'Chat' }).check();
    await page.getByText('Request options').click();
    await page.getByLabel('Extra fields merged into the request (JSON)').fill('{"fake":{"token_delay_ms":200}}');
    await page.getByLabel('Message').fill('hello from the browser');
    await page.getByLabel('Message').press('Control+Enter');

    const reply = page.locator('#transcript .message.assistant p').last();
    await page.waitForFunction(() => {
      const text = document.querySelector('#transcript .message.assistant:last-child p')?.textContent ?? '';
      return text.startsWith('echo:') && !text.includes('browser');
    });
    expect(upstreamFor('llm001').at(-1)!.finished).toBe(false);
    await expect.poll(() => page.locator('#status').textContent(), WAIT).toMatch(/^Done/);
    expect(await reply.textContent()).toBe('echo: hello from the browser');
    expect(JSON.parse(upstreamFor('llm001').at(-1)!.body)).toMatchObject({ model: SERVED, stream: true });

    await page.getByLabel('Message').fill('and again');
    await page.getByRole('button', { name: 'Send message' }).click();
    await expect.poll(() => page.locator('#status').textContent(), WAIT).toMatch(/^Done/);
    expect(await reply.textContent()).toBe('echo: and again');
    expect(JSON.parse(upstreamFor('llm001').at(-1)!.body).messages).toEqual([
      { role: 'user', content: 'hello from the browser' },
      { role: 'assistant', content: 'echo: hello from the browser' },
      { role: 'user', content: 'and again' },
    ]);
    await page.screenshot({ path: join(SCREENSHOTS_DIR, 'playground-chat-desktop.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: join(SCREENSHOTS_DIR, 'playground-chat-phone-dark.png'), fullPage: true });
    await page.close();
  });

  it('shows the error envelope\'s message, and checks the input before sending', async () => {
    const page = await openPlayground();
    await page.getByLabel('Alias', { exact: true }).selectOption('echo');
    const sent = upstreamFor('str001').length;
    await page.getByLabel('Model input (JSON)').fill('{"prompt": ');
    await page.getByRole('button', { name: 'Send predict' }).click();
    await expect.poll(() => page.locator('#input-problem').textContent(), WAIT).toMatch(/^Not valid JSON/);
    expect(upstreamFor('str001').length).toBe(sent);

    await page.getByLabel('Model input (JSON)').fill('{"fake":{"status":500,"message":"the model fell over"}}');
    await page.getByRole('button', { name: 'Send predict' }).click();
    const error = page.locator('#error[role="alert"]');
    await expect.poll(() => error.textContent(), WAIT).toContain('the model fell over');
    expect(await error.textContent()).toMatch(/upstream_error · HTTP 502 · request /);
    expect(await error.textContent()).not.toMatch(/\bat \S+:\d+/);
    await page.close();
  });
  it('shows the alias\'s input schema from /openapi.json and checks the input against it before sending', async () => {
    const page = await openPlayground();
    await page.getByRole('button', { name: 'Load models' }).click();
    await page.getByLabel('Alias', { exact: true }).selectOption('typed');
    await expect.poll(() => page.locator('#schema-box').isVisible(), WAIT).toBe(true);
    expect(JSON.parse((await page.locator('#schema').textContent())!)).toEqual(TYPED_SCHEMA);

    const sent = upstreamFor('str001').length;
    const problem = page.locator('#input-problem');
    await page.getByLabel('Model input (JSON)').fill('{"max_tokens": 5}');
    await page.getByRole('button', { name: 'Send predict' }).click();
    await expect.poll(() => problem.textContent(), WAIT).toBe('The input needs the field "prompt".');
    await page.getByLabel('Model input (JSON)').fill('{"prompt": 5}');
    await page.getByRole('button', { name: 'Send predict' }).click();
    await expect.poll(() => problem.textContent(), WAIT).toBe('The field "prompt" must be of type string.');
    expect(upstreamFor('str001').length).toBe(sent);

    await page.getByLabel('Model input (JSON)').fill('{"prompt": "fits"}');
    await page.getByRole('button', { name: 'Send predict' }).click();
    await expect.poll(() => page.locator('#status').textContent(), WAIT).toMatch(/^Done: HTTP 200/);
    expect(await problem.isHidden()).toBe(true);
    await page.getByLabel('Alias', { exact: true }).selectOption('jobs');
    expect(await page.locator('#schema-box').isHidden()).toBe(true);
    await page.close();
  });
});

describe('async requests in the playground', () => {
  it('submits an async request and follows its status until the output shows', async () => {
    const page = await openPlayground();
    await page.getByLabel('Alias', { exact: true }).selectOption('jobs');
    await page.getByRole('radio', { name: 'Async' }).check();
    // Every status the page shows, in order, recorded in the page so none is missed between polls.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seen: string[] }).seen = seen;
      const status = document.getElementById('async-status')!;
      new MutationObserver(() => {
        if (seen.at(-1) !== status.textContent) seen.push(status.textContent!);
      }).observe(status, { childList: true, characterData: true, subtree: true });
    });
    await page.getByLabel('Model input (JSON)').fill('{"prompt":"later","fake":{"queue_ms":400,"run_ms":600}}');
    await page.getByRole('button', { name: 'Submit async request' }).click();

    await expect.poll(() => page.locator('#status').textContent(), WAIT).toMatch(/^Async request SUCCEEDED/);
    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
    expect(seen[0]).toBe('QUEUED');
    expect(seen.at(-1)).toBe('SUCCEEDED');
    expect(JSON.parse((await output(page))!)).toEqual({ echo: { prompt: 'later', fake: { queue_ms: 400, run_ms: 600 } } });
    const requestId = await page.locator('#async-id').textContent();
    expect(upstreamFor('job001').some((r) => r.method === 'GET' && r.path.endsWith(`/async_request/${requestId}`))).toBe(true);
    expect(await page.getByRole('button', { name: 'Cancel async request' }).isDisabled()).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS_DIR, 'playground-async-desktop.png'), fullPage: true });
    await page.close();
  });

  it('cancels a queued async request from another allowed origin, the owner token crossing CORS', async () => {
    const page = await openPlayground(originOf(allowedSite));
    await page.getByLabel('Alias', { exact: true }).selectOption('jobs');
    await page.getByRole('radio', { name: 'Async' }).check();
    await page.getByLabel('Model input (JSON)').fill('{"prompt":"never mind","fake":{"queue_ms":60000}}');
    await page.getByRole('button', { name: 'Submit async request' }).click();
    const cancel = page.getByRole('button', { name: 'Cancel async request' });
    await expect.poll(() => cancel.isEnabled(), WAIT).toBe(true);
    await cancel.click();

    await expect.poll(() => page.locator('#async-status').textContent(), WAIT).toBe('CANCELED');
    await expect.poll(() => page.locator('#status').textContent(), WAIT).toMatch(/^Async request CANCELED/);
    const requestId = await page.locator('#async-id').textContent();
    expect(upstreamFor('job001').some((r) => r.method === 'DELETE' && r.path.endsWith(`/async_request/${requestId}`))).toBe(true);
    expect(await page.locator('#error').isHidden()).toBe(true);
    await page.close();
  });
});

describe('playground served from other origins', () => {
  it('calls the gateway from an origin in ALLOWED_ORIGINS', async () => {
    const page = await openPlayground(originOf(allowedSite));
    await page.getByLabel('Alias', { exact: true }).selectOption('echo');
    await page.getByLabel('Model input (JSON)').fill('{"prompt":"from another origin"}');
    await page.getByRole('button', { name: 'Send predict' }).click();
    await expect.poll(() => page.locator('#status').textContent(), WAIT).toMatch(/^Done: HTTP 200/);
    expect(JSON.parse((await output(page))!)).toMatchObject({ input: { prompt: 'from another origin' } });
    await page.close();
  });

  it('from an origin not in ALLOWED_ORIGINS, the browser blocks the answer and the page says so', async () => {
    const page = await browser.newPage();
    await page.goto(`${originOf(deniedSite)}/`);
    await page.getByLabel('Gateway URL').fill(gateway.url);
    await page.getByRole('button', { name: 'Load models' }).click();
    const error = page.locator('#error[role="alert"]');
    await expect.poll(() => error.textContent(), WAIT).toContain(`not in the gateway's ALLOWED_ORIGINS`);
    expect(await error.textContent()).toContain(originOf(deniedSite));
    expect(await page.locator('#alias').isDisabled()).toBe(true);
    await page.close();
  });
});

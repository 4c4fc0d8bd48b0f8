/**
 * The playground page in headless Chromium (Debian's /usr/bin/chromium, never
 * a downloaded browser), against the gateway under `wrangler dev` in front of
 * the fake Baseten. The page is also served from two other loopback origins,
 * one listed in ALLOWED_ORIGINS and one not, to prove CORS both ways.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalGateway } from '../../tools/local-gateway.mjs';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
const PUBLIC_DIR = join(import.meta.dirname, '..', '..', 'public');
const SCREENSHOTS_DIR = join(import.meta.dirname, '..', '..', 'test-results');
const SERVED = 'Qwen/Qwen2.5-3B-Instruct';
const LLM_TOKEN = 'playground-token-0123456789abcdef';
const ADMIN_TOKEN = 'playground-admin-0123456789abcdef';
/** How long the page may take to show what a test waits for (vitest's default is 1 s). */
const WAIT = { timeout: 15_000 };
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

type Gateway = Awaited<ReturnType<typeof startLocalGateway>>;
let gateway: Gateway;
let allowedSite: Server;
let deniedSite: Server;
let browser: BrowserContext;
let profileDir: string;

const MEDIA_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** The page's files (HTML, its ES modules, CSS) from another origin: what a frontend hosting the playground does. */
async function staticSite(): Promise<Server> {
  const files = new Set(readdirSync(PUBLIC_DIR));
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const name = path === '/' ? 'index.html' : path.slice(1);
    const type = MEDIA_TYPES[extname(name)];
    if (type && files.has(name)) res.writeHead(200, { 'content-type': type }).end(readFileSync(join(PUBLIC_DIR, name)));
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
        queued: { model_id: 'job001', environment: 'production', public: true, async: true, input_schema: TYPED_SCHEMA },
        voice: { model_id: 'voc001', environment: 'production', websocket: true },
        deepseek: { model_api: 'deepseek-ai/DeepSeek-V3.1' },
      },
      CLIENTS: { app: { token_sha256: sha256(LLM_TOKEN), models: ['*'] }, ops: { token_sha256: sha256(ADMIN_TOKEN), models: ['*'], admin: true } },
      ALLOWED_ORIGINS: [originOf(allowedSite)],
    },
    servedNames: { llm001: SERVED },
  });
  profileDir = mkdtempSync(join(tmpdir(), 'playground-chromium-'));
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
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
const status = (page: Page) => page.locator('#status').textContent();
/** How far a scroll box is from showing its last line, in pixels (0: it shows the end). */
const distanceFromEnd = (page: Page, selector: string) => page.locator(selector).evaluate((box) => box.scrollHeight - box.scrollTop - box.clientHeight);
const overflows = (page: Page, selector: string) => page.locator(selector).evaluate((box) => box.scrollHeight > box.clientHeight);
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
    expect(await anonymous.locator('#alias option').allTextContents()).toEqual(['echo', 'typed', 'jobs', 'queued']);
    await anonymous.close();
    const client = await openPlayground(gateway.url, LLM_TOKEN);
    expect(await client.locator('#alias option').allTextContents()).toEqual(['echo', 'typed', 'llm', 'jobs', 'queued', 'voice', 'deepseek']);
    await client.close();
  });

  it('labels every control, and runs a predict from the keyboard alone', async () => {
    const page = await openPlayground();
    const unlabeled = await page.evaluate(() =>
      Array.from(document.querySelectorAll<HTMLInputElement>('input, select, textarea, button'))
        .filter((control) => !control.labels?.length && !control.getAttribute('aria-label') && !control.textContent?.trim())
        .map((control) => control.outerHTML),
    );
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

  it("shows the error envelope's message, and checks the input before sending", async () => {
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

  it("shows the alias's input schema from /openapi.json, and the gateway's 400 when the input breaks it", async () => {
    const page = await openPlayground();
    await page.getByRole('button', { name: 'Load models' }).click();
    // A load that ends after the send would clear its answer: let it end first.
    await expect.poll(() => status(page), WAIT).toMatch(/available/);
    await page.getByLabel('Alias', { exact: true }).selectOption('typed');
    await expect.poll(() => page.locator('#schema-box').isVisible(), WAIT).toBe(true);
    expect(JSON.parse((await page.locator('#schema').textContent())!)).toEqual(TYPED_SCHEMA);

    const sent = upstreamFor('str001').length;
    const error = page.locator('#error[role="alert"]');
    await page.getByLabel('Model input (JSON)').fill('{"max_tokens": 5}');
    await page.getByRole('button', { name: 'Send predict' }).click();
    await expect.poll(() => error.textContent(), WAIT).toMatch(/prompt.*\(invalid_request · HTTP 400 · request /);
    await page.getByLabel('Model input (JSON)').fill('{"prompt": 5}');
    await page.getByRole('button', { name: 'Send predict' }).click();
    await expect.poll(() => error.textContent(), WAIT).toMatch(/\/prompt.*string|string.*\/prompt/);
    expect(upstreamFor('str001').length).toBe(sent);

    await page.getByLabel('Model input (JSON)').fill('{"prompt": "fits"}');
    await page.getByRole('button', { name: 'Send predict' }).click();
    await expect.poll(() => page.locator('#status').textContent(), WAIT).toMatch(/^Done: HTTP 200/);
    expect(await error.isHidden()).toBe(true);
    await page.getByLabel('Alias', { exact: true }).selectOption('jobs');
    expect(await page.locator('#schema-box').isHidden()).toBe(true);
    await page.close();
  });
});

describe('the playground keeps no stale state', () => {
  it('clears the last answer on every send: a failed predict shows its error over an empty output', async () => {
    const page = await openPlayground();
    await page.getByLabel('Alias', { exact: true }).selectOption('echo');
    await page.getByLabel('Model input (JSON)').fill('{"prompt":"first"}');
    await page.getByRole('button', { name: 'Send predict' }).click();
    await expect.poll(() => status(page), WAIT).toMatch(/^Done: HTTP 200/);
    expect(await output(page)).toContain('first');

    await page.getByLabel('Model input (JSON)').fill('{"fake":{"status":500,"message":"the model fell over"}}');
    await page.getByRole('button', { name: 'Send predict' }).click();
    await expect.poll(() => page.locator('#error').textContent(), WAIT).toContain('the model fell over');
    expect(await output(page)).toBe('');

    await page.getByLabel('Model input (JSON)').fill('{"prompt":"third"}');
    await page.getByRole('button', { name: 'Send predict' }).click();
    await expect.poll(() => status(page), WAIT).toMatch(/^Done: HTTP 200/);
    expect(await page.locator('#error').isHidden()).toBe(true);
    await page.close();
  });

  it('a failed async submit leaves neither the earlier request id nor its output', async () => {
    const page = await openPlayground();
    await page.getByLabel('Alias', { exact: true }).selectOption('jobs');
    await page.getByRole('radio', { name: 'Async' }).check();
    await page.getByLabel('Model input (JSON)').fill('{"prompt":"kept?"}');
    await page.getByRole('button', { name: 'Submit async request' }).click();
    await expect.poll(() => status(page), WAIT).toMatch(/^Async request SUCCEEDED/);
    expect(await page.locator('#async-id').textContent()).not.toBe('');
    expect(await output(page)).toContain('kept?');

    await page.getByLabel('Model input (JSON)').fill('{"fake":{"status":500,"message":"the queue is gone"}}');
    await page.getByRole('button', { name: 'Submit async request' }).click();
    await expect.poll(() => page.locator('#error').textContent(), WAIT).toContain('the queue is gone');
    expect(await page.locator('#async-job').isHidden()).toBe(true);
    expect(await page.locator('#async-id').textContent()).toBe('');
    expect(await output(page)).toBe('');
    await page.close();
  });

  it('a new alias or mode clears the output, the error and the conversation, and stops the call in flight', async () => {
    const page = await openPlayground(gateway.url, LLM_TOKEN);
    const alias = page.getByLabel('Alias', { exact: true });
    await alias.selectOption('llm');
    await page.getByRole('radio', { name: 'Chat' }).check();
    await page.getByLabel('Message').fill('remember me');
    await page.getByRole('button', { name: 'Send message' }).click();
    await expect.poll(() => status(page), WAIT).toMatch(/^Done/);
    expect(await page.locator('#transcript .message').count()).toBe(2);

    await page.getByRole('radio', { name: 'Predict' }).check();
    await page.getByRole('radio', { name: 'Chat' }).check();
    expect(await page.locator('#transcript .message').count()).toBe(0);
    await page.getByLabel('Message').fill('a new start');
    await page.getByRole('button', { name: 'Send message' }).click();
    await expect.poll(() => status(page), WAIT).toMatch(/^Done/);
    expect(JSON.parse(upstreamFor('llm001').at(-1)!.body).messages).toEqual([{ role: 'user', content: 'a new start' }]);

    await alias.selectOption('echo');
    await page.getByRole('radio', { name: 'Predict' }).check();
    await page.getByLabel('Model input (JSON)').fill('{"fake":{"status":500,"message":"old failure"}}');
    await page.getByRole('button', { name: 'Send predict' }).click();
    await expect.poll(() => page.locator('#error').isVisible(), WAIT).toBe(true);
    await alias.selectOption('typed');
    expect(await page.locator('#error').isHidden()).toBe(true);
    expect(await status(page)).toBe('Idle.');

    await alias.selectOption('echo');
    await page.getByLabel('Model input (JSON)').fill('{"fake":{"stream":{"chunks":50,"delay_ms":200}}}');
    await page.getByRole('button', { name: 'Send predict' }).click();
    await page.waitForFunction(() => document.getElementById('output')!.textContent!.includes('chunk 1'));
    await alias.selectOption('typed');
    await expect.poll(() => upstreamFor('str001').at(-1)!.aborted, WAIT).toBe(true);
    expect(await output(page)).toBe('');
    expect(await status(page)).toBe('Idle.');
    expect(await page.getByRole('button', { name: 'Send predict' }).isEnabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Stop' }).isDisabled()).toBe(true);
    await page.close();
  });

  it('a refused token lists no alias, and Send says why it sent nothing', async () => {
    const page = await openPlayground(gateway.url, LLM_TOKEN);
    expect(await page.locator('#alias option').allTextContents()).toContain('llm');
    await page.getByLabel('Client token').fill('not-a-token-anyone-was-given');
    await page.getByRole('button', { name: 'Load models' }).click();
    await expect.poll(() => page.locator('#error').textContent(), WAIT).toMatch(/HTTP 401/);
    expect(await page.locator('#alias option').allTextContents()).toEqual(['no models loaded']);
    expect(await page.locator('#alias').isDisabled()).toBe(true);

    const sent = gateway.fake.requests.length;
    await page.getByRole('button', { name: 'Send predict' }).click();
    await expect.poll(() => page.locator('#input-problem').textContent(), WAIT).toMatch(/^Pick an alias first/);
    expect(await page.locator('#input-problem').isVisible()).toBe(true);
    expect(gateway.fake.requests.length).toBe(sent);
    await page.close();
  });

  it('says why an empty chat message is not sent', async () => {
    const page = await openPlayground(gateway.url, LLM_TOKEN);
    await page.getByLabel('Alias', { exact: true }).selectOption('llm');
    await page.getByRole('radio', { name: 'Chat' }).check();
    const sent = upstreamFor('llm001').length;
    await page.getByLabel('Message').fill('   ');
    await page.getByRole('button', { name: 'Send message' }).click();
    const problem = page.locator('#message-problem');
    await expect.poll(() => problem.textContent(), WAIT).toBe('Type a message first: an empty one is not sent.');
    expect(await page.getByLabel('Message').getAttribute('aria-invalid')).toBe('true');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('message');
    expect(await page.locator('#transcript .message').count()).toBe(0);
    expect(upstreamFor('llm001').length).toBe(sent);

    await page.getByLabel('Message').fill('now with words');
    await page.getByRole('button', { name: 'Send message' }).click();
    await expect.poll(() => status(page), WAIT).toMatch(/^Done/);
    expect(await problem.isHidden()).toBe(true);
    await page.close();
  });
});

describe('modes offered per alias', () => {
  const modeRadio = (page: Page, name: string) => page.getByRole('radio', { name });

  it('offers the modes the gateway lists for each alias, and says which it withholds', async () => {
    const page = await openPlayground(gateway.url, LLM_TOKEN);
    const alias = page.getByLabel('Alias', { exact: true });
    const enabled = async () => {
      const names: string[] = [];
      for (const name of ['Predict', 'Async', 'Chat', 'WebSocket']) if (await modeRadio(page, name).isEnabled()) names.push(name);
      return names;
    };
    await alias.selectOption('queued');
    expect(await enabled()).toEqual(['Predict', 'Async']);
    await modeRadio(page, 'Async').check();
    expect(await page.getByRole('button', { name: 'Submit async request' }).isVisible()).toBe(true);

    await alias.selectOption('typed');
    expect(await enabled()).toEqual(['Predict']);
    expect(await modeRadio(page, 'Predict').isChecked()).toBe(true);
    expect(await page.getByRole('button', { name: 'Send predict' }).isVisible()).toBe(true);
    expect(await page.locator('#modes-note').textContent()).toBe('Not offered for typed: Async, Chat, WebSocket.');
    await page.screenshot({ path: join(SCREENSHOTS_DIR, 'playground-modes-desktop.png'), fullPage: true });

    await alias.selectOption('llm');
    expect(await enabled()).toEqual(['Predict', 'Chat']);
    await alias.selectOption('voice');
    expect(await enabled()).toEqual(['Predict', 'WebSocket']);
    // A Model API takes chat only, so Chat is chosen for it.
    await alias.selectOption('deepseek');
    expect(await enabled()).toEqual(['Chat']);
    expect(await modeRadio(page, 'Chat').isChecked()).toBe(true);
    expect(await page.getByRole('button', { name: 'Send message' }).isVisible()).toBe(true);
    await page.close();
  });
});

describe('WebSocket mode', () => {
  it('opens a socket with the token as subprotocol, shows frames both ways, and closes', async () => {
    const page = await openPlayground(gateway.url, LLM_TOKEN);
    await page.getByLabel('Alias', { exact: true }).selectOption('voice');
    await page.getByRole('radio', { name: 'WebSocket' }).check();
    const message = page.getByLabel(/Text frame/);
    const send = page.getByRole('button', { name: 'Send frame' });
    await message.fill('hello socket');
    await send.click();
    await expect.poll(() => output(page), WAIT).toBe('→ hello socket\n← hello socket\n');
    expect(await status(page)).toBe('Connected (subprotocol gateway).');

    const upstream = gateway.fake.requests.filter((r) => r.path === '/model-voc001/environments/production/websocket').at(-1)!;
    expect(upstream.headers.authorization).toBe('Api-Key fake-baseten-key');
    expect(JSON.stringify(upstream.headers)).not.toContain(LLM_TOKEN);

    // The model closes with its own code and reason; the next message opens a new socket.
    await message.fill('close:4001:model-bye');
    await send.click();
    await expect.poll(() => output(page), WAIT).toContain('× closed 4001 model-bye');
    await message.fill('again');
    await send.click();
    await expect.poll(() => output(page), WAIT).toContain('← again');
    await page.getByRole('button', { name: 'Close socket' }).click();
    await expect.poll(() => output(page), WAIT).toMatch(/× closed 1000 closed in the playground\n$/);
    await page.close();
  });

  it("shows the gateway's refusal when the socket cannot open", async () => {
    const page = await openPlayground(gateway.url, LLM_TOKEN);
    await page.getByLabel('Alias', { exact: true }).selectOption('voice');
    await page.getByRole('radio', { name: 'WebSocket' }).check();
    await page.getByLabel('Client token').fill('not-the-token-0123456789abcdef');
    await page.getByRole('button', { name: 'Send frame' }).click();
    await expect.poll(() => page.locator('#error').textContent(), WAIT).toContain('unknown token');
    await page.close();
  });
});

describe('streamed output stays in view', () => {
  it('follows a long predict answer to its end, unless the user scrolls up to read', async () => {
    const page = await openPlayground();
    await page.getByLabel('Alias', { exact: true }).selectOption('echo');
    await page.getByLabel('Model input (JSON)').fill('{"fake":{"stream":{"chunks":80,"delay_ms":40}}}');
    await page.getByRole('button', { name: 'Send predict' }).click();
    await page.waitForFunction(() => document.getElementById('output')!.textContent!.includes('chunk 40'));
    expect(await overflows(page, '#output')).toBe(true);
    expect(await distanceFromEnd(page, '#output')).toBeLessThanOrEqual(1);

    await page.locator('#output').evaluate((box) => {
      box.scrollTop = 0;
    });
    await expect.poll(() => status(page), WAIT).toMatch(/^Done: HTTP 200/);
    expect(await page.locator('#output').evaluate((box) => box.scrollTop)).toBe(0);
    await page.close();
  });

  it('follows a long chat reply to its end', async () => {
    const page = await openPlayground(gateway.url, LLM_TOKEN);
    await page.getByLabel('Alias', { exact: true }).selectOption('llm');
    await page.getByRole('radio', { name: 'Chat' }).check();
    const words = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');
    await page.getByLabel('Message').fill(words);
    await page.getByRole('button', { name: 'Send message' }).click();
    await expect.poll(() => status(page), WAIT).toMatch(/^Done/);
    expect(await page.locator('#transcript .message.assistant p').textContent()).toBe(`echo: ${words}`);
    expect(await overflows(page, '#transcript')).toBe(true);
    expect(await distanceFromEnd(page, '#transcript')).toBeLessThanOrEqual(1);
    await page.close();
  });

  it('on a phone, Send brings the answer up from below the fold', async () => {
    const page = await openPlayground();
    await page.setViewportSize({ width: 390, height: 844 });
    const answerTop = () => page.locator('#answer').evaluate((box) => box.getBoundingClientRect().top);
    expect(await answerTop()).toBeGreaterThan(844);

    await page.getByLabel('Alias', { exact: true }).selectOption('echo');
    await page.getByLabel('Model input (JSON)').fill('{"fake":{"stream":{"chunks":40,"delay_ms":50}}}');
    await page.getByRole('button', { name: 'Send predict' }).click();
    await expect.poll(answerTop, WAIT).toBeLessThan(50);
    expect(await answerTop()).toBeGreaterThanOrEqual(0);
    await expect.poll(() => status(page), WAIT).toMatch(/^Done: HTTP 200/);
    const outputBox = await page.locator('#output').boundingBox();
    expect(outputBox!.y + outputBox!.height).toBeLessThanOrEqual(844);
    expect(await distanceFromEnd(page, '#output')).toBeLessThanOrEqual(1);
    await page.screenshot({ path: join(SCREENSHOTS_DIR, 'playground-predict-phone.png') });

    // An error is brought into view too: here the gateway's refusal of a bad input.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.getByLabel('Model input (JSON)').fill('{"fake":{"status":500,"message":"seen on a phone"}}');
    await page.getByRole('button', { name: 'Send predict' }).click();
    await expect.poll(() => page.locator('#error').textContent(), WAIT).toContain('seen on a phone');
    await expect.poll(answerTop, WAIT).toBeLessThan(50);
    await page.screenshot({ path: join(SCREENSHOTS_DIR, 'playground-error-phone.png') });
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

describe('playground usage and clients views', () => {
  const api = (path: string, token: string, init: RequestInit = {}) =>
    fetch(`${gateway.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers } });

  it("draws the caller's requests and tokens per day and alias as SVG bars", async () => {
    const usageBefore = await (await api('/v1/usage?days=1', LLM_TOKEN)).json();
    const before = usageBefore.totals.requests as number;
    for (let i = 0; i < 2; i++) await (await api('/v1/models/echo/predict', LLM_TOKEN, { method: 'POST', body: '{"prompt":"hi"}' })).arrayBuffer();
    const chatBody = JSON.stringify({ model: 'llm', messages: [{ role: 'user', content: 'one two three' }], fake: { tokens: 4 } });
    await (await api('/v1/chat/completions', LLM_TOKEN, { method: 'POST', body: chatBody })).arrayBuffer();
    // Counting runs after each answer: wait until the meter has all three.
    await expect.poll(async () => (await (await api('/v1/usage?days=1', LLM_TOKEN)).json()).totals.requests, WAIT).toBeGreaterThanOrEqual(before + 3);

    const page = await openPlayground(gateway.url, LLM_TOKEN);
    await page.getByRole('button', { name: 'Show usage' }).click();
    await expect.poll(() => page.locator('#usage-summary').textContent(), WAIT).toMatch(/^app: \d+ requests/);
    const requests = page.getByRole('img', { name: 'Requests per day' });
    const tokens = page.getByRole('img', { name: 'Tokens per day' });
    const today = new Date().toISOString().slice(0, 10);
    expect(Number(await requests.locator(`rect[data-alias="echo"][data-date="${today}"]`).getAttribute('data-value'))).toBeGreaterThanOrEqual(2);
    expect(Number(await tokens.locator(`rect[data-alias="llm"][data-date="${today}"]`).getAttribute('data-value'))).toBeGreaterThanOrEqual(7);
    // Tokenless predicts draw no token bar.
    expect(await tokens.locator('rect[data-alias="echo"]').count()).toBe(0);
    await expect.poll(() => page.getByRole('list', { name: 'Aliases' }).textContent()).toContain('llm');
    // An admin-only panel stays hidden for a client without admin.
    expect(await page.locator('#clients-panel').isHidden()).toBe(true);
    await page.close();
  });

  it('lets an admin create, rotate and revoke a client, showing each new token once', async () => {
    const page = await openPlayground(gateway.url, ADMIN_TOKEN);
    page.on('dialog', (dialog) => dialog.accept());
    const panel = page.locator('#clients-panel');
    await expect.poll(() => panel.isVisible(), WAIT).toBe(true);
    const appRow = page.locator('#client-list tr', { hasText: 'app' });
    expect(await appRow.textContent()).toContain('static');
    expect(await appRow.getByRole('button').count()).toBe(0);

    await page.getByLabel('New client name').fill('made-in-page');
    await page.getByLabel('Models').fill('echo');
    await page.getByRole('button', { name: 'Create client' }).click();
    const token = page.locator('#new-token-value');
    await expect.poll(() => token.textContent(), WAIT).toMatch(/^bgw_/);
    const first = (await token.textContent())!;
    // KV makes a change visible within its propagation: the checks below wait for it rather than race it.
    const statusOf = async (bearerToken: string) => (await api('/v1/models', bearerToken)).status;
    await expect.poll(() => statusOf(first), WAIT).toBe(200);
    await expect.poll(() => page.locator('#client-list').textContent(), WAIT).toContain('made-in-page');

    await page.getByRole('button', { name: 'Rotate made-in-page' }).click();
    await expect.poll(async () => (await token.textContent()) !== first && (await token.textContent())?.startsWith('bgw_'), WAIT).toBe(true);
    const second = (await token.textContent())!;
    await expect.poll(() => statusOf(first), WAIT).toBe(401);
    await expect.poll(() => statusOf(second), WAIT).toBe(200);

    await page.getByRole('button', { name: 'Revoke made-in-page' }).click();
    await expect.poll(() => page.locator('#client-list').textContent(), WAIT).not.toContain('made-in-page');
    // The token is gone from the page once the next action began.
    expect(await page.locator('#new-token').isHidden()).toBe(true);
    await expect.poll(() => statusOf(second), WAIT).toBe(401);
    await page.close();
  });
});

// @ts-check
/** Chat with an alias's OpenAI-compatible engine, the reply streamed token by token. */
import { call, isAbort, mediaType, readStream, ShownError } from './api.js';
import { chatDelta, sseParser } from './sse.js';
import { addMessage, appendReply, el, setStatus } from './ui.js';

/** @typedef {{ role: 'user' | 'assistant', content: string }} ChatMessage */

/**
 * The turns so far, sent with each new message.
 * @type {ChatMessage[]}
 */
let history = [];

export function clearConversation() {
  history = [];
  el.transcript.replaceChildren();
}

/**
 * @param {import('./api.js').Connection} connection
 * @param {string} alias
 * @param {string} content the user's message
 * @param {Record<string, unknown>} options extra request fields
 * @param {AbortSignal} signal
 */
export async function chat(connection, alias, content, options, signal) {
  /** @type {ChatMessage[]} */
  const messages = [...history, { role: 'user', content }];
  const asked = addMessage('user', content);
  const reply = addMessage('assistant', '');
  const startedMs = performance.now();
  let text = '';
  let finished = false;
  /** @param {string} data */
  const onData = (data) => {
    if (signal.aborted) return;
    if (data === '[DONE]') {
      finished = true;
      return;
    }
    const delta = chatDelta(data);
    text += delta;
    appendReply(reply.text, delta);
  };
  try {
    setStatus('Waiting for the model…');
    const res = await call(connection.base, '/v1/chat/completions', {
      method: 'POST',
      headers: { ...connection.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ ...options, model: alias, messages, stream: true }),
      signal,
    });
    setStatus('Receiving…');
    if (mediaType(res) === 'text/event-stream') {
      await readStream(res.body, sseParser(onData));
      if (!finished) throw new ShownError('The reply stopped before the engine finished it.');
    } else {
      text = String((await res.json())?.choices?.[0]?.message?.content ?? '');
      appendReply(reply.text, text);
    }
    history = [...messages, { role: 'assistant', content: text }];
    el.message.value = '';
    setStatus(`Done in ${Math.round(performance.now() - startedMs)} ms.`);
  } catch (err) {
    // The conversation was cleared meanwhile (another alias or mode): nothing of this turn is kept.
    if (!reply.item.isConnected) throw err;
    if (isAbort(err) && text) {
      history = [...messages, { role: 'assistant', content: text }];
      reply.text.append(' (stopped)');
    } else {
      // Nothing usable came back: the message stays in its box to send again.
      asked.item.remove();
      reply.item.remove();
    }
    throw err;
  }
}

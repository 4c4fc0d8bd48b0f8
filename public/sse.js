// @ts-check
/** Server-sent events as an OpenAI-compatible engine streams them through the gateway. */
import { ShownError } from './api.js';

/**
 * A text sink that calls onData with each event's data; comments (the gateway's keep-alives) are skipped.
 * @param {(data: string) => void} onData
 * @returns {(text: string) => void}
 */
export function sseParser(onData) {
  let buffer = '';
  /** @type {string[]} */
  let data = [];
  return (text) => {
    buffer += text;
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const raw of lines) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line === '') {
        if (data.length > 0) onData(data.join('\n'));
        data = [];
      } else if (line.startsWith('data:')) {
        data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      }
    }
  };
}

/**
 * The text a chat chunk adds; an error event mid-stream becomes the error shown.
 * @param {string} data one event's data, not `[DONE]`
 * @returns {string}
 */
export function chatDelta(data) {
  let event;
  try {
    event = JSON.parse(data);
  } catch {
    throw new ShownError('The engine sent an event that is not JSON.');
  }
  if (event?.error) throw new ShownError(String(event.error.message ?? 'The engine reported an error.'));
  return String(event?.choices?.[0]?.delta?.content ?? '');
}

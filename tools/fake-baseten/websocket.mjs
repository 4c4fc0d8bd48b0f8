/**
 * WebSocket endpoints of a model or chain: `/environments/<env>/websocket`,
 * `/development/websocket`, `/deployment/<id>/websocket`, and `/websocket` on a regional host.
 * The key is checked before the upgrade; the model echoes text and binary messages, and the
 * text `close:<code>:<reason>` makes it close with that code and reason. Each connection is in
 * the request log, with its headers (subprotocols included) and what it carried.
 */

import http from 'node:http';
import { WebSocketServer } from 'ws';
import { newRequestId } from './http.mjs';
import { isAuthorized, isPositive, parseTarget } from './request.mjs';
import { takeRule, targetKeys } from './targeting.mjs';

/** @typedef {import('node:stream').Duplex} Duplex */
/** @typedef {import('./types.mjs').App} App */
/** @typedef {import('./types.mjs').RecordedRequest} RecordedRequest */
/** @typedef {import('./types.mjs').WebSocketLog} WebSocketLog */

/** How many messages each connection's log keeps. */
const LOGGED_MESSAGES = 100;
const LOGGED_TEXT_CHARS = 4096;

/**
 * @param {App} app
 * @param {(req: http.IncomingMessage) => RecordedRequest} record Logs the upgrade request.
 */
export function createUpgradeHandler(app, record) {
  /** @type {WeakMap<http.IncomingMessage, Record<string, any>>} */
  const rules = new WeakMap();
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (offered, req) => pickProtocol(app, offered, rules.get(req) ?? {}) });

  /**
   * @param {http.IncomingMessage} req
   * @param {Duplex} socket
   * @param {Buffer} head
   */
  async function handleUpgrade(req, socket, head) {
    const entry = record(req);
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    const target = parseTarget(url.pathname);
    const label = target && websocketLabel(target.regional, target.segments);
    if (!target || !label) return refuse(socket, 404, { error: 'Route not found' });
    if (!isAuthorized(req.headers.authorization, app.config.apiKey)) {
      return refuse(socket, 401, { error: req.headers.authorization ? 'Invalid API key' : 'Missing API key', error_code: 'unauthorized' });
    }
    const rule = takeRule(app, { req, url }, targetKeys(target, label));
    if (isPositive(rule.delay_ms)) await new Promise((resolve) => setTimeout(resolve, rule.delay_ms));
    if (rule.refuse || rule.reset) return socket.destroy();
    if (Number.isInteger(rule.status) && rule.status >= 400) {
      return refuse(socket, rule.status, { error: typeof rule.message === 'string' ? rule.message : (http.STATUS_CODES[rule.status] ?? 'Error') });
    }
    rules.set(req, rule);
    wss.handleUpgrade(req, socket, head, (ws) => echo(ws, entry));
  }

  /** Closes every open connection, for close(). */
  function closeAll() {
    for (const ws of wss.clients) ws.terminate();
  }

  return { handleUpgrade, closeAll };
}

/**
 * The deployment a websocket path names, or null when it is not a websocket path.
 * @param {string | null} regional
 * @param {string[]} segments
 */
function websocketLabel(regional, segments) {
  const path = segments.join('/');
  if (regional) return path === 'websocket' ? `environments/${regional}` : null;
  const match = /^(development|environments\/[^/]+|deployment\/[^/]+)\/websocket$/.exec(path);
  return match?.[1] ?? null;
}

/**
 * The model speaks the configured subprotocols and selects the first one offered; a rule's
 * `websocket_protocol` (a name, or null for none) overrides that.
 * @param {App} app
 * @param {Set<string>} offered
 * @param {Record<string, any>} rule
 * @returns {string | false}
 */
function pickProtocol(app, offered, rule) {
  const wanted = rule.websocket_protocol;
  if (wanted === null) return false;
  if (typeof wanted === 'string') return offered.has(wanted) ? wanted : false;
  return [...offered].find((p) => app.config.websocketProtocols.includes(p)) ?? false;
}

/**
 * @param {import('ws').WebSocket} ws
 * @param {RecordedRequest} entry
 */
function echo(ws, entry) {
  /** @type {WebSocketLog} */
  const log = { protocol: ws.protocol || null, received: [], close: null };
  entry.websocket = log;
  ws.on('message', (data, isBinary) => {
    const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(/** @type {Buffer[]} */ ([data].flat()));
    const text = isBinary ? null : bytes.toString('utf8');
    if (log.received.length < LOGGED_MESSAGES) {
      log.received.push({
        type: isBinary ? 'binary' : 'text',
        data: text === null ? bytes.toString('base64') : text.slice(0, LOGGED_TEXT_CHARS),
        bytes: bytes.length,
      });
    }
    const close = text === null ? null : /^close:(\d{4}):?(.*)$/s.exec(text);
    if (close) {
      const code = Number(close[1]);
      log.close = { code, reason: close[2] ?? '', by: 'server' };
      return ws.close(code, close[2] ?? '');
    }
    ws.send(isBinary ? bytes : (text ?? ''), { binary: isBinary });
  });
  ws.on('close', (code, reason) => {
    log.close ??= { code, reason: reason.toString('utf8'), by: 'client' };
    entry.finished = true;
  });
}

/**
 * Answers an upgrade request with a plain HTTP error, as Baseten's edge does before any socket.
 * @param {Duplex} socket
 * @param {number} status
 * @param {Record<string, string>} body
 */
function refuse(socket, status, body) {
  const payload = JSON.stringify(body);
  socket.end(
    [
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}`,
      'content-type: application/json',
      `content-length: ${Buffer.byteLength(payload)}`,
      `x-baseten-request-id: ${newRequestId('hex')}`,
      'connection: close',
      '',
      payload,
    ].join('\r\n'),
  );
}

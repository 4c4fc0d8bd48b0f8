/**
 * The fake's shapes, in one place so every module names them the same way. Types only: this
 * module exports no values.
 */

/**
 * @typedef {object} FakeOptions
 * @property {number} [port] 0 picks a free port.
 * @property {string} [host]
 * @property {string} [apiKey] Accepted as `Api-Key <key>` or `Bearer <key>`.
 * @property {string[]} [webhookSecrets] Newest first; one `v1=` signature is sent per secret.
 * @property {Record<string, string>} [servedNames] model id -> served model name on `/sync/v1`.
 * @property {number} [timeScale] Multiplies the webhook retry delay and per-attempt timeout.
 * @property {201 | 202} [asyncStatusCode] Baseten's spec answers 201; older pages say 202.
 * @property {'hex' | 'opaque'} [requestIdShape] Shape of new request ids (Baseten only promises a string).
 * @property {Partial<AsyncLimits>} [asyncLimits] Calls per window and per model before status, cancel and queue status answer 429.
 * @property {number} [webhookRetryDelayMs] Wait before the one webhook retry (Baseten: ~2 s), before timeScale.
 * @property {string[]} [beiModels] Model ids served by a BEI engine (ids starting with `bei` always are).
 * @property {string[]} [modelApiSlugs] Slugs the Model APIs endpoint serves.
 * @property {string[]} [websocketProtocols] Subprotocols the WebSocket model selects when offered.
 */

/**
 * @typedef {object} AsyncLimits
 * @property {number} status `GET /async_request/<id>` calls per window.
 * @property {number} cancel `DELETE /async_request/<id>` calls per window.
 * @property {number} queue_status `.../async_queue_status` calls per window.
 * @property {number} window_ms A window opens at the first call and lasts this long.
 */

/**
 * A steering rule registered through `POST /__fake/steer`.
 * @typedef {object} SteerRule
 * @property {string} [target] A selector (see targeting.mjs); any target when absent.
 * @property {string} [request_id] Only requests with this `x-request-id`.
 * @property {string} [path] Only paths ending with this.
 * @property {number} [times] Spent after this many matches.
 * @property {Record<string, any>} fake
 * @property {number} used
 */

/**
 * @typedef {object} RecordedRequest
 * @property {string} method
 * @property {string} path
 * @property {string} query Raw query string without `?`.
 * @property {Record<string, string | string[] | undefined>} headers Lower-cased names.
 * @property {string} body First 64 KiB as UTF-8 text.
 * @property {number} bodyBytes Total body length.
 * @property {number} time Arrival, ms since epoch.
 * @property {boolean} aborted Set when the client went away before the answer finished.
 * @property {boolean} finished Set once the whole answer has been handed to the socket.
 * @property {WebSocketLog} [websocket] What a WebSocket connection carried.
 */

/**
 * @typedef {object} WebSocketLog
 * @property {string | null} protocol The subprotocol the fake selected.
 * @property {{type: 'text' | 'binary', data: string, bytes: number}[]} received Binary data as base64.
 * @property {{code: number, reason: string, by: 'client' | 'server'} | null} close
 */

/**
 * @typedef {object} WebhookDelivery
 * @property {string} request_id
 * @property {string} url
 * @property {number} attempt 1 for the first try, 2 for the retry.
 * @property {number | 'refused' | 'error'} status Receiver's HTTP status, or why none.
 * @property {string} body Exact bytes sent (or that would have been sent).
 * @property {string | null} signature The `X-BASETEN-SIGNATURE` value.
 * @property {string} [error]
 * @property {number} time
 */

/**
 * @typedef {object} AsyncRecord
 * @property {string} request_id
 * @property {'model' | 'chain'} kind
 * @property {string} ownerId
 * @property {string} deploymentLabel
 * @property {string} deploymentId
 * @property {string} status
 * @property {string} webhook_status
 * @property {string} created_at
 * @property {string} status_at
 * @property {{code: string, message: string}[]} errors
 * @property {unknown} model_input
 * @property {Record<string, any>} fake
 * @property {string | null} webhook_endpoint
 * @property {number} maxQueueSeconds
 * @property {unknown} data
 * @property {number} statusResets Status lookups cut so far (`reset_status_first`).
 * @property {number} createdMs Creation on the fake's clock.
 * @property {number | null} finishedMs When the request became final, on the fake's clock.
 */

/**
 * @typedef {object} FakeBaseten
 * @property {string} url
 * @property {number} port
 * @property {RecordedRequest[]} requests
 * @property {WebhookDelivery[]} webhookDeliveries
 * @property {() => void} reset
 * @property {() => Promise<void>} close
 * @property {(id: string) => (Record<string, unknown> | undefined)} asyncRequest
 * @property {(rule: Omit<SteerRule, 'used'>) => void} steer Adds a steering rule (see README.md).
 * @property {(ms: number) => number} advanceClock Moves the fake's clock on; returns its time.
 * @property {(limits: Partial<AsyncLimits>) => void} setAsyncLimits
 */

/**
 * @typedef {object} Target
 * @property {'model' | 'chain'} kind
 * @property {string} id
 * @property {string | null} regional The environment named by a regional host (`model-<id>-<env>`).
 * @property {string[]} segments Path segments after `/model-<id>`.
 */

/**
 * @typedef {object} Deployment
 * @property {string} label `production`, `development`, `environments/<env>` or `deployment/<id>`.
 * @property {string} deploymentId
 * @property {string[]} endpoint Remaining segments, e.g. `['predict']` or `['sync', 'v1', 'models']`.
 */

/**
 * @typedef {object} Body
 * @property {Buffer[]} chunks
 * @property {number} length
 * @property {boolean} tooLarge
 */

/**
 * Per-request working state.
 * @typedef {object} Ctx
 * @property {import('node:http').IncomingMessage} req
 * @property {import('node:http').ServerResponse} res
 * @property {URL} url
 * @property {RecordedRequest} entry
 * @property {Record<string, string>} headers Added to every answer to this request.
 * @property {boolean} selfClosed True when the fake cut the connection on purpose.
 * @property {Body} body
 * @property {string[]} keys The selectors this request answers to (targeting.mjs).
 * @property {Record<string, any>} rule Steering from a matching `/__fake/steer` rule.
 * @property {boolean} stallBody Small answers send half their body, then stall.
 */

/**
 * What every request shares: the options, the logs and async requests, and timers that reset()
 * and close() can cancel.
 * @typedef {object} FakeState
 * @property {RecordedRequest[]} requests
 * @property {WebhookDelivery[]} webhookDeliveries
 * @property {Map<string, AsyncRecord>} asyncRequests
 * @property {Set<NodeJS.Timeout>} timers
 * @property {AbortController} lifetime Aborted by reset() and close() so in-flight webhook work from an earlier test stops.
 * @property {SteerRule[]} rules
 * @property {number} clockOffsetMs Added to the real time by `/__fake/clock`.
 * @property {AsyncLimits} limits
 * @property {Map<string, {start: number, count: number}>} rateWindows Per call kind and model.
 */

/**
 * @typedef {object} App
 * @property {Required<FakeOptions>} config
 * @property {FakeState} state
 * @property {(fn: () => void, ms: number) => void} schedule Runs `fn` after `ms` without keeping the process alive.
 * @property {(ms: number) => Promise<void>} later
 * @property {() => number} now The fake's clock, ms since epoch.
 */

export {};

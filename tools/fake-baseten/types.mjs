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
 * @property {201 | 202} [asyncStatusCode] Baseten's docs show both for a queued async request.
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
 */

/**
 * @typedef {object} Target
 * @property {'model' | 'chain'} kind
 * @property {string} id
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
 */

/**
 * @typedef {object} App
 * @property {Required<FakeOptions>} config
 * @property {FakeState} state
 * @property {(fn: () => void, ms: number) => void} schedule Runs `fn` after `ms` without keeping the process alive.
 * @property {(ms: number) => Promise<void>} later
 */

export {};

/**
 * Webhook signatures worked out once, outside the code under test, with
 * Node's crypto: `createHmac('sha256', secret).update(body).digest('hex')`.
 * Verification is checked against these; the test-side signer in
 * async-helpers.ts is checked against them too, before it signs anything.
 */

/** The async request id the fixed bodies name. */
export const VECTOR_REQUEST_ID = '9876543210abcdef1234567890fedcba';

/** Baseten's delivery body at noon on 2026-05-01, compact JSON in its documented field order. */
export const NOON_DELIVERY =
  '{"request_id":"9876543210abcdef1234567890fedcba","model_id":"abc123","deployment_id":"dep-env-production",' +
  '"type":"async_request_completed","time":"2026-05-01T12:00:00Z","data":{"output":"done"},"errors":[]}';

/** The same request two minutes earlier, with microseconds in its time and another output. */
export const EARLIER_DELIVERY =
  '{"request_id":"9876543210abcdef1234567890fedcba","model_id":"abc123","deployment_id":"dep-env-production",' +
  '"type":"async_request_completed","time":"2026-05-01T11:58:00.123456Z","data":{"output":"x"},"errors":[]}';

/** Signed, but not a delivery: its request id is not Baseten's. */
export const MALFORMED_DELIVERY = '{"request_id":"not/an id","time":"2026-05-01T12:00:00Z","model_id":"a"}';

export const VECTORS = [
  { secret: 'whsec_test', body: NOON_DELIVERY, hex: '36dc8b0ee0845abfb9ffb94e84f773a44ce36789bb310fd7923783143c440121' },
  { secret: 'whsec_old', body: NOON_DELIVERY, hex: '56b8b2278a7b19ba1c559b60aca81697034dc12a1eae8d280f6797c36647634b' },
  { secret: 'whsec_other', body: NOON_DELIVERY, hex: '477a88ebfa22a2cd34e7d7d647c5643386e9c8443bb1e02dfe009bca150c21d0' },
  { secret: 'whsec_test', body: EARLIER_DELIVERY, hex: 'b9b2e31e3b48823141be8386c6247981086c838fe3501835d35ce6ffaa0d979e' },
  { secret: 'whsec_test', body: '{}', hex: '46bdc2a2e83964bd2695acc6a1f97162d8bafc135a071aa5cd5c99aae5481440' },
  { secret: 'whsec_test', body: MALFORMED_DELIVERY, hex: 'b4c1ceadec8607f1789e2119b33bcbf4eb1e4dbcb8210d7f94ca3482087194a5' },
  // Under the secret the workerd tests bind (TEST_WEBHOOK_SECRET).
  { secret: 'whsec_fake', body: '{"hello":"world"}', hex: '8872b22e2c69182e02a2d7be2725642839749b1831bcf35e0faad9c49a9015f3' },
  { secret: 'whsec_fake', body: '{oops', hex: '234891edca0cd462c98e915b7ace2c8a0b3b68e1128658c3792cb23f10399678' },
] as const;

/** The `x-baseten-signature` header for a fixed body, from the table only. */
export function vectorSignature(body: string, secret: string): string {
  const vector = VECTORS.find((v) => v.body === body && v.secret === secret);
  if (!vector) throw new Error(`no fixed signature for ${secret} over ${body.slice(0, 40)}`);
  return `v1=${vector.hex}`;
}

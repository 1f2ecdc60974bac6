import { createHmac, timingSafeEqual } from 'node:crypto';

/** Slack's replay window: a request dated more than this far from our clock, either way, is refused. */
export const MAX_CLOCK_SKEW_SECONDS = 5 * 60;

export type VerifyOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export interface SignedRequest {
  readonly body: Buffer | string;
  readonly timestamp: string | undefined;
  readonly signature: string | undefined;
}

/**
 * Slack request signing (v0): signature = "v0=" + hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + body)).
 * Unlike Bolt's own check this also refuses timestamps from the future (a replay window both ways).
 */
export function verifySlackSignature(
  signingSecret: string,
  req: SignedRequest,
  nowMs: number = Date.now(),
): VerifyOutcome {
  if (!signingSecret) return { ok: false, reason: 'no signing secret configured' };
  if (!req.timestamp || !/^\d{1,12}$/.test(req.timestamp)) {
    return { ok: false, reason: 'missing or malformed X-Slack-Request-Timestamp' };
  }
  const skew = Math.floor(nowMs / 1000) - Number(req.timestamp);
  if (Math.abs(skew) > MAX_CLOCK_SKEW_SECONDS) {
    return {
      ok: false,
      reason: `X-Slack-Request-Timestamp is ${Math.abs(skew)} s in the ${skew > 0 ? 'past' : 'future'} (limit ${MAX_CLOCK_SKEW_SECONDS} s)`,
    };
  }
  if (!req.signature || !/^v0=[0-9a-f]{64}$/.test(req.signature)) {
    return { ok: false, reason: 'missing or malformed X-Slack-Signature' };
  }
  const expected = Buffer.from(signSlackRequest(signingSecret, req.timestamp, req.body), 'utf8');
  const given = Buffer.from(req.signature, 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'signature mismatch' };
  }
  return { ok: true };
}

/**
 * Slack's v0 request signature: the one signer, used by the verifier above, by the local console for the
 * requests it forwards to the Bolt app, and by the tests.
 */
export function signSlackRequest(
  signingSecret: string,
  timestamp: number | string,
  body: Buffer | string,
): string {
  const hmac = createHmac('sha256', signingSecret);
  hmac.update(`v0:${timestamp}:`);
  hmac.update(body);
  return `v0=${hmac.digest('hex')}`;
}

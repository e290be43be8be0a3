/**
 * What the record routes (gateway/routes/records.ts, gateway/routes/key-release.ts, gateway/share-routes.ts)
 * share: the caller of a record route within its per-minute allowance, the purpose it names, and the record
 * the gateway holds.
 */
import type { FastifyRequest } from "fastify";

import { ConsentLedgerError, purposeCode } from "../../sdk/index";
import type { Authenticator } from "../auth";
import { badRequest, notFound, rateLimited } from "../http-error";
import type { AccountRateLimiter } from "../rate-limit";
import type { GatewayStore, StoredRecord } from "../store";

/** The authenticated account of a request to a record route, or a 401/429 refusal. */
export type RecordReader = (request: FastifyRequest) => Promise<string>;

/**
 * The caller of a record route, within its per-minute allowance. One `limiter` for all record routes:
 * reads, ciphertext and key releases draw from the same allowance.
 */
export function recordReader(authenticator: Authenticator, limiter: AccountRateLimiter): RecordReader {
  return async (request) => {
    const account = await authenticator.authenticate(request.headers.authorization);
    const decision = limiter.take(account);
    if (!decision.allowed) {
      request.log.warn({ account, retryAfterSeconds: decision.retryAfterSeconds }, "rate limited");
      throw rateLimited(
        `${account} made more than ${limiter.perMinute} requests to this gateway's records in a minute: ` +
          `retry in ${decision.retryAfterSeconds} s`,
        decision.retryAfterSeconds,
      );
    }
    return account;
  };
}

/** The record `recordId` as held, or a 404. */
export function heldRecord(store: GatewayStore, recordId: string): StoredRecord {
  const record = store.getRecord(recordId);
  if (!record) throw notFound("RecordNotFound", `this gateway holds no record ${recordId.toLowerCase()}`);
  return record;
}

/** The purpose a release request names (a code or a PurposeOfUse name), or a 400 saying why not. */
export function requestedPurpose(purpose: string | number): number {
  try {
    return purposeCode(purpose);
  } catch (cause) {
    throw badRequest(cause instanceof ConsentLedgerError ? cause.message.replace(/\n/g, " ") : String(cause));
  }
}

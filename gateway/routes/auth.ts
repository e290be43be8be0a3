/**
 * Login (public):
 *
 *   POST /auth/challenge {address}        an EIP-712 login challenge
 *   POST /auth/verify {nonce, signature}  a bearer session token
 */
import type { FastifyInstance } from "fastify";
import { getAddress } from "ethers";

import type { Authenticator } from "../auth";
import { rateLimited } from "../http-error";
import type { AccountRateLimiter } from "../rate-limit";
import { challengeSchema, verifySchema } from "../schemas";

export interface AuthPluginOptions {
  authenticator: Authenticator;
  /** Login challenges per client address (request.ip) per minute. */
  challengeLimiter: AccountRateLimiter;
  /** The origin clients reach the gateway at (signed into each login challenge). */
  publicUrl: () => string;
}

export async function authPlugin(app: FastifyInstance, options: AuthPluginOptions): Promise<void> {
  const { authenticator, challengeLimiter, publicUrl } = options;

  app.post<{ Body: { address: string } }>("/auth/challenge", { schema: challengeSchema }, async (request) => {
    // Per client address: one host cannot churn through the overall bound on open challenges (which
    // drops the oldest, see Authenticator) fast enough to drop another user's login in progress.
    const decision = challengeLimiter.take(request.ip);
    if (!decision.allowed) {
      throw rateLimited(
        `${request.ip} asked for more than ${challengeLimiter.perMinute} login challenges in a minute: ` +
          `retry in ${decision.retryAfterSeconds} s`,
        decision.retryAfterSeconds,
      );
    }
    const account = getAddress(request.body.address.toLowerCase());
    return authenticator.createChallenge(account, publicUrl());
  });

  app.post<{ Body: { nonce: string; signature: string } }>(
    "/auth/verify",
    { schema: verifySchema },
    async (request) => {
      const session = await authenticator.verify(request.body.nonce, request.body.signature);
      request.log.info({ account: session.account }, "session opened");
      return {
        tokenType: "Bearer",
        token: session.token,
        account: session.account,
        expiresAt: new Date(session.expiresAt).toISOString(),
      };
    },
  );
}

import { expect } from "chai";

import { AccountRateLimiter } from "../../gateway/rate-limit";
import type { RunningGateway } from "../../gateway/start";
import { GatewayClient, GatewayError } from "../../sdk/clients/gateway";
import {
  gatewayFetch,
  sessionToken,
  setupLedger,
  startTestGateway,
  type LedgerSetup,
} from "../helpers/gateway-harness";
import { sharedLocalNode } from "../helpers/local-node";

const UNKNOWN_RECORD = `0x${"ab".repeat(32)}`;

describe("the custodian gateway: rate limit on the record routes", function () {
  this.timeout(120_000);

  describe("AccountRateLimiter", function () {
    it("allows a minute's allowance at once, then one request per 60/n seconds as tokens come back", function () {
      let now = 1_000_000;
      const limiter = new AccountRateLimiter(3, () => now);
      for (let i = 0; i < 3; i++) expect(limiter.take("0xa").allowed, `request ${i + 1}`).to.equal(true);
      expect(limiter.take("0xa")).to.deep.equal({ allowed: false, retryAfterSeconds: 20 });
      now += 19_000;
      expect(limiter.take("0xa")).to.deep.equal({ allowed: false, retryAfterSeconds: 1 });
      now += 1_000;
      expect(limiter.take("0xa").allowed).to.equal(true);
      expect(limiter.take("0xa").allowed).to.equal(false);
      // A long pause refills to the allowance, never beyond it.
      now += 3_600_000;
      for (let i = 0; i < 3; i++) expect(limiter.take("0xa").allowed).to.equal(true);
      expect(limiter.take("0xa").allowed).to.equal(false);
    });

    it("keeps each account's allowance apart", function () {
      const limiter = new AccountRateLimiter(1, () => 0);
      expect(limiter.take("0xa").allowed).to.equal(true);
      expect(limiter.take("0xa").allowed).to.equal(false);
      expect(limiter.take("0xb").allowed).to.equal(true);
    });

    it("is off at 0, and refuses an allowance that is not a whole number >= 0", function () {
      const limiter = new AccountRateLimiter(0, () => 0);
      for (let i = 0; i < 1000; i++) expect(limiter.take("0xa").allowed).to.equal(true);
      expect(() => new AccountRateLimiter(-1)).to.throw(RangeError, /whole number >= 0, got -1/);
      expect(() => new AccountRateLimiter(1.5)).to.throw(RangeError, /got 1.5/);
    });

    it("forgets idle accounts first when it holds many, and still limits the busy ones", function () {
      let now = 0;
      const limiter = new AccountRateLimiter(2, () => now);
      expect(limiter.take("busy").allowed).to.equal(true);
      expect(limiter.take("busy").allowed).to.equal(true);
      for (let i = 0; i < 10_000; i++) limiter.take(`idle-${i}`);
      now += 1; // the idle ones are not full yet (one token spent each), the busy one is empty
      expect(limiter.take("busy").allowed).to.equal(false);
    });

    it("makes room for a new account in O(1) amortised steps, even when every bucket is mid-minute", function () {
      let now = 0;
      const limiter = new AccountRateLimiter(2, () => now);
      for (let i = 0; i < 10_000; i++) limiter.take(`early-${i}`);
      // Count the buckets the limiter walks through (the map is its own; only its iteration is observed).
      const buckets = (limiter as unknown as { buckets: Map<string, unknown> }).buckets;
      let steps = 0;
      const entries = Map.prototype[Symbol.iterator];
      buckets[Symbol.iterator] = function () {
        const iterator = entries.call(this);
        return {
          next: () => {
            steps++;
            return iterator.next();
          },
          [Symbol.iterator]() {
            return this;
          },
        } as MapIterator<[string, unknown]>;
      };
      now += 1;
      for (let i = 0; i < 2_000; i++) limiter.take(`late-${i}`);
      expect(steps / 2_000, "buckets walked per new account").to.be.below(100);
      expect(buckets.size).to.be.at.most(10_000);
    });
  });

  describe("over HTTP, against a real gateway and chain", function () {
    let setup: LedgerSetup;
    let gateway: RunningGateway;

    before(async function () {
      setup = await setupLedger(await sharedLocalNode());
      ({ gateway } = await startTestGateway(setup, { rateLimitPerMinute: 3 }));
    });

    after(async function () {
      await gateway?.close();
      setup?.cleanup();
    });

    it("answers 429 RateLimited with Retry-After once an account exceeds its allowance; others go on", async function () {
      const researcher = new GatewayClient(
        gateway.url,
        setup.signers.researcher,
        await setup.as(setup.signers.researcher),
      );
      const token = await sessionToken(researcher);
      // Metadata, ciphertext and key requests all count, whatever their answer (here: no such record).
      expect((await gatewayFetch(`${gateway.url}/records/${UNKNOWN_RECORD}`, { token })).status).to.equal(404);
      expect((await gatewayFetch(`${gateway.url}/records/${UNKNOWN_RECORD}/ciphertext`, { token })).status).to.equal(
        404,
      );
      const key = await gatewayFetch(`${gateway.url}/records/${UNKNOWN_RECORD}/key`, {
        token,
        body: { purpose: "HRESCH" },
      });
      expect(key.status).to.equal(404);

      const response = await fetch(`${gateway.url}/records/${UNKNOWN_RECORD}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.status).to.equal(429);
      // One request's worth refills in 20 s, less whatever the three requests above took (on a busy
      // machine, a few seconds at most).
      const retryAfter = Number(response.headers.get("retry-after"));
      expect(retryAfter).to.be.within(10, 20);
      const body = (await response.json()) as { error: string; reason: string };
      expect(body.error).to.equal("RateLimited");
      expect(body.reason).to.match(
        new RegExp(
          `${setup.signers.researcher.address} made more than 3 requests .* in a minute: retry in ${retryAfter} s`,
        ),
      );

      // The SDK says what happened and what to do.
      const refused = await researcher.fetchCiphertext(UNKNOWN_RECORD).catch((error: unknown) => error);
      expect(refused).to.be.instanceOf(GatewayError);
      expect((refused as GatewayError).code).to.equal("RateLimited");
      expect((refused as GatewayError).retryAfterSeconds).to.be.within(1, 20);
      expect((refused as GatewayError).message).to.match(/ask the gateway's operator for a higher --rate-limit/);

      // Another account, and the routes that are not about records, are not held back.
      const other = new GatewayClient(
        gateway.url,
        setup.signers.otherResearcher,
        await setup.as(setup.signers.otherResearcher),
      );
      const otherToken = await sessionToken(other);
      expect((await gatewayFetch(`${gateway.url}/records/${UNKNOWN_RECORD}`, { token: otherToken })).status).to.equal(
        404,
      );
      expect((await gatewayFetch(`${gateway.url}/health`)).status).to.equal(200);
    });
  });
});

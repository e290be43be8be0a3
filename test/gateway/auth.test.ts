import { expect } from "chai";
import path from "node:path";
import { TypedDataEncoder, Wallet, type JsonRpcSigner } from "ethers";

import { GatewayAuthenticationError, GatewayClient, type GatewayChallenge } from "../../sdk/clients/gateway";
import { SmartWalletMock__factory } from "../../typechain-types";
import { Authenticator } from "../../gateway/auth";
import type { RunningGateway } from "../../gateway/start";
import { GatewayStore } from "../../gateway/store";
import { setupLedger, startTestGateway, type LedgerSetup } from "../helpers/gateway-harness";
import { sharedLocalNode } from "../helpers/local-node";

async function post(
  url: string,
  body: unknown,
  token?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function challenge(gatewayUrl: string, address: string): Promise<GatewayChallenge> {
  const answer = await post(`${gatewayUrl}/auth/challenge`, { address });
  expect(answer.status).to.equal(200);
  return answer.body as unknown as GatewayChallenge;
}

async function sign(signer: JsonRpcSigner, issued: GatewayChallenge): Promise<string> {
  return signer.signTypedData(issued.domain, issued.types, issued.message);
}

describe("the custodian gateway: authentication", function () {
  this.timeout(120_000);

  let setup: LedgerSetup;
  let gateway: RunningGateway;

  before(async function () {
    setup = await setupLedger(await sharedLocalNode());
    ({ gateway } = await startTestGateway(setup));
  });

  after(async function () {
    await gateway?.close();
    setup?.cleanup();
  });

  describe("POST /auth/challenge", function () {
    it("issues an EIP-712 challenge bound to this gateway, chain and ledger, for five minutes", async function () {
      const askedAt = Date.now();
      const issued = await challenge(gateway.url, setup.signers.researcher.address.toLowerCase());
      const answeredAt = Date.now();
      expect(issued.domain).to.deep.equal({
        name: "ConsentLedgerGateway",
        version: "1",
        chainId: 31337,
        verifyingContract: setup.deployment.ledger,
      });
      expect(issued.primaryType).to.equal("GatewayLogin");
      expect(issued.message.account).to.equal(setup.signers.researcher.address);
      expect(issued.message.gateway).to.equal(gateway.url);
      expect(issued.message.nonce).to.match(/^0x[0-9a-f]{64}$/);
      // Whole seconds, the expiry rounded up: at least the full five minutes, never a second more.
      expect(issued.message.expiresAt * 1000).to.be.within(askedAt + 300_000, answeredAt + 301_000);
      expect(issued.message.expiresAt - issued.message.issuedAt).to.be.within(300, 301);
    });

    it("refuses a malformed address and unknown fields with 400", async function () {
      expect((await post(`${gateway.url}/auth/challenge`, { address: "0x1234" })).status).to.equal(400);
      const extra = await post(`${gateway.url}/auth/challenge`, {
        address: setup.signers.researcher.address,
        admin: true,
      });
      expect(extra.status).to.equal(400);
      expect(extra.body.error).to.equal("InvalidRequest");
    });
  });

  describe("POST /auth/verify", function () {
    it("opens a session for the account's signature; the token works as a bearer", async function () {
      const issued = await challenge(gateway.url, setup.signers.researcher.address);
      const verified = await post(`${gateway.url}/auth/verify`, {
        nonce: issued.message.nonce,
        signature: await sign(setup.signers.researcher, issued),
      });
      expect(verified.status).to.equal(200);
      expect(verified.body.account).to.equal(setup.signers.researcher.address);
      const expiresIn = Date.parse(verified.body.expiresAt as string) - Date.now();
      expect(expiresIn).to.be.within(1, 15 * 60 * 1000);
      const response = await fetch(`${gateway.url}/records/0x${"00".repeat(32)}`, {
        headers: { authorization: `Bearer ${verified.body.token}` },
      });
      expect(response.status).to.equal(404); // authenticated: the record is simply not held
    });

    it("refuses a replayed challenge with 401", async function () {
      const issued = await challenge(gateway.url, setup.signers.researcher.address);
      const signature = await sign(setup.signers.researcher, issued);
      expect((await post(`${gateway.url}/auth/verify`, { nonce: issued.message.nonce, signature })).status).to.equal(
        200,
      );
      const replay = await post(`${gateway.url}/auth/verify`, { nonce: issued.message.nonce, signature });
      expect(replay.status).to.equal(401);
      expect(replay.body.error).to.equal("Unauthenticated");
      expect(replay.body.reason).to.contain("used already");
    });

    it("lets only one of three concurrent verifications of the same signature through", async function () {
      const issued = await challenge(gateway.url, setup.signers.researcher.address);
      const signature = await sign(setup.signers.researcher, issued);
      const answers = await Promise.all(
        [1, 2, 3].map(() => post(`${gateway.url}/auth/verify`, { nonce: issued.message.nonce, signature })),
      );
      expect(answers.map((answer) => answer.status).sort()).to.deep.equal([200, 401, 401]);
    });

    it("refuses a signature by another account with 401", async function () {
      const issued = await challenge(gateway.url, setup.signers.researcher.address);
      const forged = await post(`${gateway.url}/auth/verify`, {
        nonce: issued.message.nonce,
        signature: await sign(setup.signers.stranger, issued),
      });
      expect(forged.status).to.equal(401);
      expect(forged.body.reason).to.contain("is not");
    });

    it("refuses an unknown nonce and a missing or bad bearer token", async function () {
      const unknown = await post(`${gateway.url}/auth/verify`, {
        nonce: `0x${"11".repeat(32)}`,
        signature: `0x${"22".repeat(65)}`,
      });
      expect(unknown.status).to.equal(401);
      expect(unknown.body.reason).to.contain("unknown challenge");
      const bare = await fetch(`${gateway.url}/records/0x${"00".repeat(32)}/ciphertext`);
      expect(bare.status).to.equal(401);
      const wrong = await fetch(`${gateway.url}/records/0x${"00".repeat(32)}/ciphertext`, {
        headers: { authorization: `Bearer ${"A".repeat(43)}` },
      });
      expect(wrong.status).to.equal(401);
      expect(((await wrong.json()) as { reason: string }).reason).to.contain("unknown session");
    });

    it("accepts a contract account's ERC-1271 signature, asked of the chain", async function () {
      const owner = setup.signers.otherPatient;
      const wallet = await new SmartWalletMock__factory(owner).deploy(owner.address);
      await wallet.waitForDeployment();
      const walletAddress = await wallet.getAddress();
      const client = new GatewayClient(gateway.url, owner, await setup.as(owner), { account: walletAddress });
      const session = await client.authenticate();
      expect(session.account).to.equal(walletAddress);

      const issued = await challenge(gateway.url, walletAddress);
      const notOwner = await post(`${gateway.url}/auth/verify`, {
        nonce: issued.message.nonce,
        signature: await sign(setup.signers.stranger, issued),
      });
      expect(notOwner.status).to.equal(401);
      // The digest the wallet is asked about is the EIP-712 hash of the challenge.
      const digest = TypedDataEncoder.hash(issued.domain, issued.types, issued.message);
      expect(await wallet.isValidSignature(digest, await sign(owner, issued))).to.equal("0x1626ba7e");
    });
  });

  describe("expiry", function () {
    // Two gateways, so that the session test does not race a one-second challenge on a busy machine.
    let shortChallenges: RunningGateway;
    let shortSessions: RunningGateway;

    before(async function () {
      ({ gateway: shortChallenges } = await startTestGateway(setup, { challengeTtlSeconds: 1 }));
      ({ gateway: shortSessions } = await startTestGateway(setup, { sessionTtlSeconds: 1 }));
    });

    after(async function () {
      await shortChallenges?.close();
      await shortSessions?.close();
    });

    it("refuses an expired challenge with 401", async function () {
      const issued = await challenge(shortChallenges.url, setup.signers.researcher.address);
      const signature = await sign(setup.signers.researcher, issued);
      // A one-second challenge lives less than two seconds (its expiry is rounded up to a whole second).
      await new Promise((resolve) => setTimeout(resolve, 2100));
      const late = await post(`${shortChallenges.url}/auth/verify`, { nonce: issued.message.nonce, signature });
      expect(late.status).to.equal(401);
      expect(late.body.reason).to.contain("expired");
    });

    it("refuses an expired session with 401", async function () {
      const issued = await challenge(shortSessions.url, setup.signers.researcher.address);
      const verified = await post(`${shortSessions.url}/auth/verify`, {
        nonce: issued.message.nonce,
        signature: await sign(setup.signers.researcher, issued),
      });
      expect(verified.status).to.equal(200);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const response = await fetch(`${shortSessions.url}/records/0x${"00".repeat(32)}`, {
        headers: { authorization: `Bearer ${verified.body.token}` },
      });
      expect(response.status).to.equal(401);
      expect(((await response.json()) as { reason: string }).reason).to.contain("expired");
    });
  });

  describe("a challenge's lifetime, on a controlled clock", function () {
    let store: GatewayStore;
    let clock: number;
    let authenticator: Authenticator;
    const researcher = Wallet.createRandom();

    before(function () {
      store = GatewayStore.open(path.join(setup.tempDir, "clock-test.sqlite"));
      authenticator = new Authenticator({
        store,
        provider: setup.provider,
        chainId: 31337,
        ledger: setup.deployment.ledger,
        challengeTtlSeconds: 60,
        sessionTtlSeconds: 900,
        now: () => clock,
      });
    });

    after(function () {
      store?.close();
    });

    async function loginAt(issuedAtMs: number, verifiedAtMs: number) {
      clock = issuedAtMs;
      const issued = authenticator.createChallenge(researcher.address, "https://gateway.example");
      const signature = await researcher.signTypedData(issued.domain, issued.types, issued.message);
      clock = verifiedAtMs;
      return { issued, verify: () => authenticator.verify(issued.message.nonce, signature) };
    }

    it("gives a challenge issued late in a second its full TTL", async function () {
      const issuedAtMs = 1_767_000_000_999;
      const { issued, verify } = await loginAt(issuedAtMs, issuedAtMs + 60_000);
      expect(issued.message.issuedAt).to.equal(1_767_000_000);
      expect(issued.message.expiresAt).to.equal(1_767_000_061);
      expect((await verify()).account).to.equal(researcher.address);
    });

    it("ends a challenge issued on a whole second exactly at its TTL", async function () {
      const issuedAtMs = 1_767_000_100_000;
      const inTime = await loginAt(issuedAtMs, issuedAtMs + 59_999);
      expect(inTime.issued.message.expiresAt - inTime.issued.message.issuedAt).to.equal(60);
      expect((await inTime.verify()).account).to.equal(researcher.address);
      const late = await loginAt(issuedAtMs, issuedAtMs + 60_000);
      const refusal = await late.verify().then(
        () => undefined,
        (error: Error) => error,
      );
      expect(refusal?.message).to.match(/challenge expired at 2025-12-29T09:22:40.000Z/);
    });
  });

  describe("the client", function () {
    it("refuses to sign a challenge that names another gateway (a relayed login)", async function () {
      const { gateway: elsewhere } = await startTestGateway(setup, {
        publicUrl: "https://gateway.other-hospital.example",
      });
      try {
        const client = new GatewayClient(
          elsewhere.url,
          setup.signers.researcher,
          await setup.as(setup.signers.researcher),
        );
        const error = (await client.authenticate().catch((caught: unknown) => caught)) as GatewayAuthenticationError;
        expect(error).to.be.instanceOf(GatewayAuthenticationError);
        expect(error.code).to.equal("SuspiciousChallenge");
        expect(error.shortMessage).to.contain("names gateway https://gateway.other-hospital.example");
      } finally {
        await elsewhere.close();
      }
    });
  });
});

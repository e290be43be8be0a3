/**
 * Unauthenticated callers must not be able to make the gateway read, hold or store much: each attack
 * here, run as a hostile tester would, against the real gateway on loopback.
 */
import { expect } from "chai";
import { connect as tcpConnect, type Socket } from "node:net";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";

import Database from "better-sqlite3";
import { Wallet } from "ethers";

import { GatewayClient } from "../../sdk/clients/gateway";
import type { RunningGateway } from "../../gateway/start";
import { INGEST_BODY_LIMIT } from "../../gateway/schemas";
import { GatewayStore } from "../../gateway/store";
import {
  gatewayFetch,
  sessionToken,
  setupLedger,
  startTestGateway,
  type LedgerSetup,
} from "../helpers/gateway-harness";
import { sharedLocalNode } from "../helpers/local-node";

/** A raw TCP client: what it has received, and whether (and when) the server closed it. */
function rawClient(url: string) {
  const { hostname, port } = new URL(url);
  const socket: Socket = tcpConnect(Number(port), hostname);
  let received = "";
  let closedAt: number | undefined;
  socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
  socket.on("error", () => undefined); // a reset by the server is an answer too
  const closed = new Promise<void>((resolve) =>
    socket.on("close", () => {
      closedAt = performance.now();
      resolve();
    }),
  );
  const connected = new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  return {
    socket,
    connected,
    closed,
    received: () => received,
    closedAt: () => closedAt,
    write: (data: string | Buffer) => new Promise<void>((resolve) => socket.write(data, () => resolve())),
  };
}

/** Resolves true once `condition` holds, false after `ms`. */
async function within(ms: number, condition: () => boolean): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return condition();
}

describe("the custodian gateway: unauthenticated resource exhaustion", function () {
  this.timeout(120_000);

  let setup: LedgerSetup;

  before(async function () {
    setup = await setupLedger(await sharedLocalNode());
  });

  after(function () {
    setup?.cleanup();
  });

  describe("a large unauthenticated POST /records", function () {
    let gateway: RunningGateway;
    before(async function () {
      ({ gateway } = await startTestGateway(setup));
    });
    after(async function () {
      await gateway?.close();
    });

    for (const [what, authorization] of [
      ["no Authorization header", undefined],
      ["an unknown bearer token", "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
    ] as const) {
      it(`is refused 401 with ${what} before its body is read, and its connection closed`, async function () {
        const length = Math.min(20 * 1024 * 1024, INGEST_BODY_LIMIT - 1);
        const client = rawClient(gateway.url);
        await client.connected;
        await client.write(
          `POST /records HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n` +
            (authorization ? `Authorization: ${authorization}\r\n` : "") +
            "\r\n",
        );
        await client.write(Buffer.alloc(64 * 1024, 0x20)); // a start of the body: 64 KB of 20 MB
        const answered = await within(5000, () => client.received().includes("\r\n\r\n"));
        client.socket.destroy();
        expect(answered, "an answer before the body was sent").to.equal(true);
        expect(client.received()).to.match(/^HTTP\/1\.1 401 /);
        expect(client.received().toLowerCase()).to.include("connection: close");
        expect(client.received()).to.include('"error":"Unauthenticated"');
      });
    }

    it("refuses an authenticated account that is not a served provider before reading the body (403)", async function () {
      const bearer = await sessionToken(
        new GatewayClient(gateway.url, setup.signers.researcher, await setup.as(setup.signers.researcher)),
      );
      const raw = rawClient(gateway.url);
      await raw.connected;
      await raw.write(
        `POST /records HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n` +
          `Authorization: Bearer ${bearer}\r\n\r\n{"recordId":`,
      );
      const answered = await within(5000, () => raw.received().includes("\r\n\r\n"));
      raw.socket.destroy();
      expect(answered).to.equal(true);
      expect(raw.received()).to.match(/^HTTP\/1\.1 403 /);
      expect(raw.received()).to.include('"error":"ProviderNotServed"');
    });
  });

  describe("stalled clients", function () {
    let gateway: RunningGateway;
    const timeouts = { requestMs: 1500, headersMs: 1000, idleMs: 4000 };
    before(async function () {
      ({ gateway } = await startTestGateway(setup, { timeouts }));
    });
    after(async function () {
      await gateway?.close();
    });

    it("closes a connection whose body stalls, once the request timeout has passed", async function () {
      const client = rawClient(gateway.url);
      await client.connected;
      const sentAt = performance.now();
      await client.write(
        "POST /auth/challenge HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n" +
          '{"address":"0x',
      );
      const closed = await within(timeouts.requestMs + 3000, () => client.closedAt() !== undefined);
      client.socket.destroy();
      expect(closed, "the stalled connection is closed").to.equal(true);
      expect((client.closedAt() as number) - sentAt).to.be.at.least(timeouts.requestMs - 100);
      expect(client.received()).to.match(/^HTTP\/1\.1 408 /);
    });

    it("closes a connection whose headers stall, once the header timeout has passed", async function () {
      const client = rawClient(gateway.url);
      await client.connected;
      await client.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
      const closed = await within(timeouts.headersMs + 3000, () => client.closedAt() !== undefined);
      client.socket.destroy();
      expect(closed, "the connection with stalled headers is closed").to.equal(true);
    });

    it("closes a kept-alive connection on which nothing moves, once the idle timeout has passed", async function () {
      const client = rawClient(gateway.url);
      await client.connected;
      await client.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n");
      expect(await within(5000, () => client.received().includes("pendingLogEntries"))).to.equal(true);
      const closed = await within(timeouts.idleMs + 3000, () => client.closedAt() !== undefined);
      client.socket.destroy();
      expect(closed, "the idle connection is closed").to.equal(true);
    });

    it("still answers a request that arrives whole", async function () {
      const answer = await gatewayFetch(`${gateway.url}/auth/challenge`, {
        body: { address: setup.signers.researcher.address },
      });
      expect(answer.status).to.equal(200);
    });
  });

  describe("a flood of login challenges for random addresses", function () {
    let gateway: RunningGateway;
    const maxOpenChallenges = 20;
    before(async function () {
      // No per-address limit here: the overall bound alone must lock no one out.
      ({ gateway } = await startTestGateway(setup, { maxOpenChallenges, challengesPerMinute: 0 }));
    });
    after(async function () {
      await gateway?.close();
    });

    it("keeps at most the overall bound of unused challenges, and still lets a real user log in", async function () {
      for (let i = 0; i < maxOpenChallenges * 2; i++) {
        const answer = await gatewayFetch(`${gateway.url}/auth/challenge`, {
          body: { address: Wallet.createRandom().address },
        });
        expect(answer.status, `flood challenge ${i}`).to.equal(200);
      }
      expect(gateway.store.unusedChallengeCount()).to.equal(maxOpenChallenges);
      const researcher = new GatewayClient(
        gateway.url,
        setup.signers.researcher,
        await setup.as(setup.signers.researcher),
      );
      await researcher.authenticate();
      expect(gateway.store.unusedChallengeCount()).to.equal(maxOpenChallenges - 1);
    });

    it("drops the oldest unused challenge first: a dropped one is refused as unknown", async function () {
      const first = await gatewayFetch(`${gateway.url}/auth/challenge`, {
        body: { address: setup.signers.otherResearcher.address },
      });
      for (let i = 0; i < maxOpenChallenges; i++) {
        await gatewayFetch(`${gateway.url}/auth/challenge`, { body: { address: Wallet.createRandom().address } });
      }
      const message = (first.body as { message: { nonce: string } }).message;
      const answer = await gatewayFetch(`${gateway.url}/auth/verify`, {
        body: { nonce: message.nonce, signature: "0x" + "11".repeat(65) },
      });
      expect(answer.status).to.equal(401);
      expect(answer.body.reason).to.match(/unknown challenge/);
    });
  });

  describe("login challenges from one client address", function () {
    let gateway: RunningGateway;
    before(async function () {
      ({ gateway } = await startTestGateway(setup, { challengesPerMinute: 5 }));
    });
    after(async function () {
      await gateway?.close();
    });

    it("are limited per minute: the sixth is refused 429 with Retry-After", async function () {
      for (let i = 0; i < 5; i++) {
        const answer = await gatewayFetch(`${gateway.url}/auth/challenge`, {
          body: { address: Wallet.createRandom().address },
        });
        expect(answer.status, `challenge ${i}`).to.equal(200);
      }
      const response = await fetch(`${gateway.url}/auth/challenge`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ address: Wallet.createRandom().address }),
      });
      expect(response.status).to.equal(429);
      expect(Number(response.headers.get("retry-after"))).to.be.greaterThan(0);
      const body = (await response.json()) as { error: string; reason: string };
      expect(body.error).to.equal("RateLimited");
      expect(body.reason).to.match(/127\.0\.0\.1 asked for more than 5 login challenges in a minute/);
    });
  });

  describe("GET /health", function () {
    it("reads its pending-log count over 200,000 journaled releases in under half a millisecond (a kept count, not a scan)", async function () {
      const dir = mkdtempSync(path.join(os.tmpdir(), "consent-gateway-health-"));
      const file = path.join(dir, "gateway.sqlite");
      GatewayStore.open(file).close(); // the schema
      const recordId = "0x" + "ab".repeat(32);
      const db = new Database(file);
      db.prepare(
        `INSERT INTO records (record_id, cid, provider, patient, data_class, version, key_iv, key_ciphertext, deposited_by, deposited_at)
         VALUES (?, 'cid', '0x1', '0x2', 1, 1, x'00', x'00', '0x1', 0)`,
      ).run(recordId);
      const insert = db.prepare(
        `INSERT INTO releases (record_id, grantee, purpose, basis, released_at, checked_block, checked_block_hash, requested_at)
         VALUES (?, '0x3', 1, 1, 0, 1, '0x', 0)`,
      );
      db.transaction(() => {
        for (let i = 0; i < 200_000; i++) insert.run(recordId);
      })();
      db.close();

      const store = GatewayStore.open(file);
      try {
        expect(store.unloggedReleaseCount()).to.equal(200_000);
        const started = performance.now();
        for (let i = 0; i < 50; i++) store.unloggedReleaseCount();
        const perCallMs = (performance.now() - started) / 50;
        // A scan of 200,000 rows takes tens of milliseconds; a kept count, microseconds.
        expect(perCallMs, "ms per count").to.be.below(0.5);
      } finally {
        store.close();
      }
    });
  });
});

import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

import { expect } from "chai";
import { Wallet } from "ethers";

import { recordsAssignedTo } from "../../gateway/resync";
import { NotEnoughSharesError } from "../../sdk/clients/custodian-set";
import { GatewayClient, GatewayError } from "../../sdk/clients/gateway";
import { PatientClient } from "../../sdk/clients/patient";
import type { PublishedRecord } from "../../sdk/clients/provider";
import { ResearcherClient } from "../../sdk/clients/researcher";
import { randomBytes } from "../../sdk/crypto/bytes";
import { combineKeyShares } from "../../sdk/crypto/key-shares";
import { unwrapKeyShare, wrapKeyShare } from "../../sdk/crypto/key-wrap";
import { bytes32ToPublicKey } from "../../sdk/crypto/keys";
import { InvalidArgumentError, WrongRecipientKeyError } from "../../sdk/errors";
import {
  chainNow,
  DAY,
  hardhatPrivateKey,
  labObservation,
  publish,
  setupLedger,
  type LedgerSetup,
} from "../helpers/gateway-harness";
import { providerWithSet, readerOfSet, startCustodianSet, type CustodianSetup } from "../helpers/custodian-set-harness";
import { compareJournalWithChain, manifestsFrom } from "../helpers/access-log-audit";
import { rpc, sharedLocalNode } from "../helpers/local-node";
import { runCli } from "../helpers/cli";

/** The gateway's error name, from a GatewayError or an AccessDeniedError's details ("HTTP 403 Name"). */
function codeOf(error: unknown): string | undefined {
  if (error instanceof GatewayError) return error.code;
  return /^HTTP \d+ (\w+)$/.exec((error as { details?: string })?.details ?? "")?.[1];
}

describe("custodian sets: k-of-n custody across real gateways", function () {
  this.timeout(180_000);

  let setup: LedgerSetup;
  let set: CustodianSetup;
  let hospital: Awaited<ReturnType<typeof providerWithSet>>;
  let reader: Awaited<ReturnType<typeof readerOfSet>>;
  let other: Awaited<ReturnType<typeof readerOfSet>>;
  let record: PublishedRecord;
  let second: PublishedRecord;
  let patient: PatientClient;
  const observation = labObservation("glucose-set", 101);

  before(async function () {
    setup = await setupLedger(await sharedLocalNode());
    set = await startCustodianSet(setup, 3, 2);
    hospital = await providerWithSet(setup, set);
    record = await publish(hospital.provider, setup.signers.patient.address, "LAB_RESULT", observation);
    second = await publish(hospital.provider, setup.signers.patient.address, "LAB_RESULT", labObservation("other", 7));
    reader = await readerOfSet(setup, set, setup.signers.researcher);
    other = await readerOfSet(setup, set, setup.signers.otherResearcher);
    patient = new PatientClient(await setup.as(setup.signers.patient), setup.signers.patient);
    const validUntil = (await chainNow(setup.provider)) + DAY;
    for (const grantee of [setup.signers.researcher.address, setup.signers.otherResearcher.address]) {
      await (await patient.grant({ grantee, dataClasses: ["LAB_RESULT"], purposes: ["HRESCH"], validUntil })).wait();
    }
  });

  after(async function () {
    await set?.close();
    setup?.cleanup();
  });

  describe("publishing", function () {
    it("assigns the record to the set on chain and gives each custodian one share, never the key", async function () {
      expect(await hospital.contracts.custodianSets!.custodianSetOf(record.recordId)).to.equal(BigInt(set.setId));
      for (const gateway of set.gateways) {
        const held = gateway.store.getRecord(record.recordId);
        expect(held?.cid).to.equal(record.cid);
        // 9 + 33 bytes sealed with a 16-byte tag: a share, not a 32-byte key (48 sealed).
        expect(held!.keyCiphertext).to.have.length(58);
      }
    });

    it("refuses a deposit whose share is wrapped to another custodian's key", async function () {
      const contracts = hospital.contracts;
      const envelope = await hospital.store.get(record.cid);
      const wrongKey = bytes32ToPublicKey(await contracts.keys.keyOf(set.custodians[1]));
      const wrappedShare = await wrapKeyShare(randomBytes(33), wrongKey, record.recordId);
      const client = new GatewayClient(set.gateways[0].url, setup.signers.hospital, contracts);
      const error = await client
        .depositShare({ recordId: record.recordId, setId: set.setId, position: 1, wrappedShare, envelope })
        .catch((e: unknown) => e);
      expect(error).to.be.instanceOf(GatewayError);
      expect((error as GatewayError).code).to.equal("ShareNotForThisCustodian");
    });

    it("refuses a deposit for a position the chain does not give this custodian", async function () {
      const envelope = await hospital.store.get(record.cid);
      const client = new GatewayClient(set.gateways[0].url, setup.signers.hospital, hospital.contracts);
      const error = await client
        .depositShare({
          recordId: record.recordId,
          setId: set.setId,
          position: 2,
          wrappedShare: new Uint8Array(97),
          envelope,
        })
        .catch((e: unknown) => e);
      expect((error as GatewayError).code).to.equal("NotInCustodianSet");
    });

    it("refuses a share deposit from a provider the custodian does not serve", async function () {
      const envelope = await hospital.store.get(record.cid);
      const lab = await setup.as(setup.signers.lab);
      const client = new GatewayClient(set.gateways[0].url, setup.signers.lab, lab);
      const error = await client
        .depositShare({
          recordId: record.recordId,
          setId: set.setId,
          position: 1,
          wrappedShare: new Uint8Array(97),
          envelope,
        })
        .catch((e: unknown) => e);
      expect(codeOf(error)).to.equal("ProviderNotServed");
    });
  });

  describe("reading", function () {
    it("rebuilds the key from k shares gathered in parallel and opens the record", async function () {
      const opened = await reader.client.fetchRecord({
        recordId: record.recordId,
        purpose: "HRESCH",
        keyPair: reader.keyPair,
      });
      expect(opened.resource).to.deep.equal(observation);
      expect(opened.shares).to.have.length(2);
      expect(new Set(opened.shares.map((share) => share.custodian)).size).to.equal(2);
      for (const share of opened.shares) expect(set.custodians).to.include(share.custodian);
    });

    it("is read by the CLI through the set (researcher fetch --custodian), and the CLI says a single --gateway cannot", async function () {
      const out = path.join(setup.tempDir, "cli-set-read.json");
      const env = {
        CONSENT_LEDGER_RPC: setup.node.url,
        CONSENT_LEDGER_DEPLOYMENT: setup.deploymentFile,
        CONSENT_LEDGER_PRIVATE_KEY: hardhatPrivateKey(3), // the researcher
      };
      const args = ["researcher", "fetch", "--record", record.recordId, "--purpose", "HRESCH"];
      const read = await runCli(
        ["--json", ...args, ...set.gateways.flatMap((gateway) => ["--custodian", gateway.url]), "--out", out],
        { cwd: setup.tempDir, env },
      );
      expect(read.code, read.stderr).to.equal(0);
      const summary = JSON.parse(read.stdout) as { custodianSet: number; releasedBy: string[] };
      expect(summary.custodianSet).to.equal(set.setId);
      expect(summary.releasedBy).to.have.length(2);
      expect(JSON.parse(readFileSync(out, "utf8"))).to.deep.equal(observation);

      const single = await runCli([...args, "--gateway", set.gateways[0].url, "--out", `${out}.2`], {
        cwd: setup.tempDir,
        env,
      });
      expect(single.code).to.equal(1);
      expect(single.errorLines.join("\n")).to.contain(`is guarded by custodian set ${set.setId}`);
    });

    it("does not rebuild the key from k − 1 shares: one custodian's share, released to anyone, gives no key", async function () {
      const [custodian] = set.custodians;
      const release = await reader.gateways[custodian].requestShare(record.recordId, "HRESCH");
      const share = await unwrapKeyShare(release.wrappedShare, reader.keyPair, record.recordId);
      await combineKeyShares([share]).then(
        () => expect.fail("one share combined"),
        (error: unknown) => expect(error).to.be.instanceOf(InvalidArgumentError),
      );
      // Nor with a guessed second share: the record commits to its key and refuses the result.
      const guess = randomBytes(33);
      guess[32] = share[32] === 1 ? 2 : 1;
      const key = await combineKeyShares([share, guess]);
      const envelope = await hospital.store.get(record.cid);
      await new ResearcherClient(reader.contracts, setup.signers.researcher)
        .openRecordWithKey({ envelope, dataKey: key, expectedRecordId: record.recordId })
        .then(
          () => expect.fail("a guessed share opened the record"),
          (error: unknown) => expect((error as Error).name).to.equal("KeyCommitmentError"),
        );
    });

    it("never combines shares of two records into either record's key", async function () {
      const [a, b] = set.custodians;
      const mine = await unwrapKeyShare(
        (await reader.gateways[a].requestShare(record.recordId, "HRESCH")).wrappedShare,
        reader.keyPair,
        record.recordId,
      );
      const ofSecond = await unwrapKeyShare(
        (await reader.gateways[b].requestShare(second.recordId, "HRESCH")).wrappedShare,
        reader.keyPair,
        second.recordId,
      );
      const envelope = await hospital.store.get(record.cid);
      const researcher = new ResearcherClient(reader.contracts, setup.signers.researcher);
      if (mine[32] === ofSecond[32]) this.skip(); // same x coordinate: the package refuses, nothing to combine
      const key = await combineKeyShares([mine, ofSecond]);
      await researcher.openRecordWithKey({ envelope, dataKey: key, expectedRecordId: record.recordId }).then(
        () => expect.fail("shares of two records opened one"),
        (error: unknown) => expect((error as Error).name).to.equal("KeyCommitmentError"),
      );
    });

    it("gives another reader's share in a form only that reader can open", async function () {
      const [custodian] = set.custodians;
      const released = await other.gateways[custodian].requestShare(record.recordId, "HRESCH");
      await unwrapKeyShare(released.wrappedShare, reader.keyPair, record.recordId).then(
        () => expect.fail("a share released to another reader opened"),
        (error: unknown) => expect(error).to.be.instanceOf(WrongRecipientKeyError),
      );
      // Nor is a share bound to one record usable as another record's.
      await unwrapKeyShare(released.wrappedShare, other.keyPair, second.recordId).then(
        () => expect.fail("a share opened for another record"),
        (error: unknown) => expect(error).to.be.instanceOf(WrongRecipientKeyError),
      );
    });

    it("refuses the whole-key route for a record held as a share", async function () {
      const error = await reader.gateways[set.custodians[0]]
        .requestKey(record.recordId, "HRESCH")
        .catch((e: unknown) => e);
      expect((error as GatewayError).code).to.equal("HeldAsShare");
    });

    it("releases no further share once the consent is revoked: a share from before never completes a key", async function () {
      const [first] = set.custodians;
      const before = await unwrapKeyShare(
        (await other.gateways[first].requestShare(record.recordId, "HRESCH")).wrappedShare,
        other.keyPair,
        record.recordId,
      );
      await (await patient.revoke(setup.signers.otherResearcher.address)).wait();
      const error = await other.client
        .gatherShares({ recordId: record.recordId, purpose: "HRESCH", keyPair: other.keyPair })
        .catch((e: unknown) => e);
      expect(error).to.be.instanceOf(NotEnoughSharesError);
      expect((error as NotEnoughSharesError).received).to.equal(0);
      expect((error as NotEnoughSharesError).refusals.map((refusal) => refusal.code)).to.deep.equal(
        ["AccessDenied", "AccessDenied", "AccessDenied"].slice(0, (error as NotEnoughSharesError).refusals.length),
      );
      await combineKeyShares([before]).then(
        () => expect.fail("one share combined"),
        (e: unknown) => expect(e).to.be.instanceOf(InvalidArgumentError),
      );
    });

    it("says which custodians refused and why when a reader has no consent", async function () {
      const stranger = await readerOfSet(setup, set, setup.signers.clinician);
      const error = await stranger.client
        .fetchRecord({ recordId: record.recordId, purpose: "HRESCH", keyPair: stranger.keyPair })
        .catch((e: unknown) => e);
      expect(error).to.be.instanceOf(NotEnoughSharesError);
      const refused = error as NotEnoughSharesError;
      expect(refused.received).to.equal(0);
      expect(refused.threshold).to.equal(2);
      // Refused once fewer than k can still come: two refusals out of three suffice.
      expect(refused.refusals.length).to.be.at.least(2);
      for (const refusal of refused.refusals) {
        expect(set.custodians).to.include(refusal.custodian);
        expect(refusal.code).to.equal("AccessDenied");
      }
    });
  });

  describe("custodians down or compromised", function () {
    it("tolerates one custodian down, and refuses with two down, naming them", async function () {
      await set.gateways[2].close();
      const opened = await reader.client.fetchRecord({
        recordId: record.recordId,
        purpose: "HRESCH",
        keyPair: reader.keyPair,
      });
      expect(opened.resource).to.deep.equal(observation);
      expect(opened.shares.map((share) => share.custodian).sort()).to.deep.equal(set.custodians.slice(0, 2).sort());
      expect(opened.refusals.map((refusal) => [refusal.custodian, refusal.code])).to.deep.equal([
        [set.custodians[2], "GatewayUnreachable"],
      ]);
      await set.gateways[1].close();
      const error = await reader.client
        .fetchRecord({ recordId: record.recordId, purpose: "HRESCH", keyPair: reader.keyPair })
        .catch((e: unknown) => e);
      expect(error).to.be.instanceOf(NotEnoughSharesError);
      expect((error as NotEnoughSharesError).refusals.map((refusal) => refusal.custodian).sort()).to.deep.equal(
        set.custodians.slice(1).sort(),
      );
      await set.restart(1);
      await set.restart(2);
    });

    it("reads every record with one custodian's data directory deleted, its copies fetched from the others", async function () {
      await set.gateways[0].close();
      rmSync(set.configs[0].dataDir, { recursive: true, force: true });
      for (const published of [record, second]) {
        const opened = await reader.client.fetchRecord({
          recordId: published.recordId,
          purpose: "HRESCH",
          keyPair: reader.keyPair,
        });
        expect(opened.servedBy).to.not.equal(set.custodians[0]);
      }
      // A replacement custodian with an empty directory gets its copies back when the provider deposits again.
      const fresh = await set.restart(0, { dataDir: `${set.configs[0].dataDir}-replacement` });
      for (const published of [record, second]) {
        await hospital.custodian.depositKey(published);
        expect(fresh.store.getRecord(published.recordId)?.cid).to.equal(published.cid);
      }
    });
  });

  describe("re-sync of a lost custodian", function () {
    /** A peer that tampers: forwards to `target` but flips one byte of every ciphertext it serves. */
    async function tamperingPeer(
      target: string,
    ): Promise<{ url: string; served: () => number; close: () => Promise<void> }> {
      let served = 0;
      const server = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on("data", (chunk: Buffer) => chunks.push(chunk));
        request.on("end", () => {
          const headers = Object.fromEntries(
            Object.entries(request.headers).filter(
              ([name]) => !["host", "connection", "content-length"].includes(name),
            ),
          ) as Record<string, string>;
          void fetch(`${target}${request.url}`, {
            method: request.method,
            headers,
            body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
          }).then(async (answer) => {
            const body = Buffer.from(await answer.arrayBuffer());
            if (answer.status === 200 && request.url?.endsWith("/ciphertext")) {
              body[body.length >> 1] ^= 0x01;
              served++;
            }
            response.writeHead(answer.status, {
              "content-type": answer.headers.get("content-type") ?? "application/json",
            });
            response.end(body);
          });
        });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const { port } = server.address() as AddressInfo;
      return {
        url: `http://127.0.0.1:${port}`,
        served: () => served,
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
      };
    }

    it("a custodian whose data directory is lost re-syncs every ciphertext copy from its peers, refusing tampered bytes", async function () {
      // Custodian 2 is reachable only through a peer that tampers with what it serves: its login
      // challenges name the tampering peer's URL, as for a peer behind a hostile proxy.
      const tamperer = await tamperingPeer(set.gateways[2].url);
      try {
        await set.restart(2, { publicUrl: tamperer.url });
        await set.gateways[0].close();
        rmSync(set.configs[0].dataDir, { recursive: true, force: true });
        const fresh = await set.restart(0, { resyncFrom: [tamperer.url, set.gateways[1].url] });
        const report = (await fresh.resynced)!;
        expect(report.failed).to.deep.equal([]);
        expect(report.fetched.map((entry) => [entry.recordId, entry.peer]).sort()).to.deep.equal(
          [record.recordId, second.recordId].map((id) => [id, set.gateways[1].url]).sort(),
        );
        expect(tamperer.served()).to.equal(2);
        expect(report.awaitingShare.sort()).to.deep.equal([record.recordId, second.recordId].sort());
        for (const published of [record, second]) {
          expect(fresh.store.getRecord(published.recordId)?.cid).to.equal(published.cid);
          expect(fresh.store.getRecord(published.recordId)!.keyCiphertext).to.have.length(0);
        }

        // Its share is not re-synced (no peer has it): it says so until the provider deposits again.
        const refused = await reader.gateways[set.custodians[0]]
          .requestShare(record.recordId, "HRESCH")
          .catch((e: unknown) => e);
        expect(codeOf(refused)).to.equal("ShareNotDeposited");

        // With both peers stopped, the ciphertext must come from the re-synced custodian.
        await set.gateways[1].close();
        await set.gateways[2].close();
        const copy = await reader.client.fetchCiphertext(record.recordId);
        expect(copy.custodian).to.equal(set.custodians[0]);
        expect(copy.envelope).to.deep.equal(await hospital.store.get(record.cid));
        await set.restart(1);
        await set.restart(2, { publicUrl: undefined });

        // The provider deposits the shares again; the re-synced custodian's share then counts.
        await hospital.custodian.depositKey(record);
        await set.gateways[1].close();
        const opened = await reader.client.fetchRecord({
          recordId: record.recordId,
          purpose: "HRESCH",
          keyPair: reader.keyPair,
        });
        expect(opened.resource).to.deep.equal(observation);
        expect(opened.shares.map((share) => share.custodian).sort()).to.deep.equal(
          [set.custodians[0], set.custodians[2]].sort(),
        );
        await set.restart(1);
        await hospital.custodian.depositKey(second);
      } finally {
        await tamperer.close();
      }
    });

    it("refuses every copy when no peer serves bytes that hash to the record", async function () {
      const tamperer = await tamperingPeer(set.gateways[1].url);
      try {
        await set.restart(1, { publicUrl: tamperer.url });
        await set.gateways[0].close();
        rmSync(set.configs[0].dataDir, { recursive: true, force: true });
        const fresh = await set.restart(0, { resyncFrom: [tamperer.url] });
        const report = (await fresh.resynced)!;
        expect(report.fetched).to.deep.equal([]);
        expect(report.failed.map((failure) => failure.recordId).sort()).to.deep.equal(
          [record.recordId, second.recordId].sort(),
        );
        for (const failure of report.failed) {
          expect(failure.attempts).to.have.length(1);
          expect(failure.attempts[0].reason).to.match(
            /IntegrityError: it served bytes hashing to 0x[0-9a-f]{64}, not to record/,
          );
        }
        for (const published of [record, second]) expect(fresh.store.getRecord(published.recordId)).to.equal(undefined);
      } finally {
        await set.restart(1, { publicUrl: undefined });
        await tamperer.close();
        await set.restart(0, { resyncFrom: [set.gateways[1].url] }).then((gateway) => gateway.resynced);
        for (const published of [record, second]) await hospital.custodian.depositKey(published);
      }
    });
  });

  describe("a custodian releasing a wrong share", function () {
    before(async function () {
      // Custodian 3 is handed a random share of `second` at its own position (as a compromised custodian
      // could hold or send): it releases it like any other, after the chain's checks.
      const contracts = hospital.contracts;
      const wrappedShare = await wrapKeyShare(
        randomBytes(33),
        bytes32ToPublicKey(await contracts.keys.keyOf(set.custodians[2])),
        second.recordId,
      );
      const client = new GatewayClient(set.gateways[2].url, setup.signers.hospital, contracts);
      await client.depositShare({
        recordId: second.recordId,
        setId: set.setId,
        position: 3,
        wrappedShare,
        envelope: await hospital.store.get(second.cid),
      });
    });

    it("cannot stop a read while k honest custodians answer: the reader tries other combinations", async function () {
      for (let i = 0; i < 3; i++) {
        const opened = await reader.client.fetchRecord({
          recordId: second.recordId,
          purpose: "HRESCH",
          keyPair: reader.keyPair,
        });
        expect(opened.resource).to.deep.equal(labObservation("other", 7));
        expect(opened.shares.map((share) => share.custodian)).to.not.include(set.custodians[2]);
      }
    });

    it("with only it and one honest custodian up, the read fails naming both, and no key is accepted", async function () {
      const port = Number(new URL(set.gateways[1].url).port);
      await set.gateways[1].close();
      try {
        const error = await reader.client
          .fetchRecord({ recordId: second.recordId, purpose: "HRESCH", keyPair: reader.keyPair })
          .catch((e: unknown) => e);
        expect(error).to.be.instanceOf(NotEnoughSharesError);
        expect((error as NotEnoughSharesError).hint)
          .to.include(set.custodians[0])
          .and.to.include(set.custodians[2]);
      } finally {
        expect(Number(new URL((await set.restart(1)).url).port)).to.equal(port);
      }
    });
  });

  describe("the audit trail", function () {
    it("logs each share release on chain as its own custodian's, matching its journal and what the reader got", async function () {
      const opened = await reader.client.fetchRecord({
        recordId: record.recordId,
        purpose: "HRESCH",
        keyPair: reader.keyPair,
      });
      await Promise.all(set.gateways.map((gateway) => gateway.writer.flushNow()));
      for (const share of opened.shares) {
        const gateway = set.gateways[set.custodians.indexOf(share.custodian)];
        const journaled = gateway.store.allReleases().find((release) => release.id === share.releaseId);
        expect(journaled?.recordId).to.equal(record.recordId);
        expect(journaled?.grantee).to.equal(setup.signers.researcher.address);
      }
      // Custodians 2 and 3 kept their data directories: their journals and the chain agree exactly.
      // (Custodian 1's directory was deleted above: its earlier releases are on chain, not in its new journal.)
      for (const index of [1, 2]) {
        const gateway = set.gateways[index];
        const comparison = await compareJournalWithChain(
          setup.contracts,
          set.custodians[index],
          gateway.store.allReleases(),
          manifestsFrom(gateway.url),
        );
        expect(comparison.missing, `custodian ${index + 1}: journaled, not on chain`).to.deep.equal([]);
        expect(comparison.extra, `custodian ${index + 1}: on chain, not journaled`).to.deep.equal([]);
        expect(comparison.onChain).to.equal(gateway.store.allReleases().length).and.to.be.greaterThan(0);
      }
    });
  });

  describe("re-sharing", function () {
    it("keeps a share while the chain still names its custodian, and lets only the record's provider withdraw", async function () {
      const [first] = set.custodians;
      const byProvider = new GatewayClient(set.gateways[0].url, setup.signers.hospital, hospital.contracts);
      const stillIn = await byProvider.withdrawShare(second.recordId).catch((e: unknown) => e);
      expect(codeOf(stillIn)).to.equal("StillInCustodianSet");
      const byReader = await reader.gateways[first].withdrawShare(second.recordId).catch((e: unknown) => e);
      expect(codeOf(byReader)).to.equal("NotRecordProvider");
      expect(set.gateways[0].store.getRecord(second.recordId)!.keyCiphertext).to.have.length(58);
    });

    it("moves the record to a new set and withdraws the share of the custodian that left", async function () {
      const newSet = await (await hospital.custodian.defineSet(set.custodians.slice(1), 2)).wait();
      const result = await hospital.custodian.reshare(record, newSet.setId);
      expect(result.withdrawn).to.deep.equal([set.custodians[0]]);
      expect(result.notWithdrawn).to.deep.equal([]);
      expect(set.gateways[0].store.getRecord(record.recordId)!.keyCiphertext).to.have.length(0);
      const error = await reader.gateways[set.custodians[0]]
        .requestShare(record.recordId, "HRESCH")
        .catch((e: unknown) => e);
      expect((error as GatewayError).code).to.equal("ShareWithdrawn");
      const opened = await reader.client.fetchRecord({
        recordId: record.recordId,
        purpose: "HRESCH",
        keyPair: reader.keyPair,
      });
      expect(opened.resource).to.deep.equal(observation);
      expect(opened.shares.map((share) => share.setId)).to.deep.equal([newSet.setId, newSet.setId]);
      // A re-sync lists only what the chain assigns to a custodian now: the record left custodian 1's care.
      expect(await recordsAssignedTo(hospital.contracts, set.custodians[0])).to.not.include(record.recordId);
      expect(await recordsAssignedTo(hospital.contracts, set.custodians[0])).to.include(second.recordId);
      expect(await recordsAssignedTo(hospital.contracts, set.custodians[1])).to.include.members([
        record.recordId,
        second.recordId,
      ]);
    });
  });
});

describe("custodian sets on a chain that can reorganise (--confirmations 2)", function () {
  this.timeout(180_000);
  let setup: LedgerSetup;
  let set: CustodianSetup;

  before(async function () {
    setup = await setupLedger(await sharedLocalNode());
    // The access log writers send nothing during the test: their transactions would mine the blocks the
    // test counts.
    set = await startCustodianSet(setup, 3, 2, { confirmations: 2, logBatchSize: 10_000, logIntervalMs: 3_600_000 });
  });
  after(async function () {
    await set?.close();
    setup?.cleanup();
  });

  it("releases a share only once the record's assignment to its set is as deep as the confirmations", async function () {
    const mine = (blocks: number) => rpc(setup.node.url, "hardhat_mine", [`0x${blocks.toString(16)}`]);
    const hospital = await providerWithSet(setup, set);
    const observation = labObservation("deep", 5);
    const record = await publish(hospital.provider, setup.signers.patient.address, "LAB_RESULT", observation);
    const patient = new PatientClient(await setup.as(setup.signers.patient), setup.signers.patient);
    await (
      await patient.grant({
        grantee: setup.signers.researcher.address,
        dataClasses: ["LAB_RESULT"],
        purposes: ["HRESCH"],
        validUntil: (await chainNow(setup.provider)) + DAY,
      })
    ).wait();
    const reader = await readerOfSet(setup, set, setup.signers.researcher);
    await mine(3);
    expect(
      (await reader.client.fetchRecord({ recordId: record.recordId, purpose: "HRESCH", keyPair: reader.keyPair }))
        .resource,
    ).to.deep.equal(observation);

    // Re-shared to the same custodians in another order: every held share is now of set 2, assigned just now.
    const reordered = await (await hospital.custodian.defineSet([...set.custodians].reverse(), 2)).wait();
    await hospital.custodian.reshare(record, reordered.setId);
    const error = await reader.client
      .gatherShares({ recordId: record.recordId, purpose: "HRESCH", keyPair: reader.keyPair })
      .catch((e: unknown) => e);
    expect(error).to.be.instanceOf(NotEnoughSharesError);
    for (const refusal of (error as NotEnoughSharesError).refusals) expect(refusal.code).to.equal("ShareNotConfirmed");

    await mine(2);
    const opened = await reader.client.fetchRecord({
      recordId: record.recordId,
      purpose: "HRESCH",
      keyPair: reader.keyPair,
    });
    expect(opened.resource).to.deep.equal(observation);
    expect(opened.shares.every((share) => share.setId === reordered.setId)).to.equal(true);
  });
});

describe("GatewayClient: transport", function () {
  it("refuses plain http:// except on loopback", async function () {
    const contracts = {} as never;
    const signer = Wallet.createRandom();
    expect(() => new GatewayClient("http://custodian.example.org", signer, contracts)).to.throw(
      InvalidArgumentError,
      /plain http/,
    );
    expect(() => new GatewayClient("http://10.0.0.5:8787", signer, contracts)).to.throw(
      InvalidArgumentError,
      /plain http/,
    );
    for (const url of [
      "http://127.0.0.1:8787",
      "http://localhost:8787",
      "http://[::1]:8787",
      "https://custodian.example.org",
    ])
      expect(new GatewayClient(url, signer, contracts).baseUrl).to.equal(url);
  });
});

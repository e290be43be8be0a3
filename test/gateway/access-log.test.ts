import { expect } from "chai";
import { toUtf8Bytes, toUtf8String } from "ethers";

import { AdminClient } from "../../sdk/clients/admin";
import { AuditClient, type ReleaseManifest } from "../../sdk/clients/audit";
import { GatewayClient } from "../../sdk/clients/gateway";
import { PatientClient } from "../../sdk/clients/patient";
import type { PublishedRecord } from "../../sdk/clients/provider";
import { AccessBasis, Purpose } from "../../sdk/codes";
import { bytesToHex, randomBytes } from "../../sdk/crypto/bytes";
import { cidOf, MemoryBlobStore } from "../../sdk/storage/blob-store";
import { buildReleaseBatch, verifyReleaseManifest } from "../../gateway/release-batch";
import type { RunningGateway, StartOptions } from "../../gateway/start";
import type { ReleaseRow } from "../../gateway/store";
import { compareJournalWithChain, manifestsFrom } from "../helpers/access-log-audit";
import {
  chainNow,
  DAY,
  gatewayFetch,
  labObservation,
  providerWithGateway,
  publish,
  readerWithKey,
  setupLedger,
  startTestGateway,
  waitFor,
  type LedgerSetup,
} from "../helpers/gateway-harness";
import { sharedLocalNode } from "../helpers/local-node";

describe("the custodian gateway: on-chain access log", function () {
  this.timeout(120_000);

  let setup: LedgerSetup;
  let records: PublishedRecord[];
  let envelopes: MemoryBlobStore;
  let reader: Awaited<ReturnType<typeof readerWithKey>>;
  const earlierJournal: ReleaseRow[] = [];
  const manifestTexts = new Map<string, string>();

  async function start(overrides: { logBatchSize: number; logIntervalMs: number }, options: StartOptions = {}) {
    const { gateway } = await startTestGateway(setup, overrides, options);
    const custodian = new GatewayClient(gateway.url, setup.signers.hospital, await setup.as(setup.signers.hospital), {
      store: envelopes,
    });
    for (const record of records) await custodian.depositKey(record);
    reader = await readerWithKey(setup, setup.signers.researcher, gateway.url, false);
    return gateway;
  }

  const logged = (gateway: RunningGateway) =>
    waitFor(() => gateway.store.unloggedReleaseCount() === 0, "every release to be logged on chain", 30_000, 50);

  before(async function () {
    setup = await setupLedger(await sharedLocalNode());
    const { gateway: publisher } = await startTestGateway(setup);
    const hospital = await providerWithGateway(setup, setup.signers.hospital, publisher.url);
    envelopes = hospital.store;
    records = [];
    for (const label of ["a", "b", "c"]) {
      records.push(
        await publish(
          hospital.provider,
          setup.signers.patient.address,
          "LAB_RESULT",
          labObservation(`log-${label}`, 90),
        ),
      );
    }
    await publisher.close();
    await readerWithKey(setup, setup.signers.researcher, publisher.url, true); // registers the key once
    const patient = new PatientClient(await setup.as(setup.signers.patient), setup.signers.patient);
    const validUntil = (await chainNow(setup.provider)) + 30 * DAY;
    await (
      await patient.grant({
        grantee: setup.signers.researcher.address,
        dataClasses: ["LAB_RESULT"],
        purposes: ["HRESCH", "CLINTRCH"],
        validUntil,
      })
    ).wait();
  });

  after(function () {
    setup?.cleanup();
  });

  describe("flushing", function () {
    let gateway: RunningGateway;
    // The gateway's clock, stopped while a test needs no release to come of age by the interval.
    let stoppedAt: number | undefined;

    before(async function () {
      gateway = await start({ logBatchSize: 4, logIntervalMs: 300 }, { now: () => stoppedAt ?? Date.now() });
    });

    after(async function () {
      if (gateway?.store.isOpen) {
        earlierJournal.push(...gateway.store.allReleases());
        for (const batch of gateway.store.allBatches())
          if (batch.manifestCid) manifestTexts.set(batch.manifestCid, batch.manifest!);
      }
      await gateway?.close();
    });

    it("logs a lone release with logRelease, once the interval has passed", async function () {
      const release = await reader.gateway.requestKey(records[0].recordId, "HRESCH");
      await logged(gateway);
      const events = await setup.contracts.accessLog.queryFilter(
        setup.contracts.accessLog.filters.KeyReleased(
          records[0].recordId,
          setup.signers.researcher.address,
          setup.signers.hospital.address,
        ),
      );
      expect(events).to.have.length(1);
      expect(Number(events[0].args.purpose)).to.equal(Purpose.HRESCH);
      expect(Number(events[0].args.basis)).to.equal(AccessBasis.Consent);
      const batch = gateway.store.getBatch(
        gateway.store.allReleases().find((entry) => entry.id === release.releaseId)!.batchId!,
      );
      expect(batch).to.include({ kind: "single", state: "logged", loggedTxHash: events[0].transactionHash });
    });

    it("logs a full batch at once as one Merkle root whose public manifest proves every release", async function () {
      // With the clock stopped, only the fourth release (a full batch) can start the flush; on a busy
      // machine the four requests may otherwise span the 300 ms interval and be logged in two batches.
      stoppedAt = Date.now();
      let releases: Awaited<ReturnType<typeof reader.gateway.requestKey>>[];
      try {
        releases = await Promise.all(
          [0, 1, 2, 0].map((index) =>
            reader.gateway.requestKey(records[index].recordId, index === 2 ? "CLINTRCH" : "HRESCH"),
          ),
        );
        await logged(gateway);
      } finally {
        stoppedAt = undefined;
      }
      const batchIds = new Set(
        gateway.store
          .allReleases()
          .filter((entry) => releases.some((r) => r.releaseId === entry.id))
          .map((entry) => entry.batchId),
      );
      expect(batchIds.size).to.equal(1);
      const batch = gateway.store.getBatch([...batchIds][0]!)!;
      expect(batch).to.include({ kind: "merkle", state: "logged", releaseCount: 4 });

      const [event] = await setup.contracts.accessLog.queryFilter(
        setup.contracts.accessLog.filters.KeyReleaseBatchLogged(batch.root),
      );
      expect(Number(event.args.releaseCount)).to.equal(4);
      expect(toUtf8String(event.args.manifest)).to.equal(batch.manifestCid);
      const manifest = (await gatewayFetch(`${gateway.url}/manifests/${batch.manifestCid}`))
        .body as unknown as ReleaseManifest;
      expect(manifest.format).to.equal("consent-ledger/release-batch/v1");
      expect(manifest.root).to.equal(event.args.root);
      expect(verifyReleaseManifest(manifest)).to.equal(true);
      const journal = gateway.store.releasesOfBatch(batch.id);
      expect(manifest.releases.map((r) => [r.recordId, r.grantee, r.purpose, r.basis, r.releasedAt])).to.deep.equal(
        journal.map((r) => [r.recordId, r.grantee, r.purpose, r.basis, r.releasedAt]),
      );
    });

    it("matches the journal entry for entry, and the patient's audit trail shows every release", async function () {
      const comparison = await compareJournalWithChain(
        setup.contracts,
        gateway.custodian,
        gateway.store.allReleases(),
        manifestsFrom(gateway.url),
      );
      expect(comparison).to.deep.include({
        journal: 5,
        onChain: 5,
        missing: [],
        extra: [],
        duplicateRoots: [],
        badManifests: [],
      });

      const manifests = new MemoryBlobStore();
      for (const batch of gateway.store.allBatches().filter((b) => b.kind === "merkle"))
        await manifests.put(toUtf8Bytes(batch.manifest!));
      const trail = await new AuditClient(setup.contracts, manifests).history(setup.signers.patient.address);
      const released = trail.filter((entry) => entry.action === "key-released");
      expect(released).to.have.length(5);
      expect(released.filter((entry) => entry.releaseBatchRoot !== undefined)).to.have.length(4);
      expect(new Set(released.map((entry) => entry.counterparty))).to.deep.equal(
        new Set([setup.signers.researcher.address]),
      );
    });

    it("serves manifests publicly, and never an envelope through /manifests", async function () {
      const envelope = await gatewayFetch(`${gateway.url}/manifests/${records[0].cid}`);
      expect(envelope.status).to.equal(404);
      expect(envelope.body.error).to.equal("ManifestNotFound");
    });
  });

  describe("when logging fails", function () {
    let gateway: RunningGateway;

    before(async function () {
      gateway = await start({ logBatchSize: 1000, logIntervalMs: 3_600_000 });
    });

    after(async function () {
      await gateway?.close();
    });

    it("keeps a release whose log failed, retries it, and logs it once the custodian may log again", async function () {
      await reader.gateway.requestKey(records[1].recordId, "HRESCH");
      await reader.gateway.requestKey(records[2].recordId, "HRESCH");
      const admin = new AdminClient(await setup.as(setup.signers.admin), setup.signers.admin);
      await (await admin.suspend(setup.signers.hospital.address, 7)).wait();
      try {
        // A suspended custodian releases nothing...
        const refused = await reader.gateway
          .requestKey(records[1].recordId, "HRESCH")
          .catch((caught: { code?: string }) => caught);
        expect((refused as { code?: string }).code).to.equal("CustodianNotAccredited");
        // ...and cannot log: the batch stays, with its error.
        await gateway.writer.flushNow();
        const [failing] = gateway.store.batchesIn("pending");
        expect(failing.releaseCount).to.equal(2);
        expect(failing.attempts).to.be.greaterThan(0);
        expect(failing.lastError).to.be.a("string");
      } finally {
        await (await admin.reinstate(setup.signers.hospital.address)).wait();
      }
      await gateway.writer.flushNow();
      await logged(gateway);
      expect(gateway.store.batchesIn("logged").map((batch) => batch.releaseCount)).to.deep.equal([2]);
    });

    it("finds a sent batch by its event when the node knows no receipt for its recorded hash, and logs nothing twice", async function () {
      for (const kind of ["merkle", "single"] as const) {
        const ids = kind === "merkle" ? [0, 1, 2] : [0];
        for (const index of ids) await reader.gateway.requestKey(records[index].recordId, "HRESCH");
        const pending = gateway.store.pendingReleases(100);
        expect(pending).to.have.length(ids.length);
        const accessLog = (await setup.as(setup.signers.hospital)).accessLog;
        const fromBlock = await setup.provider.getBlockNumber();
        let batchFields: { kind: "single" | "merkle"; root?: string; manifestCid?: string; manifest?: string };
        if (kind === "merkle") {
          const { root, text } = buildReleaseBatch(pending, {
            chainId: 31337,
            accessLog: setup.deployment.accessLog,
            custodian: gateway.custodian,
          });
          const manifestCid = await cidOf(toUtf8Bytes(text));
          // The transaction went out (as if by the crashed run), but the hash it recorded is unknown to the node.
          await (await accessLog.logReleaseBatch(root, pending.length, toUtf8Bytes(manifestCid))).wait();
          batchFields = { kind, root, manifestCid, manifest: text };
        } else {
          const [only] = pending;
          await (await accessLog.logRelease(only.recordId, only.grantee, only.purpose, only.basis)).wait();
          batchFields = { kind };
        }
        const batch = gateway.store.createBatch(
          pending.map((r) => r.id),
          batchFields,
          Date.now(),
        );
        gateway.store.markSent(
          batch.id,
          { txHash: bytesToHex(randomBytes(32)), txNonce: 0, rawTx: "0x00", createdAtBlock: fromBlock },
          Date.now(),
        );

        await gateway.writer.flushNow();
        expect(gateway.store.getBatch(batch.id)).to.include({ state: "logged" });
      }
      // Everything this custodian ever logged in this file matches the journals of its two gateways.
      for (const b of gateway.store.allBatches()) if (b.manifestCid) manifestTexts.set(b.manifestCid, b.manifest!);
      const all = await compareJournalWithChain(
        setup.contracts,
        gateway.custodian,
        [...earlierJournal, ...gateway.store.allReleases()],
        async (cid) => JSON.parse(manifestTexts.get(cid)!) as ReleaseManifest,
      );
      expect(all).to.deep.include({ missing: [], extra: [], duplicateRoots: [], badManifests: [] });
      expect(all.onChain).to.equal(earlierJournal.length + gateway.store.allReleases().length);
    });
  });

  describe("flushing on demand", function () {
    let gateway: RunningGateway;

    before(async function () {
      gateway = await start({ logBatchSize: 1000, logIntervalMs: 3_600_000 });
    });

    after(async function () {
      await gateway?.close();
    });

    it("logs a young release when flushNow joins a scheduled run that found nothing due", async function () {
      await reader.gateway.requestKey(records[0].recordId, "HRESCH");
      const scheduled = gateway.writer.kick(); // as the timer does: the release is far from its interval
      await gateway.writer.flushNow();
      await scheduled;
      expect(gateway.store.unloggedReleaseCount()).to.equal(0);
      expect(gateway.store.batchesIn("logged")).to.have.length(1);
    });
  });
});

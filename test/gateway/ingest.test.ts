import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

import Database from "better-sqlite3";
import { expect } from "chai";
import { ZeroHash } from "ethers";

import { GatewayClient } from "../../sdk/clients/gateway";
import { PatientClient } from "../../sdk/clients/patient";
import { ProviderClient, type PublishedRecord } from "../../sdk/clients/provider";
import { DataClass } from "../../sdk/codes";
import { bytesToHex, randomBytes } from "../../sdk/crypto/bytes";
import { sealRecord } from "../../sdk/crypto/envelope";
import { AccessDeniedError, IntegrityError } from "../../sdk/errors";
import { MemoryBlobStore } from "../../sdk/storage/blob-store";
import { FsBlobStore } from "../../sdk/storage/fs-blob-store";
import type { GatewayConfig } from "../../gateway/config";
import type { RunningGateway } from "../../gateway/start";
import {
  chainNow,
  DAY,
  gatewayFetch,
  labObservation,
  providerWithGateway,
  publish,
  readerWithKey,
  sessionToken,
  setupLedger,
  startTestGateway,
  type LedgerSetup,
} from "../helpers/gateway-harness";
import { sharedLocalNode } from "../helpers/local-node";

describe("the custodian gateway: ingest and tampering", function () {
  this.timeout(120_000);

  let setup: LedgerSetup;
  let gateway: RunningGateway;
  let config: GatewayConfig;
  let hospital: Awaited<ReturnType<typeof providerWithGateway>>;
  let reader: Awaited<ReturnType<typeof readerWithKey>>;

  before(async function () {
    setup = await setupLedger(await sharedLocalNode());
    ({ gateway, config } = await startTestGateway(setup));
    hospital = await providerWithGateway(setup, setup.signers.hospital, gateway.url);
    reader = await readerWithKey(setup, setup.signers.researcher, gateway.url);
    const patient = new PatientClient(await setup.as(setup.signers.patient), setup.signers.patient);
    const validUntil = (await chainNow(setup.provider)) + 30 * DAY;
    await (
      await patient.grant({
        grantee: setup.signers.researcher.address,
        dataClasses: ["LAB_RESULT", "CONDITION"],
        purposes: ["HRESCH"],
        validUntil,
      })
    ).wait();
  });

  after(async function () {
    await gateway?.close();
    setup?.cleanup();
  });

  describe("POST /records", function () {
    it("stores a record its provider anchored, and takes the same deposit again without change", async function () {
      const record = await publish(
        hospital.provider,
        setup.signers.patient.address,
        "LAB_RESULT",
        labObservation("ingest-1", 101),
      );
      expect(gateway.store.getRecord(record.recordId)?.depositedBy).to.equal(setup.signers.hospital.address);
      await hospital.custodian.depositKey(record);
      const token = await sessionToken(hospital.custodian);
      const again = await gatewayFetch(`${gateway.url}/records`, {
        token,
        body: {
          recordId: record.recordId,
          dataKey: bytesToHex(record.dataKey),
          envelope: Buffer.from(await hospital.store.get(record.cid)).toString("base64"),
        },
      });
      expect(again).to.deep.equal({ status: 200, body: { recordId: record.recordId, cid: record.cid, stored: false } });
    });

    it("stores the records of an anchored batch by their proofs, and releases them", async function () {
      const batch = await (
        await hospital.provider.publishBatch([
          { patient: setup.signers.patient.address, dataClass: "LAB_RESULT", payload: labObservation("batch-1", 88) },
          {
            patient: setup.signers.patient.address,
            dataClass: "CONDITION",
            payload: { resourceType: "Condition", id: "batch-2" },
          },
        ])
      ).wait();
      for (const record of batch.records)
        expect(gateway.store.getRecord(record.recordId)?.batch?.root).to.equal(batch.root);
      const opened = await reader.gateway.fetchRecord({
        recordId: batch.records[1].recordId,
        purpose: "HRESCH",
        keyPair: reader.keyPair,
      });
      expect(opened.resource).to.deep.equal({ resourceType: "Condition", id: "batch-2" });
      expect(opened.release.batch?.root).to.equal(batch.root);
    });

    it("goes by the batch's claim for batched records whose bytes another provider anchored on its own", async function () {
      const batch = await (
        await hospital.provider.publishBatch([
          { patient: setup.signers.patient.address, dataClass: "LAB_RESULT", payload: labObservation("squat-1", 61) },
          {
            patient: setup.signers.patient.address,
            dataClass: "CONDITION",
            payload: { resourceType: "Condition", id: "squat-2" },
          },
        ])
      ).wait();
      const [copied, moved] = batch.records;
      // The lab squats both leaves: one with the batch's patient and class, one with another patient.
      const lab = await setup.as(setup.signers.lab);
      await (
        await lab.records.anchorRecord(setup.signers.patient.address, copied.recordId, DataClass.LAB_RESULT, "0x")
      ).wait();
      await (
        await lab.records.anchorRecord(setup.signers.lab.address, moved.recordId, DataClass.CONDITION, "0x")
      ).wait();

      // The batch's provider can still deposit, and readers are released the batch's records.
      await hospital.custodian.depositKey(copied);
      await hospital.custodian.depositKey(moved);
      const first = await reader.gateway.fetchRecord({
        recordId: copied.recordId,
        purpose: "HRESCH",
        keyPair: reader.keyPair,
      });
      expect(first.resource).to.deep.equal(labObservation("squat-1", 61));
      const second = await reader.gateway.fetchRecord({
        recordId: moved.recordId,
        purpose: "HRESCH",
        keyPair: reader.keyPair,
      });
      expect(second.resource).to.deep.equal({ resourceType: "Condition", id: "squat-2" });
      expect(second.release.batch?.root).to.equal(batch.root);
    });

    it("refuses a record another provider anchored", async function () {
      const labStore = new MemoryBlobStore();
      const lab = new ProviderClient(await setup.as(setup.signers.lab), setup.signers.lab, labStore);
      const labRecord = await publish(lab, setup.signers.patient.address, "LAB_RESULT", labObservation("lab-1", 77));
      const hospitalWithLabEnvelopes = new GatewayClient(gateway.url, setup.signers.hospital, hospital.contracts, {
        store: labStore,
      });
      const error = (await hospitalWithLabEnvelopes
        .depositKey(labRecord)
        .catch((caught: unknown) => caught)) as AccessDeniedError;
      expect(error).to.be.instanceOf(AccessDeniedError);
      expect(error.shortMessage).to.equal(
        `record ${labRecord.recordId} was anchored by ${setup.signers.lab.address}, not by ${setup.signers.hospital.address}: only its provider may deposit its key`,
      );
      expect(gateway.store.getRecord(labRecord.recordId)).to.equal(undefined);

      // The lab itself is not a provider this gateway serves.
      const labClient = new GatewayClient(gateway.url, setup.signers.lab, await setup.as(setup.signers.lab), {
        store: labStore,
      });
      const notServed = (await labClient.depositKey(labRecord).catch((caught: unknown) => caught)) as AccessDeniedError;
      expect(notServed).to.be.instanceOf(AccessDeniedError);
      expect(notServed.details).to.contain("ProviderNotServed");
    });

    it("refuses an envelope nobody anchored, one that is not its record id, and a wrong data key", async function () {
      const token = await sessionToken(hospital.custodian);
      const sealed = await sealRecord(new TextEncoder().encode('{"resourceType":"Observation"}'), {
        chainId: 31337n,
        registry: setup.deployment.records,
        patient: setup.signers.patient.address,
        provider: setup.signers.hospital.address,
        dataClass: DataClass.LAB_RESULT,
        version: 1,
        previousRecordId: ZeroHash,
      });
      const envelope = Buffer.from(sealed.envelope).toString("base64");
      const unanchored = await gatewayFetch(`${gateway.url}/records`, {
        token,
        body: { recordId: sealed.recordId, dataKey: bytesToHex(sealed.dataKey), envelope },
      });
      expect(unanchored.status).to.equal(409);
      expect(unanchored.body.error).to.equal("RecordNotAnchored");

      const published = await publish(
        hospital.provider,
        setup.signers.patient.address,
        "LAB_RESULT",
        labObservation("ingest-2", 90),
      );
      const mismatched = await gatewayFetch(`${gateway.url}/records`, {
        token,
        body: { recordId: published.recordId, dataKey: bytesToHex(published.dataKey), envelope },
      });
      expect(mismatched.status).to.equal(422);
      expect(mismatched.body.reason).to.contain(`the envelope hashes to ${sealed.recordId}`);

      // A fresh gateway that does not hold `published` yet: the right envelope with a wrong key.
      const { gateway: fresh } = await startTestGateway(setup);
      try {
        const freshClient = new GatewayClient(fresh.url, setup.signers.hospital, hospital.contracts, {
          store: hospital.store,
        });
        const freshToken = await sessionToken(freshClient);
        const wrongKey = await gatewayFetch(`${fresh.url}/records`, {
          token: freshToken,
          body: {
            recordId: published.recordId,
            dataKey: bytesToHex(randomBytes(32)),
            envelope: Buffer.from(await hospital.store.get(published.cid)).toString("base64"),
          },
        });
        expect(wrongKey.status).to.equal(422);
        expect(wrongKey.body.error).to.equal("WrongDataKey");
        expect(fresh.store.getRecord(published.recordId)).to.equal(undefined);
      } finally {
        await fresh.close();
      }
    });

    it("refuses a caller that is not a provider it serves", async function () {
      const token = await sessionToken(reader.gateway);
      const refused = await gatewayFetch(`${gateway.url}/records`, {
        token,
        body: { recordId: `0x${"12".repeat(32)}`, dataKey: `0x${"34".repeat(32)}`, envelope: "AAAA" },
      });
      expect(refused.status).to.equal(403);
      expect(refused.body.error).to.equal("ProviderNotServed");
    });
  });

  describe("tampering", function () {
    let record: PublishedRecord;

    beforeEach(async function () {
      record = await publish(
        hospital.provider,
        setup.signers.patient.address,
        "LAB_RESULT",
        labObservation(`tamper-${Date.now()}`, 120),
      );
    });

    it("a ciphertext altered on the gateway's disk fails the integrity check, and is never decrypted", async function () {
      const blobs = new FsBlobStore(path.join(config.dataDir, "blobs"));
      const file = blobs.pathOf(record.cid);
      const bytes = readFileSync(file);
      bytes[bytes.length - 1] ^= 0x01;
      writeFileSync(file, bytes);
      const fetchIt = () =>
        reader.gateway
          .fetchRecord({ recordId: record.recordId, purpose: "HRESCH", keyPair: reader.keyPair })
          .catch((caught: unknown) => caught);
      // The gateway's verified read refuses to serve it...
      const refused = (await fetchIt()) as IntegrityError;
      expect(refused).to.be.instanceOf(IntegrityError);
      expect(refused.recordId).to.equal(record.recordId);
      expect(refused.details).to.contain("StoredCiphertextCorrupt");
      // ...and a gateway that served it anyway (here: the altered bytes filed as their own blob, and
      // the record's row pointed at them) is caught by the client's own check.
      const alteredCid = await blobs.put(new Uint8Array(bytes));
      const db = new Database(path.join(config.dataDir, "gateway.sqlite"));
      try {
        db.prepare("UPDATE records SET cid = ? WHERE record_id = ?").run(alteredCid, record.recordId);
      } finally {
        db.close();
      }
      const caught = (await fetchIt()) as IntegrityError;
      expect(caught).to.be.instanceOf(IntegrityError);
      expect(caught.shortMessage).to.contain("the ciphertext hashes to 0x");
      expect(caught.details).to.equal(undefined);
      expect(gateway.store.allReleases().filter((entry) => entry.recordId === record.recordId)).to.deep.equal([]);
    });

    it("a gateway serving another record's ciphertext is caught by the client, before any key is released", async function () {
      const other = await publish(
        hospital.provider,
        setup.signers.patient.address,
        "LAB_RESULT",
        labObservation("decoy", 1),
      );
      const db = new Database(path.join(config.dataDir, "gateway.sqlite"));
      try {
        db.prepare("UPDATE records SET cid = ? WHERE record_id = ?").run(other.cid, record.recordId);
      } finally {
        db.close();
      }
      const served = await reader.gateway.fetchCiphertext(record.recordId);
      expect(bytesToHex(served)).to.equal(bytesToHex(await hospital.store.get(other.cid)));
      const error = (await reader.gateway
        .fetchRecord({ recordId: record.recordId, purpose: "HRESCH", keyPair: reader.keyPair })
        .catch((caught: unknown) => caught)) as IntegrityError;
      expect(error).to.be.instanceOf(IntegrityError);
      expect(error.shortMessage).to.contain(`the ciphertext hashes to ${other.recordId}`);
      expect(gateway.store.allReleases().filter((entry) => entry.recordId === record.recordId)).to.deep.equal([]);
      // Verified against the chain (not only by its hash), the swapped envelope fails as well.
      const verify = await reader.researcher
        .openRecord({
          envelope: served,
          wrappedKey: new Uint8Array(96),
          keyPair: reader.keyPair,
          expectedRecordId: record.recordId,
        })
        .catch((caught: unknown) => caught);
      expect(verify).to.be.instanceOf(IntegrityError);
    });
  });

  it("answers 404 with a reason for routes it does not have", async function () {
    const missing = await gatewayFetch(`${gateway.url}/admin`);
    expect(missing.status).to.equal(404);
    expect(missing.body.error).to.equal("NotFound");
    expect(missing.body.reason).to.equal("no route GET /admin");
  });
});

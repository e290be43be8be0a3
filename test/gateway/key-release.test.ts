import { expect } from "chai";

import { GatewayError } from "../../sdk/clients/gateway";
import { PatientClient } from "../../sdk/clients/patient";
import type { PublishedRecord } from "../../sdk/clients/provider";
import { AccessBasis, EmergencyReason, Purpose } from "../../sdk/codes";
import { AccessDeniedError, AccessNotConfirmedError, WrongRecipientKeyError } from "../../sdk/errors";
import type { RunningGateway } from "../../gateway/start";
import {
  chainNow,
  DAY,
  HOUR,
  labObservation,
  providerWithGateway,
  publish,
  readerWithKey,
  setupLedger,
  startTestGateway,
  type LedgerSetup,
} from "../helpers/gateway-harness";
import { rpc, sharedLocalNode } from "../helpers/local-node";

describe("the custodian gateway: key release", function () {
  this.timeout(120_000);

  let setup: LedgerSetup;
  let gateway: RunningGateway;
  let record: PublishedRecord;
  let reader: Awaited<ReturnType<typeof readerWithKey>>;
  let patient: PatientClient;
  const observation = labObservation("glucose-1", 98);

  before(async function () {
    setup = await setupLedger(await sharedLocalNode());
    ({ gateway } = await startTestGateway(setup, { logBatchSize: 50, logIntervalMs: 200 }));
    const hospital = await providerWithGateway(setup, setup.signers.hospital, gateway.url);
    record = await publish(hospital.provider, setup.signers.patient.address, "LAB_RESULT", observation);
    reader = await readerWithKey(setup, setup.signers.researcher, gateway.url);
    patient = new PatientClient(await setup.as(setup.signers.patient), setup.signers.patient);
  });

  after(async function () {
    await gateway?.close();
    setup?.cleanup();
  });

  it("holds the record the provider published, deposited by the ProviderClient through its KeyCustodian", async function () {
    const held = gateway.store.getRecord(record.recordId);
    expect(held?.cid).to.equal(record.cid);
    expect(held?.patient).to.equal(setup.signers.patient.address);
    // The data key is encrypted at rest: the row never holds it in the clear.
    expect(Buffer.from(held!.keyCiphertext).includes(Buffer.from(record.dataKey))).to.equal(false);
  });

  context("with the patient's consent", function () {
    before(async function () {
      const validUntil = (await chainNow(setup.provider)) + DAY;
      await (
        await patient.grant({
          grantee: setup.signers.researcher.address,
          dataClasses: ["LAB_RESULT"],
          purposes: ["HRESCH"],
          validUntil,
        })
      ).wait();
    });

    it("releases the key wrapped to the researcher, who gets the original FHIR JSON back", async function () {
      const opened = await reader.gateway.fetchRecord({
        recordId: record.recordId,
        purpose: "HRESCH",
        keyPair: reader.keyPair,
      });
      expect(opened.resource).to.deep.equal(observation);
      expect(opened.release.basis).to.equal("Consent");
      expect(opened.release.purpose).to.equal("HRESCH");
      expect(opened.release.superseded).to.equal(false);
      expect(opened.release.wrappedKey).to.have.length(96);
    });

    it("journals the release, with the block whose state allowed it", async function () {
      const release = await reader.gateway.requestKey(record.recordId, "HRESCH");
      const journaled = gateway.store.allReleases().find((entry) => entry.id === release.releaseId);
      expect(journaled).to.include({
        recordId: record.recordId,
        grantee: setup.signers.researcher.address,
        purpose: Purpose.HRESCH,
        basis: AccessBasis.Consent,
        checkedBlock: release.checkedBlock,
      });
      const basis = await setup.contracts.ledger.accessBasis(
        setup.signers.patient.address,
        setup.signers.researcher.address,
        record.dataClass,
        Purpose.HRESCH,
        { blockTag: release.checkedBlock },
      );
      expect(Number(basis)).to.equal(AccessBasis.Consent);
    });

    it("wraps to the requester's key only: another key pair cannot open it", async function () {
      const other = await readerWithKey(setup, setup.signers.otherResearcher, gateway.url);
      const release = await reader.gateway.requestKey(record.recordId, "HRESCH");
      const envelope = await reader.gateway.fetchCiphertext(record.recordId);
      let error: unknown;
      try {
        await reader.researcher.openRecord({
          envelope,
          wrappedKey: release.wrappedKey,
          keyPair: other.keyPair,
          expectedRecordId: record.recordId,
        });
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(WrongRecipientKeyError);
    });

    it("refuses a purpose the consent does not cover", async function () {
      const error = await reader.gateway.requestKey(record.recordId, "BIORCH").catch((caught: unknown) => caught);
      expectDenied(error, setup.signers.researcher.address, "LAB_RESULT", "BIORCH");
    });
  });

  context("without consent", function () {
    it("refuses with 403 and a reason naming who, what and for which purpose", async function () {
      const stranger = await readerWithKey(setup, setup.signers.otherResearcher, gateway.url, false);
      const error = (await stranger.gateway
        .requestKey(record.recordId, "HRESCH")
        .catch((caught: unknown) => caught)) as AccessDeniedError;
      expect(error).to.be.instanceOf(AccessDeniedError);
      expect(error.shortMessage).to.match(
        new RegExp(
          `^no consent or emergency window lets ${setup.signers.otherResearcher.address} read LAB_RESULT for HRESCH \\(checked at block \\d+\\)$`,
        ),
      );
      const before = gateway.store
        .allReleases()
        .filter((entry) => entry.grantee === setup.signers.otherResearcher.address);
      expect(before).to.deep.equal([]);
    });

    it("answers the raw HTTP request with {error: AccessDenied, reason}", async function () {
      await reader.gateway.authenticate();
      const other = await readerWithKey(setup, setup.signers.otherResearcher, gateway.url, false);
      const { token } = await loginToken(other.gateway);
      const response = await fetch(`${gateway.url}/records/${record.recordId}/key`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ purpose: "HRESCH" }),
      });
      expect(response.status).to.equal(403);
      const body = (await response.json()) as { error: string; reason: string };
      expect(body.error).to.equal("AccessDenied");
      expect(body.reason).to.contain(`lets ${setup.signers.otherResearcher.address} read LAB_RESULT for HRESCH`);
    });
  });

  context("after the patient revokes", function () {
    it("refuses the very next request once the revocation is mined", async function () {
      const validUntil = (await chainNow(setup.provider)) + DAY;
      const other = await readerWithKey(setup, setup.signers.otherResearcher, gateway.url);
      await (
        await patient.grant({
          grantee: setup.signers.otherResearcher.address,
          dataClasses: ["LAB_RESULT"],
          purposes: ["BIORCH"],
          validUntil,
        })
      ).wait();
      const release = await other.gateway.requestKey(record.recordId, "BIORCH");
      expect(release.basis).to.equal("Consent");

      const revoked = await (await patient.revoke(setup.signers.otherResearcher.address)).wait();
      expect(revoked.grantee).to.equal(setup.signers.otherResearcher.address);
      const error = await other.gateway.requestKey(record.recordId, "BIORCH").catch((caught: unknown) => caught);
      expectDenied(error, setup.signers.otherResearcher.address, "LAB_RESULT", "BIORCH");
    });
  });

  context("for a requester with no encryption key", function () {
    it("refuses with 409: register an encryption key first", async function () {
      // A patient-requested disclosure (to a relative) needs no accreditation: only the key is missing.
      const validUntil = (await chainNow(setup.provider)) + DAY;
      await (
        await patient.grant({
          grantee: setup.signers.stranger.address,
          dataClasses: ["LAB_RESULT"],
          purposes: ["PATRQT"],
          validUntil,
        })
      ).wait();
      const relative = await readerWithKey(setup, setup.signers.stranger, gateway.url, false);
      const error = (await relative.gateway
        .requestKey(record.recordId, "PATRQT")
        .catch((caught: unknown) => caught)) as GatewayError;
      expect(error).to.be.instanceOf(GatewayError);
      expect(error.status).to.equal(409);
      expect(error.code).to.equal("EncryptionKeyMissing");
      expect(error.shortMessage).to.contain("register an encryption key first");
    });
  });

  context("with a bad request", function () {
    it("answers 404 for a record it does not hold, and 400 for an unknown purpose", async function () {
      const missing = (await reader.gateway
        .requestKey(`0x${"ab".repeat(32)}`, "HRESCH")
        .catch((caught: unknown) => caught)) as GatewayError;
      expect(missing.status).to.equal(404);
      expect(missing.code).to.equal("RecordNotFound");
      const { token } = await loginToken(reader.gateway);
      const response = await fetch(`${gateway.url}/records/${record.recordId}/key`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ purpose: "GOSSIP" }),
      });
      expect(response.status).to.equal(400);
      expect(((await response.json()) as { reason: string }).reason).to.contain("unknown code");
      const extra = await fetch(`${gateway.url}/records/${record.recordId}/key`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ purpose: "HRESCH", also: 1 }),
      });
      expect(extra.status).to.equal(400);
    });
  });

  context("in an emergency", function () {
    let clinician: Awaited<ReturnType<typeof readerWithKey>>;

    before(async function () {
      clinician = await readerWithKey(setup, setup.signers.clinician, gateway.url);
      const ledger = (await setup.as(setup.signers.clinician)).ledger;
      await (
        await ledger.openEmergencyAccess(setup.signers.patient.address, EmergencyReason.PATIENT_UNRESPONSIVE, HOUR)
      ).wait();
    });

    it("releases for emergency treatment inside the provider's window, on the basis Emergency", async function () {
      const opened = await clinician.gateway.fetchRecord({
        recordId: record.recordId,
        purpose: "ETREAT",
        keyPair: clinician.keyPair,
      });
      expect(opened.resource).to.deep.equal(observation);
      expect(opened.release.basis).to.equal("Emergency");
      const journaled = gateway.store.allReleases().find((entry) => entry.id === opened.release.releaseId);
      expect(journaled?.basis).to.equal(AccessBasis.Emergency);
    });

    it("does not cover research purposes", async function () {
      const error = await clinician.gateway.requestKey(record.recordId, "HRESCH").catch((caught: unknown) => caught);
      expectDenied(error, setup.signers.clinician.address, "LAB_RESULT", "HRESCH");
    });

    it("refuses once the window has closed on chain time", async function () {
      await rpc(setup.node.url, "evm_increaseTime", [HOUR + 1]);
      await rpc(setup.node.url, "evm_mine", []);
      const error = (await clinician.gateway
        .requestKey(record.recordId, "ETREAT")
        .catch((caught: unknown) => caught)) as AccessDeniedError;
      expect(error).to.be.instanceOf(AccessDeniedError);
      expect(error.shortMessage).to.contain(`lets ${setup.signers.clinician.address} read LAB_RESULT for ETREAT`);
    });
  });
});

/**
 * The gateway's refusal for "the chain allows no read": 403 AccessDenied (not AccessNotConfirmed, not
 * another 403), with the reason naming the requester, the data class and the purpose.
 */
function expectDenied(error: unknown, requester: string, dataClass: string, purpose: string): void {
  expect(error).to.be.instanceOf(AccessDeniedError);
  expect(error).to.not.be.instanceOf(AccessNotConfirmedError);
  const denied = error as AccessDeniedError;
  expect(denied.details).to.equal("HTTP 403 AccessDenied");
  expect(denied.shortMessage).to.match(
    new RegExp(
      `^no consent or emergency window lets ${requester} read ${dataClass} for ${purpose} \\(checked at block \\d+\\)$`,
    ),
  );
}

/** A session token obtained through the client's real login (for raw HTTP requests). */
async function loginToken(client: { authenticate(): Promise<unknown> }): Promise<{ token: string }> {
  await client.authenticate();
  return { token: (client as unknown as { session: { token: string } }).session.token };
}

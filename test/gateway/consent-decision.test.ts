/**
 * The CDS Hooks consent decision service (`patient-consent-consult`) on a real gateway on loopback, decided
 * by real contracts on a hardhat node: identifier links registered by their owners and vouched for by a
 * provider, cards CONSENT_PERMIT / CONSENT_DENY / NO_CONSENT at the latest block, and bounded work.
 */
import { expect } from "chai";
import type { JsonRpcSigner } from "ethers";

import { PatientClient } from "../../sdk/clients/patient";
import { EmergencyReason } from "../../sdk/codes";
import { LINK_TYPES, linkDomain } from "../../gateway/identity-links";
import type { RunningGateway } from "../../gateway/start";
import {
  chainNow,
  DAY,
  HOUR,
  gatewayFetch,
  setupLedger,
  startTestGateway,
  type LedgerSetup,
} from "../helpers/gateway-harness";
import { sharedLocalNode } from "../helpers/local-node";

const MRN = "https://hospital.example.org/fhir/sid/mrn";
const NPI = "http://hl7.org/fhir/sid/us-npi";

describe("the consent decision service (CDS Hooks patient-consent-consult)", function () {
  this.timeout(120_000);
  let setup: LedgerSetup;
  let gateway: RunningGateway;
  let patient: PatientClient;

  before(async function () {
    setup = await setupLedger(await sharedLocalNode());
    ({ gateway } = await startTestGateway(setup));
    patient = new PatientClient(await setup.as(setup.signers.patient), setup.signers.patient);
  });
  after(async function () {
    await gateway?.close();
    setup?.cleanup();
  });

  async function signedLink(
    system: string,
    value: string,
    owner: JsonRpcSigner,
    attester: JsonRpcSigner,
    issuedAt?: number,
  ) {
    // issuedAt is the signer's wall clock (the gateway checks it is not in its future), not the chain's.
    const message = { system, value, account: owner.address, issuedAt: issuedAt ?? Math.floor(Date.now() / 1000) };
    const domain = linkDomain(31337, setup.deployment.ledger);
    return {
      ...message,
      signature: await owner.signTypedData(domain, LINK_TYPES, message),
      attester: attester.address,
      attestation: await attester.signTypedData(domain, LINK_TYPES, message),
    };
  }

  const consult = (hookCtx: Record<string, unknown>, url = gateway.url) =>
    gatewayFetch(`${url}/cds-services/patient-consent-consult`, {
      body: { hook: "patient-consent-consult", hookInstance: "d1f0a3c2-4b7e-4c55-9a0e-3f1c2b9d8e7a", context: hookCtx },
    });
  const hookContext = (overrides: Record<string, unknown> = {}) => ({
    patientId: [{ system: MRN, value: "12345" }],
    actor: [{ system: NPI, value: "9941339108" }],
    purposeOfUse: ["TREAT"],
    scope: "patient-privacy",
    ...overrides,
  });
  const decision = (body: Record<string, unknown>) =>
    (body.cards as { summary: string; extension: Record<string, unknown> }[])[0];

  it("is discovered at /cds-services", async function () {
    const { status, body } = await gatewayFetch(`${gateway.url}/cds-services`);
    expect(status).to.equal(200);
    expect(body.services).to.deep.include.members([
      { ...(body.services as object[])[0], hook: "patient-consent-consult", id: "patient-consent-consult" },
    ]);
  });

  it("answers NO_CONSENT for identifiers nobody linked (it never guesses an account)", async function () {
    const { status, body } = await consult(hookContext());
    expect(status).to.equal(200);
    expect(decision(body).summary).to.equal("NO_CONSENT");
    expect(decision(body).extension.decision).to.equal("NO_CONSENT");
  });

  context("linking identifiers", function () {
    it("refuses a link the account did not sign", async function () {
      const link = await signedLink(MRN, "12345", setup.signers.patient, setup.signers.hospital);
      const { status, body } = await gatewayFetch(`${gateway.url}/identity-links`, {
        body: { ...link, account: setup.signers.stranger.address },
      });
      expect([status, body.error]).to.deep.equal([403, "IdentifierLinkNotSigned"]);
    });

    it("refuses a link vouched for by an account that is not an accredited provider", async function () {
      const link = await signedLink(MRN, "12345", setup.signers.patient, setup.signers.stranger);
      const { status, body } = await gatewayFetch(`${gateway.url}/identity-links`, { body: link });
      expect([status, body.error]).to.deep.equal([403, "AttesterNotAccredited"]);
    });

    it("stores a link signed by its owner and vouched for by the hospital; another provider cannot move it, nor an older link", async function () {
      const issuedAt = Math.floor(Date.now() / 1000);
      const patientLink = await gatewayFetch(`${gateway.url}/identity-links`, {
        body: await signedLink(MRN, "12345", setup.signers.patient, setup.signers.hospital, issuedAt),
      });
      expect(patientLink.status, JSON.stringify(patientLink.body)).to.equal(201);
      const clinicianLink = await gatewayFetch(`${gateway.url}/identity-links`, {
        body: await signedLink(NPI, "9941339108", setup.signers.clinician, setup.signers.hospital),
      });
      expect(clinicianLink.status).to.equal(201);
      const hijack = await gatewayFetch(`${gateway.url}/identity-links`, {
        body: await signedLink(MRN, "12345", setup.signers.stranger, setup.signers.lab, issuedAt - 10),
      });
      expect([hijack.status, hijack.body.error]).to.deep.equal([409, "IdentifierLinkAttesterMismatch"]);
      const stale = await gatewayFetch(`${gateway.url}/identity-links`, {
        body: await signedLink(MRN, "12345", setup.signers.stranger, setup.signers.hospital, issuedAt - 10),
      });
      expect([stale.status, stale.body.error]).to.deep.equal([409, "IdentifierLinkStale"]);
    });
  });

  context("decisions at the latest block", function () {
    it("NO_CONSENT while the patient has given the clinician nothing", async function () {
      expect(decision((await consult(hookContext())).body).summary).to.equal("NO_CONSENT");
    });

    it("CONSENT_PERMIT for lab results once the patient grants them for treatment, naming no account", async function () {
      await (
        await patient.grant({
          grantee: setup.signers.clinician.address,
          dataClasses: ["LAB_RESULT"],
          purposes: ["TREAT"],
          validUntil: (await chainNow(setup.provider)) + DAY,
        })
      ).wait();
      const card = decision(
        (
          await consult(
            hookContext({
              class: [{ system: "https://consent-ledger.org/fhir/CodeSystem/data-class", code: "LAB_RESULT" }],
            }),
          )
        ).body,
      );
      expect(card.summary).to.equal("CONSENT_PERMIT");
      expect(card.extension).to.include({ basis: "consent" });
      // No account in the answer: an unauthenticated caller must not learn which account an MRN is.
      const text = JSON.stringify(card).toLowerCase();
      for (const account of [setup.signers.patient.address, setup.signers.clinician.address])
        expect(text).to.not.contain(account.slice(2).toLowerCase());
      expect(card.extension.obligations).to.deep.equal([]);
    });

    it("CONSENT_PERMIT with REDACT obligations when a resource type spans classes the consent does not cover", async function () {
      const card = decision(
        (await consult(hookContext({ class: [{ system: "http://hl7.org/fhir/resource-types", code: "Observation" }] })))
          .body,
      );
      expect(card.summary).to.equal("CONSENT_PERMIT");
      const labels = (
        card.extension.obligations as { content: { securityLabel?: { code: string }[]; code?: { code: string }[] } }[]
      ).map((o) => o.content.securityLabel?.[0].code ?? o.content.code?.[0].code);
      expect(labels).to.have.members(["vital-signs", "PSY", "SEX", "SUD"]);
    });

    it("CONSENT_DENY for a purpose the consent does not cover", async function () {
      const card = decision((await consult(hookContext({ purposeOfUse: ["HRESCH"] }))).body);
      expect(card.summary).to.equal("CONSENT_DENY");
    });

    it("NO_CONSENT in the block after the patient revokes", async function () {
      await (await patient.revoke(setup.signers.clinician.address)).wait();
      expect(decision((await consult(hookContext())).body).summary).to.equal("NO_CONSENT");
    });

    it("CONSENT_PERMIT on an emergency window, and CONSENT_DENY once the patient opts out", async function () {
      const ledger = (await setup.as(setup.signers.clinician)).ledger;
      await (
        await ledger.openEmergencyAccess(setup.signers.patient.address, EmergencyReason.PATIENT_UNRESPONSIVE, HOUR)
      ).wait();
      const card = decision((await consult(hookContext({ purposeOfUse: ["ETREAT"] }))).body);
      expect([card.summary, card.extension.basis]).to.deep.equal(["CONSENT_PERMIT", "emergency"]);
      await (await patient.setEmergencyOptOut(true)).wait();
      expect(decision((await consult(hookContext({ purposeOfUse: ["ETREAT"] }))).body).summary).to.equal(
        "CONSENT_DENY",
      );
    });
  });

  context("bounded work for unauthenticated callers", function () {
    it("refuses unknown purposes, too many codes and oversized bodies before reading the chain", async function () {
      expect((await consult(hookContext({ purposeOfUse: ["SNOOP"] }))).body.error).to.equal("UnknownPurpose");
      expect((await consult(hookContext({ purposeOfUse: Array(11).fill("TREAT") }))).status).to.equal(400);
      expect(
        (
          await consult(
            hookContext({ class: Array(17).fill({ system: "http://hl7.org/fhir/resource-types", code: "Condition" }) }),
          )
        ).status,
      ).to.equal(400);
      expect((await consult(hookContext({ content: { padding: "x".repeat(40 * 1024) } }))).status).to.equal(413);
    });

    it("rate-limits each client address", async function () {
      const { gateway: limited } = await startTestGateway(setup, { rateLimitPerMinute: 3 });
      try {
        const statuses: number[] = [];
        for (let i = 0; i < 4; i++) statuses.push((await consult(hookContext(), limited.url)).status);
        expect(statuses).to.deep.equal([200, 200, 200, 429]);
      } finally {
        await limited.close();
      }
    });
  });
});

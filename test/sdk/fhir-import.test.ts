/**
 * FHIR R4 Consent import on a real ledger (the Hardhat network): what the SDK exports comes back as the
 * same on-chain state, a hospital's consent becomes the grant it says, and what the ledger cannot hold is
 * refused with the element and the reason.
 */
import { loadFixture, time } from "@nomicfoundation/hardhat-toolbox/network-helpers";
import { expect } from "chai";
import fc from "fast-check";

import {
  DataClass,
  Duo,
  PatientClient,
  Purpose,
  UnsupportedFhirConsentError,
  consentFromFhir,
  consentToFhir,
  emergencyOptOutToFhir,
  policyToFhir,
  type FhirResource,
} from "../../sdk/index";
import { getAddress, hexlify } from "ethers";

import * as viemEntry from "../../sdk/viem";
import { DAY, deployLedgerFixture } from "../helpers/fixtures";
import { deploymentOf, viemWallet } from "../helpers/viem";
import { sdkContracts } from "../helpers/sdk";
import { structuralIssues } from "../helpers/fhir-validation";

async function importFixture() {
  const f = await deployLedgerFixture();
  const contracts = await sdkContracts(f, f.patient);
  const client = new PatientClient(contracts, f.patient);
  const origin = { chainId: 31337, ledger: await f.ledger.getAddress() };
  return { ...f, client, origin };
}

const caip10 = (address: string) => ({
  identifier: { system: "https://chainagnostic.org/CAIPs/caip-10", value: `eip155:31337:${address}` },
});
const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/** A consent as a hospital's consent system records it (PCF-like: top-level class, one actor). */
function hospitalConsent(actor: string, until: number, overrides: Record<string, unknown> = {}): FhirResource {
  return {
    resourceType: "Consent",
    status: "active",
    scope: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/consentscope", code: "patient-privacy" }] },
    category: [{ coding: [{ system: "http://loinc.org", code: "59284-0" }] }],
    patient: { reference: "Patient/example" },
    policyRule: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/v3-ActCode", code: "OPTIN" }] },
    provision: {
      type: "permit",
      period: { end: iso(until) },
      actor: [
        {
          role: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", code: "PRCP" }] },
          reference: caip10(actor),
        },
      ],
      action: [{ coding: [{ system: "http://terminology.hl7.org/CodeSystem/consentaction", code: "access" }] }],
      purpose: [{ system: "http://terminology.hl7.org/CodeSystem/v3-ActReason", code: "TREAT" }],
      class: [{ system: "http://hl7.org/fhir/resource-types", code: "Condition" }],
      ...overrides,
    },
  };
}

function refusal(fn: () => unknown): UnsupportedFhirConsentError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(UnsupportedFhirConsentError);
    return error as UnsupportedFhirConsentError;
  }
  throw new Error("expected an UnsupportedFhirConsentError");
}

describe("FHIR Consent import", function () {
  context("round trip: export, then import, gives the same on-chain state", function () {
    it("for a consent granted from now (validFrom 0)", async function () {
      const f = await loadFixture(importFixture);
      await (
        await f.client.grant({
          grantee: f.hospital.address,
          dataClasses: ["LAB_RESULT", "MENTAL_HEALTH", "IMAGING"],
          purposes: ["TREAT", "CAREMGT"],
          validUntil: (await time.latest()) + 30 * DAY,
        })
      ).wait();
      const before = await f.ledger.consentOf(f.patient.address, f.hospital.address);
      const exported = consentToFhir((await f.client.consentTo(f.hospital.address))!, {
        ...f.origin,
        now: await time.latest(),
      });
      await (await f.client.revoke(f.hospital.address)).wait();
      expect((await f.ledger.consentOf(f.patient.address, f.hospital.address)).validUntil).to.equal(0n);

      const imported = await f.client.previewFhirConsent(JSON.parse(JSON.stringify(exported)));
      expect(imported.summary.join(" "))
        .to.contain(f.hospital.address)
        .and.contain("lab result")
        .and.contain("mental health")
        .and.contain("from now");
      await (await f.client.applyFhirConsent(imported)).wait();
      expect(await f.ledger.consentOf(f.patient.address, f.hospital.address)).to.deep.equal(before);
    });

    it("for a consent starting later", async function () {
      const f = await loadFixture(importFixture);
      const start = (await time.latest()) + DAY;
      await (
        await f.client.grant({
          grantee: f.university.address,
          dataClasses: ["GENOMIC", "VITAL_SIGNS"],
          purposes: ["HRESCH"],
          validFrom: start,
          validUntil: start + 10 * DAY,
        })
      ).wait();
      const before = await f.ledger.consentOf(f.patient.address, f.university.address);
      const exported = consentToFhir((await f.client.consentTo(f.university.address))!, {
        ...f.origin,
        now: await time.latest(),
      });
      await (await f.client.revoke(f.university.address)).wait();
      await (await f.client.applyFhirConsent(await f.client.previewFhirConsent(exported))).wait();
      expect(await f.ledger.consentOf(f.patient.address, f.university.address)).to.deep.equal(before);
    });

    it("for the standing research policy", async function () {
      const f = await loadFixture(importFixture);
      await (
        await f.client.setPolicy({
          permission: "DS",
          modifiers: ["IRB", "TS"],
          diseaseId: 4992,
          maxDuration: 90 * DAY,
          dataClasses: ["LAB_RESULT", "GENOMIC"],
          purposes: ["HRESCH", "BIORCH"],
          validUntil: (await time.latest()) + 365 * DAY,
        })
      ).wait();
      const before = await f.ledger.policyOf(f.patient.address);
      const exported = policyToFhir(
        f.patient.address,
        {
          permission: Number(before.permission),
          modifiers: before.modifiers,
          dataClasses: Number(before.dataClasses),
          purposes: Number(before.purposes),
          diseaseId: Number(before.diseaseId),
          maxDuration: Number(before.maxDuration),
          validUntil: Number(before.validUntil),
        },
        { ...f.origin, now: await time.latest() },
      );
      expect(structuralIssues(exported)).to.deep.equal([]);
      await (await f.client.clearPolicy()).wait();
      const imported = await f.client.previewFhirConsent(exported);
      expect(imported.action.kind).to.equal("policy");
      expect(imported.summary.join(" ")).to.contain("DS").and.contain("MONDO:0004992");
      await (await f.client.applyFhirConsent(imported)).wait();
      expect(await f.ledger.policyOf(f.patient.address)).to.deep.equal(before);
    });

    it("for the emergency opt-out", async function () {
      const f = await loadFixture(importFixture);
      const exported = emergencyOptOutToFhir(f.patient.address, f.origin);
      expect(await f.ledger.emergencyOptedOut(f.patient.address)).to.equal(false);
      const imported = await f.client.previewFhirConsent(exported);
      expect(imported.summary[0]).to.match(/^Opt out of emergency access/);
      await (await f.client.applyFhirConsent(imported)).wait();
      expect(await f.ledger.emergencyOptedOut(f.patient.address)).to.equal(true);
    });
  });

  it("reads and applies the same consents through the viem entry (consent-ledger/viem): grant, policy, opt-out", async function () {
    const f = await loadFixture(importFixture);
    const wallet = viemWallet(f.patient.address, 5, true);
    const client = new viemEntry.PatientClient(await viemEntry.connect(wallet, await deploymentOf(f)), wallet);
    const until = (await time.latest()) + 30 * DAY;
    const grant = await client.previewFhirConsent(hospitalConsent(f.hospital.address, until));
    expect(grant).to.deep.equal(await f.client.previewFhirConsent(hospitalConsent(f.hospital.address, until)));
    await (await client.applyFhirConsent(grant)).wait();
    expect(grant.action.kind).to.equal("grant");
    expect(Number((await f.ledger.consentOf(f.patient.address, f.hospital.address)).validUntil)).to.equal(until);

    const policy = {
      permission: Duo.GRU,
      modifiers: 0n,
      dataClasses: 1 << DataClass.LAB_RESULT,
      purposes: 1 << Purpose.HRESCH,
      diseaseId: 0,
      maxDuration: 0,
      validUntil: (await time.latest()) + 365 * DAY,
    };
    const imported = await client.previewFhirConsent(
      policyToFhir(f.patient.address, policy, { ...f.origin, now: await time.latest() }),
    );
    expect(imported.action).to.deep.equal({ kind: "policy", policy });
    await (await client.applyFhirConsent(imported)).wait();
    expect(Number((await f.ledger.policyOf(f.patient.address)).validUntil)).to.equal(policy.validUntil);

    await (
      await client.applyFhirConsent(await client.previewFhirConsent(emergencyOptOutToFhir(f.patient.address, f.origin)))
    ).wait();
    expect(await f.ledger.emergencyOptedOut(f.patient.address)).to.equal(true);
    const delegated = client.applyFhirConsent(imported, { patient: f.otherPatient.address });
    await expect(delegated).to.be.rejectedWith(/a delegate cannot set a patient's research policy/);
  });

  it("gives back every consent it exports, for any classes, purposes and period (1,000 cases, no chain)", function () {
    const account = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => getAddress(hexlify(b)));
    fc.assert(
      fc.property(
        account,
        account,
        fc.integer({ min: 1, max: 2 ** 15 - 1 }),
        fc.integer({ min: 1, max: 2 ** 10 - 1 }),
        fc.option(fc.integer({ min: 1, max: 2 ** 34 }), { nil: 0 }),
        fc.integer({ min: 1, max: 2 ** 20 }),
        (patient, grantee, dataClasses, purposes, validFrom, length) => {
          const consent = {
            patient,
            grantee,
            dataClasses,
            purposes,
            validFrom,
            validUntil: validFrom + length + (validFrom === 0 ? 2 ** 34 : 0),
          };
          const exported = consentToFhir(consent, { chainId: 31337, ledger: grantee, now: 0 });
          const imported = consentFromFhir(JSON.parse(JSON.stringify(exported)), { chainId: 31337, patient });
          expect(imported.action).to.deep.equal({
            kind: "grant",
            grant: { grantee, dataClasses, purposes, validFrom, validUntil: consent.validUntil },
          });
        },
      ),
      { numRuns: 1000 },
    );
  });

  context("a hospital's Consent", function () {
    it("becomes the grant it says: conditions for treatment to one account until its end", async function () {
      const f = await loadFixture(importFixture);
      const until = (await time.latest()) + 7 * DAY;
      const resource = hospitalConsent(f.hospital.address, until);
      const imported = await f.client.previewFhirConsent(resource);
      expect(imported.action).to.deep.equal({
        kind: "grant",
        grant: { grantee: f.hospital.address, dataClasses: 1 << 4, purposes: 1, validFrom: 0, validUntil: until },
      });
      await (await f.client.applyFhirConsent(imported)).wait();
      expect(await f.ledger.hasAccess(f.patient.address, f.hospital.address, 4, 0)).to.equal(true);
      expect(await f.ledger.hasAccess(f.patient.address, f.hospital.address, 0, 0)).to.equal(false);
    });

    it("names its recipient by a practitioner reference the caller maps to an account", async function () {
      const f = await loadFixture(importFixture);
      const resource = hospitalConsent(f.hospital.address, (await time.latest()) + DAY);
      (resource.provision as { actor: { reference: unknown }[] }).actor[0].reference = {
        reference: "Practitioner/dr-who",
      };
      expect(refusal(() => consentFromFhir(resource, { chainId: 31337 })).path).to.equal(
        "Consent.provision.actor[0].reference",
      );
      const imported = await f.client.previewFhirConsent(resource, {
        resolveActor: (reference) =>
          (reference as { reference?: string }).reference === "Practitioner/dr-who" ? f.lab.address : undefined,
      });
      expect(imported.action.kind === "grant" && imported.action.grant.grantee).to.equal(f.lab.address);
    });
  });

  context("what the ledger cannot hold is refused with the element and the reason", function () {
    const cases: [string, (actor: string, until: number) => FhirResource, string, RegExp][] = [
      [
        "a deny exception",
        (a, u) =>
          hospitalConsent(a, u, {
            class: undefined,
            provision: [
              { type: "permit", class: [{ system: "http://hl7.org/fhir/resource-types", code: "Condition" }] },
              {
                type: "deny",
                class: [{ system: "http://hl7.org/fhir/resource-types", code: "Condition" }],
                code: [{ coding: [{ system: "http://snomed.info/sct", code: "38341003" }] }],
              },
            ],
          }),
        "Consent.provision.provision[1]",
        /deny exception/,
      ],
      [
        "per-record data",
        (a, u) => hospitalConsent(a, u, { data: [{ meaning: "instance", reference: { reference: "Observation/1" } }] }),
        "Consent.provision.data",
        /per-record/,
      ],
      [
        "several actors",
        (a, u) => hospitalConsent(a, u, { actor: [{ reference: caip10(a) }, { reference: caip10(a) }] }),
        "Consent.provision.actor[1]",
        /several actors/,
      ],
      [
        "rules for another actor in a nested provision",
        (a, u) =>
          hospitalConsent(a, u, {
            class: undefined,
            provision: [
              {
                type: "permit",
                actor: [{ reference: caip10(a) }],
                class: [{ system: "http://hl7.org/fhir/resource-types", code: "Condition" }],
              },
            ],
          }),
        "Consent.provision.provision[0].actor",
        /different rules/,
      ],
      [
        "part of a data class",
        (a, u) =>
          hospitalConsent(a, u, {
            class: [{ system: "http://hl7.org/fhir/resource-types", code: "Observation" }],
            code: [
              {
                coding: [{ system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "laboratory" }],
              },
            ],
          }),
        "Consent.provision",
        /covers only part of LAB_RESULT/,
      ],
      [
        "a consent without an end",
        (a, u) => hospitalConsent(a, u, { period: { start: iso(u - DAY) } }),
        "Consent.provision.period.end",
        /always ends/,
      ],
      [
        "a draft",
        (a, u) => ({ ...hospitalConsent(a, u), status: "draft" }),
        "Consent.status",
        /only an active consent/,
      ],
      [
        "a consent to treatment",
        (a, u) => ({
          ...hospitalConsent(a, u),
          scope: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/consentscope", code: "treatment" }] },
        }),
        "Consent.scope",
        /privacy consents/,
      ],
      [
        "another patient's consent",
        (a, u) => ({ ...hospitalConsent(a, u), patient: caip10(a) }),
        "Consent.patient",
        /not the signing patient/,
      ],
      [
        "a refusal other than of emergency access",
        (a, u) => hospitalConsent(a, u, { type: "deny", actor: undefined, class: undefined }),
        "Consent.provision.purpose",
        /emergency/,
      ],
    ];
    for (const [name, make, path, reason] of cases) {
      it(`refuses ${name} (${path})`, async function () {
        const f = await loadFixture(importFixture);
        const error = await f.client
          .previewFhirConsent(JSON.parse(JSON.stringify(make(f.hospital.address, (await time.latest()) + DAY))))
          .then(
            () => expect.fail("imported"),
            (e: unknown) => e as UnsupportedFhirConsentError,
          );
        expect(error).to.be.instanceOf(UnsupportedFhirConsentError);
        expect(error.path).to.equal(path);
        expect(error.reason).to.match(reason);
        expect(error.shortMessage).to.contain(path);
      });
    }
  });
});

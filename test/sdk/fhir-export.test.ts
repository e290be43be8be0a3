/**
 * The FHIR R4 export, run through a real validator (medplum with the official StructureDefinitions) and
 * checked code by code against the R4 code systems, over every audit action, purpose and data class.
 */
import { expect } from "chai";
import { getAddress, hexlify, randomBytes } from "ethers";

import type { AuditAction, AuditEntry } from "../../sdk/clients/audit";
import type { Consent } from "../../sdk/clients/types";
import {
  DataClass,
  DataClassFhir,
  type DataClassName,
  Duo,
  Purpose,
  type PurposeName,
  maskOf,
  duoMaskOf,
} from "../../sdk/codes";
import {
  auditEntryToFhir,
  auditTrailToFhirBundle,
  consentToFhir,
  emergencyOptOutToFhir,
  fhirCollection,
  DATA_CLASS_SLICES,
  ledgerCodeSystems,
  policyToFhir,
} from "../../sdk/index";
import { r4CodeSystems, r4Example, structuralIssues, terminologyIssues } from "../helpers/fhir-validation";

const account = () => getAddress(hexlify(randomBytes(20)));
const ORIGIN = { chainId: 31337, ledger: account() };
const PATIENT = account();
const GRANTEE = account();
const NOW = 1_800_000_000;

const ALL_ACTIONS: AuditAction[] = [
  "record-anchored",
  "record-amended",
  "consent-granted",
  "consent-revoked",
  "request-opened",
  "request-approved",
  "request-denied",
  "request-cancelled",
  "key-released",
  "emergency-opened",
  "emergency-closed",
  "emergency-opt-out-set",
  "delegate-appointed",
  "delegate-removed",
  "policy-set",
  "policy-cleared",
];

function entry(action: AuditAction, overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    action,
    time: NOW,
    blockNumber: 12,
    transactionHash: hexlify(randomBytes(32)),
    logIndex: 3,
    patient: PATIENT,
    actor: action === "key-released" ? account() : PATIENT,
    counterparty: GRANTEE,
    basis: action === "emergency-opened" ? "emergency" : "patient",
    recordId: action.startsWith("record") || action === "key-released" ? hexlify(randomBytes(32)) : undefined,
    requestId: action.startsWith("request") ? hexlify(randomBytes(32)) : undefined,
    purposes: action === "key-released" || action.startsWith("consent") ? maskOf([Purpose.TREAT]) : undefined,
    dataClasses: action.startsWith("consent") ? maskOf([DataClass.LAB_RESULT]) : undefined,
    ...overrides,
  };
}

function consent(classes: DataClassName[], purposes: PurposeName[], validFrom = NOW - 100): Consent {
  return {
    patient: PATIENT,
    grantee: GRANTEE,
    dataClasses: maskOf(classes.map((n) => DataClass[n])),
    purposes: maskOf(purposes.map((n) => Purpose[n])),
    validFrom,
    validUntil: NOW + 86_400,
  };
}

const systems = () => r4CodeSystems(ledgerCodeSystems());

function expectValid(resource: unknown) {
  expect(structuralIssues(resource), "validator issues").to.deep.equal([]);
  expect(terminologyIssues(resource, systems()), "terminology issues").to.deep.equal([]);
}

describe("FHIR R4 export", function () {
  context("the validator itself", function () {
    it("accepts the official R4 Consent and AuditEvent examples", function () {
      for (const file of [
        "Consent-consent-example-Out.json",
        "Consent-consent-example-basic.json",
        "AuditEvent-example-disclosure.json",
        "AuditEvent-example.json",
      ]) {
        expect(structuralIssues(r4Example(file)), file).to.deep.equal([]);
      }
    });

    it("rejects a Consent without policy or policyRule (ppc-1), an unknown element and a wrong type", function () {
      const example = r4Example("Consent-consent-example-Out.json");
      delete example.policyRule;
      expect(structuralIssues(example).join("\n")).to.match(/ppc-1/);
      expect(structuralIssues({ ...r4Example("Consent-consent-example-basic.json"), madeUp: 1 })).to.not.be.empty;
      expect(structuralIssues({ ...r4Example("AuditEvent-example.json"), recorded: 17 })).to.not.be.empty;
    });

    it("the terminology check rejects a code R4 does not define and a display that is not official", function () {
      expect(
        terminologyIssues(
          { type: { system: "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle", code: "deactivate" } },
          systems(),
        ),
      ).to.have.length(1);
      expect(
        terminologyIssues(
          {
            p: {
              system: "http://terminology.hl7.org/CodeSystem/v3-ActReason",
              code: "ETREAT",
              display: "emergency treatment",
            },
          },
          systems(),
        ),
      ).to.have.length(1);
      expect(terminologyIssues({ p: { system: "https://example.org/unknown", code: "x" } }, systems())).to.have.length(
        1,
      );
    });
  });

  it("says in DataClassFhir (for people) exactly what DATA_CLASS_SLICES says (for FHIR)", function () {
    for (const name of Object.keys(DataClass) as DataClassName[]) {
      const fromSlices = DATA_CLASS_SLICES[name].flatMap((slice) =>
        slice.class.map((type) =>
          slice.securityLabel
            ? `${type} (security label ${slice.securityLabel.code})`
            : slice.code
              ? `${type}?category=${slice.code.code}`
              : type,
        ),
      );
      expect([...DataClassFhir[name]].sort(), name).to.deep.equal(fromSlices.sort());
    }
  });

  context("consents", function () {
    for (const name of Object.keys(DataClass) as DataClassName[]) {
      it(`exports a consent to ${name} valid for every purpose`, function () {
        for (const purpose of Object.keys(Purpose) as PurposeName[])
          expectValid(consentToFhir(consent([name], [purpose]), { ...ORIGIN, now: NOW }));
      });
    }

    it("exports a consent to every class and purpose at once, valid, with id, identifier, performer and policyRule", function () {
      const fhir = consentToFhir(
        consent(Object.keys(DataClass) as DataClassName[], Object.keys(Purpose) as PurposeName[]),
        { ...ORIGIN, now: NOW, recordedAt: NOW - 50 },
      );
      expectValid(fhir);
      expect(fhir.id).to.match(/^[0-9a-f-]{36}$/);
      expect(fhir.identifier).to.deep.equal([
        {
          system: "https://consent-ledger.org/fhir/sid/consent",
          value: `eip155:31337:${ORIGIN.ledger}/consent/${PATIENT}/${GRANTEE}`,
        },
      ]);
      expect(fhir.performer).to.deep.equal([
        { identifier: { system: "https://chainagnostic.org/CAIPs/caip-10", value: `eip155:31337:${PATIENT}` } },
      ]);
      expect(fhir.scope).to.deep.include({
        coding: [
          {
            system: "http://terminology.hl7.org/CodeSystem/consentscope",
            code: "patient-privacy",
            display: "Privacy Consent",
          },
        ],
      });
      expect((fhir.policyRule as { coding: { code: string }[] }).coding[0].code).to.equal("OPTIN");
    });

    it("says lab results as Observation/laboratory, DiagnosticReport/LAB and Specimen, excluding PSY, SEX and SUD data", function () {
      const provision = consentToFhir(consent(["LAB_RESULT"], ["TREAT"]), { ...ORIGIN, now: NOW }).provision as {
        provision: Record<string, unknown>[];
        code?: unknown;
      };
      expect(provision.code).to.equal(undefined);
      expect(provision.provision).to.deep.equal([
        {
          type: "permit",
          class: [{ system: "http://hl7.org/fhir/resource-types", code: "Observation" }],
          code: [
            {
              coding: [
                {
                  system: "http://terminology.hl7.org/CodeSystem/observation-category",
                  code: "laboratory",
                  display: "Laboratory",
                },
              ],
            },
          ],
        },
        {
          type: "permit",
          class: [{ system: "http://hl7.org/fhir/resource-types", code: "DiagnosticReport" }],
          code: [
            {
              coding: [{ system: "http://terminology.hl7.org/CodeSystem/v2-0074", code: "LAB", display: "Laboratory" }],
            },
          ],
        },
        { type: "permit", class: [{ system: "http://hl7.org/fhir/resource-types", code: "Specimen" }] },
        {
          type: "deny",
          securityLabel: ["PSY", "SEX", "SUD"].map((code) => ({
            system: "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            code,
            display: systems().get("http://terminology.hl7.org/CodeSystem/v3-ActCode")!.get(code),
          })),
        },
      ]);
    });

    it("labels mental health PSY and excludes only the sensitive classes not granted", function () {
      const provision = consentToFhir(consent(["MENTAL_HEALTH"], ["TREAT"]), { ...ORIGIN, now: NOW }).provision as {
        provision: { type: string; securityLabel?: { code: string }[] }[];
      };
      expect(provision.provision.map((p) => [p.type, p.securityLabel?.map((l) => l.code)])).to.deep.equal([
        ["permit", ["PSY"]],
        ["deny", ["SEX", "SUD"]],
      ]);
    });

    it("exports a consent granted from now (validFrom 0) without a 1970 start", function () {
      const fhir = consentToFhir(consent(["VITAL_SIGNS"], ["TREAT"], 0), { ...ORIGIN, now: NOW });
      expectValid(fhir);
      expect((fhir.provision as { period: object }).period).to.deep.equal({
        end: new Date((NOW + 86_400) * 1000).toISOString(),
      });
      expect(fhir.dateTime).to.equal(undefined);
      expect(JSON.stringify(fhir)).to.not.contain("1970");
    });

    it("is inactive once it has ended", function () {
      expect(consentToFhir(consent(["VITAL_SIGNS"], ["TREAT"]), { ...ORIGIN, now: NOW + 86_400 }).status).to.equal(
        "inactive",
      );
    });

    it("carries a signed consent as sourceAttachment", function () {
      const signed = {
        kind: "grant" as const,
        chainId: 31337,
        ledger: ORIGIN.ledger,
        signer: PATIENT,
        nonce: "1",
        deadline: NOW,
        signature: "0x12",
      };
      const fhir = consentToFhir(consent(["VITAL_SIGNS"], ["TREAT"]), { ...ORIGIN, now: NOW, signedConsent: signed });
      expectValid(fhir);
      const attachment = fhir.sourceAttachment as { data: string; contentType: string };
      expect(JSON.parse(Buffer.from(attachment.data, "base64").toString("utf8"))).to.deep.equal(signed);
    });
  });

  context("the standing research policy and the emergency opt-out", function () {
    it("exports the research policy with its DUO terms, disease and longest duration", function () {
      const fhir = policyToFhir(
        PATIENT,
        {
          permission: Duo.DS,
          modifiers: duoMaskOf(["IRB", "PUB", "TS"]),
          dataClasses: maskOf([DataClass.LAB_RESULT, DataClass.GENOMIC]),
          purposes: maskOf([Purpose.HRESCH, Purpose.BIORCH]),
          diseaseId: 4992,
          maxDuration: 86_400,
          validUntil: NOW + 1000,
        },
        { ...ORIGIN, now: NOW },
      );
      expectValid(fhir);
      expect((fhir.policy as { uri: string }[]).map((p) => p.uri)).to.deep.equal([
        "http://purl.obolibrary.org/obo/DUO_0000007",
        "http://purl.obolibrary.org/obo/DUO_0000019",
        "http://purl.obolibrary.org/obo/DUO_0000021",
        "http://purl.obolibrary.org/obo/DUO_0000025",
        "http://purl.obolibrary.org/obo/MONDO_0004992",
      ]);
    });

    it("exports the emergency opt-out as a deny of emergency treatment", function () {
      const fhir = emergencyOptOutToFhir(PATIENT, { ...ORIGIN, recordedAt: NOW });
      expectValid(fhir);
      expect((fhir.provision as { type: string }).type).to.equal("deny");
    });

    it("publishes CodeSystems for its own codes, valid, at https URLs", function () {
      for (const cs of ledgerCodeSystems()) {
        expect(structuralIssues(cs)).to.deep.equal([]);
        expect(cs.url).to.match(/^https:\/\//);
      }
    });
  });

  context("the audit trail", function () {
    for (const action of ALL_ACTIONS) {
      it(`exports ${action} as a valid AuditEvent with agent types and official codes`, function () {
        const fhir = auditEntryToFhir(entry(action), ORIGIN);
        expectValid(fhir);
        for (const agent of fhir.agent as { type?: unknown }[]) expect(agent.type).to.not.equal(undefined);
      });
    }

    it("marks an emergency opening break-the-glass and names the consent a release relied on", function () {
      const opened = auditEntryToFhir(entry("emergency-opened", { purposes: maskOf([Purpose.ETREAT]) }), ORIGIN);
      expect((opened.purposeOfEvent as { coding: { code: string }[] }[]).map((p) => p.coding[0].code)).to.deep.equal([
        "ETREAT",
        "BTG",
      ]);
      const released = auditEntryToFhir(entry("key-released", { basis: "consent" }), ORIGIN);
      expect((released.entity as { type: { code: string } }[]).map((e) => e.type.code)).to.include("Consent");
    });

    it("gives each release of one logged batch its own id and a fullUrl in the Bundle", function () {
      const shared = {
        transactionHash: hexlify(randomBytes(32)),
        logIndex: 0,
        releaseBatchRoot: hexlify(randomBytes(32)),
      };
      const entries = [0, 1, 2, 3].map(() => entry("key-released", shared));
      const bundle = auditTrailToFhirBundle(entries, ORIGIN);
      expectValid(bundle);
      const bundleEntries = bundle.entry as { fullUrl: string; resource: { id: string } }[];
      expect(new Set(bundleEntries.map((e) => e.resource.id)).size).to.equal(4);
      for (const e of bundleEntries) expect(e.fullUrl).to.equal(`urn:uuid:${e.resource.id}`);
      expect(fhirCollection([]).entry).to.deep.equal([]);
    });
  });
});

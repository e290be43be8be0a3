/**
 * describeConsentChange and studyLabelOf (sdk/clients/consent-change.ts, study-metadata.ts): the words a
 * review step shows before an action, and a study's label checked against its on-chain hash.
 */
import { expect } from "chai";

import { DataClass, maskOf, Purpose } from "../../sdk/codes";
import { describeConsentChange, FLAGGED_DATA_CLASSES } from "../../sdk/clients/consent-change";
import { studyIdOf } from "../../sdk/clients/requests";
import { STUDY_TITLE_MAX_LENGTH, studyLabelOf } from "../../sdk/clients/study-metadata";
import type { AccessRequest, Consent } from "../../sdk/clients/types";

const NOW = 1_800_000_000;
const DAY = 86400;
const PATIENT = "0x00000000000000000000000000000000000000a1";
const PHARMA = "0x00000000000000000000000000000000000000b2";
const nameOf = (address: string) => (address === PHARMA ? "pharma" : address);

const consent = (dataClasses: number, purposes: number, validUntil: number): Consent => ({
  patient: PATIENT,
  grantee: PHARMA,
  dataClasses,
  purposes,
  validFrom: NOW - DAY,
  validUntil,
});
const request = (dataClasses: number, duration = 90 * DAY): AccessRequest => ({
  researcher: PHARMA,
  openedAt: NOW - 60,
  terms: {
    patient: PATIENT,
    dataClasses,
    purpose: Purpose.HRESCH,
    researchCategory: 6,
    diseaseId: 0,
    acceptedObligations: 0n,
    duration,
    studyId: studyIdOf("HbA1c-outcomes-2026"),
    protocolHash: "0x" + "00".repeat(32),
  },
});

describe("describing a consent change before it is made (describeConsentChange)", function () {
  context("approving a request", function () {
    it("says what the researcher loses when the approval replaces wider access in force", function () {
      const current = consent(
        maskOf([DataClass.LAB_RESULT, DataClass.IMAGING]),
        maskOf([Purpose.HRESCH, Purpose.PUBHLTH]),
        NOW + 365 * DAY,
      );
      const change = describeConsentChange(
        { kind: "approve", request: request(maskOf([DataClass.LAB_RESULT])) },
        { now: NOW, consent: current },
        { nameOf },
      );
      expect(change.before).to.equal(
        "pharma may see Lab results, Imaging (scans, X-rays), for healthcare research, public health, until 2028-01-15.",
      );
      expect(change.after).to.equal("pharma may see Lab results, for healthcare research, until 2027-04-15.");
      expect(change.lost).to.deep.equal({ dataClasses: 1 << DataClass.IMAGING, purposes: 1 << Purpose.PUBHLTH });
      expect(change.gained).to.deep.equal({ dataClasses: 0, purposes: 0 });
      expect(change.notes.join(" "))
        .to.include("This replaces what pharma may see now")
        .and.include("no longer see: Imaging")
        .and.include("Access ends sooner");
      expect(change.cannotUndo.join(" ")).to.include("no later action can recall data already released");
    });

    it("treats an expired consent as nothing in force", function () {
      const change = describeConsentChange(
        { kind: "approve", request: request(1) },
        { now: NOW, consent: consent(1, 8, NOW - 1) },
        { nameOf },
      );
      expect(change.before).to.equal("pharma cannot see any of your records.");
      expect(change.notes).to.deep.equal([]);
      expect(change.gained.dataClasses).to.equal(1);
    });

    it("flags mental health, sexual and reproductive health, substance use and genomic data", function () {
      expect([...FLAGGED_DATA_CLASSES].sort()).to.deep.equal([
        "GENOMIC",
        "MENTAL_HEALTH",
        "SEXUAL_REPRODUCTIVE_HEALTH",
        "SUBSTANCE_USE",
      ]);
      const mask = maskOf([DataClass.LAB_RESULT, DataClass.MENTAL_HEALTH, DataClass.GENOMIC]);
      const change = describeConsentChange({ kind: "approve", request: request(mask) }, { now: NOW }, { nameOf });
      expect(change.flagged).to.deep.equal(["GENOMIC", "MENTAL_HEALTH"]);
      expect(change.notes.join(" ")).to.include("Includes sensitive data: Genomic data, Mental health.");
    });
  });

  it("revoking: access ends, released data stays released, the policy is held back", function () {
    const change = describeConsentChange(
      { kind: "revoke", grantee: PHARMA },
      { now: NOW, consent: consent(1, 8, NOW + DAY) },
      { nameOf },
    );
    expect(change.before).to.match(/^pharma may see Lab results/);
    expect(change.after).to.match(/^pharma cannot see any of your records/);
    expect(change.lost).to.deep.equal({ dataClasses: 1, purposes: 8 });
    expect(change.cannotUndo).to.deep.equal([
      "Records pharma has already opened stay with them: no later action can recall data already released.",
    ]);
    expect(change.notes.join(" ")).to.include("standing policy will not approve pharma again");
  });

  it("denying closes the request for good and keeps access given before", function () {
    const change = describeConsentChange(
      { kind: "deny", request: request(1) },
      { now: NOW, consent: consent(2, 8, NOW + DAY) },
      { nameOf },
    );
    expect(change.after).to.match(/pharma keeps the access you gave before: Vital signs/);
    expect(change.cannotUndo[0]).to.include("closed for good");
  });

  it("opting out of emergency access says what it means for urgent care and that open windows end for good", function () {
    const change = describeConsentChange({ kind: "emergency-opt-out", optedOut: true }, { now: NOW, optedOut: false });
    expect(change.notes[0]).to.match(/urgent care.*will not be able to read your records/);
    expect(change.cannotUndo[0]).to.match(/end at once, for good/);
    const back = describeConsentChange({ kind: "emergency-opt-out", optedOut: false }, { now: NOW, optedOut: true });
    expect(back.title).to.equal("Allow emergency access again");
  });

  it("a policy with sensitive classes says the ledger never releases them by policy", function () {
    const policy = {
      permission: 6,
      modifiers: 0n,
      dataClasses: maskOf([DataClass.LAB_RESULT, DataClass.SUBSTANCE_USE]),
      purposes: 8,
      maxDuration: 0,
      validUntil: 0,
    };
    const change = describeConsentChange({ kind: "set-policy", policy }, { now: NOW });
    expect(change.before).to.equal("Now: no standing policy; you decide every request yourself.");
    expect(change.after).to.include("health, medical or biomedical research").and.include("Lab results, Substance use");
    expect(change.flagged).to.deep.equal(["SUBSTANCE_USE"]);
    expect(change.notes.join(" ")).to.include("never releases Substance use by policy");
  });
});

describe("a study's label (studyLabelOf)", function () {
  const id = studyIdOf("HbA1c-outcomes-2026");

  it("is verified when the published study hashes to the on-chain id", function () {
    expect(studyLabelOf({ study: "HbA1c-outcomes-2026", title: "Blood sugar after 5 years" }, id)).to.deep.equal({
      verified: true,
      studyId: id,
      study: "HbA1c-outcomes-2026",
      title: "Blood sugar after 5 years",
    });
  });

  it("is unverified when the metadata names another study, or nothing", function () {
    expect(studyLabelOf({ study: "GLP1-cardio-trial-2027", title: "x" }, id)).to.include({
      verified: false,
      reason: "the metadata is for another study (its hash differs)",
    });
    expect(studyLabelOf(undefined, id)).to.include({ verified: false, reason: "no metadata published" });
    expect(studyLabelOf({ title: "no study" }, id)).to.include({ verified: false });
  });

  it("bounds the title and removes control characters, leaving markup as text", function () {
    const long = studyLabelOf({ study: "HbA1c-outcomes-2026", title: "<b>x</b>\u0007" + "a".repeat(500) }, id);
    expect(long.verified).to.equal(true);
    if (!long.verified) return;
    expect([...long.title].length).to.equal(STUDY_TITLE_MAX_LENGTH);
    expect(long.title.startsWith("<b>x</b> a")).to.equal(true);
    expect(long.title.endsWith("…")).to.equal(true);
  });
});

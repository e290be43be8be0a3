/**
 * Shared behaviour of every way to grant or revoke a consent (direct, batched, signed): each entry
 * point must apply the same rules, so each is run through the same assertions. The suites call
 * `shouldBehaveLikeGrant(route)` / `shouldBehaveLikeRevoke(route)` inside their own `describe`.
 */
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ZeroAddress, id, type ContractTransactionResponse } from "ethers";

import { DataClass, Duo, Purpose, maskOf } from "../../sdk/codes";
import { DAY, deployLedgerFixture } from "./fixtures";

export type LedgerFixture = Awaited<ReturnType<typeof deployLedgerFixture>>;

/** The terms of one grant, as plain numbers. */
export interface Terms {
  grantee: string;
  dataClasses: bigint | number;
  purposes: bigint | number;
  validFrom: bigint | number;
  validUntil: bigint | number;
}

/** Sends one grant of `terms` for `patient`, made by `actor` (its caller, or its signer when relayed). */
export type GrantRoute = (
  f: LedgerFixture,
  actor: HardhatEthersSigner,
  patient: string,
  terms: Terms,
) => Promise<ContractTransactionResponse>;

/** Sends the revocation of `patient`'s consent to `grantee`, made by `actor`. */
export type RevokeRoute = (
  f: LedgerFixture,
  actor: HardhatEthersSigner,
  patient: string,
  grantee: string,
) => Promise<ContractTransactionResponse>;

export const ALL_DATA_CLASSES = maskOf(Object.values(DataClass));
export const ALL_PURPOSES = maskOf(Object.values(Purpose));
/** The first code past each table: a bit no grant may hold. */
export const FIRST_UNKNOWN_DATA_CLASS = Object.values(DataClass).length;
export const FIRST_UNKNOWN_PURPOSE = Object.values(Purpose).length;

/** Lab results and vital signs for treatment: what a provider typically gets. */
export function treatmentTerms(grantee: string, validUntil: number, validFrom = 0): Terms {
  return {
    grantee,
    dataClasses: maskOf([DataClass.LAB_RESULT, DataClass.VITAL_SIGNS]),
    purposes: maskOf([Purpose.TREAT]),
    validFrom,
    validUntil,
  };
}

/** What a delegate may grant: every purpose and the sensitive classes, unless a test narrows it. */
export interface DelegateScope {
  purposes: bigint | number;
  sensitiveClasses: boolean;
}
export const FULL_DELEGATE_SCOPE: DelegateScope = { purposes: ALL_PURPOSES, sensitiveClasses: true };

/** The patient appoints the fixture's delegate until `until` (default: in 30 days), with `scope` (default: full). */
export async function appointDelegate(
  f: LedgerFixture,
  until?: number,
  scope: DelegateScope = FULL_DELEGATE_SCOPE,
): Promise<number> {
  const validUntil = until ?? (await time.latest()) + 30 * DAY;
  await f.ledger
    .connect(f.patient)
    .appointDelegate(f.delegate.address, validUntil, scope.purposes, scope.sensitiveClasses);
  return validUntil;
}

/**
 * `researcher` (default: pharma) asks `patient` (default: the fixture's patient) for research access
 * to lab results; returns the request as opened, ready for approve/deny, and its id.
 */
export async function openResearchRequest(
  f: LedgerFixture,
  options: { patient?: string; researcher?: HardhatEthersSigner; studyId?: string } = {},
) {
  const researcher = options.researcher ?? f.pharma;
  const terms = {
    patient: options.patient ?? f.patient.address,
    dataClasses: maskOf([DataClass.LAB_RESULT]),
    purpose: Purpose.HRESCH,
    researchCategory: Duo.GRU,
    diseaseId: 0,
    acceptedObligations: 0n,
    duration: 90 * DAY,
    studyId: options.studyId ?? id("study-1"),
    protocolHash: id("protocol-1"),
  };
  const receipt = await (await f.ledger.connect(researcher).requestAccess(terms)).wait();
  const block = await receipt!.getBlock();
  const request = { researcher: researcher.address, openedAt: block.timestamp, terms };
  return { request, requestId: await f.ledger.requestIdOf(request) };
}

export function shouldBehaveLikeGrant(route: GrantRoute): void {
  async function consentIsStored(f: LedgerFixture, patient: string, terms: Terms) {
    const stored = await f.ledger.consentOf(patient, terms.grantee);
    expect(stored.dataClasses).to.equal(terms.dataClasses);
    expect(stored.purposes).to.equal(terms.purposes);
    expect(stored.validFrom).to.equal(terms.validFrom);
    expect(stored.validUntil).to.equal(terms.validUntil);
  }

  // No silent change of access (#12, point 2): a grant over a consent that has not ended says what it
  // replaced, in the same transaction, right before its own ConsentGranted.
  context("when a consent that has not ended is replaced", function () {
    it("emits ConsentReplaced with the previous terms, then ConsentGranted with the new ones", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const now = await time.latest();
      const before = treatmentTerms(f.hospital.address, now + 30 * DAY);
      await f.ledger
        .connect(f.patient)
        .grant(f.patient.address, before.grantee, before.dataClasses, before.purposes, 0, before.validUntil);
      // Narrower: vital signs only, from tomorrow.
      const after = { ...before, dataClasses: maskOf([DataClass.VITAL_SIGNS]), validFrom: now + DAY };

      const receipt = await (await route(f, f.patient, f.patient.address, after)).wait();
      const events = receipt!.logs
        .map((log) => f.ledger.interface.parseLog(log)!)
        .filter((e) => e.name.startsWith("Consent"));
      expect(events.map((e) => e.name)).to.deep.equal(["ConsentReplaced", "ConsentGranted"]);
      expect(Array.from(events[0].args)).to.deep.equal([
        f.patient.address,
        before.grantee,
        BigInt(before.dataClasses),
        BigInt(before.purposes),
        0n,
        BigInt(before.validUntil),
      ]);
      await consentIsStored(f, f.patient.address, after);
    });

    it("emits no ConsentReplaced over no consent, an ended one, or a revocation", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const now = await time.latest();
      const terms = treatmentTerms(f.hospital.address, now + 30 * DAY);
      await expect(route(f, f.patient, f.patient.address, terms)).not.to.emit(f.ledger, "ConsentReplaced");
      await f.ledger.connect(f.patient).revoke(f.patient.address, f.hospital.address);
      await expect(route(f, f.patient, f.patient.address, terms)).not.to.emit(f.ledger, "ConsentReplaced");
      await time.increaseTo(now + 30 * DAY);
      const later = treatmentTerms(f.hospital.address, now + 60 * DAY);
      await expect(route(f, f.patient, f.patient.address, later)).not.to.emit(f.ledger, "ConsentReplaced");
    });
  });

  context("when the patient grants", function () {
    it("stores the consent and emits ConsentGranted naming the patient as actor", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const terms = treatmentTerms(f.hospital.address, (await time.latest()) + 30 * DAY);

      await expect(route(f, f.patient, f.patient.address, terms))
        .to.emit(f.ledger, "ConsentGranted")
        .withArgs(
          f.patient.address,
          terms.grantee,
          f.patient.address,
          terms.dataClasses,
          terms.purposes,
          terms.validFrom,
          terms.validUntil,
        );
      await consentIsStored(f, f.patient.address, terms);
      expect(await f.ledger.hasAccess(f.patient.address, f.hospital.address, DataClass.LAB_RESULT, Purpose.TREAT)).to.be
        .true;
    });

    it("starts at once when validFrom is 0 and ends at validUntil", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const validUntil = (await time.latest()) + 10 * DAY;
      await route(f, f.patient, f.patient.address, treatmentTerms(f.hospital.address, validUntil));

      expect(await f.ledger.hasAccess(f.patient.address, f.hospital.address, DataClass.VITAL_SIGNS, Purpose.TREAT)).to
        .be.true;
      await time.increaseTo(validUntil);
      expect(await f.ledger.hasAccess(f.patient.address, f.hospital.address, DataClass.VITAL_SIGNS, Purpose.TREAT)).to
        .be.false;
    });

    it("gives no access before a future validFrom, and access from it", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const validFrom = (await time.latest()) + DAY;
      const terms = treatmentTerms(f.hospital.address, validFrom + DAY, validFrom);
      await route(f, f.patient, f.patient.address, terms);

      await consentIsStored(f, f.patient.address, terms);
      expect(await f.ledger.hasAccess(f.patient.address, f.hospital.address, DataClass.LAB_RESULT, Purpose.TREAT)).to.be
        .false;
      await time.increaseTo(validFrom);
      expect(await f.ledger.hasAccess(f.patient.address, f.hospital.address, DataClass.LAB_RESULT, Purpose.TREAT)).to.be
        .true;
    });

    it("replaces the earlier consent to the same grantee, so a grant can narrow one", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = (await time.latest()) + 30 * DAY;
      const wide: Terms = {
        grantee: f.hospital.address,
        dataClasses: ALL_DATA_CLASSES,
        purposes: ALL_PURPOSES,
        validFrom: 0,
        validUntil: until,
      };
      await route(f, f.patient, f.patient.address, wide);
      expect(await f.ledger.hasAccess(f.patient.address, f.hospital.address, DataClass.GENOMIC, Purpose.HOPERAT)).to.be
        .true;

      const narrow = treatmentTerms(f.hospital.address, until - DAY);
      await route(f, f.patient, f.patient.address, narrow);

      await consentIsStored(f, f.patient.address, narrow);
      expect(await f.ledger.hasAccess(f.patient.address, f.hospital.address, DataClass.GENOMIC, Purpose.TREAT)).to.be
        .false;
      expect(await f.ledger.hasAccess(f.patient.address, f.hospital.address, DataClass.LAB_RESULT, Purpose.HOPERAT)).to
        .be.false;
      expect(await f.ledger.hasAccess(f.patient.address, f.hospital.address, DataClass.LAB_RESULT, Purpose.TREAT)).to.be
        .true;
    });

    it("accepts every known data class and purpose in one grant", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const terms: Terms = {
        grantee: f.stranger.address,
        dataClasses: ALL_DATA_CLASSES,
        purposes: ALL_PURPOSES,
        validFrom: 0,
        validUntil: (await time.latest()) + DAY,
      };
      await expect(route(f, f.patient, f.patient.address, terms)).to.emit(f.ledger, "ConsentGranted");
      await consentIsStored(f, f.patient.address, terms);
    });

    it("touches no other patient's or grantee's consent", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await route(f, f.patient, f.patient.address, treatmentTerms(f.hospital.address, (await time.latest()) + DAY));

      for (const [patient, grantee] of [
        [f.otherPatient.address, f.hospital.address],
        [f.patient.address, f.lab.address],
        [f.hospital.address, f.patient.address],
      ]) {
        const stored = await f.ledger.consentOf(patient, grantee);
        expect([stored.dataClasses, stored.purposes, stored.validFrom, stored.validUntil]).to.deep.equal([
          0n,
          0n,
          0n,
          0n,
        ]);
      }
    });
  });

  context("when a delegate grants", function () {
    it("grants for the patient while the appointment lasts, naming the delegate as actor", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await appointDelegate(f);
      const terms = treatmentTerms(f.lab.address, (await time.latest()) + DAY);

      await expect(route(f, f.delegate, f.patient.address, terms))
        .to.emit(f.ledger, "ConsentGranted")
        .withArgs(
          f.patient.address,
          f.lab.address,
          f.delegate.address,
          terms.dataClasses,
          terms.purposes,
          terms.validFrom,
          terms.validUntil,
        );
      await consentIsStored(f, f.patient.address, terms);
      // The grant is the patient's, not the delegate's own.
      expect((await f.ledger.consentOf(f.delegate.address, f.lab.address)).dataClasses).to.equal(0n);
    });

    it("grants in the last second of the appointment", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = await appointDelegate(f);
      const terms = treatmentTerms(f.lab.address, until);
      await time.setNextBlockTimestamp(until - 1);

      await expect(route(f, f.delegate, f.patient.address, terms)).to.emit(f.ledger, "ConsentGranted");
    });

    it("reverts with DelegateExpired from the second the appointment ends", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = await appointDelegate(f);
      const terms = treatmentTerms(f.lab.address, until + DAY);
      await time.setNextBlockTimestamp(until);

      await expect(route(f, f.delegate, f.patient.address, terms))
        .to.be.revertedWithCustomError(f.ledger, "DelegateExpired")
        .withArgs(f.patient.address, f.delegate.address, until);
    });

    // #12, point 4: a delegate acts within the scope the patient set, and gives no access that outlives
    // its appointment. The attack of the issue: a second address the delegate controls, PATRQT (no
    // accreditation needed) on substance use.
    it("reverts with DelegateScopeExceeded for a sensitive class without the patient's leave", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = await appointDelegate(f, undefined, { purposes: ALL_PURPOSES, sensitiveClasses: false });
      const terms = {
        grantee: f.stranger.address,
        dataClasses: maskOf([DataClass.SUBSTANCE_USE]),
        purposes: maskOf([Purpose.PATRQT]),
        validFrom: 0,
        validUntil: until,
      };

      await expect(route(f, f.delegate, f.patient.address, terms))
        .to.be.revertedWithCustomError(f.ledger, "DelegateScopeExceeded")
        .withArgs(f.patient.address, f.delegate.address, terms.dataClasses, terms.purposes);
      expect(await f.ledger.hasAccess(f.patient.address, f.stranger.address, DataClass.SUBSTANCE_USE, Purpose.PATRQT))
        .to.be.false;
    });

    it("reverts with DelegateScopeExceeded for a purpose outside its scope", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = await appointDelegate(f, undefined, { purposes: maskOf([Purpose.TREAT]), sensitiveClasses: true });
      const terms = { ...treatmentTerms(f.stranger.address, until), purposes: maskOf([Purpose.TREAT, Purpose.PATRQT]) };

      await expect(route(f, f.delegate, f.patient.address, terms))
        .to.be.revertedWithCustomError(f.ledger, "DelegateScopeExceeded")
        .withArgs(f.patient.address, f.delegate.address, terms.dataClasses, terms.purposes);
    });

    it("reverts with DelegateGrantOutlivesAppointment for a consent that ends after the appointment", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = await appointDelegate(f);
      const terms = treatmentTerms(f.lab.address, until + 1);

      await expect(route(f, f.delegate, f.patient.address, terms))
        .to.be.revertedWithCustomError(f.ledger, "DelegateGrantOutlivesAppointment")
        .withArgs(f.patient.address, f.delegate.address, until + 1, until);
    });

    it("grants within its scope: the purposes it was given, a sensitive class with leave, until the appointment ends", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = await appointDelegate(f, undefined, {
        purposes: maskOf([Purpose.TREAT, Purpose.PATRQT]),
        sensitiveClasses: true,
      });
      const terms = {
        grantee: f.lab.address,
        dataClasses: maskOf([DataClass.LAB_RESULT, DataClass.MENTAL_HEALTH]),
        purposes: maskOf([Purpose.PATRQT]),
        validFrom: 0,
        validUntil: until,
      };

      await expect(route(f, f.delegate, f.patient.address, terms))
        .to.emit(f.ledger, "ConsentGranted")
        .withArgs(f.patient.address, f.lab.address, f.delegate.address, terms.dataClasses, terms.purposes, 0, until);
      expect(await f.ledger.hasAccess(f.patient.address, f.lab.address, DataClass.MENTAL_HEALTH, Purpose.PATRQT)).to.be
        .true;
      // The consent ends with the appointment, in the same second.
      await time.increaseTo(until);
      expect(await f.ledger.hasAccess(f.patient.address, f.lab.address, DataClass.MENTAL_HEALTH, Purpose.PATRQT)).to.be
        .false;
    });

    it("grants non-sensitive classes without leave for sensitive ones", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = await appointDelegate(f, undefined, { purposes: maskOf([Purpose.TREAT]), sensitiveClasses: false });

      await expect(route(f, f.delegate, f.patient.address, treatmentTerms(f.lab.address, until))).to.emit(
        f.ledger,
        "ConsentGranted",
      );
    });

    it("leaves the patient unbounded by any delegate's scope", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = await appointDelegate(f, undefined, { purposes: maskOf([Purpose.TREAT]), sensitiveClasses: false });
      const terms = {
        grantee: f.stranger.address,
        dataClasses: maskOf([DataClass.SUBSTANCE_USE]),
        purposes: maskOf([Purpose.PATRQT]),
        validFrom: 0,
        validUntil: until + 365 * DAY,
      };

      await expect(route(f, f.patient, f.patient.address, terms)).to.emit(f.ledger, "ConsentGranted");
    });

    it("reverts with NotPatientOrDelegate once the delegate is removed", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await appointDelegate(f);
      await f.ledger.connect(f.patient).removeDelegate(f.delegate.address);

      await expect(route(f, f.delegate, f.patient.address, treatmentTerms(f.lab.address, (await time.latest()) + DAY)))
        .to.be.revertedWithCustomError(f.ledger, "NotPatientOrDelegate")
        .withArgs(f.patient.address, f.delegate.address);
    });

    it("reverts with NotPatientOrDelegate for a patient who did not appoint it", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await appointDelegate(f);

      await expect(
        route(f, f.delegate, f.otherPatient.address, treatmentTerms(f.lab.address, (await time.latest()) + DAY)),
      )
        .to.be.revertedWithCustomError(f.ledger, "NotPatientOrDelegate")
        .withArgs(f.otherPatient.address, f.delegate.address);
    });
  });

  context("when the actor is neither the patient nor a delegate", function () {
    it("reverts with NotPatientOrDelegate, even for an accredited party granting itself", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const terms = treatmentTerms(f.hospital.address, (await time.latest()) + DAY);

      await expect(route(f, f.hospital, f.patient.address, terms))
        .to.be.revertedWithCustomError(f.ledger, "NotPatientOrDelegate")
        .withArgs(f.patient.address, f.hospital.address);
      await expect(route(f, f.stranger, f.patient.address, terms))
        .to.be.revertedWithCustomError(f.ledger, "NotPatientOrDelegate")
        .withArgs(f.patient.address, f.stranger.address);
    });
  });

  context("with invalid terms", function () {
    it("reverts with InvalidGrantee for the zero address", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await expect(route(f, f.patient, f.patient.address, treatmentTerms(ZeroAddress, (await time.latest()) + DAY)))
        .to.be.revertedWithCustomError(f.ledger, "InvalidGrantee")
        .withArgs(ZeroAddress);
    });

    it("reverts with InvalidGrantee for the patient itself", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await expect(
        route(f, f.patient, f.patient.address, treatmentTerms(f.patient.address, (await time.latest()) + DAY)),
      )
        .to.be.revertedWithCustomError(f.ledger, "InvalidGrantee")
        .withArgs(f.patient.address);
    });

    for (const [label, dataClasses] of [
      ["no data class", 0],
      ["only the first unknown class", 2 ** FIRST_UNKNOWN_DATA_CLASS],
      ["every known class plus an unknown one", ALL_DATA_CLASSES + 2 ** FIRST_UNKNOWN_DATA_CLASS],
      ["the highest bit", 2 ** 31],
    ] as const) {
      it(`reverts with InvalidDataClasses for ${label}`, async function () {
        const f = await loadFixture(deployLedgerFixture);
        const terms = { ...treatmentTerms(f.hospital.address, (await time.latest()) + DAY), dataClasses };
        await expect(route(f, f.patient, f.patient.address, terms))
          .to.be.revertedWithCustomError(f.ledger, "InvalidDataClasses")
          .withArgs(dataClasses);
      });
    }

    for (const [label, purposes] of [
      ["no purpose", 0],
      ["only the first unknown purpose", 2 ** FIRST_UNKNOWN_PURPOSE],
      ["every known purpose plus an unknown one", ALL_PURPOSES + 2 ** FIRST_UNKNOWN_PURPOSE],
      ["the highest bit", 2 ** 31],
    ] as const) {
      it(`reverts with InvalidPurposes for ${label}`, async function () {
        const f = await loadFixture(deployLedgerFixture);
        const terms = { ...treatmentTerms(f.hospital.address, (await time.latest()) + DAY), purposes };
        await expect(route(f, f.patient, f.patient.address, terms))
          .to.be.revertedWithCustomError(f.ledger, "InvalidPurposes")
          .withArgs(purposes);
      });
    }

    it("reverts with InvalidValidity when validUntil equals validFrom", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const from = (await time.latest()) + DAY;
      await expect(route(f, f.patient, f.patient.address, treatmentTerms(f.hospital.address, from, from)))
        .to.be.revertedWithCustomError(f.ledger, "InvalidValidity")
        .withArgs(from, from);
    });

    it("reverts with InvalidValidity when validUntil is before validFrom", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const from = (await time.latest()) + 2 * DAY;
      await expect(route(f, f.patient, f.patient.address, treatmentTerms(f.hospital.address, from - 1, from)))
        .to.be.revertedWithCustomError(f.ledger, "InvalidValidity")
        .withArgs(from, from - 1);
    });

    it("reverts with InvalidValidity when validUntil is the block's own second", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const now = (await time.latest()) + 10;
      await time.setNextBlockTimestamp(now);
      await expect(route(f, f.patient, f.patient.address, treatmentTerms(f.hospital.address, now)))
        .to.be.revertedWithCustomError(f.ledger, "InvalidValidity")
        .withArgs(0, now);
    });

    it("reverts with InvalidValidity when validUntil has passed, even after a past validFrom", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const now = await time.latest();
      await expect(route(f, f.patient, f.patient.address, treatmentTerms(f.hospital.address, now - 10, now - 20)))
        .to.be.revertedWithCustomError(f.ledger, "InvalidValidity")
        .withArgs(now - 20, now - 10);
    });

    it("accepts validUntil one second after the block", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const now = (await time.latest()) + 10;
      await time.setNextBlockTimestamp(now);
      await expect(route(f, f.patient, f.patient.address, treatmentTerms(f.hospital.address, now + 1))).to.emit(
        f.ledger,
        "ConsentGranted",
      );
      expect(await f.ledger.hasAccess(f.patient.address, f.hospital.address, DataClass.LAB_RESULT, Purpose.TREAT)).to.be
        .true;
      await time.increase(1);
      expect(await f.ledger.hasAccess(f.patient.address, f.hospital.address, DataClass.LAB_RESULT, Purpose.TREAT)).to.be
        .false;
    });

    it("leaves the earlier consent in place when a replacement is rejected", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const terms = treatmentTerms(f.hospital.address, (await time.latest()) + DAY);
      await route(f, f.patient, f.patient.address, terms);

      await expect(route(f, f.patient, f.patient.address, { ...terms, purposes: 0 })).to.be.revertedWithCustomError(
        f.ledger,
        "InvalidPurposes",
      );
      await consentIsStored(f, f.patient.address, terms);
    });
  });
}

export function shouldBehaveLikeRevoke(route: RevokeRoute): void {
  async function grantTreatment(f: LedgerFixture, validUntil?: number) {
    const until = validUntil ?? (await time.latest()) + 30 * DAY;
    await f.ledger
      .connect(f.patient)
      .grant(f.patient.address, f.hospital.address, maskOf([DataClass.LAB_RESULT]), maskOf([Purpose.TREAT]), 0, until);
    return until;
  }

  it("ends the consent from this block, deletes it and emits ConsentRevoked naming the patient", async function () {
    const f = await loadFixture(deployLedgerFixture);
    await grantTreatment(f);

    await expect(route(f, f.patient, f.patient.address, f.hospital.address))
      .to.emit(f.ledger, "ConsentRevoked")
      .withArgs(f.patient.address, f.hospital.address, f.patient.address);
    const stored = await f.ledger.consentOf(f.patient.address, f.hospital.address);
    expect([stored.dataClasses, stored.purposes, stored.validFrom, stored.validUntil]).to.deep.equal([0n, 0n, 0n, 0n]);
    expect(await f.ledger.hasAccess(f.patient.address, f.hospital.address, DataClass.LAB_RESULT, Purpose.TREAT)).to.be
      .false;
  });

  it("revokes an expired consent", async function () {
    const f = await loadFixture(deployLedgerFixture);
    const until = await grantTreatment(f);
    await time.increaseTo(until + DAY);

    await expect(route(f, f.patient, f.patient.address, f.hospital.address))
      .to.emit(f.ledger, "ConsentRevoked")
      .withArgs(f.patient.address, f.hospital.address, f.patient.address);
  });

  it("lets a live delegate revoke for the patient, naming the delegate as actor", async function () {
    const f = await loadFixture(deployLedgerFixture);
    await grantTreatment(f);
    await appointDelegate(f);

    await expect(route(f, f.delegate, f.patient.address, f.hospital.address))
      .to.emit(f.ledger, "ConsentRevoked")
      .withArgs(f.patient.address, f.hospital.address, f.delegate.address);
    expect((await f.ledger.consentOf(f.patient.address, f.hospital.address)).validUntil).to.equal(0n);
  });

  it("reverts with DelegateExpired for a lapsed delegate", async function () {
    const f = await loadFixture(deployLedgerFixture);
    await grantTreatment(f);
    const until = await appointDelegate(f);
    await time.increaseTo(until);

    await expect(route(f, f.delegate, f.patient.address, f.hospital.address))
      .to.be.revertedWithCustomError(f.ledger, "DelegateExpired")
      .withArgs(f.patient.address, f.delegate.address, until);
  });

  it("reverts with NotPatientOrDelegate for the grantee itself or a stranger", async function () {
    const f = await loadFixture(deployLedgerFixture);
    await grantTreatment(f);

    for (const actor of [f.hospital, f.stranger]) {
      await expect(route(f, actor, f.patient.address, f.hospital.address))
        .to.be.revertedWithCustomError(f.ledger, "NotPatientOrDelegate")
        .withArgs(f.patient.address, actor.address);
    }
  });

  it("reverts with ConsentNotFound when there is no consent, or it was already revoked", async function () {
    const f = await loadFixture(deployLedgerFixture);
    await expect(route(f, f.patient, f.patient.address, f.lab.address))
      .to.be.revertedWithCustomError(f.ledger, "ConsentNotFound")
      .withArgs(f.patient.address, f.lab.address);

    await grantTreatment(f);
    await route(f, f.patient, f.patient.address, f.hospital.address);
    await expect(route(f, f.patient, f.patient.address, f.hospital.address))
      .to.be.revertedWithCustomError(f.ledger, "ConsentNotFound")
      .withArgs(f.patient.address, f.hospital.address);
  });

  it("revokes only the named grantee's consent", async function () {
    const f = await loadFixture(deployLedgerFixture);
    await grantTreatment(f);
    const until = (await time.latest()) + DAY;
    await f.ledger.connect(f.patient).grant(f.patient.address, f.lab.address, 1, 1, 0, until);

    await route(f, f.patient, f.patient.address, f.hospital.address);
    expect((await f.ledger.consentOf(f.patient.address, f.lab.address)).validUntil).to.equal(until);
  });
}

import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ZeroAddress, ZeroHash } from "ethers";
import { ethers } from "hardhat";

import { DataClass, Duo, Purpose, RequestStatus, Role, duoMaskOf, maskOf } from "../../sdk/codes";
import { ALL_PURPOSES } from "../helpers/consent-behaviours";
import { DAY, LEDGER_PARAMS, deployLedgerFixture } from "../helpers/fixtures";
import {
  type AccessRequest,
  DIABETES,
  PROTOCOL_HASH,
  minedAt,
  minedOutcome,
  openRequest,
  policyTuple,
  requestAccessResult,
  requestIdOf,
  requestSlotOf,
  requestsMappingBase,
  researchPolicy,
  researchTerms,
  sendInOneBlock,
  slotsWrittenBy,
  storedRequestWord,
  termsTuple,
} from "../helpers/requests";

const MAX_DURATION = LEDGER_PARAMS.maxRequestDuration;
const TTL = LEDGER_PARAMS.requestTtl;

/** The ledger with a delegate of the patient and a pending request of the university to the patient. */
async function pendingRequestFixture() {
  const fixture = await deployLedgerFixture();
  const { ledger, patient, delegate, university } = fixture;
  await ledger
    .connect(patient)
    .appointDelegate(delegate.address, (await time.latest()) + 365 * DAY, ALL_PURPOSES, true);
  const request = await openRequest(ledger, university, researchTerms({ patient: patient.address }));
  return { ...fixture, request, requestId: requestIdOf(request), expiresAt: request.openedAt + TTL };
}

/** What requestStatus answers for a request the ledger does not store: never opened, decided or cancelled. */
const NOT_STORED = [BigInt(RequestStatus.None), 0n];

/** The same request with one term changed: it was never opened. */
function altered(request: AccessRequest): AccessRequest {
  return { ...request, terms: { ...request.terms, duration: request.terms.duration + 1 } };
}

describe("AccessRequests", function () {
  describe("configuration", function () {
    it("exposes the request time-to-live and the longest duration fixed at deployment", async function () {
      const { ledger } = await loadFixture(deployLedgerFixture);
      expect(await ledger.requestTtl()).to.equal(TTL);
      expect(await ledger.maxRequestDuration()).to.equal(MAX_DURATION);
    });
  });

  describe("requestAccess", function () {
    context("when the terms are invalid", function () {
      it("reverts when the patient is the zero address", async function () {
        const { ledger, university } = await loadFixture(deployLedgerFixture);
        await expect(ledger.connect(university).requestAccess(researchTerms({ patient: ZeroAddress })))
          .to.be.revertedWithCustomError(ledger, "InvalidRequestPatient")
          .withArgs(ZeroAddress);
      });

      it("reverts when the researcher names itself as the patient", async function () {
        const { ledger, university } = await loadFixture(deployLedgerFixture);
        await expect(ledger.connect(university).requestAccess(researchTerms({ patient: university.address })))
          .to.be.revertedWithCustomError(ledger, "InvalidRequestPatient")
          .withArgs(university.address);
      });

      it("reverts when no data class is requested", async function () {
        const { ledger, university, patient } = await loadFixture(deployLedgerFixture);
        await expect(
          ledger.connect(university).requestAccess(researchTerms({ patient: patient.address, dataClasses: 0 })),
        )
          .to.be.revertedWithCustomError(ledger, "InvalidDataClasses")
          .withArgs(0);
      });

      it("reverts when an unknown data class is requested", async function () {
        const { ledger, university, patient } = await loadFixture(deployLedgerFixture);
        const dataClasses = maskOf([DataClass.LAB_RESULT, 15]);
        await expect(ledger.connect(university).requestAccess(researchTerms({ patient: patient.address, dataClasses })))
          .to.be.revertedWithCustomError(ledger, "InvalidDataClasses")
          .withArgs(dataClasses);
      });

      it("reverts when the purpose is unknown", async function () {
        const { ledger, university, patient } = await loadFixture(deployLedgerFixture);
        await expect(
          ledger
            .connect(university)
            .requestAccess(researchTerms({ patient: patient.address, purpose: 10, researchCategory: 0 })),
        )
          .to.be.revertedWithCustomError(ledger, "UnknownPurpose")
          .withArgs(10);
      });

      it("reverts when a research purpose comes without a research category", async function () {
        const { ledger, university, patient } = await loadFixture(deployLedgerFixture);
        await expect(
          ledger.connect(university).requestAccess(researchTerms({ patient: patient.address, researchCategory: 0 })),
        )
          .to.be.revertedWithCustomError(ledger, "InvalidResearchCategory")
          .withArgs(Purpose.HRESCH, 0);
      });

      it("reverts when a research purpose comes with a code that is not a research category", async function () {
        const { ledger, university, patient } = await loadFixture(deployLedgerFixture);
        // NRES is a policy permission, never the category of a piece of research.
        for (const category of [Duo.NRES, Duo.IRB, 99]) {
          await expect(
            ledger
              .connect(university)
              .requestAccess(
                researchTerms({ patient: patient.address, purpose: Purpose.BIORCH, researchCategory: category }),
              ),
          )
            .to.be.revertedWithCustomError(ledger, "InvalidResearchCategory")
            .withArgs(Purpose.BIORCH, category);
        }
      });

      // A request-born consent must depend on the researcher's live accreditation, which only research
      // purposes require at access time (PATRQT needs none, so such a consent would outlive a suspension).
      for (const name of ["TREAT", "ETREAT", "CAREMGT", "PUBHLTH", "HPAYMT", "HOPERAT", "PATRQT"] as const) {
        it(`reverts with RequestPurposeNotResearch for ${name}, with or without a research category`, async function () {
          const { ledger, university, patient } = await loadFixture(deployLedgerFixture);
          for (const researchCategory of [0, Duo.GRU]) {
            const terms = researchTerms({ patient: patient.address, purpose: Purpose[name], researchCategory });
            await expect(ledger.connect(university).requestAccess(terms))
              .to.be.revertedWithCustomError(ledger, "RequestPurposeNotResearch")
              .withArgs(Purpose[name]);
            await expect(ledger.policyApproves(university.address, terms))
              .to.be.revertedWithCustomError(ledger, "RequestPurposeNotResearch")
              .withArgs(Purpose[name]);
          }
        });
      }

      it("reverts when disease-specific research names no disease", async function () {
        const { ledger, university, patient } = await loadFixture(deployLedgerFixture);
        await expect(
          ledger
            .connect(university)
            .requestAccess(researchTerms({ patient: patient.address, researchCategory: Duo.DS })),
        )
          .to.be.revertedWithCustomError(ledger, "InvalidDiseaseId")
          .withArgs(Duo.DS, 0);
      });

      it("reverts when research that is not disease-specific names a disease", async function () {
        const { ledger, university, patient } = await loadFixture(deployLedgerFixture);
        await expect(
          ledger
            .connect(university)
            .requestAccess(researchTerms({ patient: patient.address, researchCategory: Duo.HMB, diseaseId: DIABETES })),
        )
          .to.be.revertedWithCustomError(ledger, "InvalidDiseaseId")
          .withArgs(Duo.HMB, DIABETES);
      });

      it("reverts when the accepted obligations name a modifier that is not an obligation", async function () {
        const { ledger, university, patient } = await loadFixture(deployLedgerFixture);
        for (const acceptedObligations of [duoMaskOf(["PUB", "TS"]), duoMaskOf(["NPU"]), 1n, 1n << 63n]) {
          await expect(
            ledger.connect(university).requestAccess(researchTerms({ patient: patient.address, acceptedObligations })),
          )
            .to.be.revertedWithCustomError(ledger, "InvalidObligations")
            .withArgs(acceptedObligations);
        }
      });

      it("reverts when the duration is zero", async function () {
        const { ledger, university, patient } = await loadFixture(deployLedgerFixture);
        await expect(ledger.connect(university).requestAccess(researchTerms({ patient: patient.address, duration: 0 })))
          .to.be.revertedWithCustomError(ledger, "InvalidDuration")
          .withArgs(0, MAX_DURATION);
      });

      it("reverts when the duration is longer than the ledger allows", async function () {
        const { ledger, university, patient } = await loadFixture(deployLedgerFixture);
        await expect(
          ledger
            .connect(university)
            .requestAccess(researchTerms({ patient: patient.address, duration: MAX_DURATION + 1 })),
        )
          .to.be.revertedWithCustomError(ledger, "InvalidDuration")
          .withArgs(MAX_DURATION + 1, MAX_DURATION);
      });
    });

    context("when the caller is not a live researcher", function () {
      it("reverts for a provider and for a stranger", async function () {
        const { ledger, lab, stranger, patient } = await loadFixture(deployLedgerFixture);
        for (const caller of [lab, stranger]) {
          await expect(ledger.connect(caller).requestAccess(researchTerms({ patient: patient.address })))
            .to.be.revertedWithCustomError(ledger, "PartyNotAccredited")
            .withArgs(caller.address, Role.RESEARCHER);
        }
      });

      it("reverts for a suspended researcher", async function () {
        const { ledger, admin, university, patient } = await loadFixture(deployLedgerFixture);
        await ledger.connect(admin).suspend(university.address, 1);
        await expect(ledger.connect(university).requestAccess(researchTerms({ patient: patient.address })))
          .to.be.revertedWithCustomError(ledger, "AccreditationSuspended")
          .withArgs(university.address);
      });

      it("reverts for a researcher whose accreditation has lapsed", async function () {
        const { ledger, admin, pharma, patient } = await loadFixture(deployLedgerFixture);
        const until = (await time.latest()) + DAY;
        await ledger.connect(admin).accredit(pharma.address, Role.RESEARCHER, false, until);
        await time.increaseTo(until);
        await expect(ledger.connect(pharma).requestAccess(researchTerms({ patient: patient.address })))
          .to.be.revertedWithCustomError(ledger, "AccreditationExpired")
          .withArgs(pharma.address, until);
      });
    });

    context("when the terms are valid", function () {
      it("opens a pending request, emits RequestOpened with the terms and returns its id", async function () {
        const { ledger, university, patient } = await loadFixture(deployLedgerFixture);
        const terms = researchTerms({
          patient: patient.address,
          dataClasses: maskOf([DataClass.GENOMIC, DataClass.MENTAL_HEALTH]),
          purpose: Purpose.CLINTRCH,
          researchCategory: Duo.DS,
          diseaseId: DIABETES,
          acceptedObligations: duoMaskOf(["PUB", "IRB", "RTN"]),
          duration: 90 * DAY,
          protocolHash: PROTOCOL_HASH,
        });
        const openedAt = (await time.latest()) + 100;
        const request: AccessRequest = { researcher: university.address, openedAt, terms };
        const requestId = requestIdOf(request);

        await time.setNextBlockTimestamp(openedAt);
        const tx = ledger.connect(university).requestAccess(terms);
        await expect(tx)
          .to.emit(ledger, "RequestOpened")
          .withArgs(requestId, patient.address, university.address, openedAt, openedAt + TTL, termsTuple(terms));
        await expect(tx).not.to.emit(ledger, "RequestApproved");
        await expect(tx).not.to.emit(ledger, "ConsentGranted");
        expect(await requestAccessResult(ledger, await tx)).to.deep.equal({ requestId, approved: false });

        expect(await ledger.requestStatus(requestId)).to.deep.equal([
          BigInt(RequestStatus.Pending),
          BigInt(openedAt + TTL),
        ]);
        expect(await ledger.consentOf(patient.address, university.address)).to.deep.equal([0n, 0n, 0n, 0n]);
      });

      it("stores nothing for a request the patient's policy approves at once: its events and the consent are its record", async function () {
        const { ledger, university, patient, otherPatient } = await loadFixture(deployLedgerFixture);
        await ledger.connect(patient).setPolicy(researchPolicy());
        const terms = researchTerms({ patient: patient.address });
        const openedAt = (await time.latest()) + 100;
        const request: AccessRequest = { researcher: university.address, openedAt, terms };
        const requestId = requestIdOf(request);

        await time.setNextBlockTimestamp(openedAt);
        const tx = ledger.connect(university).requestAccess(terms);
        await expect(tx)
          .to.emit(ledger, "RequestOpened")
          .withArgs(requestId, patient.address, university.address, openedAt, openedAt + TTL, termsTuple(terms));
        await expect(tx).to.emit(ledger, "RequestApproved").withArgs(requestId, patient.address, ZeroAddress);
        await expect(tx)
          .to.emit(ledger, "ConsentGranted")
          .withArgs(
            patient.address,
            university.address,
            ZeroAddress,
            terms.dataClasses,
            1 << terms.purpose,
            openedAt,
            openedAt + terms.duration,
          );
        expect(await requestAccessResult(ledger, await tx)).to.deep.equal({ requestId, approved: true });
        const consent = [
          BigInt(terms.dataClasses),
          BigInt(1 << terms.purpose),
          BigInt(openedAt),
          BigInt(openedAt + terms.duration),
        ];
        expect(await ledger.consentOf(patient.address, university.address)).to.deep.equal(consent);

        // Never stored: the view knows nothing of it, and the transaction wrote one slot, the consent's,
        // never the request's (found from a pending request of another patient, which is stored).
        expect(await ledger.requestStatus(requestId)).to.deep.equal(NOT_STORED);
        const pendingTx = await ledger
          .connect(university)
          .requestAccess(researchTerms({ patient: otherPatient.address }));
        const pending: AccessRequest = {
          researcher: university.address,
          openedAt: await minedAt(pendingTx),
          terms: researchTerms({ patient: otherPatient.address }),
        };
        const base = await requestsMappingBase(ledger, requestIdOf(pending), pending.openedAt + TTL);
        expect(await slotsWrittenBy(pendingTx.hash)).to.deep.equal([BigInt(requestSlotOf(base, requestIdOf(pending)))]);
        const written = await slotsWrittenBy((await tx).hash);
        expect(written).to.have.length(1);
        expect(written).not.to.include(BigInt(requestSlotOf(base, requestId)));
        expect(await storedRequestWord(ledger, base, requestId)).to.equal(0n);

        // So there is nothing left to decide or cancel.
        for (const call of [
          () => ledger.connect(patient).approveRequest(request),
          () => ledger.connect(patient).denyRequest(request),
          () => ledger.connect(university).cancelRequest(request),
        ]) {
          await expect(call()).to.be.revertedWithCustomError(ledger, "RequestNotFound").withArgs(requestId);
        }
        expect(await ledger.consentOf(patient.address, university.address)).to.deep.equal(consent);
      });

      it("accepts the longest duration the ledger allows, and every obligation", async function () {
        const { ledger, university, patient } = await loadFixture(deployLedgerFixture);
        const request = await openRequest(
          ledger,
          university,
          researchTerms({
            patient: patient.address,
            duration: MAX_DURATION,
            acceptedObligations: duoMaskOf(["PUB", "COL", "IRB", "MOR", "RTN"]),
          }),
        );
        expect((await ledger.requestStatus(requestIdOf(request)))[0]).to.equal(RequestStatus.Pending);
      });

      it("reverts with RequestAlreadyExists when the same researcher opens the same request twice in one block", async function () {
        const { ledger, university, patient } = await loadFixture(deployLedgerFixture);
        const terms = researchTerms({ patient: patient.address });
        const [first, second] = await sendInOneBlock([
          () => ledger.connect(university).requestAccess(terms, { gasLimit: 500_000 }),
          () => ledger.connect(university).requestAccess(terms, { gasLimit: 500_000 }),
        ]);
        const openedAt = await minedAt(first);
        const firstReceipt = await first.wait();
        const secondReceipt = await ethers.provider.getTransactionReceipt(second.hash);
        expect(secondReceipt!.blockNumber).to.equal(firstReceipt!.blockNumber);

        const requestId = requestIdOf({ researcher: university.address, openedAt, terms });
        await expect(minedOutcome(first)).not.to.be.reverted;
        await expect(minedOutcome(second))
          .to.be.revertedWithCustomError(ledger, "RequestAlreadyExists")
          .withArgs(requestId);
        expect((await ledger.requestStatus(requestId))[0]).to.equal(RequestStatus.Pending);
      });

      it("opens the same terms again as a new request in a later block, or from another researcher", async function () {
        const { ledger, university, pharma, patient } = await loadFixture(deployLedgerFixture);
        const terms = researchTerms({ patient: patient.address });
        const first = await openRequest(ledger, university, terms);
        const again = await openRequest(ledger, university, terms);
        const other = await openRequest(ledger, pharma, terms);
        const ids = new Set([first, again, other].map(requestIdOf));
        expect(ids.size).to.equal(3);
        for (const requestId of ids) expect((await ledger.requestStatus(requestId))[0]).to.equal(RequestStatus.Pending);
      });
    });
  });

  describe("requestIdOf", function () {
    it("equals keccak256(abi.encode(request)) computed off-chain, for the id the request was opened under", async function () {
      const { ledger, request, requestId } = await loadFixture(pendingRequestFixture);
      expect(await ledger.requestIdOf(request)).to.equal(requestId);
      const [status] = await ledger.requestStatus(requestId);
      expect(status).to.equal(RequestStatus.Pending);
    });

    it("changes when any field of the request changes", async function () {
      const { ledger, request, requestId, pharma } = await loadFixture(pendingRequestFixture);
      const variants: AccessRequest[] = [
        { ...request, researcher: pharma.address },
        { ...request, openedAt: request.openedAt + 1 },
        altered(request),
        { ...request, terms: { ...request.terms, studyId: ZeroHash } },
        { ...request, terms: { ...request.terms, protocolHash: PROTOCOL_HASH } },
      ];
      for (const variant of variants) {
        const variantId = await ledger.requestIdOf(variant);
        expect(variantId).to.equal(requestIdOf(variant));
        expect(variantId).not.to.equal(requestId);
      }
    });
  });

  describe("approveRequest", function () {
    it("lets the patient approve: emits RequestApproved and grants the requested classes for the purpose from now", async function () {
      const { ledger, request, requestId, patient, university } = await loadFixture(pendingRequestFixture);
      const { terms } = request;
      const approvedAt = (await time.latest()) + 10;
      await time.setNextBlockTimestamp(approvedAt);
      const tx = ledger.connect(patient).approveRequest(request);
      await expect(tx).to.emit(ledger, "RequestApproved").withArgs(requestId, patient.address, patient.address);
      await expect(tx)
        .to.emit(ledger, "ConsentGranted")
        .withArgs(
          patient.address,
          university.address,
          patient.address,
          terms.dataClasses,
          1 << terms.purpose,
          approvedAt,
          approvedAt + terms.duration,
        );

      expect(await ledger.consentOf(patient.address, university.address)).to.deep.equal([
        BigInt(terms.dataClasses),
        BigInt(1 << terms.purpose),
        BigInt(approvedAt),
        BigInt(approvedAt + terms.duration),
      ]);
      // Decided requests are cleared: the approval is in RequestApproved (above) and in the consent.
      expect(await ledger.requestStatus(requestId)).to.deep.equal(NOT_STORED);
      expect(
        await ledger.hasAccess(patient.address, university.address, DataClass.LAB_RESULT, Purpose.HRESCH),
      ).to.equal(true);
      expect(await ledger.hasAccess(patient.address, university.address, DataClass.CONDITION, Purpose.HRESCH)).to.equal(
        true,
      );
      expect(await ledger.hasAccess(patient.address, university.address, DataClass.IMAGING, Purpose.HRESCH)).to.equal(
        false,
      );
      expect(
        await ledger.hasAccess(patient.address, university.address, DataClass.LAB_RESULT, Purpose.BIORCH),
      ).to.equal(false);
    });

    it("ends the granted access after the requested duration", async function () {
      const { ledger, request, patient, university } = await loadFixture(pendingRequestFixture);
      const approvedAt = await minedAt(await ledger.connect(patient).approveRequest(request));
      await time.increaseTo(approvedAt + request.terms.duration - 1);
      expect(
        await ledger.hasAccess(patient.address, university.address, DataClass.LAB_RESULT, Purpose.HRESCH),
      ).to.equal(true);
      await time.increaseTo(approvedAt + request.terms.duration);
      expect(
        await ledger.hasAccess(patient.address, university.address, DataClass.LAB_RESULT, Purpose.HRESCH),
      ).to.equal(false);
    });

    it("lets a live delegate approve, as the actor", async function () {
      const { ledger, request, requestId, patient, delegate, university } = await loadFixture(pendingRequestFixture);
      const tx = ledger.connect(delegate).approveRequest(request);
      await expect(tx).to.emit(ledger, "RequestApproved").withArgs(requestId, patient.address, delegate.address);
      const approvedAt = await minedAt(await tx);
      await expect(tx)
        .to.emit(ledger, "ConsentGranted")
        .withArgs(
          patient.address,
          university.address,
          delegate.address,
          request.terms.dataClasses,
          1 << request.terms.purpose,
          approvedAt,
          approvedAt + request.terms.duration,
        );
    });

    it("replaces an earlier consent of the patient to the same researcher", async function () {
      const { ledger, request, patient, university } = await loadFixture(pendingRequestFixture);
      const now = await time.latest();
      await ledger
        .connect(patient)
        .grant(
          patient.address,
          university.address,
          maskOf([DataClass.IMAGING, DataClass.GENOMIC]),
          maskOf([Purpose.BIORCH, Purpose.CLINTRCH]),
          0,
          now + 1000 * DAY,
        );
      expect(await ledger.hasAccess(patient.address, university.address, DataClass.IMAGING, Purpose.BIORCH)).to.equal(
        true,
      );

      const approvedAt = await minedAt(await ledger.connect(patient).approveRequest(request));
      expect(await ledger.consentOf(patient.address, university.address)).to.deep.equal([
        BigInt(request.terms.dataClasses),
        BigInt(1 << request.terms.purpose),
        BigInt(approvedAt),
        BigInt(approvedAt + request.terms.duration),
      ]);
      expect(await ledger.hasAccess(patient.address, university.address, DataClass.IMAGING, Purpose.BIORCH)).to.equal(
        false,
      );
    });

    it("reverts with NotPatientOrDelegate for a stranger, the researcher or another patient", async function () {
      const { ledger, request, patient, stranger, university, otherPatient } = await loadFixture(pendingRequestFixture);
      for (const caller of [stranger, university, otherPatient]) {
        await expect(ledger.connect(caller).approveRequest(request))
          .to.be.revertedWithCustomError(ledger, "NotPatientOrDelegate")
          .withArgs(patient.address, caller.address);
      }
    });

    it("reverts with DelegateExpired for a delegate whose appointment has ended", async function () {
      const { ledger, request, patient, delegate } = await loadFixture(pendingRequestFixture);
      const until = (await time.latest()) + DAY;
      await ledger.connect(patient).appointDelegate(delegate.address, until, ALL_PURPOSES, true);
      await time.increaseTo(until);
      await expect(ledger.connect(delegate).approveRequest(request))
        .to.be.revertedWithCustomError(ledger, "DelegateExpired")
        .withArgs(patient.address, delegate.address, until);
    });

    it("reverts with RequestNotFound when the terms passed back differ from the ones opened", async function () {
      const { ledger, request, patient } = await loadFixture(pendingRequestFixture);
      const forged = altered(request);
      await expect(ledger.connect(patient).approveRequest(forged))
        .to.be.revertedWithCustomError(ledger, "RequestNotFound")
        .withArgs(requestIdOf(forged));
    });

    it("reverts with RequestNotFound once the request is approved, denied or cancelled", async function () {
      const { ledger, request, requestId, patient, university } = await loadFixture(pendingRequestFixture);
      const approvedAt = await minedAt(await ledger.connect(patient).approveRequest(request));
      await expect(ledger.connect(patient).approveRequest(request))
        .to.be.revertedWithCustomError(ledger, "RequestNotFound")
        .withArgs(requestId);

      const denied = await openRequest(ledger, university, researchTerms({ patient: patient.address, duration: DAY }));
      await ledger.connect(patient).denyRequest(denied);
      await expect(ledger.connect(patient).approveRequest(denied))
        .to.be.revertedWithCustomError(ledger, "RequestNotFound")
        .withArgs(requestIdOf(denied));

      const cancelled = await openRequest(
        ledger,
        university,
        researchTerms({ patient: patient.address, duration: 2 * DAY }),
      );
      await ledger.connect(university).cancelRequest(cancelled);
      await expect(ledger.connect(patient).approveRequest(cancelled))
        .to.be.revertedWithCustomError(ledger, "RequestNotFound")
        .withArgs(requestIdOf(cancelled));
      // The first approval's consent is untouched: no refused approval granted anything.
      expect(await ledger.consentOf(patient.address, university.address)).to.deep.equal([
        BigInt(request.terms.dataClasses),
        BigInt(1 << request.terms.purpose),
        BigInt(approvedAt),
        BigInt(approvedAt + request.terms.duration),
      ]);
    });

    it("clears the request: it leaves no stored state and cannot be approved, denied or cancelled again", async function () {
      const { ledger, request, requestId, patient, delegate, university, expiresAt } =
        await loadFixture(pendingRequestFixture);
      const base = await requestsMappingBase(ledger, requestId, expiresAt);
      const slot = BigInt(requestSlotOf(base, requestId));

      const tx = await ledger.connect(patient).approveRequest(request);
      await expect(tx).to.emit(ledger, "RequestApproved").withArgs(requestId, patient.address, patient.address);
      const approvedAt = await minedAt(tx);
      // Two writes: the request word cleared (to zero, refunded) and the new consent word.
      const written = await slotsWrittenBy(tx.hash);
      expect(written).to.have.length(2);
      expect(written).to.include(slot);
      expect(await storedRequestWord(ledger, base, requestId)).to.equal(0n);
      expect(await ledger.requestStatus(requestId)).to.deep.equal(NOT_STORED);
      const consent = [
        BigInt(request.terms.dataClasses),
        BigInt(1 << request.terms.purpose),
        BigInt(approvedAt),
        BigInt(approvedAt + request.terms.duration),
      ];
      expect(await ledger.consentOf(patient.address, university.address)).to.deep.equal(consent);

      const again: Array<[string, () => Promise<unknown>]> = [
        ["the patient approves", () => ledger.connect(patient).approveRequest(request)],
        ["a delegate approves", () => ledger.connect(delegate).approveRequest(request)],
        ["the patient denies", () => ledger.connect(patient).denyRequest(request)],
        ["a delegate denies", () => ledger.connect(delegate).denyRequest(request)],
        ["the researcher cancels", () => ledger.connect(university).cancelRequest(request)],
      ];
      for (const [label, call] of again) {
        await expect(call(), label).to.be.revertedWithCustomError(ledger, "RequestNotFound").withArgs(requestId);
      }
      // A cleared request never turns Expired either: after its expiry it is still unknown, not expired.
      await time.increaseTo(expiresAt + 1);
      expect(await ledger.requestStatus(requestId)).to.deep.equal(NOT_STORED);
      await expect(ledger.connect(patient).denyRequest(request))
        .to.be.revertedWithCustomError(ledger, "RequestNotFound")
        .withArgs(requestId);
      expect(await ledger.consentOf(patient.address, university.address)).to.deep.equal(consent);
    });

    it("still approves one second before the request expires", async function () {
      const { ledger, request, requestId, patient, expiresAt } = await loadFixture(pendingRequestFixture);
      await time.setNextBlockTimestamp(expiresAt - 1);
      await expect(ledger.connect(patient).approveRequest(request))
        .to.emit(ledger, "RequestApproved")
        .withArgs(requestId, patient.address, patient.address);
    });

    it("reverts with RequestExpired exactly at expiresAt", async function () {
      const { ledger, request, requestId, patient, university, expiresAt } = await loadFixture(pendingRequestFixture);
      await time.setNextBlockTimestamp(expiresAt);
      await expect(ledger.connect(patient).approveRequest(request))
        .to.be.revertedWithCustomError(ledger, "RequestExpired")
        .withArgs(requestId, expiresAt);
      expect(await ledger.consentOf(patient.address, university.address)).to.deep.equal([0n, 0n, 0n, 0n]);
    });
  });

  describe("denyRequest", function () {
    it("lets the patient deny: emits RequestDenied and grants nothing", async function () {
      const { ledger, request, requestId, patient, university } = await loadFixture(pendingRequestFixture);
      const tx = ledger.connect(patient).denyRequest(request);
      await expect(tx).to.emit(ledger, "RequestDenied").withArgs(requestId, patient.address, patient.address);
      await expect(tx).not.to.emit(ledger, "ConsentGranted");
      // The denial is in RequestDenied; the request itself is cleared.
      expect(await ledger.requestStatus(requestId)).to.deep.equal(NOT_STORED);
      expect(await ledger.consentOf(patient.address, university.address)).to.deep.equal([0n, 0n, 0n, 0n]);
    });

    it("lets a live delegate deny, as the actor", async function () {
      const { ledger, request, requestId, patient, delegate } = await loadFixture(pendingRequestFixture);
      await expect(ledger.connect(delegate).denyRequest(request))
        .to.emit(ledger, "RequestDenied")
        .withArgs(requestId, patient.address, delegate.address);
    });

    it("reverts with NotPatientOrDelegate for a stranger", async function () {
      const { ledger, request, patient, stranger } = await loadFixture(pendingRequestFixture);
      await expect(ledger.connect(stranger).denyRequest(request))
        .to.be.revertedWithCustomError(ledger, "NotPatientOrDelegate")
        .withArgs(patient.address, stranger.address);
    });

    it("reverts with RequestNotFound for altered terms", async function () {
      const { ledger, request, patient } = await loadFixture(pendingRequestFixture);
      const forged = altered(request);
      await expect(ledger.connect(patient).denyRequest(forged))
        .to.be.revertedWithCustomError(ledger, "RequestNotFound")
        .withArgs(requestIdOf(forged));
    });

    it("reverts with RequestNotFound after a decision: a denied request cannot be denied, approved or cancelled", async function () {
      const { ledger, request, requestId, patient, university, expiresAt } = await loadFixture(pendingRequestFixture);
      const base = await requestsMappingBase(ledger, requestId, expiresAt);
      await ledger.connect(patient).denyRequest(request);
      expect(await storedRequestWord(ledger, base, requestId)).to.equal(0n);
      await expect(ledger.connect(patient).denyRequest(request))
        .to.be.revertedWithCustomError(ledger, "RequestNotFound")
        .withArgs(requestId);
      await expect(ledger.connect(patient).approveRequest(request))
        .to.be.revertedWithCustomError(ledger, "RequestNotFound")
        .withArgs(requestId);
      await expect(ledger.connect(university).cancelRequest(request))
        .to.be.revertedWithCustomError(ledger, "RequestNotFound")
        .withArgs(requestId);
      expect(await ledger.consentOf(patient.address, university.address)).to.deep.equal([0n, 0n, 0n, 0n]);
    });

    it("reverts with RequestExpired exactly at expiresAt", async function () {
      const { ledger, request, requestId, patient, expiresAt } = await loadFixture(pendingRequestFixture);
      await time.setNextBlockTimestamp(expiresAt);
      await expect(ledger.connect(patient).denyRequest(request))
        .to.be.revertedWithCustomError(ledger, "RequestExpired")
        .withArgs(requestId, expiresAt);
    });
  });

  describe("cancelRequest", function () {
    it("lets the researcher withdraw a pending request", async function () {
      const { ledger, request, requestId, patient, university } = await loadFixture(pendingRequestFixture);
      const base = await requestsMappingBase(ledger, requestId, request.openedAt + TTL);
      await expect(ledger.connect(university).cancelRequest(request))
        .to.emit(ledger, "RequestCancelled")
        .withArgs(requestId, patient.address);
      // The cancellation is in RequestCancelled; the request itself is cleared.
      expect(await storedRequestWord(ledger, base, requestId)).to.equal(0n);
      expect(await ledger.requestStatus(requestId)).to.deep.equal(NOT_STORED);
    });

    it("reverts with NotRequestResearcher for anyone else, the patient included", async function () {
      const { ledger, request, requestId, patient, pharma } = await loadFixture(pendingRequestFixture);
      for (const caller of [pharma, patient]) {
        await expect(ledger.connect(caller).cancelRequest(request))
          .to.be.revertedWithCustomError(ledger, "NotRequestResearcher")
          .withArgs(requestId, caller.address);
      }
    });

    it("reverts with RequestNotFound for altered terms", async function () {
      const { ledger, request, university } = await loadFixture(pendingRequestFixture);
      const forged = altered(request);
      await expect(ledger.connect(university).cancelRequest(forged))
        .to.be.revertedWithCustomError(ledger, "RequestNotFound")
        .withArgs(requestIdOf(forged));
    });

    it("reverts with RequestNotFound after a decision or a cancellation", async function () {
      const { ledger, request, requestId, patient, university } = await loadFixture(pendingRequestFixture);
      await ledger.connect(patient).approveRequest(request);
      await expect(ledger.connect(university).cancelRequest(request))
        .to.be.revertedWithCustomError(ledger, "RequestNotFound")
        .withArgs(requestId);

      const other = await openRequest(ledger, university, researchTerms({ patient: patient.address, duration: DAY }));
      await ledger.connect(university).cancelRequest(other);
      await expect(ledger.connect(university).cancelRequest(other))
        .to.be.revertedWithCustomError(ledger, "RequestNotFound")
        .withArgs(requestIdOf(other));
      // A cancelled request can no longer be decided either.
      await expect(ledger.connect(patient).approveRequest(other))
        .to.be.revertedWithCustomError(ledger, "RequestNotFound")
        .withArgs(requestIdOf(other));
      await expect(ledger.connect(patient).denyRequest(other))
        .to.be.revertedWithCustomError(ledger, "RequestNotFound")
        .withArgs(requestIdOf(other));
    });

    it("cancels a pending request that has expired", async function () {
      const { ledger, request, requestId, patient, university, expiresAt } = await loadFixture(pendingRequestFixture);
      await time.increaseTo(expiresAt + DAY);
      expect((await ledger.requestStatus(requestId))[0]).to.equal(RequestStatus.Expired);
      await expect(ledger.connect(university).cancelRequest(request))
        .to.emit(ledger, "RequestCancelled")
        .withArgs(requestId, patient.address);
      expect(await ledger.requestStatus(requestId)).to.deep.equal(NOT_STORED);
    });
  });

  describe("requestStatus", function () {
    it("answers None and no expiry for an unknown id", async function () {
      const { ledger, request } = await loadFixture(pendingRequestFixture);
      expect(await ledger.requestStatus(requestIdOf(altered(request)))).to.deep.equal([BigInt(RequestStatus.None), 0n]);
    });

    it("derives Expired for a pending request from expiresAt on, and never stores it", async function () {
      const { ledger, requestId, expiresAt } = await loadFixture(pendingRequestFixture);
      await time.increaseTo(expiresAt - 1);
      expect(await ledger.requestStatus(requestId)).to.deep.equal([BigInt(RequestStatus.Pending), BigInt(expiresAt)]);
      await time.increaseTo(expiresAt);
      expect(await ledger.requestStatus(requestId)).to.deep.equal([BigInt(RequestStatus.Expired), BigInt(expiresAt)]);
    });

    it("answers None and no expiry for a decided or cancelled request, before and after its expiry", async function () {
      const { ledger, request, requestId, patient, university } = await loadFixture(pendingRequestFixture);
      await ledger.connect(patient).approveRequest(request);
      const denied = await openRequest(ledger, university, researchTerms({ patient: patient.address, duration: DAY }));
      await ledger.connect(patient).denyRequest(denied);
      const cancelled = await openRequest(
        ledger,
        university,
        researchTerms({ patient: patient.address, duration: 2 * DAY }),
      );
      await ledger.connect(university).cancelRequest(cancelled);
      const closed = [requestId, requestIdOf(denied), requestIdOf(cancelled)];
      for (const id of closed) expect(await ledger.requestStatus(id)).to.deep.equal(NOT_STORED);
      // Closed requests are not stored, so they never turn Expired: only a pending one does.
      await time.increaseTo(cancelled.openedAt + TTL + 1);
      for (const id of closed) expect(await ledger.requestStatus(id)).to.deep.equal(NOT_STORED);
    });
  });

  describe("setPolicy", function () {
    it("stores the policy, emits PolicySet and replaces an earlier one", async function () {
      const { ledger, patient } = await loadFixture(deployLedgerFixture);
      const first = researchPolicy();
      await expect(ledger.connect(patient).setPolicy(first))
        .to.emit(ledger, "PolicySet")
        .withArgs(patient.address, policyTuple(first));
      expect(await ledger.policyOf(patient.address)).to.deep.equal(policyTuple(first).map((v) => BigInt(v as number)));

      const second = researchPolicy({
        permission: Duo.DS,
        diseaseId: DIABETES,
        modifiers: duoMaskOf(["PUB", "COL", "IRB", "MOR", "RTN", "TS", "NPOA", "NPU", "NCU"]),
        maxDuration: 365 * DAY,
        purposes: maskOf([Purpose.CLINTRCH]),
        dataClasses: maskOf([DataClass.MENTAL_HEALTH, DataClass.GENOMIC]),
        validUntil: (await time.latest()) + 30 * DAY,
      });
      await expect(ledger.connect(patient).setPolicy(second))
        .to.emit(ledger, "PolicySet")
        .withArgs(patient.address, policyTuple(second));
      expect(await ledger.policyOf(patient.address)).to.deep.equal(
        policyTuple(second).map((v) => BigInt(v as number | bigint)),
      );
    });

    it("accepts every DUO permission", async function () {
      const { ledger, patient } = await loadFixture(deployLedgerFixture);
      for (const permission of [Duo.NRES, Duo.GRU, Duo.HMB, Duo.DS, Duo.POA]) {
        const policy = researchPolicy({ permission, diseaseId: permission === Duo.DS ? DIABETES : 0 });
        await ledger.connect(patient).setPolicy(policy);
        expect((await ledger.policyOf(patient.address)).permission).to.equal(permission);
      }
    });

    it("leaves another patient's policy alone", async function () {
      const { ledger, patient, otherPatient } = await loadFixture(deployLedgerFixture);
      await ledger.connect(patient).setPolicy(researchPolicy());
      expect((await ledger.policyOf(otherPatient.address)).permission).to.equal(0);
    });

    it("reverts with InvalidPolicyPermission for no permission or a code that is not a permission", async function () {
      const { ledger, patient } = await loadFixture(deployLedgerFixture);
      for (const permission of [0, Duo.PUB, Duo.NPU, 43, 255]) {
        await expect(ledger.connect(patient).setPolicy(researchPolicy({ permission })))
          .to.be.revertedWithCustomError(ledger, "InvalidPolicyPermission")
          .withArgs(permission);
      }
    });

    it("reverts with UnsupportedPolicyModifiers naming only the modifiers it does not understand", async function () {
      const { ledger, patient } = await loadFixture(deployLedgerFixture);
      const unsupported = (1n << 26n) | (1n << 63n) | 1n;
      await expect(
        ledger.connect(patient).setPolicy(researchPolicy({ modifiers: duoMaskOf(["PUB", "NPU"]) | unsupported })),
      )
        .to.be.revertedWithCustomError(ledger, "UnsupportedPolicyModifiers")
        .withArgs(unsupported);
    });

    it("reverts with InvalidDataClasses for an empty set or an unknown class", async function () {
      const { ledger, patient } = await loadFixture(deployLedgerFixture);
      for (const dataClasses of [0, maskOf([DataClass.LAB_RESULT, 20])]) {
        await expect(ledger.connect(patient).setPolicy(researchPolicy({ dataClasses })))
          .to.be.revertedWithCustomError(ledger, "InvalidDataClasses")
          .withArgs(dataClasses);
      }
    });

    it("reverts with InvalidPolicyPurposes for no purpose or any purpose that is not research", async function () {
      const { ledger, patient } = await loadFixture(deployLedgerFixture);
      for (const purposes of [
        0,
        maskOf([Purpose.TREAT]),
        maskOf([Purpose.HRESCH, Purpose.PUBHLTH]),
        maskOf([Purpose.BIORCH, Purpose.PATRQT]),
        maskOf([Purpose.HRESCH, 15]),
      ]) {
        await expect(ledger.connect(patient).setPolicy(researchPolicy({ purposes })))
          .to.be.revertedWithCustomError(ledger, "InvalidPolicyPurposes")
          .withArgs(purposes);
      }
    });

    it("reverts with InvalidDiseaseId for a DS policy without a disease and another policy with one", async function () {
      const { ledger, patient } = await loadFixture(deployLedgerFixture);
      await expect(ledger.connect(patient).setPolicy(researchPolicy({ permission: Duo.DS })))
        .to.be.revertedWithCustomError(ledger, "InvalidDiseaseId")
        .withArgs(Duo.DS, 0);
      await expect(ledger.connect(patient).setPolicy(researchPolicy({ permission: Duo.HMB, diseaseId: DIABETES })))
        .to.be.revertedWithCustomError(ledger, "InvalidDiseaseId")
        .withArgs(Duo.HMB, DIABETES);
    });

    it("reverts with InvalidPolicyTimeLimit for TS without a maximum and a maximum without TS", async function () {
      const { ledger, patient } = await loadFixture(deployLedgerFixture);
      const ts = duoMaskOf(["TS", "PUB"]);
      await expect(ledger.connect(patient).setPolicy(researchPolicy({ modifiers: ts })))
        .to.be.revertedWithCustomError(ledger, "InvalidPolicyTimeLimit")
        .withArgs(ts, 0);
      const noTs = duoMaskOf(["PUB"]);
      await expect(ledger.connect(patient).setPolicy(researchPolicy({ modifiers: noTs, maxDuration: DAY })))
        .to.be.revertedWithCustomError(ledger, "InvalidPolicyTimeLimit")
        .withArgs(noTs, DAY);
    });

    it("reverts with InvalidValidity when validUntil is not in the future", async function () {
      const { ledger, patient } = await loadFixture(deployLedgerFixture);
      const past = (await time.latest()) - 1;
      await expect(ledger.connect(patient).setPolicy(researchPolicy({ validUntil: past })))
        .to.be.revertedWithCustomError(ledger, "InvalidValidity")
        .withArgs(0, past);
      const now = (await time.latest()) + 5;
      await time.setNextBlockTimestamp(now);
      await expect(ledger.connect(patient).setPolicy(researchPolicy({ validUntil: now })))
        .to.be.revertedWithCustomError(ledger, "InvalidValidity")
        .withArgs(0, now);
    });

    it("keeps the patient's emergency opt-out", async function () {
      const { ledger, patient } = await loadFixture(deployLedgerFixture);
      await ledger.connect(patient).setEmergencyOptOut(true);
      await ledger.connect(patient).setPolicy(researchPolicy());
      expect(await ledger.emergencyOptedOut(patient.address)).to.equal(true);
    });
  });

  describe("clearPolicy", function () {
    it("clears the policy, emits PolicyCleared and leaves later requests to the patient", async function () {
      const { ledger, patient, university } = await loadFixture(deployLedgerFixture);
      await ledger.connect(patient).setPolicy(researchPolicy());
      const terms = researchTerms({ patient: patient.address });
      expect(await ledger.policyApproves(university.address, terms)).to.equal(true);

      await expect(ledger.connect(patient).clearPolicy()).to.emit(ledger, "PolicyCleared").withArgs(patient.address);
      expect(await ledger.policyOf(patient.address)).to.deep.equal([0n, 0n, 0n, 0n, 0n, 0n, 0n]);
      expect(await ledger.policyApproves(university.address, terms)).to.equal(false);
      const request = await openRequest(ledger, university, terms);
      expect((await ledger.requestStatus(requestIdOf(request)))[0]).to.equal(RequestStatus.Pending);
    });

    it("keeps the emergency opt-out", async function () {
      const { ledger, patient } = await loadFixture(deployLedgerFixture);
      await ledger.connect(patient).setEmergencyOptOut(true);
      await ledger.connect(patient).setPolicy(researchPolicy());
      await ledger.connect(patient).clearPolicy();
      expect(await ledger.emergencyOptedOut(patient.address)).to.equal(true);
      expect((await ledger.policyOf(patient.address)).permission).to.equal(0);
    });

    it("succeeds when no policy is set", async function () {
      const { ledger, patient } = await loadFixture(deployLedgerFixture);
      await expect(ledger.connect(patient).clearPolicy()).to.emit(ledger, "PolicyCleared").withArgs(patient.address);
      expect(await ledger.emergencyOptedOut(patient.address)).to.equal(false);
    });
  });

  describe("policyApproves", function () {
    it("answers true for a live researcher whose terms the policy matches", async function () {
      const { ledger, patient, university, pharma } = await loadFixture(deployLedgerFixture);
      await ledger.connect(patient).setPolicy(researchPolicy());
      const terms = researchTerms({ patient: patient.address });
      expect(await ledger.policyApproves(university.address, terms)).to.equal(true);
      expect(await ledger.policyApproves(pharma.address, terms)).to.equal(true);
    });

    it("answers false for a party that is not a live researcher", async function () {
      const { ledger, admin, patient, university, pharma, lab, stranger } = await loadFixture(deployLedgerFixture);
      await ledger.connect(patient).setPolicy(researchPolicy());
      const terms = researchTerms({ patient: patient.address });
      expect(await ledger.policyApproves(lab.address, terms)).to.equal(false);
      expect(await ledger.policyApproves(stranger.address, terms)).to.equal(false);

      await ledger.connect(admin).suspend(university.address, 7);
      expect(await ledger.policyApproves(university.address, terms)).to.equal(false);

      const until = (await time.latest()) + DAY;
      await ledger.connect(admin).accredit(pharma.address, Role.RESEARCHER, false, until);
      expect(await ledger.policyApproves(pharma.address, terms)).to.equal(true);
      await time.increaseTo(until);
      expect(await ledger.policyApproves(pharma.address, terms)).to.equal(false);
    });

    it("reverts with the validation error requestAccess would raise for invalid terms", async function () {
      const { ledger, patient, university } = await loadFixture(deployLedgerFixture);
      await ledger.connect(patient).setPolicy(researchPolicy());
      await expect(ledger.policyApproves(university.address, researchTerms({ patient: patient.address, duration: 0 })))
        .to.be.revertedWithCustomError(ledger, "InvalidDuration")
        .withArgs(0, MAX_DURATION);
    });
  });
  // After the patient (or a delegate) revokes a grantee, a standing policy must not give that grantee
  // access again on its next request: the request waits for the patient, whose decision lifts the hold.
  describe("a revocation holds back the standing policy", function () {
    async function revokedAfterPolicyFixture() {
      const f = await deployLedgerFixture();
      await f.ledger
        .connect(f.patient)
        .appointDelegate(f.delegate.address, (await time.latest()) + 365 * DAY, ALL_PURPOSES, true);
      await f.ledger.connect(f.patient).setPolicy(researchPolicy());
      const terms = researchTerms({ patient: f.patient.address });
      const first = await (await f.ledger.connect(f.university).requestAccess(terms)).wait();
      expect(first!.logs.length).to.equal(3); // RequestOpened, RequestApproved, ConsentGranted
      return { ...f, terms };
    }

    const labForResearch = (f: Awaited<ReturnType<typeof revokedAfterPolicyFixture>>, researcher: string) =>
      f.ledger.hasAccess(f.patient.address, researcher, DataClass.LAB_RESULT, Purpose.HRESCH);

    for (const revoker of ["patient", "delegate"] as const) {
      it(`leaves the next request pending after a revocation by the ${revoker}, though the policy matches it`, async function () {
        const f = await loadFixture(revokedAfterPolicyFixture);
        await f.ledger.connect(f[revoker]).revoke(f.patient.address, f.university.address);
        expect(await f.ledger.policyApproves(f.university.address, f.terms)).to.equal(false);

        const tx = f.ledger.connect(f.university).requestAccess(f.terms);
        await expect(tx).to.emit(f.ledger, "RequestOpened");
        await expect(tx).not.to.emit(f.ledger, "ConsentGranted");
        const request: AccessRequest = {
          researcher: f.university.address,
          openedAt: await minedAt(await tx),
          terms: f.terms,
        };
        expect(await requestAccessResult(f.ledger, await tx)).to.deep.equal({
          requestId: requestIdOf(request),
          approved: false,
        });
        expect((await f.ledger.requestStatus(requestIdOf(request)))[0]).to.equal(RequestStatus.Pending);
        expect(await labForResearch(f, f.university.address)).to.equal(false);
      });
    }

    it("holds back only the revoked grantee: the policy still approves another researcher", async function () {
      const f = await loadFixture(revokedAfterPolicyFixture);
      await f.ledger.connect(f.patient).revoke(f.patient.address, f.university.address);

      expect(await f.ledger.policyApproves(f.pharma.address, f.terms)).to.equal(true);
      await expect(f.ledger.connect(f.pharma).requestAccess(f.terms)).to.emit(f.ledger, "ConsentGranted");
      expect(await labForResearch(f, f.pharma.address)).to.equal(true);
    });

    it("lifts the hold when the patient approves the waiting request: the next one is the policy's again", async function () {
      const f = await loadFixture(revokedAfterPolicyFixture);
      await f.ledger.connect(f.patient).revoke(f.patient.address, f.university.address);
      const request = await openRequest(f.ledger, f.university, f.terms);

      await expect(f.ledger.connect(f.patient).approveRequest(request)).to.emit(f.ledger, "ConsentGranted");
      expect(await labForResearch(f, f.university.address)).to.equal(true);
      // The approved consent itself now holds the policy back until it ends (a request over it would
      // replace it); then the policy decides again.
      expect(await f.ledger.policyApproves(f.university.address, f.terms)).to.equal(false);
      await time.increase(f.terms.duration + 1);
      expect(await f.ledger.policyApproves(f.university.address, f.terms)).to.equal(true);
      await expect(f.ledger.connect(f.university).requestAccess(f.terms)).to.emit(f.ledger, "ConsentGranted");
    });

    it("lifts the hold when the patient grants the researcher again directly", async function () {
      const f = await loadFixture(revokedAfterPolicyFixture);
      await f.ledger.connect(f.patient).revoke(f.patient.address, f.university.address);
      await f.ledger
        .connect(f.patient)
        .grant(
          f.patient.address,
          f.university.address,
          maskOf([DataClass.LAB_RESULT]),
          maskOf([Purpose.HRESCH]),
          0,
          (await time.latest()) + DAY,
        );

      // The grant lifts the revocation's hold; the granted consent holds the policy back until it ends.
      expect(await f.ledger.policyApproves(f.university.address, f.terms)).to.equal(false);
      await time.increase(DAY);
      expect(await f.ledger.policyApproves(f.university.address, f.terms)).to.equal(true);
    });

    it("reverts with ConsentNotFound for a second revocation: the hold is not a consent", async function () {
      const f = await loadFixture(revokedAfterPolicyFixture);
      await f.ledger.connect(f.patient).revoke(f.patient.address, f.university.address);

      await expect(f.ledger.connect(f.patient).revoke(f.patient.address, f.university.address))
        .to.be.revertedWithCustomError(f.ledger, "ConsentNotFound")
        .withArgs(f.patient.address, f.university.address);
      expect(await f.ledger.consentOf(f.patient.address, f.university.address)).to.deep.equal([0n, 0n, 0n, 0n]);
    });

    it("lets the policy renew a consent that ended by itself, without a revocation", async function () {
      const f = await loadFixture(revokedAfterPolicyFixture);
      await time.increase(f.terms.duration + 1);
      expect(await labForResearch(f, f.university.address)).to.equal(false);

      await expect(f.ledger.connect(f.university).requestAccess(f.terms)).to.emit(f.ledger, "ConsentGranted");
      expect(await labForResearch(f, f.university.address)).to.equal(true);
    });
  });
  // A request whose approval would replace a consent that has not ended changes access the patient
  // gave: only the patient's side decides it, and the consent's replacement says what it replaced.
  describe("no silent change of access", function () {
    async function liveConsentFixture() {
      const f = await deployLedgerFixture();
      await f.ledger.connect(f.patient).setPolicy(researchPolicy());
      const terms = researchTerms({ patient: f.patient.address });
      await (await f.ledger.connect(f.university).requestAccess(terms)).wait();
      const live = await f.ledger.consentOf(f.patient.address, f.university.address);
      // A follow-up the policy matches too, asking for other classes: approving it would narrow access.
      const followUp = { ...terms, dataClasses: maskOf([DataClass.CONDITION]) };
      return { ...f, terms, live, followUp };
    }

    it("leaves a request pending when its researcher holds a consent that has not ended, though the policy matches", async function () {
      const f = await loadFixture(liveConsentFixture);
      expect(await f.ledger.policyApproves(f.university.address, f.followUp)).to.equal(false);
      const tx = f.ledger.connect(f.university).requestAccess(f.followUp);
      await expect(tx).to.emit(f.ledger, "RequestOpened");
      await expect(tx).not.to.emit(f.ledger, "ConsentGranted");
      expect(await requestAccessResult(f.ledger, await tx)).to.include({ approved: false });
      // The live consent is untouched: still the lab results it gave.
      expect(await f.ledger.consentOf(f.patient.address, f.university.address)).to.deep.equal(f.live);
      expect(await labForResearch(f)).to.equal(true);
    });

    it("records what an approval replaced: ConsentReplaced with the previous terms, then ConsentGranted", async function () {
      const f = await loadFixture(liveConsentFixture);
      const request = await openRequest(f.ledger, f.university, f.followUp);
      const tx = f.ledger.connect(f.patient).approveRequest(request);
      await expect(tx)
        .to.emit(f.ledger, "ConsentReplaced")
        .withArgs(f.patient.address, f.university.address, ...f.live);
      const receipt = await (await tx).wait();
      const names = receipt!.logs.map((log) => f.ledger.interface.parseLog(log)?.name);
      expect(names).to.deep.equal(["RequestApproved", "ConsentReplaced", "ConsentGranted"]);
      expect(await labForResearch(f)).to.equal(false);
    });

    it("still approves automatically when the researcher's consent has ended, replacing nothing live", async function () {
      const f = await loadFixture(liveConsentFixture);
      await time.increase(f.terms.duration);
      const tx = f.ledger.connect(f.university).requestAccess(f.followUp);
      await expect(tx).to.emit(f.ledger, "ConsentGranted");
      await expect(tx).not.to.emit(f.ledger, "ConsentReplaced");
    });

    const labForResearch = (f: Awaited<ReturnType<typeof liveConsentFixture>>) =>
      f.ledger.hasAccess(f.patient.address, f.university.address, DataClass.LAB_RESULT, Purpose.HRESCH);
  });
  // A decision grants the researcher access, so it asks again whether the researcher may hold it: a
  // suspension or lapse after the request was opened must not be approved past.
  describe("approving re-checks the researcher's accreditation", function () {
    it("reverts with AccreditationSuspended for a researcher suspended since asking; denial still works", async function () {
      const f = await loadFixture(pendingRequestFixture);
      await f.ledger.connect(f.admin).suspend(f.university.address, 1);

      for (const actor of [f.patient, f.delegate]) {
        await expect(f.ledger.connect(actor).approveRequest(f.request))
          .to.be.revertedWithCustomError(f.ledger, "AccreditationSuspended")
          .withArgs(f.university.address);
      }
      expect((await f.ledger.requestStatus(f.requestId))[0]).to.equal(RequestStatus.Pending);
      await expect(f.ledger.connect(f.patient).denyRequest(f.request)).to.emit(f.ledger, "RequestDenied");
    });

    it("reverts with AccreditationExpired for a researcher whose accreditation lapsed since asking", async function () {
      const f = await loadFixture(pendingRequestFixture);
      const until = (await time.latest()) + DAY;
      await f.ledger.connect(f.admin).accredit(f.university.address, Role.RESEARCHER, true, until);
      await time.increaseTo(until);

      await expect(f.ledger.connect(f.patient).approveRequest(f.request))
        .to.be.revertedWithCustomError(f.ledger, "AccreditationExpired")
        .withArgs(f.university.address, until);
    });

    it("approves once the researcher is reinstated", async function () {
      const f = await loadFixture(pendingRequestFixture);
      await f.ledger.connect(f.admin).suspend(f.university.address, 1);
      await f.ledger.connect(f.admin).reinstate(f.university.address);

      await expect(f.ledger.connect(f.patient).approveRequest(f.request)).to.emit(f.ledger, "ConsentGranted");
    });
  });
});

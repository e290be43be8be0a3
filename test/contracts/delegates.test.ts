import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ZeroAddress, ZeroHash, id } from "ethers";

import { DataClass, Duo, EmergencyReason, Purpose, RequestStatus, maskOf } from "../../sdk/codes";
import {
  ALL_PURPOSES,
  type LedgerFixture,
  openResearchRequest as openRequest,
  treatmentTerms,
} from "../helpers/consent-behaviours";
import { signApproveRequest, signGrant } from "../helpers/signatures";
import { DAY, deployLedgerFixture } from "../helpers/fixtures";

/** The patient appoints the delegate for 30 days; returns the end of the appointment. */
async function appointed(f: LedgerFixture): Promise<number> {
  const until = (await time.latest()) + 30 * DAY;
  await f.ledger.connect(f.patient).appointDelegate(f.delegate.address, until, ALL_PURPOSES, true);
  return until;
}

function grantFor(f: LedgerFixture, actor: typeof f.patient, patient: string, validUntil: number) {
  const t = treatmentTerms(f.hospital.address, validUntil);
  return f.ledger.connect(actor).grant(patient, t.grantee, t.dataClasses, t.purposes, t.validFrom, t.validUntil);
}

describe("Delegates", function () {
  describe("appointDelegate", function () {
    it("appoints a delegate until a time and emits DelegateAppointed", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = (await time.latest()) + 30 * DAY;

      await expect(f.ledger.connect(f.patient).appointDelegate(f.delegate.address, until, ALL_PURPOSES, true))
        .to.emit(f.ledger, "DelegateAppointed")
        .withArgs(f.patient.address, f.delegate.address, until, ALL_PURPOSES, true);
      expect(await f.ledger.delegateUntil(f.patient.address, f.delegate.address)).to.equal(until);
    });

    it("changes the end of an appointment, shortening or extending it", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = await appointed(f);

      await expect(
        f.ledger.connect(f.patient).appointDelegate(f.delegate.address, until - 20 * DAY, ALL_PURPOSES, true),
      )
        .to.emit(f.ledger, "DelegateAppointed")
        .withArgs(f.patient.address, f.delegate.address, until - 20 * DAY, ALL_PURPOSES, true);
      expect(await f.ledger.delegateUntil(f.patient.address, f.delegate.address)).to.equal(until - 20 * DAY);

      await f.ledger.connect(f.patient).appointDelegate(f.delegate.address, until + 20 * DAY, ALL_PURPOSES, true);
      expect(await f.ledger.delegateUntil(f.patient.address, f.delegate.address)).to.equal(until + 20 * DAY);
    });

    it("renews a lapsed appointment", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = await appointed(f);
      await time.increaseTo(until);

      await f.ledger.connect(f.patient).appointDelegate(f.delegate.address, until + DAY, ALL_PURPOSES, true);
      await expect(grantFor(f, f.delegate, f.patient.address, until + DAY)).to.emit(f.ledger, "ConsentGranted");
    });

    it("lets a patient appoint several delegates, and one delegate serve several patients", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = (await time.latest()) + DAY;
      await f.ledger.connect(f.patient).appointDelegate(f.delegate.address, until, ALL_PURPOSES, true);
      await f.ledger.connect(f.patient).appointDelegate(f.stranger.address, until + 1, ALL_PURPOSES, true);
      await f.ledger.connect(f.otherPatient).appointDelegate(f.delegate.address, until + 2, ALL_PURPOSES, true);

      expect(await f.ledger.delegateUntil(f.patient.address, f.delegate.address)).to.equal(until);
      expect(await f.ledger.delegateUntil(f.patient.address, f.stranger.address)).to.equal(until + 1);
      expect(await f.ledger.delegateUntil(f.otherPatient.address, f.delegate.address)).to.equal(until + 2);
      expect(await f.ledger.delegateUntil(f.otherPatient.address, f.stranger.address)).to.equal(0n);
    });

    it("reverts with InvalidDelegate for the zero address", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await expect(
        f.ledger.connect(f.patient).appointDelegate(ZeroAddress, (await time.latest()) + DAY, ALL_PURPOSES, true),
      )
        .to.be.revertedWithCustomError(f.ledger, "InvalidDelegate")
        .withArgs(ZeroAddress);
    });

    it("reverts with InvalidDelegate for the caller itself", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await expect(
        f.ledger.connect(f.patient).appointDelegate(f.patient.address, (await time.latest()) + DAY, ALL_PURPOSES, true),
      )
        .to.be.revertedWithCustomError(f.ledger, "InvalidDelegate")
        .withArgs(f.patient.address);
    });

    it("reverts with InvalidValidity when the appointment would end in the block's own second", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const now = (await time.latest()) + 10;
      await time.setNextBlockTimestamp(now);
      await expect(f.ledger.connect(f.patient).appointDelegate(f.delegate.address, now, ALL_PURPOSES, true))
        .to.be.revertedWithCustomError(f.ledger, "InvalidValidity")
        .withArgs(now, now);
    });

    it("reverts with InvalidValidity when the appointment would end in the past", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const now = (await time.latest()) + 10;
      await time.setNextBlockTimestamp(now);
      await expect(f.ledger.connect(f.patient).appointDelegate(f.delegate.address, 0, ALL_PURPOSES, true))
        .to.be.revertedWithCustomError(f.ledger, "InvalidValidity")
        .withArgs(now, 0);
    });

    it("accepts an appointment that ends one second after the block", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const now = (await time.latest()) + 10;
      await time.setNextBlockTimestamp(now);
      await expect(f.ledger.connect(f.patient).appointDelegate(f.delegate.address, now + 1, ALL_PURPOSES, true))
        .to.emit(f.ledger, "DelegateAppointed")
        .withArgs(f.patient.address, f.delegate.address, now + 1, ALL_PURPOSES, true);
    });
  });

  describe("removeDelegate", function () {
    it("removes a live delegate at once and emits DelegateRemoved", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await appointed(f);

      await expect(f.ledger.connect(f.patient).removeDelegate(f.delegate.address))
        .to.emit(f.ledger, "DelegateRemoved")
        .withArgs(f.patient.address, f.delegate.address);
      expect(await f.ledger.delegateUntil(f.patient.address, f.delegate.address)).to.equal(0n);
      await expect(grantFor(f, f.delegate, f.patient.address, (await time.latest()) + DAY))
        .to.be.revertedWithCustomError(f.ledger, "NotPatientOrDelegate")
        .withArgs(f.patient.address, f.delegate.address);
    });

    it("removes a lapsed delegate", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = await appointed(f);
      await time.increaseTo(until + DAY);

      await expect(f.ledger.connect(f.patient).removeDelegate(f.delegate.address))
        .to.emit(f.ledger, "DelegateRemoved")
        .withArgs(f.patient.address, f.delegate.address);
      expect(await f.ledger.delegateUntil(f.patient.address, f.delegate.address)).to.equal(0n);
    });

    it("reverts with DelegateNotFound for an account that is not the caller's delegate", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await appointed(f);

      await expect(f.ledger.connect(f.patient).removeDelegate(f.stranger.address))
        .to.be.revertedWithCustomError(f.ledger, "DelegateNotFound")
        .withArgs(f.patient.address, f.stranger.address);
      // The patient's delegate is not the other patient's.
      await expect(f.ledger.connect(f.otherPatient).removeDelegate(f.delegate.address))
        .to.be.revertedWithCustomError(f.ledger, "DelegateNotFound")
        .withArgs(f.otherPatient.address, f.delegate.address);
    });

    it("reverts with DelegateNotFound when removing twice", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await appointed(f);
      await f.ledger.connect(f.patient).removeDelegate(f.delegate.address);

      await expect(f.ledger.connect(f.patient).removeDelegate(f.delegate.address))
        .to.be.revertedWithCustomError(f.ledger, "DelegateNotFound")
        .withArgs(f.patient.address, f.delegate.address);
    });
  });

  describe("delegateUntil", function () {
    it("is 0 when there is no appointment, and keeps a lapsed appointment's end", async function () {
      const f = await loadFixture(deployLedgerFixture);
      expect(await f.ledger.delegateUntil(f.patient.address, f.delegate.address)).to.equal(0n);

      const until = await appointed(f);
      await time.increaseTo(until + 1);
      expect(await f.ledger.delegateUntil(f.patient.address, f.delegate.address)).to.equal(until);
    });
  });

  describe("acting for the patient", function () {
    it("grants and revokes for the patient, each event naming the delegate as actor", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = await appointed(f);
      const t = treatmentTerms(f.hospital.address, until);

      await expect(grantFor(f, f.delegate, f.patient.address, until))
        .to.emit(f.ledger, "ConsentGranted")
        .withArgs(f.patient.address, t.grantee, f.delegate.address, t.dataClasses, t.purposes, t.validFrom, until);
      expect(await f.ledger.hasAccess(f.patient.address, f.hospital.address, DataClass.LAB_RESULT, Purpose.TREAT)).to.be
        .true;

      await expect(f.ledger.connect(f.delegate).revoke(f.patient.address, f.hospital.address))
        .to.emit(f.ledger, "ConsentRevoked")
        .withArgs(f.patient.address, f.hospital.address, f.delegate.address);
      expect(await f.ledger.hasAccess(f.patient.address, f.hospital.address, DataClass.LAB_RESULT, Purpose.TREAT)).to.be
        .false;
    });

    it("revokes a consent the patient gave, and the patient revokes one the delegate gave", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = await appointed(f);
      await grantFor(f, f.patient, f.patient.address, until);
      await f.ledger.connect(f.delegate).revoke(f.patient.address, f.hospital.address);

      await grantFor(f, f.delegate, f.patient.address, until);
      await expect(f.ledger.connect(f.patient).revoke(f.patient.address, f.hospital.address))
        .to.emit(f.ledger, "ConsentRevoked")
        .withArgs(f.patient.address, f.hospital.address, f.patient.address);
    });

    it("approves and denies research requests for the patient", async function () {
      const f = await loadFixture(deployLedgerFixture);
      // Long enough for the request's 90 days: a delegate's approval must not outlive its appointment.
      await f.ledger
        .connect(f.patient)
        .appointDelegate(f.delegate.address, (await time.latest()) + 365 * DAY, ALL_PURPOSES, true);
      const first = await openRequest(f);
      await expect(f.ledger.connect(f.delegate).approveRequest(first.request))
        .to.emit(f.ledger, "RequestApproved")
        .withArgs(first.requestId, f.patient.address, f.delegate.address);
      expect(await f.ledger.hasAccess(f.patient.address, f.pharma.address, DataClass.LAB_RESULT, Purpose.HRESCH)).to.be
        .true;

      const second = await openRequest(f);
      await expect(f.ledger.connect(f.delegate).denyRequest(second.request))
        .to.emit(f.ledger, "RequestDenied")
        .withArgs(second.requestId, f.patient.address, f.delegate.address);
      // Both decisions are in their events; neither request is stored any longer.
      for (const { requestId } of [first, second]) {
        expect(await f.ledger.requestStatus(requestId)).to.deep.equal([BigInt(RequestStatus.None), 0n]);
      }
      await expect(f.ledger.connect(f.delegate).approveRequest(second.request))
        .to.be.revertedWithCustomError(f.ledger, "RequestNotFound")
        .withArgs(second.requestId);
    });

    it("acts until the second before the appointment ends", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = await appointed(f);
      await time.setNextBlockTimestamp(until - 1);

      await expect(grantFor(f, f.delegate, f.patient.address, until)).to.emit(f.ledger, "ConsentGranted");
    });

    // Each action is sent in a block whose timestamp is exactly the appointment's end, with a fixed gas
    // limit so that no estimate runs at another time: the boundary the rule names, not a second after it.
    type Request = Awaited<ReturnType<typeof openRequest>>["request"];
    const atTheEnd: Record<string, (f: LedgerFixture, until: number, request: Request) => Promise<unknown>> = {
      grant: (f, until) =>
        f.ledger
          .connect(f.delegate)
          .grant(f.patient.address, f.lab.address, 1, 1, 0, until + DAY, { gasLimit: 500_000 }),
      grantBatch: (f, until) =>
        f.ledger
          .connect(f.delegate)
          .grantBatch(f.patient.address, [treatmentTerms(f.lab.address, until + DAY)], { gasLimit: 500_000 }),
      revoke: (f) => f.ledger.connect(f.delegate).revoke(f.patient.address, f.hospital.address, { gasLimit: 500_000 }),
      approveRequest: (f, _until, request) =>
        f.ledger.connect(f.delegate).approveRequest(request, { gasLimit: 500_000 }),
      denyRequest: (f, _until, request) => f.ledger.connect(f.delegate).denyRequest(request, { gasLimit: 500_000 }),
    };
    for (const [action, send] of Object.entries(atTheEnd)) {
      it(`reverts with DelegateExpired in the very second the appointment ends: ${action}`, async function () {
        const f = await loadFixture(deployLedgerFixture);
        const until = await appointed(f);
        await grantFor(f, f.patient, f.patient.address, until + DAY);
        const { request } = await openRequest(f);
        await time.setNextBlockTimestamp(until);

        await expect(send(f, until, request))
          .to.be.revertedWithCustomError(f.ledger, "DelegateExpired")
          .withArgs(f.patient.address, f.delegate.address, until);
        expect(await time.latest()).to.equal(until);
      });
    }

    it("reverts with NotPatientOrDelegate when a delegate of patient A acts for patient B", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = await appointed(f);
      await grantFor(f, f.otherPatient, f.otherPatient.address, until);

      await expect(grantFor(f, f.delegate, f.otherPatient.address, until))
        .to.be.revertedWithCustomError(f.ledger, "NotPatientOrDelegate")
        .withArgs(f.otherPatient.address, f.delegate.address);
      await expect(f.ledger.connect(f.delegate).revoke(f.otherPatient.address, f.hospital.address))
        .to.be.revertedWithCustomError(f.ledger, "NotPatientOrDelegate")
        .withArgs(f.otherPatient.address, f.delegate.address);
    });

    it("gives the patient no power over the delegate's own consents", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = await appointed(f);
      await grantFor(f, f.delegate, f.delegate.address, until);

      await expect(f.ledger.connect(f.patient).revoke(f.delegate.address, f.hospital.address))
        .to.be.revertedWithCustomError(f.ledger, "NotPatientOrDelegate")
        .withArgs(f.delegate.address, f.patient.address);
    });
  });

  // #12, point 4. The shared grant behaviour (test/helpers/consent-behaviours.ts) runs the scope rules on
  // every grant route (direct, batched, signed); these are the appointment itself, approvals, and the attack.
  describe("the scope of an appointment", function () {
    const TREATMENT_ONLY = maskOf([Purpose.TREAT, Purpose.ETREAT, Purpose.CAREMGT]);

    it("stores the purposes and the leave for sensitive classes the patient set, and emits them", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = (await time.latest()) + 30 * DAY;

      await expect(f.ledger.connect(f.patient).appointDelegate(f.delegate.address, until, TREATMENT_ONLY, false))
        .to.emit(f.ledger, "DelegateAppointed")
        .withArgs(f.patient.address, f.delegate.address, until, TREATMENT_ONLY, false);
      const appointment = await f.ledger.delegateOf(f.patient.address, f.delegate.address);
      expect([appointment.validUntil, appointment.purposes, appointment.sensitiveClasses]).to.deep.equal([
        BigInt(until),
        BigInt(TREATMENT_ONLY),
        false,
      ]);
      expect(await f.ledger.delegateUntil(f.patient.address, f.delegate.address)).to.equal(until);
    });

    for (const purposes of [0, 1 << 10, ALL_PURPOSES + 2 ** 31]) {
      it(`reverts with InvalidPurposes for a scope of purposes ${purposes}`, async function () {
        const f = await loadFixture(deployLedgerFixture);
        await expect(
          f.ledger.connect(f.patient).appointDelegate(f.delegate.address, (await time.latest()) + DAY, purposes, false),
        )
          .to.be.revertedWithCustomError(f.ledger, "InvalidPurposes")
          .withArgs(purposes);
      });
    }

    it("refuses the attack of #12: PATRQT on substance use for a second address, without sensitive leave", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = (await time.latest()) + 30 * DAY;
      await f.ledger.connect(f.patient).appointDelegate(f.delegate.address, until, ALL_PURPOSES, false);
      const classes = maskOf([DataClass.SUBSTANCE_USE, DataClass.LAB_RESULT]);
      const purposes = maskOf([Purpose.PATRQT]);

      await expect(
        f.ledger.connect(f.delegate).grant(f.patient.address, f.stranger.address, classes, purposes, 0, until),
      )
        .to.be.revertedWithCustomError(f.ledger, "DelegateScopeExceeded")
        .withArgs(f.patient.address, f.delegate.address, classes, purposes);
      // Nor can it outlast the appointment by a second, even for a class it may give.
      await expect(
        f.ledger
          .connect(f.delegate)
          .grant(f.patient.address, f.stranger.address, maskOf([DataClass.LAB_RESULT]), purposes, 0, until + 1),
      )
        .to.be.revertedWithCustomError(f.ledger, "DelegateGrantOutlivesAppointment")
        .withArgs(f.patient.address, f.delegate.address, until + 1, until);
      expect(await f.ledger.hasAccess(f.patient.address, f.stranger.address, DataClass.SUBSTANCE_USE, Purpose.PATRQT))
        .to.be.false;
    });

    it("ends every consent a delegate gave by the end of its appointment", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = (await time.latest()) + 30 * DAY;
      await f.ledger.connect(f.patient).appointDelegate(f.delegate.address, until, ALL_PURPOSES, false);
      await f.ledger
        .connect(f.delegate)
        .grant(
          f.patient.address,
          f.stranger.address,
          maskOf([DataClass.LAB_RESULT]),
          maskOf([Purpose.PATRQT]),
          0,
          until,
        );

      await time.increaseTo(until - 1);
      expect(await f.ledger.hasAccess(f.patient.address, f.stranger.address, DataClass.LAB_RESULT, Purpose.PATRQT)).to
        .be.true;
      await time.increaseTo(until);
      expect(await f.ledger.hasAccess(f.patient.address, f.stranger.address, DataClass.LAB_RESULT, Purpose.PATRQT)).to
        .be.false;
    });

    it("lets a delegate revoke and deny outside its scope: that only takes access away", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = (await time.latest()) + 30 * DAY;
      await f.ledger.connect(f.patient).appointDelegate(f.delegate.address, until, TREATMENT_ONLY, false);
      await f.ledger
        .connect(f.patient)
        .grant(
          f.patient.address,
          f.stranger.address,
          maskOf([DataClass.MENTAL_HEALTH]),
          maskOf([Purpose.PATRQT]),
          0,
          until + 365 * DAY,
        );
      const { request, requestId } = await openRequest(f);

      await expect(f.ledger.connect(f.delegate).revoke(f.patient.address, f.stranger.address)).to.emit(
        f.ledger,
        "ConsentRevoked",
      );
      await expect(f.ledger.connect(f.delegate).denyRequest(request))
        .to.emit(f.ledger, "RequestDenied")
        .withArgs(requestId, f.patient.address, f.delegate.address);
    });

    context("approving a request", function () {
      type Approve = (
        f: LedgerFixture,
        request: Awaited<ReturnType<typeof openRequest>>["request"],
      ) => Promise<unknown>;
      const routes: Record<string, Approve> = {
        approveRequest: (f, request) => f.ledger.connect(f.delegate).approveRequest(request),
        approveRequestBySig: async (f, request) =>
          f.ledger.connect(f.relayer).approveRequestBySig(...(await signApproveRequest(f.ledger, f.delegate, request))),
      };
      for (const [name, approve] of Object.entries(routes)) {
        context(`with ${name}`, function () {
          it("reverts with DelegateScopeExceeded for a research purpose outside its scope", async function () {
            const f = await loadFixture(deployLedgerFixture);
            await f.ledger
              .connect(f.patient)
              .appointDelegate(f.delegate.address, (await time.latest()) + 365 * DAY, TREATMENT_ONLY, true);
            const { request, requestId } = await openRequest(f);

            await expect(approve(f, request))
              .to.be.revertedWithCustomError(f.ledger, "DelegateScopeExceeded")
              .withArgs(f.patient.address, f.delegate.address, request.terms.dataClasses, maskOf([Purpose.HRESCH]));
            expect((await f.ledger.requestStatus(requestId)).status).to.equal(RequestStatus.Pending);
          });

          it("reverts with DelegateScopeExceeded for a sensitive class without leave", async function () {
            const f = await loadFixture(deployLedgerFixture);
            await f.ledger
              .connect(f.patient)
              .appointDelegate(f.delegate.address, (await time.latest()) + 365 * DAY, ALL_PURPOSES, false);
            const terms = {
              patient: f.patient.address,
              dataClasses: maskOf([DataClass.LAB_RESULT, DataClass.SUBSTANCE_USE]),
              purpose: Purpose.HRESCH,
              researchCategory: Duo.GRU,
              diseaseId: 0,
              acceptedObligations: 0n,
              duration: 90 * DAY,
              studyId: id("study-sud"),
              protocolHash: ZeroHash,
            };
            const receipt = await (await f.ledger.connect(f.pharma).requestAccess(terms)).wait();
            const request = { researcher: f.pharma.address, openedAt: (await receipt!.getBlock()).timestamp, terms };

            await expect(approve(f, request))
              .to.be.revertedWithCustomError(f.ledger, "DelegateScopeExceeded")
              .withArgs(f.patient.address, f.delegate.address, terms.dataClasses, maskOf([Purpose.HRESCH]));
          });

          it("reverts with DelegateGrantOutlivesAppointment when the access would outlast the appointment", async function () {
            const f = await loadFixture(deployLedgerFixture);
            const until = (await time.latest()) + 30 * DAY;
            await f.ledger.connect(f.patient).appointDelegate(f.delegate.address, until, ALL_PURPOSES, true);
            const { request } = await openRequest(f);
            const at = (await time.latest()) + 10;
            await time.setNextBlockTimestamp(at);

            await expect(approve(f, request))
              .to.be.revertedWithCustomError(f.ledger, "DelegateGrantOutlivesAppointment")
              .withArgs(f.patient.address, f.delegate.address, at + 90 * DAY, until);
          });

          it("approves within its scope, naming the delegate in RequestApproved and ConsentGranted", async function () {
            const f = await loadFixture(deployLedgerFixture);
            await f.ledger
              .connect(f.patient)
              .appointDelegate(f.delegate.address, (await time.latest()) + 365 * DAY, maskOf([Purpose.HRESCH]), false);
            const { request, requestId } = await openRequest(f);

            await expect(approve(f, request))
              .to.emit(f.ledger, "RequestApproved")
              .withArgs(requestId, f.patient.address, f.delegate.address)
              .and.to.emit(f.ledger, "ConsentGranted");
            expect(await f.ledger.hasAccess(f.patient.address, f.pharma.address, DataClass.LAB_RESULT, Purpose.HRESCH))
              .to.be.true;
          });
        });
      }
    });

    context("signing a grant", function () {
      it("applies the signer's scope, not the relayer's", async function () {
        const f = await loadFixture(deployLedgerFixture);
        const until = (await time.latest()) + 30 * DAY;
        await f.ledger.connect(f.patient).appointDelegate(f.delegate.address, until, TREATMENT_ONLY, false);
        const terms = {
          grantee: f.stranger.address,
          dataClasses: maskOf([DataClass.SUBSTANCE_USE]),
          purposes: maskOf([Purpose.PATRQT]),
          validFrom: 0,
          validUntil: until,
        };
        const args = await signGrant(f.ledger, f.delegate, { patient: f.patient, terms });

        await expect(f.ledger.connect(f.patient).grantBySig(...args))
          .to.be.revertedWithCustomError(f.ledger, "DelegateScopeExceeded")
          .withArgs(f.patient.address, f.delegate.address, terms.dataClasses, terms.purposes);
      });
    });
  });

  describe("what a delegate cannot do for the patient", function () {
    it("cannot grant itself access to the patient's data: that is the patient's own decision", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = await appointed(f);
      await expect(
        f.ledger
          .connect(f.delegate)
          .grant(
            f.patient.address,
            f.delegate.address,
            maskOf([DataClass.LAB_RESULT]),
            maskOf([Purpose.PATRQT]),
            0,
            until,
          ),
      )
        .to.be.revertedWithCustomError(f.ledger, "InvalidGrantee")
        .withArgs(f.delegate.address);
    });

    it("cannot appoint a delegate for the patient: its call appoints one for itself only", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await appointed(f);
      const until = (await time.latest()) + DAY;

      await expect(f.ledger.connect(f.delegate).appointDelegate(f.stranger.address, until, ALL_PURPOSES, true))
        .to.emit(f.ledger, "DelegateAppointed")
        .withArgs(f.delegate.address, f.stranger.address, until, ALL_PURPOSES, true);
      expect(await f.ledger.delegateUntil(f.patient.address, f.stranger.address)).to.equal(0n);
      expect(await f.ledger.delegateUntil(f.delegate.address, f.stranger.address)).to.equal(until);
      // The sub-delegate gains no power over the patient.
      await expect(grantFor(f, f.stranger, f.patient.address, until))
        .to.be.revertedWithCustomError(f.ledger, "NotPatientOrDelegate")
        .withArgs(f.patient.address, f.stranger.address);
    });

    it("cannot remove the patient's other delegates: its call looks at its own", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = await appointed(f);
      await f.ledger.connect(f.patient).appointDelegate(f.stranger.address, until, ALL_PURPOSES, true);

      await expect(f.ledger.connect(f.delegate).removeDelegate(f.stranger.address))
        .to.be.revertedWithCustomError(f.ledger, "DelegateNotFound")
        .withArgs(f.delegate.address, f.stranger.address);
      expect(await f.ledger.delegateUntil(f.patient.address, f.stranger.address)).to.equal(until);
    });

    it("cannot set the patient's standing policy: its call sets its own", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await appointed(f);
      const policy = {
        permission: Duo.GRU,
        modifiers: 0n,
        dataClasses: maskOf([DataClass.LAB_RESULT]),
        purposes: maskOf([Purpose.HRESCH]),
        diseaseId: 0,
        maxDuration: 0,
        validUntil: 0,
      };

      await expect(f.ledger.connect(f.delegate).setPolicy(policy))
        .to.emit(f.ledger, "PolicySet")
        .withArgs(f.delegate.address, Object.values(policy));
      expect((await f.ledger.policyOf(f.patient.address)).permission).to.equal(0n);
      expect((await f.ledger.policyOf(f.delegate.address)).permission).to.equal(Duo.GRU);
      // The patient's requests still wait for a decision.
      const { requestId } = await openRequest(f);
      expect((await f.ledger.requestStatus(requestId)).status).to.equal(RequestStatus.Pending);
    });

    it("cannot clear the patient's standing policy: its call clears its own", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await appointed(f);
      const policy = {
        permission: Duo.GRU,
        modifiers: 0n,
        dataClasses: maskOf([DataClass.LAB_RESULT]),
        purposes: maskOf([Purpose.HRESCH]),
        diseaseId: 0,
        maxDuration: 0,
        validUntil: 0,
      };
      await f.ledger.connect(f.patient).setPolicy(policy);

      await expect(f.ledger.connect(f.delegate).clearPolicy())
        .to.emit(f.ledger, "PolicyCleared")
        .withArgs(f.delegate.address);
      expect((await f.ledger.policyOf(f.patient.address)).permission).to.equal(Duo.GRU);
    });

    it("cannot opt the patient out of emergency access: its call opts itself out", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await appointed(f);

      await expect(f.ledger.connect(f.delegate).setEmergencyOptOut(true))
        .to.emit(f.ledger, "EmergencyOptOutSet")
        .withArgs(f.delegate.address, true);
      expect(await f.ledger.emergencyOptedOut(f.patient.address)).to.be.false;
      expect(await f.ledger.emergencyOptedOut(f.delegate.address)).to.be.true;
      // A provider can still break the glass on the patient.
      await expect(
        f.ledger.connect(f.hospital).openEmergencyAccess(f.patient.address, EmergencyReason.PATIENT_UNRESPONSIVE, 3600),
      ).to.emit(f.ledger, "EmergencyAccessOpened");
    });

    it("cannot opt the patient back in after the patient opted out", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await appointed(f);
      await f.ledger.connect(f.patient).setEmergencyOptOut(true);

      await f.ledger.connect(f.delegate).setEmergencyOptOut(false);
      expect(await f.ledger.emergencyOptedOut(f.patient.address)).to.be.true;
      await expect(
        f.ledger.connect(f.hospital).openEmergencyAccess(f.patient.address, EmergencyReason.PATIENT_UNRESPONSIVE, 3600),
      )
        .to.be.revertedWithCustomError(f.ledger, "EmergencyAccessOptedOut")
        .withArgs(f.patient.address);
    });

    it("cannot cancel the patient's signature nonces: its call cancels its own", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await appointed(f);

      await expect(f.ledger.connect(f.delegate).invalidateNonces(0, 1))
        .to.emit(f.ledger, "NoncesInvalidated")
        .withArgs(f.delegate.address, 0, 1);
      expect(await f.ledger.nonceBitmap(f.patient.address, 0)).to.equal(0n);
      expect(await f.ledger.nonceBitmap(f.delegate.address, 0)).to.equal(1n);
    });
  });
});

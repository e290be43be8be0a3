/**
 * sdk/codes.ts mirrors the code tables of contracts/libraries. These tests hold each table against
 * what the deployed contracts do with the codes, so a drift on either side fails here.
 */
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { id } from "ethers";
import { ethers } from "hardhat";

import {
  AccessBasis,
  DUO_MODIFIERS,
  DUO_OBLIGATIONS,
  DUO_PERMISSIONS,
  DUO_RESEARCH_CATEGORIES,
  DataClass,
  DataClassFhir,
  Duo,
  type DuoName,
  EmergencyReason,
  Purpose,
  type PurposeName,
  RESEARCH_PURPOSES,
  RequestStatus,
  Role,
  SENSITIVE_DATA_CLASSES,
  codesOf,
  duoMaskOf,
  maskOf,
} from "../../sdk/codes";
import { openResearchRequest } from "../helpers/consent-behaviours";
import { DAY, LEDGER_PARAMS, deployLedgerFixture } from "../helpers/fixtures";

const dataClassCodes = Object.values(DataClass);
const purposeCodes = Object.values(Purpose);
const ANY_ROLE = Role.PROVIDER | Role.RESEARCHER | Role.CUSTODIAN;

/** The ledger's cast plus one party accredited as custodian only. */
async function codesFixture() {
  const f = await deployLedgerFixture();
  const [custodian] = (await ethers.getSigners()).slice(10);
  await f.ledger.connect(f.admin).accredit(custodian.address, Role.CUSTODIAN, false, 0);
  return { ...f, custodian };
}

type Fixture = Awaited<ReturnType<typeof codesFixture>>;

/** Research terms that pass validation, for the view policyApproves (which validates like requestAccess). */
function researchTerms(f: Fixture, overrides: Record<string, unknown> = {}) {
  return {
    patient: f.patient.address,
    dataClasses: maskOf([DataClass.LAB_RESULT]),
    purpose: Purpose.HRESCH,
    researchCategory: Duo.GRU,
    diseaseId: 0,
    acceptedObligations: 0n,
    duration: DAY,
    studyId: id("study"),
    protocolHash: id("protocol"),
    ...overrides,
  };
}

function policy(overrides: Record<string, unknown> = {}) {
  return {
    permission: Duo.GRU,
    modifiers: 0n,
    dataClasses: maskOf(dataClassCodes),
    purposes: maskOf(RESEARCH_PURPOSES.map((name) => Purpose[name])),
    diseaseId: 0,
    maxDuration: 0,
    validUntil: 0,
    ...overrides,
  };
}

function expectContiguousFromZero(codes: number[]) {
  expect([...codes].sort((a, b) => a - b)).to.deep.equal(codes.map((_, i) => i));
}

describe("sdk/codes against the contracts", function () {
  describe("DataClass", function () {
    it("numbers the classes 0 to 14 without gaps or repeats, each with its FHIR resources", function () {
      expect(dataClassCodes).to.have.length(15);
      expectContiguousFromZero(dataClassCodes);
      expect(Object.keys(DataClassFhir).sort()).to.deep.equal(Object.keys(DataClass).sort());
      for (const resources of Object.values(DataClassFhir)) expect(resources).to.not.be.empty;
    });

    it("every code is grantable alone, and the consent answers for that class only", async function () {
      const f = await loadFixture(codesFixture);
      const until = (await time.latest()) + 30 * DAY;
      for (const [name, code] of Object.entries(DataClass)) {
        await f.ledger
          .connect(f.patient)
          .grant(f.patient.address, f.stranger.address, maskOf([code]), maskOf([Purpose.PATRQT]), 0, until);
        for (const other of dataClassCodes) {
          expect(
            await f.ledger.hasAccessRightNow(f.patient.address, f.stranger.address, other, Purpose.PATRQT),
            `${name} vs ${other}`,
          ).to.equal(other === code);
        }
      }
    });

    it("no code from 15 up is grantable", async function () {
      const f = await loadFixture(codesFixture);
      const until = (await time.latest()) + DAY;
      for (let code = dataClassCodes.length; code < 32; code++) {
        const mask = 2 ** code;
        await expect(f.ledger.connect(f.patient).grant(f.patient.address, f.stranger.address, mask, 1, 0, until))
          .to.be.revertedWithCustomError(f.ledger, "InvalidDataClasses")
          .withArgs(mask);
      }
    });

    it("accessBasis knows the codes 0 to 14 and rejects 15 with UnknownDataClass", async function () {
      const f = await loadFixture(codesFixture);
      for (const code of dataClassCodes) {
        expect(await f.ledger.accessBasis(f.patient.address, f.hospital.address, code, Purpose.TREAT)).to.equal(
          AccessBasis.None,
        );
      }
      await expect(f.ledger.accessBasis(f.patient.address, f.hospital.address, dataClassCodes.length, Purpose.TREAT))
        .to.be.revertedWithCustomError(f.ledger, "UnknownDataClass")
        .withArgs(dataClassCodes.length);
    });

    it("SENSITIVE_DATA_CLASSES are exactly the classes a standing policy never releases by itself", async function () {
      const f = await loadFixture(codesFixture);
      await f.ledger.connect(f.patient).setPolicy(policy());
      for (const [name, code] of Object.entries(DataClass)) {
        const approves = await f.ledger.policyApproves(
          f.university.address,
          researchTerms(f, { dataClasses: maskOf([code]) }),
        );
        expect(approves, name).to.equal(!SENSITIVE_DATA_CLASSES.includes(name as keyof typeof DataClass));
      }
    });
  });

  describe("Purpose", function () {
    it("numbers the purposes 0 to 9 without gaps or repeats", function () {
      expect(purposeCodes).to.have.length(10);
      expectContiguousFromZero(purposeCodes);
    });

    it("every code is grantable alone, and the consent answers for that purpose only", async function () {
      const f = await loadFixture(codesFixture);
      const until = (await time.latest()) + 30 * DAY;
      // The hospital is a provider and custodian, the university a researcher: together they meet every need.
      for (const [name, code] of Object.entries(Purpose)) {
        const grantee = RESEARCH_PURPOSES.includes(name as PurposeName) ? f.university : f.hospital;
        await f.ledger
          .connect(f.patient)
          .grant(f.patient.address, grantee.address, maskOf([DataClass.CONDITION]), maskOf([code]), 0, until);
        for (const other of purposeCodes) {
          expect(
            await f.ledger.hasAccessRightNow(f.patient.address, grantee.address, DataClass.CONDITION, other),
            `${name} vs ${other}`,
          ).to.equal(other === code);
        }
      }
    });

    it("no code from 10 up is grantable", async function () {
      const f = await loadFixture(codesFixture);
      const until = (await time.latest()) + DAY;
      for (let code = purposeCodes.length; code < 32; code++) {
        const mask = 2 ** code;
        await expect(f.ledger.connect(f.patient).grant(f.patient.address, f.stranger.address, 1, mask, 0, until))
          .to.be.revertedWithCustomError(f.ledger, "InvalidPurposes")
          .withArgs(mask);
      }
      await expect(f.ledger.accessBasis(f.patient.address, f.hospital.address, 0, purposeCodes.length))
        .to.be.revertedWithCustomError(f.ledger, "UnknownPurpose")
        .withArgs(purposeCodes.length);
    });

    it("each purpose needs the accreditation the ledger documents, and RESEARCH_PURPOSES are those needing a researcher", async function () {
      const f = await loadFixture(codesFixture);
      const until = (await time.latest()) + 30 * DAY;
      const holders: [number, HardhatEthersSigner][] = [
        [Role.PROVIDER, f.lab],
        [Role.RESEARCHER, f.pharma],
        [Role.CUSTODIAN, f.custodian],
        [0, f.stranger],
      ];
      const all = maskOf(purposeCodes);
      for (const [, grantee] of holders) {
        await f.ledger.connect(f.patient).grant(f.patient.address, grantee.address, 1, all, 0, until);
      }

      // Which single roles (0: none at all) suffice for each purpose, as the chain answers.
      const sufficient: Record<string, number[]> = {};
      for (const [name, code] of Object.entries(Purpose)) {
        sufficient[name] = [];
        for (const [role, grantee] of holders) {
          if (await f.ledger.hasAccessRightNow(f.patient.address, grantee.address, DataClass.LAB_RESULT, code)) {
            sufficient[name].push(role);
          }
        }
      }
      const anyRole = [Role.PROVIDER, Role.RESEARCHER, Role.CUSTODIAN];
      expect(sufficient).to.deep.equal({
        TREAT: [Role.PROVIDER],
        ETREAT: [Role.PROVIDER],
        CAREMGT: [Role.PROVIDER],
        HRESCH: [Role.RESEARCHER],
        BIORCH: [Role.RESEARCHER],
        CLINTRCH: [Role.RESEARCHER],
        PUBHLTH: anyRole,
        HPAYMT: anyRole,
        HOPERAT: anyRole,
        PATRQT: [...anyRole, 0],
      });
      const needResearcher = Object.keys(sufficient).filter(
        (name) => sufficient[name].length === 1 && sufficient[name][0] === Role.RESEARCHER,
      );
      expect(needResearcher).to.deep.equal([...RESEARCH_PURPOSES]);
    });

    it("RESEARCH_PURPOSES are exactly those a request may ask for, each with a research category", async function () {
      const f = await loadFixture(codesFixture);
      for (const [name, code] of Object.entries(Purpose)) {
        const withoutCategory = f.ledger.policyApproves(
          f.pharma.address,
          researchTerms(f, { purpose: code, researchCategory: 0 }),
        );
        if (RESEARCH_PURPOSES.includes(name as PurposeName)) {
          await expect(withoutCategory, name)
            .to.be.revertedWithCustomError(f.ledger, "InvalidResearchCategory")
            .withArgs(code, 0);
        } else {
          await expect(withoutCategory, name)
            .to.be.revertedWithCustomError(f.ledger, "RequestPurposeNotResearch")
            .withArgs(code);
        }
      }
    });
  });

  describe("Role", function () {
    it("gives each role its own bit, and the bit past them is not a role", async function () {
      const f = await loadFixture(codesFixture);
      const bits = Object.values(Role);
      expect(bits.map((b) => codesOf(b))).to.deep.equal([[0], [1], [2]]);
      for (const bit of bits) {
        await f.ledger.connect(f.admin).accredit(f.stranger.address, bit, false, 0);
        expect(await f.ledger.isAccredited(f.stranger.address, bit)).to.be.true;
        expect(await f.ledger.isAccredited(f.stranger.address, ANY_ROLE & ~bit)).to.be.false;
      }
      await expect(f.ledger.connect(f.admin).accredit(f.stranger.address, ANY_ROLE + 1, false, 0))
        .to.be.revertedWithCustomError(f.ledger, "InvalidRoles")
        .withArgs(ANY_ROLE + 1);
    });

    it("PROVIDER is what breaking the glass needs", async function () {
      const f = await loadFixture(codesFixture);
      await expect(
        f.ledger.connect(f.lab).openEmergencyAccess(f.patient.address, EmergencyReason.PATIENT_UNRESPONSIVE, 60),
      ).to.emit(f.ledger, "EmergencyAccessOpened");
      for (const party of [f.university, f.custodian]) {
        await expect(
          f.ledger.connect(party).openEmergencyAccess(f.patient.address, EmergencyReason.PATIENT_UNRESPONSIVE, 60),
        )
          .to.be.revertedWithCustomError(f.ledger, "PartyNotAccredited")
          .withArgs(party.address, Role.PROVIDER);
      }
    });

    it("RESEARCHER is what asking for access needs", async function () {
      const f = await loadFixture(codesFixture);
      await expect(f.ledger.connect(f.pharma).requestAccess(researchTerms(f))).to.emit(f.ledger, "RequestOpened");
      for (const party of [f.lab, f.custodian]) {
        await expect(f.ledger.connect(party).requestAccess(researchTerms(f)))
          .to.be.revertedWithCustomError(f.ledger, "PartyNotAccredited")
          .withArgs(party.address, Role.RESEARCHER);
      }
    });

    it("CUSTODIAN is what writing the access log needs", async function () {
      const f = await loadFixture(codesFixture);
      const recordId = id("record");
      await expect(
        f.accessLog.connect(f.custodian).logRelease(recordId, f.hospital.address, Purpose.TREAT, AccessBasis.Consent),
      ).to.emit(f.accessLog, "KeyReleased");
      await expect(
        f.accessLog.connect(f.lab).logRelease(recordId, f.hospital.address, Purpose.TREAT, AccessBasis.Consent),
      )
        .to.be.revertedWithCustomError(f.ledger, "PartyNotAccredited")
        .withArgs(f.lab.address, Role.CUSTODIAN);
    });
  });

  describe("EmergencyReason", function () {
    it("every code opens a window; 0 and the code past the last are unknown", async function () {
      const f = await loadFixture(codesFixture);
      const codes = Object.values(EmergencyReason);
      expect([...codes].sort()).to.deep.equal(codes.map((_, i) => i + 1));
      for (const code of codes) {
        const openedAt = (await time.latest()) + 1;
        await time.setNextBlockTimestamp(openedAt);
        await expect(f.ledger.connect(f.hospital).openEmergencyAccess(f.patient.address, code, 60))
          .to.emit(f.ledger, "EmergencyAccessOpened")
          .withArgs(f.patient.address, f.hospital.address, code, openedAt + 60);
      }
      for (const code of [0, codes.length + 1]) {
        await expect(f.ledger.connect(f.hospital).openEmergencyAccess(f.patient.address, code, 60))
          .to.be.revertedWithCustomError(f.ledger, "UnknownEmergencyReason")
          .withArgs(code);
      }
    });
  });

  describe("AccessBasis", function () {
    it("numbers None, Consent and Emergency as accessBasis answers them and the access log accepts them", async function () {
      const f = await loadFixture(codesFixture);
      expect(await f.ledger.accessBasis(f.patient.address, f.hospital.address, 0, Purpose.TREAT)).to.equal(
        AccessBasis.None,
      );
      await f.ledger
        .connect(f.hospital)
        .openEmergencyAccess(f.patient.address, EmergencyReason.PATIENT_UNRESPONSIVE, 60);
      expect(await f.ledger.accessBasis(f.patient.address, f.hospital.address, 0, Purpose.TREAT)).to.equal(
        AccessBasis.Emergency,
      );
      await f.ledger
        .connect(f.patient)
        .grant(f.patient.address, f.hospital.address, 1, 1, 0, (await time.latest()) + DAY);
      expect(await f.ledger.accessBasis(f.patient.address, f.hospital.address, 0, Purpose.TREAT)).to.equal(
        AccessBasis.Consent,
      );

      await expect(f.accessLog.connect(f.hospital).logRelease(id("r"), f.lab.address, 0, AccessBasis.None))
        .to.be.revertedWithCustomError(f.accessLog, "InvalidReleaseBasis")
        .withArgs(AccessBasis.None);
    });
  });

  describe("RequestStatus", function () {
    it("has exactly the ledger's stored statuses, numbered from zero", function () {
      // Approved, Denied and Cancelled are not statuses the ledger stores: they are events.
      expect(Object.keys(RequestStatus)).to.deep.equal(["None", "Pending", "Expired"]);
      expectContiguousFromZero(Object.values(RequestStatus));
    });

    it("numbers each status as requestStatus reports it, and None once a request is decided or cancelled", async function () {
      const f = await loadFixture(codesFixture);
      const status = async (requestId: string) => (await f.ledger.requestStatus(requestId)).status;
      expect(await status(id("no such request"))).to.equal(RequestStatus.None);

      const approved = await openResearchRequest(f, { studyId: id("a") });
      expect(await status(approved.requestId)).to.equal(RequestStatus.Pending);
      await expect(f.ledger.connect(f.patient).approveRequest(approved.request))
        .to.emit(f.ledger, "RequestApproved")
        .withArgs(approved.requestId, f.patient.address, f.patient.address);
      expect(await status(approved.requestId)).to.equal(RequestStatus.None);

      const denied = await openResearchRequest(f, { studyId: id("d") });
      await expect(f.ledger.connect(f.patient).denyRequest(denied.request))
        .to.emit(f.ledger, "RequestDenied")
        .withArgs(denied.requestId, f.patient.address, f.patient.address);
      expect(await status(denied.requestId)).to.equal(RequestStatus.None);

      const cancelled = await openResearchRequest(f, { studyId: id("c") });
      await expect(f.ledger.connect(f.pharma).cancelRequest(cancelled.request))
        .to.emit(f.ledger, "RequestCancelled")
        .withArgs(cancelled.requestId, f.patient.address);
      expect(await status(cancelled.requestId)).to.equal(RequestStatus.None);

      const expired = await openResearchRequest(f, { studyId: id("e") });
      await time.increase(LEDGER_PARAMS.requestTtl);
      expect(await status(expired.requestId)).to.equal(RequestStatus.Expired);
    });
  });

  describe("Duo", function () {
    it("DUO_PERMISSIONS are exactly the permissions a policy accepts", async function () {
      const f = await loadFixture(codesFixture);
      for (const [name, code] of Object.entries(Duo) as [DuoName, number][]) {
        const p = policy({ permission: code, diseaseId: name === "DS" ? 1234 : 0 });
        if (DUO_PERMISSIONS.includes(name)) {
          await expect(f.ledger.connect(f.patient).setPolicy(p), name).to.emit(f.ledger, "PolicySet");
        } else {
          await expect(f.ledger.connect(f.patient).setPolicy(p), name)
            .to.be.revertedWithCustomError(f.ledger, "InvalidPolicyPermission")
            .withArgs(code);
        }
      }
    });

    it("DUO_MODIFIERS are exactly the modifiers a policy may carry", async function () {
      const f = await loadFixture(codesFixture);
      await expect(
        f.ledger.connect(f.patient).setPolicy(policy({ modifiers: duoMaskOf(DUO_MODIFIERS), maxDuration: DAY })),
      ).to.emit(f.ledger, "PolicySet");
      for (const [name, code] of Object.entries(Duo) as [DuoName, number][]) {
        if (DUO_MODIFIERS.includes(name)) continue;
        await expect(f.ledger.connect(f.patient).setPolicy(policy({ modifiers: 1n << BigInt(code) })), name)
          .to.be.revertedWithCustomError(f.ledger, "UnsupportedPolicyModifiers")
          .withArgs(1n << BigInt(code));
      }
    });

    it("DUO_OBLIGATIONS are exactly the modifiers a request may accept", async function () {
      const f = await loadFixture(codesFixture);
      expect(
        await f.ledger.policyApproves(
          f.pharma.address,
          researchTerms(f, { acceptedObligations: duoMaskOf(DUO_OBLIGATIONS) }),
        ),
      ).to.be.false;
      for (const name of DUO_MODIFIERS.filter((m) => !DUO_OBLIGATIONS.includes(m))) {
        const mask = duoMaskOf([name]);
        await expect(f.ledger.policyApproves(f.pharma.address, researchTerms(f, { acceptedObligations: mask })), name)
          .to.be.revertedWithCustomError(f.ledger, "InvalidObligations")
          .withArgs(mask);
      }
    });

    it("DUO_RESEARCH_CATEGORIES are exactly the categories research may declare", async function () {
      const f = await loadFixture(codesFixture);
      for (const [name, code] of Object.entries(Duo) as [DuoName, number][]) {
        const terms = researchTerms(f, { researchCategory: code, diseaseId: name === "DS" ? 1234 : 0 });
        if (DUO_RESEARCH_CATEGORIES.includes(name)) {
          expect(await f.ledger.policyApproves(f.pharma.address, terms), name).to.be.false;
        } else {
          await expect(f.ledger.policyApproves(f.pharma.address, terms), name)
            .to.be.revertedWithCustomError(f.ledger, "InvalidResearchCategory")
            .withArgs(Purpose.HRESCH, code);
        }
      }
    });
  });

  describe("maskOf and codesOf", function () {
    it("build the bitmasks the ledger stores, and read them back", async function () {
      const f = await loadFixture(codesFixture);
      const classes = [DataClass.GENOMIC, DataClass.LAB_RESULT, DataClass.SUBSTANCE_USE];
      const purposes = [Purpose.PATRQT, Purpose.TREAT];
      await f.ledger
        .connect(f.patient)
        .grant(
          f.patient.address,
          f.hospital.address,
          maskOf(classes),
          maskOf(purposes),
          0,
          (await time.latest()) + DAY,
        );

      const stored = await f.ledger.consentOf(f.patient.address, f.hospital.address);
      expect(codesOf(stored.dataClasses)).to.deep.equal([...classes].sort((a, b) => a - b));
      expect(codesOf(stored.purposes)).to.deep.equal([...purposes].sort((a, b) => a - b));
    });
  });
});

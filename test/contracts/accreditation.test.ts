import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ZeroAddress } from "ethers";
import { ethers } from "hardhat";

import { Role } from "../../sdk/codes";
import { DAY, LEDGER_PARAMS, YEAR, deployLedgerFixture } from "../helpers/fixtures";

const ALL_ROLES = Role.PROVIDER | Role.RESEARCHER | Role.CUSTODIAN;
/** The bound ConsentLedger puts on every duration parameter: 100 years of 365 days. */
const DURATION_LIMIT = 100 * YEAR;

type Fixture = Awaited<ReturnType<typeof deployLedgerFixture>>;

async function partyOf(f: Fixture, party: string) {
  const p = await f.ledger.partyOf(party);
  return {
    roles: p.roles,
    nonProfit: p.nonProfit,
    suspended: p.suspended,
    accreditedUntil: p.accreditedUntil,
    index: p.index,
  };
}

describe("Accreditation", function () {
  describe("accredit", function () {
    it("gave the fixture's parties indices 1 to 4 in order of accreditation", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const parties = [f.hospital, f.lab, f.university, f.pharma];
      for (const [i, party] of parties.entries()) {
        expect((await f.ledger.partyOf(party.address)).index).to.equal(i + 1);
        expect(await f.ledger.partyAt(i + 1)).to.equal(party.address);
      }
    });

    it("accredits a new party under the next index and emits PartyAccredited", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = (await time.latest()) + YEAR;

      await expect(f.ledger.connect(f.admin).accredit(f.stranger.address, Role.RESEARCHER, true, until))
        .to.emit(f.ledger, "PartyAccredited")
        .withArgs(f.stranger.address, Role.RESEARCHER, true, until, 5);
      expect(await partyOf(f, f.stranger.address)).to.deep.equal({
        roles: BigInt(Role.RESEARCHER),
        nonProfit: true,
        suspended: false,
        accreditedUntil: BigInt(until),
        index: 5n,
      });
      expect(await f.ledger.partyAt(5)).to.equal(f.stranger.address);
    });

    it("replaces roles, flag and expiry of an accredited party, keeping its index", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = (await time.latest()) + YEAR;

      await expect(f.ledger.connect(f.admin).accredit(f.lab.address, Role.RESEARCHER | Role.CUSTODIAN, true, until))
        .to.emit(f.ledger, "PartyAccredited")
        .withArgs(f.lab.address, Role.RESEARCHER | Role.CUSTODIAN, true, until, 2);
      expect(await partyOf(f, f.lab.address)).to.deep.equal({
        roles: BigInt(Role.RESEARCHER | Role.CUSTODIAN),
        nonProfit: true,
        suspended: false,
        accreditedUntil: BigInt(until),
        index: 2n,
      });
      expect(await f.ledger.isAccredited(f.lab.address, Role.PROVIDER)).to.be.false;

      // Back to no expiry; still index 2, and the next new party takes index 5.
      await f.ledger.connect(f.admin).accredit(f.lab.address, Role.PROVIDER, false, 0);
      expect((await f.ledger.partyOf(f.lab.address)).accreditedUntil).to.equal(0n);
      await expect(f.ledger.connect(f.admin).accredit(f.stranger.address, Role.PROVIDER, false, 0))
        .to.emit(f.ledger, "PartyAccredited")
        .withArgs(f.stranger.address, Role.PROVIDER, false, 0, 5);
    });

    it("keeps a suspension in place when the party is accredited again", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await f.ledger.connect(f.admin).suspend(f.lab.address, 1);

      await f.ledger.connect(f.admin).accredit(f.lab.address, ALL_ROLES, false, 0);
      expect((await f.ledger.partyOf(f.lab.address)).suspended).to.be.true;
      expect(await f.ledger.isAccredited(f.lab.address, ALL_ROLES)).to.be.false;
    });

    it("accepts every non-empty combination of known roles", async function () {
      const f = await loadFixture(deployLedgerFixture);
      for (let roles = 1; roles <= ALL_ROLES; roles++) {
        await f.ledger.connect(f.admin).accredit(f.stranger.address, roles, false, 0);
        expect((await f.ledger.partyOf(f.stranger.address)).roles).to.equal(roles);
        for (const role of Object.values(Role)) {
          expect(await f.ledger.isAccredited(f.stranger.address, role)).to.equal((roles & role) !== 0);
        }
      }
    });

    it("never lapses an accreditation without an expiry", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await time.increase(150 * YEAR);
      expect(await f.ledger.isAccredited(f.hospital.address, Role.PROVIDER)).to.be.true;
    });

    it("accepts an expiry one second after the block", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const now = (await time.latest()) + 10;
      await time.setNextBlockTimestamp(now);
      await expect(f.ledger.connect(f.admin).accredit(f.stranger.address, Role.PROVIDER, false, now + 1))
        .to.emit(f.ledger, "PartyAccredited")
        .withArgs(f.stranger.address, Role.PROVIDER, false, now + 1, 5);
      expect(await f.ledger.isAccredited(f.stranger.address, Role.PROVIDER)).to.be.true;
    });

    it("reverts with InvalidAccreditationExpiry for an expiry at the block's own second or before", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const now = (await time.latest()) + 10;
      await time.setNextBlockTimestamp(now);
      await expect(f.ledger.connect(f.admin).accredit(f.stranger.address, Role.PROVIDER, false, now))
        .to.be.revertedWithCustomError(f.ledger, "InvalidAccreditationExpiry")
        .withArgs(now);
      await expect(f.ledger.connect(f.admin).accredit(f.stranger.address, Role.PROVIDER, false, 1))
        .to.be.revertedWithCustomError(f.ledger, "InvalidAccreditationExpiry")
        .withArgs(1);
    });

    it("reverts with InvalidParty for the zero address", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await expect(f.ledger.connect(f.admin).accredit(ZeroAddress, Role.PROVIDER, false, 0))
        .to.be.revertedWithCustomError(f.ledger, "InvalidParty")
        .withArgs(ZeroAddress);
    });

    for (const roles of [0, 8, ALL_ROLES | 8, 0x80, 0xff]) {
      it(`reverts with InvalidRoles for roles ${roles}`, async function () {
        const f = await loadFixture(deployLedgerFixture);
        await expect(f.ledger.connect(f.admin).accredit(f.stranger.address, roles, false, 0))
          .to.be.revertedWithCustomError(f.ledger, "InvalidRoles")
          .withArgs(roles);
      });
    }

    it("reverts with OwnableUnauthorizedAccount for anyone but the administrator, accredited parties included", async function () {
      const f = await loadFixture(deployLedgerFixture);
      for (const caller of [f.stranger, f.hospital, f.patient]) {
        await expect(f.ledger.connect(caller).accredit(caller.address, ALL_ROLES, false, 0))
          .to.be.revertedWithCustomError(f.ledger, "OwnableUnauthorizedAccount")
          .withArgs(caller.address);
      }
    });
  });

  describe("suspend", function () {
    it("counts each suspension in partyOf; reinstating and re-accrediting keep the count", async function () {
      const f = await loadFixture(deployLedgerFixture);
      expect((await f.ledger.partyOf(f.hospital.address)).suspensions).to.equal(0n);
      await f.ledger.connect(f.admin).suspend(f.hospital.address, 1);
      await f.ledger.connect(f.admin).suspend(f.hospital.address, 2);
      await f.ledger.connect(f.admin).reinstate(f.hospital.address);
      await f.ledger.connect(f.admin).accredit(f.hospital.address, Role.PROVIDER, false, 0);

      expect((await f.ledger.partyOf(f.hospital.address)).suspensions).to.equal(2n);
    });

    it("suspends a party from this block and emits PartySuspended with the reason code", async function () {
      const f = await loadFixture(deployLedgerFixture);

      await expect(f.ledger.connect(f.admin).suspend(f.hospital.address, 65535))
        .to.emit(f.ledger, "PartySuspended")
        .withArgs(f.hospital.address, 65535);
      expect(await partyOf(f, f.hospital.address)).to.deep.equal({
        roles: BigInt(Role.PROVIDER | Role.CUSTODIAN),
        nonProfit: false,
        suspended: true,
        accreditedUntil: 0n,
        index: 1n,
      });
      expect(await f.ledger.isAccredited(f.hospital.address, Role.PROVIDER)).to.be.false;
      expect(await f.ledger.isAccredited(f.hospital.address, Role.CUSTODIAN)).to.be.false;
    });

    it("suspends a party whose accreditation has lapsed, and again one already suspended", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = (await time.latest()) + DAY;
      await f.ledger.connect(f.admin).accredit(f.stranger.address, Role.PROVIDER, false, until);
      await time.increaseTo(until + 1);

      await expect(f.ledger.connect(f.admin).suspend(f.stranger.address, 1))
        .to.emit(f.ledger, "PartySuspended")
        .withArgs(f.stranger.address, 1);
      await expect(f.ledger.connect(f.admin).suspend(f.stranger.address, 2))
        .to.emit(f.ledger, "PartySuspended")
        .withArgs(f.stranger.address, 2);
      expect((await f.ledger.partyOf(f.stranger.address)).suspended).to.be.true;
    });

    it("reverts with PartyNotAccredited for a party never accredited", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await expect(f.ledger.connect(f.admin).suspend(f.stranger.address, 1))
        .to.be.revertedWithCustomError(f.ledger, "PartyNotAccredited")
        .withArgs(f.stranger.address, ALL_ROLES);
    });

    it("reverts with OwnableUnauthorizedAccount for anyone but the administrator", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await expect(f.ledger.connect(f.hospital).suspend(f.pharma.address, 1))
        .to.be.revertedWithCustomError(f.ledger, "OwnableUnauthorizedAccount")
        .withArgs(f.hospital.address);
    });
  });

  describe("reinstate", function () {
    it("lifts a suspension and emits PartyReinstated", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await f.ledger.connect(f.admin).suspend(f.hospital.address, 1);

      await expect(f.ledger.connect(f.admin).reinstate(f.hospital.address))
        .to.emit(f.ledger, "PartyReinstated")
        .withArgs(f.hospital.address);
      expect((await f.ledger.partyOf(f.hospital.address)).suspended).to.be.false;
      expect(await f.ledger.isAccredited(f.hospital.address, Role.PROVIDER)).to.be.true;
    });

    it("accepts a party that is not suspended, changing nothing", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const before = await partyOf(f, f.lab.address);
      await expect(f.ledger.connect(f.admin).reinstate(f.lab.address))
        .to.emit(f.ledger, "PartyReinstated")
        .withArgs(f.lab.address);
      expect(await partyOf(f, f.lab.address)).to.deep.equal(before);
    });

    it("does not revive a lapsed accreditation", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = (await time.latest()) + DAY;
      await f.ledger.connect(f.admin).accredit(f.stranger.address, Role.PROVIDER, false, until);
      await f.ledger.connect(f.admin).suspend(f.stranger.address, 1);
      await time.increaseTo(until);

      await f.ledger.connect(f.admin).reinstate(f.stranger.address);
      expect(await f.ledger.isAccredited(f.stranger.address, Role.PROVIDER)).to.be.false;
    });

    it("reverts with PartyNotAccredited for a party never accredited", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await expect(f.ledger.connect(f.admin).reinstate(f.stranger.address))
        .to.be.revertedWithCustomError(f.ledger, "PartyNotAccredited")
        .withArgs(f.stranger.address, ALL_ROLES);
    });

    it("reverts with OwnableUnauthorizedAccount for anyone but the administrator, the suspended party included", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await f.ledger.connect(f.admin).suspend(f.pharma.address, 1);
      await expect(f.ledger.connect(f.pharma).reinstate(f.pharma.address))
        .to.be.revertedWithCustomError(f.ledger, "OwnableUnauthorizedAccount")
        .withArgs(f.pharma.address);
    });
  });

  describe("partyOf and partyAt", function () {
    it("answer zero for a party never accredited and for an index never given", async function () {
      const f = await loadFixture(deployLedgerFixture);
      expect(await partyOf(f, f.stranger.address)).to.deep.equal({
        roles: 0n,
        nonProfit: false,
        suspended: false,
        accreditedUntil: 0n,
        index: 0n,
      });
      expect(await f.ledger.partyAt(0)).to.equal(ZeroAddress);
      expect(await f.ledger.partyAt(5)).to.equal(ZeroAddress);
      expect(await f.ledger.partyAt(2 ** 32 - 1)).to.equal(ZeroAddress);
    });

    it("report the non-profit flag as accredited", async function () {
      const f = await loadFixture(deployLedgerFixture);
      expect((await f.ledger.partyOf(f.university.address)).nonProfit).to.be.true;
      expect((await f.ledger.partyOf(f.pharma.address)).nonProfit).to.be.false;
    });
  });

  describe("isAccredited", function () {
    it("answers whether the party holds any one of the roles asked", async function () {
      const f = await loadFixture(deployLedgerFixture);
      expect(await f.ledger.isAccredited(f.lab.address, Role.PROVIDER)).to.be.true;
      expect(await f.ledger.isAccredited(f.lab.address, Role.PROVIDER | Role.RESEARCHER)).to.be.true;
      expect(await f.ledger.isAccredited(f.lab.address, Role.RESEARCHER)).to.be.false;
      expect(await f.ledger.isAccredited(f.lab.address, Role.RESEARCHER | Role.CUSTODIAN)).to.be.false;
      expect(await f.ledger.isAccredited(f.hospital.address, Role.CUSTODIAN)).to.be.true;
    });

    it("answers false for no roles, unknown role bits, or a party never accredited", async function () {
      const f = await loadFixture(deployLedgerFixture);
      expect(await f.ledger.isAccredited(f.hospital.address, 0)).to.be.false;
      // The non-profit, suspended and expiry fields share the slot; no role bit reaches them.
      expect(await f.ledger.isAccredited(f.university.address, 0xff & ~ALL_ROLES)).to.be.false;
      expect(await f.ledger.isAccredited(f.stranger.address, ALL_ROLES)).to.be.false;
    });

    it("answers true until the second before the accreditation lapses and false from it", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = (await time.latest()) + DAY;
      await f.ledger.connect(f.admin).accredit(f.pharma.address, Role.RESEARCHER, false, until);

      await time.increaseTo(until - 1);
      expect(await f.ledger.isAccredited(f.pharma.address, Role.RESEARCHER)).to.be.true;
      await time.increaseTo(until);
      expect(await f.ledger.isAccredited(f.pharma.address, Role.RESEARCHER)).to.be.false;
    });

    it("answers false while the party is suspended", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await f.ledger.connect(f.admin).suspend(f.university.address, 3);
      expect(await f.ledger.isAccredited(f.university.address, Role.RESEARCHER)).to.be.false;
    });
  });

  describe("requireAccredited", function () {
    it("returns the stored accreditation of a live party", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const p = await f.ledger.requireAccredited(f.university.address, Role.RESEARCHER);
      expect([p.roles, p.nonProfit, p.suspended, p.accreditedUntil, p.index]).to.deep.equal([
        BigInt(Role.RESEARCHER),
        true,
        false,
        0n,
        3n,
      ]);
    });

    it("reverts with PartyNotAccredited(party, roles) when the party holds none of the roles", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await expect(f.ledger.requireAccredited(f.lab.address, Role.RESEARCHER | Role.CUSTODIAN))
        .to.be.revertedWithCustomError(f.ledger, "PartyNotAccredited")
        .withArgs(f.lab.address, Role.RESEARCHER | Role.CUSTODIAN);
      await expect(f.ledger.requireAccredited(f.stranger.address, Role.PROVIDER))
        .to.be.revertedWithCustomError(f.ledger, "PartyNotAccredited")
        .withArgs(f.stranger.address, Role.PROVIDER);
      await expect(f.ledger.requireAccredited(f.hospital.address, 0))
        .to.be.revertedWithCustomError(f.ledger, "PartyNotAccredited")
        .withArgs(f.hospital.address, 0);
    });

    it("reverts with AccreditationSuspended for a suspended party, before looking at its expiry", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = (await time.latest()) + DAY;
      await f.ledger.connect(f.admin).accredit(f.lab.address, Role.PROVIDER, false, until);
      await f.ledger.connect(f.admin).suspend(f.lab.address, 1);
      await expect(f.ledger.requireAccredited(f.lab.address, Role.PROVIDER))
        .to.be.revertedWithCustomError(f.ledger, "AccreditationSuspended")
        .withArgs(f.lab.address);

      await time.increaseTo(until);
      await expect(f.ledger.requireAccredited(f.lab.address, Role.PROVIDER))
        .to.be.revertedWithCustomError(f.ledger, "AccreditationSuspended")
        .withArgs(f.lab.address);
    });

    it("reverts with AccreditationExpired from the second the accreditation lapses", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const until = (await time.latest()) + DAY;
      await f.ledger.connect(f.admin).accredit(f.pharma.address, Role.RESEARCHER, false, until);

      await time.increaseTo(until - 1);
      expect((await f.ledger.requireAccredited(f.pharma.address, Role.RESEARCHER)).accreditedUntil).to.equal(until);
      await time.increaseTo(until);
      await expect(f.ledger.requireAccredited(f.pharma.address, Role.RESEARCHER))
        .to.be.revertedWithCustomError(f.ledger, "AccreditationExpired")
        .withArgs(f.pharma.address, until);
    });
  });

  describe("administration (Ownable2Step)", function () {
    it("belongs to the administrator named at deployment, with no transfer pending", async function () {
      const f = await loadFixture(deployLedgerFixture);
      expect(await f.ledger.owner()).to.equal(f.admin.address);
      expect(await f.ledger.pendingOwner()).to.equal(ZeroAddress);
    });

    it("moves only when the new administrator accepts", async function () {
      const f = await loadFixture(deployLedgerFixture);
      const [, , , , , , , , , , newAdmin] = await ethers.getSigners();

      await expect(f.ledger.connect(f.admin).transferOwnership(newAdmin.address))
        .to.emit(f.ledger, "OwnershipTransferStarted")
        .withArgs(f.admin.address, newAdmin.address);
      expect(await f.ledger.owner()).to.equal(f.admin.address);
      expect(await f.ledger.pendingOwner()).to.equal(newAdmin.address);
      // Until it accepts, the new administrator has no power and the old one keeps it.
      await expect(f.ledger.connect(newAdmin).accredit(f.stranger.address, Role.PROVIDER, false, 0))
        .to.be.revertedWithCustomError(f.ledger, "OwnableUnauthorizedAccount")
        .withArgs(newAdmin.address);
      await f.ledger.connect(f.admin).suspend(f.lab.address, 1);

      await expect(f.ledger.connect(newAdmin).acceptOwnership())
        .to.emit(f.ledger, "OwnershipTransferred")
        .withArgs(f.admin.address, newAdmin.address);
      expect(await f.ledger.owner()).to.equal(newAdmin.address);
      expect(await f.ledger.pendingOwner()).to.equal(ZeroAddress);

      await f.ledger.connect(newAdmin).reinstate(f.lab.address);
      await f.ledger.connect(newAdmin).accredit(f.stranger.address, Role.PROVIDER, false, 0);
      await expect(f.ledger.connect(f.admin).accredit(f.stranger.address, Role.RESEARCHER, false, 0))
        .to.be.revertedWithCustomError(f.ledger, "OwnableUnauthorizedAccount")
        .withArgs(f.admin.address);
      await expect(f.ledger.connect(f.admin).suspend(f.stranger.address, 1))
        .to.be.revertedWithCustomError(f.ledger, "OwnableUnauthorizedAccount")
        .withArgs(f.admin.address);
      await expect(f.ledger.connect(f.admin).reinstate(f.stranger.address))
        .to.be.revertedWithCustomError(f.ledger, "OwnableUnauthorizedAccount")
        .withArgs(f.admin.address);
    });

    it("reverts with OwnableUnauthorizedAccount when anyone but the pending administrator accepts", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await f.ledger.connect(f.admin).transferOwnership(f.delegate.address);

      for (const caller of [f.stranger, f.admin]) {
        await expect(f.ledger.connect(caller).acceptOwnership())
          .to.be.revertedWithCustomError(f.ledger, "OwnableUnauthorizedAccount")
          .withArgs(caller.address);
      }
    });

    it("lets a second transfer replace a pending one, and the zero address cancel it", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await f.ledger.connect(f.admin).transferOwnership(f.delegate.address);
      await f.ledger.connect(f.admin).transferOwnership(f.relayer.address);
      await expect(f.ledger.connect(f.delegate).acceptOwnership())
        .to.be.revertedWithCustomError(f.ledger, "OwnableUnauthorizedAccount")
        .withArgs(f.delegate.address);

      await f.ledger.connect(f.admin).transferOwnership(ZeroAddress);
      expect(await f.ledger.pendingOwner()).to.equal(ZeroAddress);
      await expect(f.ledger.connect(f.relayer).acceptOwnership())
        .to.be.revertedWithCustomError(f.ledger, "OwnableUnauthorizedAccount")
        .withArgs(f.relayer.address);
      expect(await f.ledger.owner()).to.equal(f.admin.address);
    });

    it("reverts with OwnableUnauthorizedAccount when anyone but the administrator transfers or renounces", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await expect(f.ledger.connect(f.stranger).transferOwnership(f.stranger.address))
        .to.be.revertedWithCustomError(f.ledger, "OwnableUnauthorizedAccount")
        .withArgs(f.stranger.address);
      await expect(f.ledger.connect(f.hospital).renounceOwnership())
        .to.be.revertedWithCustomError(f.ledger, "OwnableUnauthorizedAccount")
        .withArgs(f.hospital.address);
    });

    it("can never be renounced: the register must always have someone able to suspend", async function () {
      const f = await loadFixture(deployLedgerFixture);
      await expect(f.ledger.connect(f.admin).renounceOwnership()).to.be.revertedWithCustomError(
        f.ledger,
        "AdministrationCannotBeRenounced",
      );
      await expect(f.ledger.connect(f.stranger).renounceOwnership())
        .to.be.revertedWithCustomError(f.ledger, "OwnableUnauthorizedAccount")
        .withArgs(f.stranger.address);
      expect(await f.ledger.owner()).to.equal(f.admin.address);
    });
  });
});

describe("ConsentLedger", function () {
  async function factoryFixture() {
    const [admin] = await ethers.getSigners();
    return { admin, factory: await ethers.getContractFactory("ConsentLedger") };
  }

  const valid: [number, number, number] = [
    LEDGER_PARAMS.requestTtl,
    LEDGER_PARAMS.maxRequestDuration,
    LEDGER_PARAMS.maxEmergencyDuration,
  ];

  describe("deployment", function () {
    it("stores the administrator and the three durations, and reports version 1.0.0", async function () {
      const f = await loadFixture(deployLedgerFixture);
      expect(await f.ledger.owner()).to.equal(f.admin.address);
      expect(await f.ledger.requestTtl()).to.equal(LEDGER_PARAMS.requestTtl);
      expect(await f.ledger.maxRequestDuration()).to.equal(LEDGER_PARAMS.maxRequestDuration);
      expect(await f.ledger.maxEmergencyDuration()).to.equal(LEDGER_PARAMS.maxEmergencyDuration);
      expect(await f.ledger.version()).to.equal("4.0.0");
    });

    it("starts with an empty register", async function () {
      const { admin, factory } = await loadFixture(factoryFixture);
      const ledger = await factory.deploy(admin.address, ...valid);
      expect(await ledger.partyAt(1)).to.equal(ZeroAddress);
      expect((await ledger.partyOf(admin.address)).roles).to.equal(0n);
    });

    it("accepts durations of one second and of exactly 100 years", async function () {
      const { admin, factory } = await loadFixture(factoryFixture);
      const cases: [number, number, number][] = [
        [1, 1, 1],
        [DURATION_LIMIT, DURATION_LIMIT, DURATION_LIMIT],
      ];
      for (const durations of cases) {
        const ledger = await factory.deploy(admin.address, ...durations);
        expect([
          await ledger.requestTtl(),
          await ledger.maxRequestDuration(),
          await ledger.maxEmergencyDuration(),
        ]).to.deep.equal(durations.map(BigInt));
      }
    });

    for (const [position, name] of ["requestTtl", "maxRequestDuration", "maxEmergencyDuration"].entries()) {
      for (const [label, bad] of [
        ["zero", 0],
        ["one second over 100 years", DURATION_LIMIT + 1],
        ["the largest uint40", 2 ** 40 - 1],
      ] as const) {
        it(`reverts with InvalidLedgerConfiguration when ${name} is ${label}`, async function () {
          const { admin, factory } = await loadFixture(factoryFixture);
          const durations: [number, number, number] = [...valid];
          durations[position] = bad;

          await expect(factory.deploy(admin.address, durations[0], durations[1], durations[2]))
            .to.be.revertedWithCustomError(factory, "InvalidLedgerConfiguration")
            .withArgs(durations[0], durations[1], durations[2]);
        });
      }
    }

    it("reverts with OwnableInvalidOwner for a zero administrator", async function () {
      const { factory } = await loadFixture(factoryFixture);
      await expect(factory.deploy(ZeroAddress, ...valid))
        .to.be.revertedWithCustomError(factory, "OwnableInvalidOwner")
        .withArgs(ZeroAddress);
    });
  });
});

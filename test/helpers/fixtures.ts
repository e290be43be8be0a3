import { ethers } from "hardhat";

import { Role } from "../../sdk/codes";

export const DAY = 24 * 60 * 60;
export const YEAR = 365 * DAY;

/** Deployment parameters used by the tests, the same shape as the Ignition module's. */
export const LEDGER_PARAMS = {
  requestTtl: 30 * DAY,
  maxRequestDuration: 5 * YEAR,
  maxEmergencyDuration: 72 * 60 * 60,
};

/**
 * The whole suite on a fresh Hardhat network, with the cast every test uses: an administrator, a
 * hospital (provider + custodian), a lab (provider), a non-profit and a commercial research group,
 * two patients, a delegate, a relayer and a stranger. Use through `loadFixture(deployLedgerFixture)`.
 */
export async function deployLedgerFixture() {
  const [admin, hospital, lab, university, pharma, patient, otherPatient, delegate, relayer, stranger] =
    await ethers.getSigners();

  const ledger = await ethers.deployContract("ConsentLedger", [
    admin.address,
    LEDGER_PARAMS.requestTtl,
    LEDGER_PARAMS.maxRequestDuration,
    LEDGER_PARAMS.maxEmergencyDuration,
  ]);
  const ledgerAddress = await ledger.getAddress();
  const records = await ethers.deployContract("RecordRegistry", [ledgerAddress]);
  const accessLog = await ethers.deployContract("AccessLog", [ledgerAddress]);
  const keys = await ethers.deployContract("KeyDirectory");

  await ledger.connect(admin).accredit(hospital.address, Role.PROVIDER | Role.CUSTODIAN, false, 0);
  await ledger.connect(admin).accredit(lab.address, Role.PROVIDER, false, 0);
  await ledger.connect(admin).accredit(university.address, Role.RESEARCHER, true, 0);
  await ledger.connect(admin).accredit(pharma.address, Role.RESEARCHER, false, 0);

  return {
    ledger,
    records,
    accessLog,
    keys,
    admin,
    hospital,
    lab,
    university,
    pharma,
    patient,
    otherPatient,
    delegate,
    relayer,
    stranger,
  };
}

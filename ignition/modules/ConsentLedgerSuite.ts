import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

const HOUR = 60 * 60;
const DAY = 24 * HOUR;
const YEAR = 365 * DAY;

/**
 * The whole suite. Parameters (per network in ignition/parameters/<network>.json):
 * - administrator: owner of accreditation; a multisig in production (default: the deployer)
 * - requestTtl: seconds a request waits for a decision (default 30 days)
 * - maxRequestDuration: longest access a request may ask for (default 5 years)
 * - maxEmergencyDuration: longest emergency window (default 72 hours)
 */
export default buildModule("ConsentLedgerSuite", (m) => {
  const administrator = m.getParameter("administrator", m.getAccount(0));
  const requestTtl = m.getParameter("requestTtl", 30 * DAY);
  const maxRequestDuration = m.getParameter("maxRequestDuration", 5 * YEAR);
  const maxEmergencyDuration = m.getParameter("maxEmergencyDuration", 72 * HOUR);

  const ledger = m.contract("ConsentLedger", [administrator, requestTtl, maxRequestDuration, maxEmergencyDuration]);
  const records = m.contract("RecordRegistry", [ledger]);
  const accessLog = m.contract("AccessLog", [ledger]);
  const keys = m.contract("KeyDirectory", []);
  const custodianSets = m.contract("CustodianSets", [ledger, records]);

  return { ledger, records, accessLog, keys, custodianSets };
});

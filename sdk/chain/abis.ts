/**
 * The contracts' ABIs, `as const` so viem and wagmi infer every argument and result type. They come from
 * the same compile as the typechain bindings, so the two never disagree.
 */
import { AccessLog__factory } from "../../typechain-types/factories/contracts/AccessLog__factory";
import { ConsentLedger__factory } from "../../typechain-types/factories/contracts/ConsentLedger__factory";
import { CustodianSets__factory } from "../../typechain-types/factories/contracts/CustodianSets__factory";
import { KeyDirectory__factory } from "../../typechain-types/factories/contracts/KeyDirectory__factory";
import { RecordRegistry__factory } from "../../typechain-types/factories/contracts/RecordRegistry__factory";

export const consentLedgerAbi = ConsentLedger__factory.abi;
export const recordRegistryAbi = RecordRegistry__factory.abi;
export const accessLogAbi = AccessLog__factory.abi;
export const keyDirectoryAbi = KeyDirectory__factory.abi;
export const custodianSetsAbi = CustodianSets__factory.abi;

export {
  AccessLog__factory,
  ConsentLedger__factory,
  CustodianSets__factory,
  KeyDirectory__factory,
  RecordRegistry__factory,
};

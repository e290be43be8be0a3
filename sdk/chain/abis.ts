/**
 * The contracts' ABIs, `as const` so viem and wagmi infer every argument and result type. Plain data
 * (typechain-types/abis.ts, written after each compile from the same artifacts as the typechain
 * bindings): importing them pulls in neither ethers nor the contracts' bytecode, but for ReadBatch's creation
 * code, which readBatch runs inside one eth_call (it is never deployed).
 */
export {
  accessLogAbi,
  consentLedgerAbi,
  custodianSetsAbi,
  keyDirectoryAbi,
  readBatchAbi,
  readBatchBytecode,
  recordRegistryAbi,
} from "../../typechain-types/abis";

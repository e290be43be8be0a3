import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { AbiCoder, ContractTransactionResponse, ZeroHash, id, keccak256 } from "ethers";
import { ethers, network } from "hardhat";

import { DataClass, Duo, Purpose, maskOf } from "../../sdk/codes";
import type { ConsentLedger } from "../../typechain-types";

/**
 * IAccessRequests.RequestTerms, with plain TypeScript values. Restated on purpose, not imported from the
 * SDK: the contract tests check the ledger against this independent description.
 */
export interface RequestTerms {
  patient: string;
  dataClasses: number;
  purpose: number;
  researchCategory: number;
  diseaseId: number;
  acceptedObligations: bigint;
  duration: number;
  studyId: string;
  protocolHash: string;
}

/** IAccessRequests.AccessRequest: what a patient passes back to decide a request. */
export interface AccessRequest {
  researcher: string;
  openedAt: number;
  terms: RequestTerms;
}

/** IAccessRequests.DataUsePolicy. */
export interface DataUsePolicy {
  permission: number;
  modifiers: bigint;
  dataClasses: number;
  purposes: number;
  diseaseId: number;
  maxDuration: number;
  validUntil: number;
}

/** A MONDO id (MONDO:0005148, type 2 diabetes mellitus) and another one (MONDO:0004975, Alzheimer disease). */
export const DIABETES = 5148;
export const ALZHEIMER = 4975;

export const STUDY_ID = id("study:NCT01234567");
export const PROTOCOL_HASH = id("protocol:ethics-approval-2024-017");

/** The ABI type of {IAccessRequests-AccessRequest}, in the order the contract hashes it. */
export const ACCESS_REQUEST_TYPE =
  "tuple(address researcher, uint40 openedAt, tuple(address patient, uint32 dataClasses, uint8 purpose, " +
  "uint8 researchCategory, uint32 diseaseId, uint64 acceptedObligations, uint40 duration, bytes32 studyId, " +
  "bytes32 protocolHash) terms)";

/**
 * General-research terms for `patient`: lab results and conditions, healthcare research (HRESCH), GRU,
 * no obligations, 180 days, a study id and no protocol. Override any field.
 */
export function researchTerms(overrides: Partial<RequestTerms> & Pick<RequestTerms, "patient">): RequestTerms {
  return {
    dataClasses: maskOf([DataClass.LAB_RESULT, DataClass.CONDITION]),
    purpose: Purpose.HRESCH,
    researchCategory: Duo.GRU,
    diseaseId: 0,
    acceptedObligations: 0n,
    duration: 180 * 24 * 60 * 60,
    studyId: STUDY_ID,
    protocolHash: ZeroHash,
    ...overrides,
  };
}

/**
 * A GRU policy releasing lab results, conditions and genomic data for healthcare and biomedical research,
 * with no modifier, no limit and no end. Override any field.
 */
export function researchPolicy(overrides: Partial<DataUsePolicy> = {}): DataUsePolicy {
  return {
    permission: Duo.GRU,
    modifiers: 0n,
    dataClasses: maskOf([DataClass.LAB_RESULT, DataClass.CONDITION, DataClass.GENOMIC]),
    purposes: maskOf([Purpose.HRESCH, Purpose.BIORCH]),
    diseaseId: 0,
    maxDuration: 0,
    validUntil: 0,
    ...overrides,
  };
}

/** The terms as the ordered tuple an event carries, for `.withArgs`. */
export function termsTuple(terms: RequestTerms): unknown[] {
  return [
    terms.patient,
    terms.dataClasses,
    terms.purpose,
    terms.researchCategory,
    terms.diseaseId,
    terms.acceptedObligations,
    terms.duration,
    terms.studyId,
    terms.protocolHash,
  ];
}

/** The policy as the ordered tuple an event or view returns. */
export function policyTuple(policy: DataUsePolicy): unknown[] {
  return [
    policy.permission,
    policy.modifiers,
    policy.dataClasses,
    policy.purposes,
    policy.diseaseId,
    policy.maxDuration,
    policy.validUntil,
  ];
}

/** A request's id computed off-chain: `keccak256(abi.encode(request))`, as the interface documents. */
export function requestIdOf(request: AccessRequest): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode([ACCESS_REQUEST_TYPE], [request]));
}

/** The timestamp of the block that mined `tx`. */
export async function minedAt(tx: ContractTransactionResponse): Promise<number> {
  const receipt = await tx.wait();
  const block = await ethers.provider.getBlock(receipt!.blockNumber);
  return block!.timestamp;
}

/**
 * Opens `terms` as `researcher` and returns the request as the contract stored it, with `openedAt` read
 * from the block that mined it, ready to be passed back to approve, deny or cancel.
 */
export async function openRequest(
  ledger: ConsentLedger,
  researcher: HardhatEthersSigner,
  terms: RequestTerms,
): Promise<AccessRequest> {
  const tx = await ledger.connect(researcher).requestAccess(terms);
  return { researcher: researcher.address, openedAt: await minedAt(tx), terms };
}

/**
 * Sends the transactions `send` makes with automine off, so they land in one block, then mines it and
 * restores automine. Explicit gas limits avoid estimation against the pending block.
 */
export async function sendInOneBlock(
  send: Array<() => Promise<ContractTransactionResponse>>,
): Promise<ContractTransactionResponse[]> {
  await network.provider.send("evm_setAutomine", [false]);
  try {
    const sent: ContractTransactionResponse[] = [];
    for (const s of send) sent.push(await s());
    await network.provider.send("evm_mine");
    return sent;
  } finally {
    await network.provider.send("evm_setAutomine", [true]);
  }
}

/** The raw return data of a mined transaction, read from the node's trace. */
async function traceReturnData(hash: string): Promise<string> {
  const trace = (await network.provider.send("debug_traceTransaction", [
    hash,
    { disableStorage: true, disableMemory: true, disableStack: true },
  ])) as { returnValue: string };
  return trace.returnValue.startsWith("0x") ? trace.returnValue : `0x${trace.returnValue}`;
}

/**
 * What `requestAccess` returned in the mined transaction `tx` (a transaction's return value is not in
 * its receipt, so it is read from the node's trace of that very transaction).
 */
export async function requestAccessResult(
  ledger: ConsentLedger,
  tx: ContractTransactionResponse,
): Promise<{ requestId: string; approved: boolean }> {
  await tx.wait();
  const [requestId, approved] = ledger.interface.decodeFunctionResult("requestAccess", await traceReturnData(tx.hash));
  return { requestId: requestId as string, approved: approved as boolean };
}

/**
 * For a transaction mined outside automine, whose receipt carries no revert data: resolves when it
 * succeeded, else rejects with an error holding the revert data the node traced, so that
 * `revertedWithCustomError(...).withArgs(...)` can decode it.
 */
export async function minedOutcome(tx: ContractTransactionResponse): Promise<void> {
  const receipt = await ethers.provider.getTransactionReceipt(tx.hash);
  if (receipt === null) throw new Error(`transaction ${tx.hash} was not mined`);
  if (receipt.status === 1) return;
  const data = await traceReturnData(tx.hash);
  throw Object.assign(new Error(`transaction ${tx.hash} reverted in block ${receipt.blockNumber}`), { data });
}

/** The word a pending request is stored as: status Pending (1) in bits 0-7, expiresAt in bits 8-47. */
export function pendingRequestWord(expiresAt: number): bigint {
  return 1n | (BigInt(expiresAt) << 8n);
}

/** The storage slot of `requestId` in a mapping whose base slot is `base`: keccak256(requestId . base). */
export function requestSlotOf(base: bigint, requestId: string): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "uint256"], [requestId, base]));
}

/**
 * The base slot of the ledger's private `_requests` mapping, found from a request known to be pending:
 * the one base (of the first 256) under which its id holds exactly its packed word. Lets a test read
 * what the ledger really stores for a request, not only what the view derives from it.
 */
export async function requestsMappingBase(
  ledger: ConsentLedger,
  pendingId: string,
  expiresAt: number,
): Promise<bigint> {
  const address = await ledger.getAddress();
  const word = pendingRequestWord(expiresAt);
  const found: bigint[] = [];
  for (let base = 0n; base < 256n; base++) {
    if (BigInt(await ethers.provider.getStorage(address, requestSlotOf(base, pendingId))) === word) found.push(base);
  }
  if (found.length !== 1) throw new Error(`expected one base slot holding the pending request, found ${found.length}`);
  return found[0];
}

/** The raw word the ledger stores for `requestId` (0 when nothing is stored). */
export async function storedRequestWord(ledger: ConsentLedger, base: bigint, requestId: string): Promise<bigint> {
  return BigInt(await ethers.provider.getStorage(await ledger.getAddress(), requestSlotOf(base, requestId)));
}

/** The storage slots a mined transaction wrote (every SSTORE, in order), read from the node's trace. */
export async function slotsWrittenBy(hash: string): Promise<bigint[]> {
  const trace = (await network.provider.send("debug_traceTransaction", [
    hash,
    { disableStorage: true, disableMemory: true },
  ])) as { structLogs: Array<{ op: string; stack: string[] }> };
  return trace.structLogs
    .filter((step) => step.op === "SSTORE")
    .map((step) => {
      const key = step.stack[step.stack.length - 1];
      return BigInt(key.startsWith("0x") ? key : `0x${key}`);
    });
}

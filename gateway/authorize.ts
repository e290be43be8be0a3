/**
 * The chain's word, asked afresh for every decision: nothing here is cached. A key release reads the
 * latest block's number and hash, then asks every question at that one block, so the decision is the
 * chain's state at a block anyone can name (and check later with eth_call at that block):
 *
 *   - is this gateway's custodian still accredited CUSTODIAN (a suspended custodian releases nothing)?
 *   - is the record anchored (RecordRegistry.recordOf, or, stored with a batch proof, verifyBatchedRecord,
 *     the batch's claim deciding)?
 *   - ConsentLedger.accessBasis(patient, requester, dataClass, purpose): Consent, Emergency or None?
 *   - KeyDirectory.keyOf(requester): the key to wrap to.
 *
 * On a chain that can reorganise, the gateway may be told to wait for confirmations: then the release
 * must also have been allowed, on the same basis, n blocks earlier (see authorizeRelease).
 *
 * Ingest asks whether a deposited envelope is anchored, and anchored by the depositor.
 */
import { isError, ZeroHash } from "ethers";

import { AccessBasis, DataClass, Purpose, Role } from "../sdk/codes";
import type { LedgerContracts } from "../sdk/chain/connect";
import { bytes32ToPublicKey } from "../sdk/crypto/keys";
import type { ParsedRecordContext } from "../sdk/crypto/envelope";
import { verifyEnvelopeOnChain } from "../sdk/clients/records";
import { FormatError, IntegrityError, InvalidArgumentError } from "../sdk/errors";
import { conflict, forbidden, GatewayHttpError, unavailable, unprocessable } from "./http-error";
import type { StoredRecord } from "./store";

export const dataClassName = (code: number): string =>
  Object.entries(DataClass).find(([, value]) => value === code)?.[0] ?? `data class ${code}`;
export const purposeName = (code: number): string =>
  Object.entries(Purpose).find(([, value]) => value === code)?.[0] ?? `purpose ${code}`;
export const basisName = (code: number): string =>
  Object.entries(AccessBasis).find(([, value]) => value === code)?.[0] ?? `basis ${code}`;

export interface CheckedBlock {
  number: number;
  hash: string;
  /** Unix seconds. */
  timestamp: number;
}

/** A release the chain allows. */
export interface ReleaseDecision {
  /** 1 consent, 2 emergency. */
  basis: number;
  block: CheckedBlock;
  /** Whether a newer version of the record has been anchored. */
  superseded: boolean;
  /** The requester's X25519 key, from KeyDirectory at that block. */
  publicKey: Uint8Array;
}

function chainUnavailable(cause: unknown): GatewayHttpError {
  const message =
    (cause as { shortMessage?: string; message?: string })?.shortMessage ?? (cause as Error)?.message ?? String(cause);
  return unavailable("ChainUnavailable", `the gateway could not read the chain, so it releases nothing: ${message}`);
}

/** The latest block: number, hash and time. */
export async function latestBlock(contracts: LedgerContracts): Promise<CheckedBlock> {
  let block;
  try {
    block = await contracts.provider.getBlock("latest");
  } catch (cause) {
    throw chainUnavailable(cause);
  }
  if (!block || block.hash === null) throw unavailable("ChainUnavailable", "the node returned no latest block");
  return { number: block.number, hash: block.hash, timestamp: block.timestamp };
}

/** What must hold for a release, as the chain says at one block. */
interface ReleaseFacts {
  custodianLive: boolean;
  anchored: Awaited<ReturnType<LedgerContracts["records"]["recordOf"]>>;
  inBatch: boolean;
  /** Whether the batched record was amended (RecordRegistry.batchedRecordOf); false outside a batch. */
  batchedSuperseded: boolean;
  basis: number;
}

/** Who asks for which record's key, for what, from which custodian. */
interface ReleaseQuestion {
  custodian: string;
  record: StoredRecord;
  requester: string;
  purpose: number;
}

async function releaseFacts(
  contracts: LedgerContracts,
  { custodian, record, requester, purpose }: ReleaseQuestion,
  blockNumber: number,
): Promise<ReleaseFacts> {
  const at = { blockTag: blockNumber };
  const [custodianLive, anchored, inBatch, batchedSuperseded, basis] = await Promise.all([
    contracts.ledger.isAccredited(custodian, Role.CUSTODIAN, at),
    contracts.records.recordOf(record.recordId, at),
    record.batch
      ? contracts.records.verifyBatchedRecord(
          record.batch.root,
          { contentHash: record.recordId, patient: record.patient, dataClass: record.dataClass },
          record.batch.proof,
          at,
        )
      : Promise.resolve(false),
    record.batch
      ? batchedSupersededAt(contracts, record.batch.root, record.recordId, blockNumber)
      : Promise.resolve(false),
    contracts.ledger.accessBasis(record.patient, requester, record.dataClass, purpose, at),
  ]);
  return { custodianLive, anchored, inBatch, batchedSuperseded, basis: Number(basis) };
}

/** Whether the batch provider of `root` amended its batched record `recordId`, at `blockNumber`. */
async function batchedSupersededAt(
  contracts: LedgerContracts,
  root: string,
  recordId: string,
  blockNumber: number,
): Promise<boolean> {
  const at = { blockTag: blockNumber };
  const { providerIndex } = await contracts.records.batchOf(root, at);
  return (await contracts.records.batchedRecordOf(providerIndex, recordId, at)).superseded;
}

/**
 * Decides whether `requester` may have the key of `record` for `purpose`, at the latest block. Throws a
 * GatewayHttpError saying why not: 503 custodian not accredited or chain unreachable, 409 record not
 * anchored, 403 access denied, 409 no encryption key registered.
 *
 * With `confirmations` n > 0 (a chain that can reorganise), the release must also have been allowed, on
 * the same basis, at block latest − n: a right given from nothing (a consent, an approval, an emergency
 * window, an anchor, the custodian's accreditation) counts once it is n blocks deep, while whatever
 * takes one away (a revocation, an expiry, a suspension) counts at once, since the latest block must
 * allow it too. Two blocks, not every block between: a right taken away and given back within the last
 * n blocks counts at once. Otherwise 403 AccessNotConfirmed. The rules are still only the contracts'.
 */
export async function authorizeRelease(
  contracts: LedgerContracts,
  custodian: string,
  record: StoredRecord,
  requester: string,
  purpose: number,
  confirmations = 0,
): Promise<ReleaseDecision> {
  const block = await latestBlock(contracts);
  const confirmedBlock = block.number - confirmations;
  const question = { custodian, record, requester, purpose };
  let facts: ReleaseFacts;
  let key: string;
  let confirmedFacts: ReleaseFacts | undefined;
  try {
    // Both blocks at once: the confirmation costs no extra round trip.
    [facts, key, confirmedFacts] = await Promise.all([
      releaseFacts(contracts, question, block.number),
      contracts.keys.keyOf(requester, { blockTag: block.number }),
      confirmations > 0 ? confirmedReleaseFacts(contracts, question, confirmedBlock) : undefined,
    ]);
  } catch (cause) {
    throw chainUnavailable(cause);
  }
  const { custodianLive, anchored, inBatch, batchedSuperseded, basis } = facts;

  if (!custodianLive) {
    throw unavailable(
      "CustodianNotAccredited",
      `this gateway's custodian ${custodian} is not an accredited CUSTODIAN at block ${block.number}: it releases no key until the administrator reinstates it`,
    );
  }
  // A record stored with its batch proof is the batch's record: a separate anchor of the same bytes is
  // another record (RecordRegistry keeps them apart), as verifyEnvelopeOnChain decides too.
  let superseded: boolean;
  if (inBatch) {
    superseded = batchedSuperseded;
  } else if (anchored.version !== 0n) {
    if (anchored.patient !== record.patient || Number(anchored.dataClass) !== record.dataClass) {
      throw conflict(
        "RecordMismatch",
        `record ${record.recordId} is anchored with another patient or data class than the gateway holds`,
      );
    }
    superseded = anchored.superseded;
  } else {
    throw conflict(
      "RecordNotAnchored",
      `record ${record.recordId} is not anchored on this chain (block ${block.number})`,
    );
  }
  if (basis === AccessBasis.None) {
    throw forbidden(
      "AccessDenied",
      `no consent or emergency window lets ${requester} read ${dataClassName(record.dataClass)} for ${purposeName(purpose)} (checked at block ${block.number})`,
    );
  }
  const confirmed =
    confirmations === 0 ||
    (confirmedFacts !== undefined &&
      confirmedFacts.custodianLive &&
      (confirmedFacts.anchored.version !== 0n || confirmedFacts.inBatch) &&
      confirmedFacts.basis === basis);
  if (!confirmed) {
    const earlier =
      confirmedBlock < 0
        ? `the chain is not ${confirmations} blocks long yet`
        : `block ${confirmedBlock}, ${confirmations} blocks earlier, did not`;
    throw forbidden(
      "AccessNotConfirmed",
      `the chain lets ${requester} read ${dataClassName(record.dataClass)} for ${purposeName(purpose)} ` +
        `(${basisName(basis)}) at block ${block.number}, but ${earlier}: this gateway releases a key only ` +
        `once what allows it is ${confirmations} blocks deep; try again within ${confirmations} blocks`,
    );
  }
  if (key === ZeroHash) {
    throw conflict(
      "EncryptionKeyMissing",
      `${requester} has no encryption key in KeyDirectory: register an encryption key first (ResearcherClient.registerEncryptionKey)`,
    );
  }
  let publicKey: Uint8Array;
  try {
    publicKey = bytes32ToPublicKey(key);
  } catch {
    throw conflict(
      "EncryptionKeyInvalid",
      `${requester}'s registered encryption key is not usable: register an encryption key again`,
    );
  }
  return { basis, block, superseded, publicKey };
}

/** The release's facts at `blockNumber`; undefined at a block before the contracts existed. */
async function confirmedReleaseFacts(
  contracts: LedgerContracts,
  question: ReleaseQuestion,
  blockNumber: number,
): Promise<ReleaseFacts | undefined> {
  if (blockNumber < (contracts.deployment.deployedAtBlock ?? 0)) return undefined;
  try {
    return await releaseFacts(contracts, question, blockNumber);
  } catch (cause) {
    // A deployment file without deployedAtBlock, and a block before the deployment: the calls return
    // nothing to decode. Anything else is the node failing, not a missing confirmation.
    if (isError(cause, "BAD_DATA")) {
      const { ledger, records } = contracts.deployment;
      const codes = await Promise.all([ledger, records].map((at) => contracts.provider.getCode(at, blockNumber)));
      if (codes.includes("0x")) return undefined;
    }
    throw cause;
  }
}

/**
 * Checks a deposit: `envelope` hashes to `recordId`, is anchored (alone, or in `batch` by its proof),
 * its header matches what is anchored, and the anchoring provider is `caller`, accredited PROVIDER now.
 * Returns the envelope's header.
 */
export async function authorizeIngest(
  contracts: LedgerContracts,
  caller: string,
  envelope: Uint8Array,
  recordId: string,
  batch: { root: string; proof: string[] } | undefined,
): Promise<{ context: ParsedRecordContext; superseded: boolean }> {
  let accredited: boolean;
  let anchored: Awaited<ReturnType<LedgerContracts["records"]["recordOf"]>>;
  let batchInfo: Awaited<ReturnType<LedgerContracts["records"]["batchOf"]>> | undefined;
  try {
    [accredited, anchored, batchInfo] = await Promise.all([
      contracts.ledger.isAccredited(caller, Role.PROVIDER),
      contracts.records.recordOf(recordId),
      batch ? contracts.records.batchOf(batch.root) : Promise.resolve(undefined),
    ]);
  } catch (cause) {
    throw chainUnavailable(cause);
  }
  if (!accredited)
    throw forbidden("ProviderNotAccredited", `${caller} is not an accredited PROVIDER now: it cannot deposit records`);
  if (anchored.version === 0n && (!batchInfo || batchInfo.recordCount === 0n)) {
    throw conflict(
      "RecordNotAnchored",
      batch
        ? `batch ${batch.root} is not anchored on this chain: anchor the batch before depositing its keys`
        : `no record ${recordId} is anchored on this chain: anchor it before depositing its key`,
    );
  }
  let verified: Awaited<ReturnType<typeof verifyEnvelopeOnChain>>;
  try {
    verified = await verifyEnvelopeOnChain(contracts, envelope, { expectedRecordId: recordId, batch });
  } catch (cause) {
    if (cause instanceof IntegrityError) throw unprocessable("IntegrityError", cause.shortMessage);
    if (cause instanceof FormatError || cause instanceof InvalidArgumentError)
      throw unprocessable("MalformedEnvelope", cause.shortMessage);
    throw chainUnavailable(cause);
  }
  if (verified.context.provider !== caller) {
    throw forbidden(
      "NotRecordProvider",
      `record ${recordId} was anchored by ${verified.context.provider}, not by ${caller}: only its provider may deposit its key`,
    );
  }
  return { context: verified.context as ParsedRecordContext, superseded: verified.superseded };
}

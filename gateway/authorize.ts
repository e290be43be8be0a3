/**
 * The chain's word, asked afresh for every decision. A key release reads the latest block's number and
 * hash (once per event-loop turn for all releases of that turn, read after they arrived), then asks every
 * question at that one block, by its hash (gateway/chain-reader.ts keeps the answers per block hash, which
 * is exact), so the decision is the chain's state at a block anyone can name (and check later with
 * eth_call at that block):
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

import {
  AccessBasis,
  bytes32ToPublicKey,
  DataClass,
  FormatError,
  IntegrityError,
  InvalidArgumentError,
  type LedgerContracts,
  nameOf,
  type ParsedRecordContext,
  Purpose,
  Role,
  verifyContextOnChain,
  verifyEnvelopeOnChain,
} from "../sdk/index";
import { conflict, forbidden, GatewayHttpError, unavailable, unprocessable } from "./http-error";
import type { AnchoredRecord, ChainReader } from "./chain-reader";
import type { StoredRecord } from "./store";

export const dataClassName = (code: number): string => nameOf(DataClass, code) ?? `data class ${code}`;
export const purposeName = (code: number): string => nameOf(Purpose, code) ?? `purpose ${code}`;
export const basisName = (code: number): string => nameOf(AccessBasis, code) ?? `basis ${code}`;

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

/** What must hold for a release, as the chain says at one block. */
interface ReleaseFacts {
  custodianLive: boolean;
  anchored: AnchoredRecord;
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
  chain: ChainReader,
  { custodian, record, requester, purpose }: ReleaseQuestion,
  block: CheckedBlock,
): Promise<ReleaseFacts> {
  const [custodianLive, anchored, inBatch, batchedSuperseded, basis] = await Promise.all([
    chain.custodianLive(custodian, block),
    chain.anchored(record.recordId, block),
    chain.inBatch(record, block),
    chain.batchedSuperseded(record, block),
    chain.accessBasis(record.patient, requester, record.dataClass, purpose, block),
  ]);
  return { custodianLive, anchored, inBatch, batchedSuperseded, basis };
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
  chain: ChainReader,
  contracts: LedgerContracts,
  custodian: string,
  record: StoredRecord,
  requester: string,
  purpose: number,
  confirmations = 0,
): Promise<ReleaseDecision> {
  let block: CheckedBlock;
  try {
    block = await chain.head();
  } catch (cause) {
    throw chainUnavailable(cause);
  }
  const confirmedBlock = block.number - confirmations;
  const question = { custodian, record, requester, purpose };
  let facts: ReleaseFacts;
  let key: string;
  let confirmedFacts: ReleaseFacts | undefined;
  try {
    // Both blocks at once: the confirmation costs no extra round trip.
    [facts, key, confirmedFacts] = await Promise.all([
      releaseFacts(chain, question, block),
      chain.keyOf(requester, block),
      confirmations > 0 ? confirmedReleaseFacts(chain, contracts, question, confirmedBlock) : undefined,
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
  chain: ChainReader,
  contracts: LedgerContracts,
  question: ReleaseQuestion,
  blockNumber: number,
): Promise<ReleaseFacts | undefined> {
  if (blockNumber < (contracts.deployment.deployedAtBlock ?? 0)) return undefined;
  const block = await chain.blockAt(blockNumber);
  if (!block) throw new Error(`the node has no block ${blockNumber}`);
  try {
    return await releaseFacts(chain, question, block);
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
  /** The whole envelope, or the parsed header of one being streamed (whose bytes are checked as they pass). */
  envelope: Uint8Array | { context: ParsedRecordContext },
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
    verified =
      envelope instanceof Uint8Array
        ? await verifyEnvelopeOnChain(contracts, envelope, { expectedRecordId: recordId, batch })
        : await verifyContextOnChain(contracts, recordId, envelope.context, { batch });
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

/**
 * Custodian sets (contracts/CustodianSets.sol): this gateway as one custodian of k-of-n sets. It holds
 * one share of a record's data key, never the key, and decides alone, from the chain, whether to
 * release it:
 *
 *   POST /shares {recordId, setId, position, wrappedShare, envelope}   bearer (a served provider)
 *        the record's provider deposits this custodian's share, wrapped to the custodian's key in
 *        KeyDirectory, and the envelope (every custodian of a set keeps a copy of the ciphertext)
 *   POST /records/:recordId/share {purpose}                           bearer
 *        the share, wrapped to the caller's registered key and bound to the record, if the chain allows
 *        (the same decision as POST /records/:recordId/key) and names this custodian in the record's
 *        current set at that block; journaled and logged on chain like a key release
 *   POST /records/:recordId/share/withdraw                            bearer (the record's provider)
 *        erases the share once the chain no longer names this custodian in the record's set
 *
 * A share is stored where a data key would be (records.key_ciphertext, sealed by the key vault under
 * the record id) as setId (8 bytes) || position (1) || share (33): 42 bytes sealed to 58, which no
 * 32-byte data key (48 sealed) can be taken for. A withdrawn share leaves 0 bytes, and so does a record
 * whose ciphertext was re-synced from peers (resync.ts) until its provider deposits the share again.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { getAddress } from "ethers";

import {
  bytesToHex,
  ConsentLedgerError,
  hexToBytes,
  parseEnvelope,
  recordIdFromCid,
  recordIdOf,
  unwrapKeyShare,
  wrapKeyShare,
  WrongRecipientKeyError,
  type BlobStore,
  type EncryptionKeyPair,
  type LedgerContracts,
} from "../sdk/index";
import { nodeX25519 } from "../sdk/node";
import type { AccessLogWriter } from "./access-log-writer";
import type { Authenticator } from "./auth";
import { authorizeIngest, authorizeRelease, basisName, purposeName, type CheckedBlock } from "./authorize";
import { ChainReader, rpcSendOf } from "./chain-reader";
import { DEFAULTS } from "./config";
import { badRequest, conflict, forbidden, GatewayHttpError, notFound, unavailable, unprocessable } from "./http-error";
import { JournalCommitter } from "./journal-committer";
import type { KeyVault } from "./key-vault";
import { AccountRateLimiter } from "./rate-limit";
import { journalRelease } from "./routes/journal-release";
import { recordReader, requestedPurpose } from "./routes/record-access";
import { INGEST_BODY_LIMIT, MAX_INGEST_ENVELOPE_BYTES } from "./schemas";
import type { GatewayStore, StoredRecord } from "./store";

/** Sealed by the key vault, a 32-byte data key takes 48 bytes (AES-GCM tag); anything else is a share or nothing. */
const SEALED_DATA_KEY_BYTES = 48;
const SHARE_BYTES = 33;
const WRAPPED_SHARE_HEX = 97 * 2;

/** Whether a held record's sealed key material is a share (or a withdrawn one) rather than a whole data key. */
export function isHeldAsShare(record: Pick<StoredRecord, "keyCiphertext">): boolean {
  return record.keyCiphertext.length !== SEALED_DATA_KEY_BYTES;
}

export interface SharePluginOptions {
  contracts: LedgerContracts;
  custodian: string;
  /** The custodian's X25519 key pair; its public key must be the custodian's in KeyDirectory. */
  keyPair: EncryptionKeyPair;
  store: GatewayStore;
  blobs: BlobStore;
  vault: KeyVault;
  authenticator: Authenticator;
  writer: AccessLogWriter;
  providers: readonly string[];
  confirmations?: number;
  rateLimitPerMinute?: number;
  now?: () => number;
}

const bytes32 = { type: "string", pattern: "^0x[0-9a-fA-F]{64}$" } as const;
const noQuery = { type: "object", additionalProperties: false, properties: {} } as const;
const recordParams = {
  type: "object",
  additionalProperties: false,
  required: ["recordId"],
  properties: { recordId: bytes32 },
} as const;

const depositSchema = {
  querystring: noQuery,
  body: {
    type: "object",
    additionalProperties: false,
    required: ["recordId", "setId", "position", "wrappedShare", "envelope"],
    properties: {
      recordId: bytes32,
      setId: { type: "integer", minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
      position: { type: "integer", minimum: 1, maximum: 255 },
      wrappedShare: { type: "string", pattern: `^0x[0-9a-fA-F]{${WRAPPED_SHARE_HEX}}$` },
      envelope: {
        type: "string",
        minLength: 4,
        maxLength: Math.ceil(MAX_INGEST_ENVELOPE_BYTES / 3) * 4,
        pattern: "^[A-Za-z0-9+/]*={0,2}$",
      },
    },
  },
} as const;

const releaseSchema = {
  querystring: noQuery,
  params: recordParams,
  body: {
    type: "object",
    additionalProperties: false,
    required: ["purpose"],
    properties: {
      purpose: {
        anyOf: [
          { type: "string", minLength: 1, maxLength: 32 },
          { type: "integer", minimum: 0, maximum: 255 },
        ],
      },
    },
  },
} as const;

const withdrawSchema = {
  querystring: noQuery,
  params: recordParams,
  body: { type: "object", additionalProperties: false, properties: {} },
} as const;

export interface HeldShare {
  setId: number;
  position: number;
  share: Uint8Array;
}

function encodeShare({ setId, position, share }: HeldShare): Uint8Array {
  const bytes = new Uint8Array(9 + SHARE_BYTES);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(setId));
  bytes[8] = position;
  bytes.set(share, 9);
  return bytes;
}

function decodeShare(bytes: Uint8Array): HeldShare {
  if (bytes.length !== 9 + SHARE_BYTES) throw new Error(`a held share has ${bytes.length} bytes`);
  return {
    setId: Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0)),
    position: bytes[8],
    share: bytes.slice(9),
  };
}

/**
 * The share a custodian holds for `record`, opened with its vault: what an operator (or an attacker with
 * the master key) of one custodian can take, with no chain check. The demo shows that it is not a key.
 */
export async function openHeldShare(vault: KeyVault, record: StoredRecord): Promise<HeldShare> {
  return decodeShare(await vault.open(record.recordId, { iv: record.keyIv, ciphertext: record.keyCiphertext }));
}

function decodeBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw badRequest("envelope must be base64 with padding (its length a multiple of 4)");
  const buffer = Buffer.from(text, "base64");
  if (buffer.toString("base64") !== text) throw badRequest("envelope is not canonical base64");
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** The custodian-set routes (see the module comment), as a Fastify plugin. */
export async function sharePlugin(app: FastifyInstance, options: SharePluginOptions): Promise<void> {
  const { contracts, custodian, keyPair, store, blobs, vault, authenticator, writer } = options;
  const sets = contracts.custodianSets;
  const now = options.now ?? Date.now;
  const confirmations = options.confirmations ?? DEFAULTS.confirmations;
  const providers = new Set(options.providers.map((provider) => getAddress(provider)));
  const chain = new ChainReader(contracts, rpcSendOf(contracts));
  const journal = new JournalCommitter(store);
  const limiter = new AccountRateLimiter(options.rateLimitPerMinute ?? DEFAULTS.rateLimitPerMinute);

  const requireSets = () => {
    if (!sets)
      throw conflict(
        "CustodianSetsNotDeployed",
        "this gateway's deployment names no CustodianSets contract: it holds no shares",
      );
    return sets;
  };
  const positionAt = async (recordId: string, blockTag?: number) => {
    try {
      const [setId, threshold, position] = await requireSets().custodianPositionOf(recordId, custodian, { blockTag });
      return { setId: Number(setId), threshold: Number(threshold), position: Number(position) };
    } catch (cause) {
      if (cause instanceof GatewayHttpError) throw cause;
      throw unavailable(
        "ChainUnavailable",
        `the gateway could not read the custodian set, so it releases nothing: ${(cause as Error).message}`,
      );
    }
  };
  /**
   * The record's set and this custodian's position at `head`, and (with --confirmations) at the block
   * --confirmations before it: as for the consent (authorizeRelease), the assignment that names this
   * custodian must be that deep; its removal counts at once, since the latest block must name it too.
   */
  const positionsAt = async (recordId: string, head: Promise<CheckedBlock>) => {
    requireSets();
    try {
      const block = await head;
      const confirmedNumber = block.number - confirmations;
      const [onChain, confirmed] = await Promise.all([
        chain.custodianPosition(recordId, custodian, block),
        confirmations > 0 && confirmedNumber >= 0
          ? chain.blockAt(confirmedNumber).then((earlier) => {
              if (!earlier) throw new Error(`the node has no block ${confirmedNumber}`);
              return chain.custodianPosition(recordId, custodian, earlier);
            })
          : undefined,
      ]);
      return { onChain: { ...onChain, block }, confirmed };
    } catch (cause) {
      if (cause instanceof GatewayHttpError) throw cause;
      throw unavailable(
        "ChainUnavailable",
        `the gateway could not read the custodian set, so it releases nothing: ${(cause as Error).message}`,
      );
    }
  };
  const reader = recordReader(authenticator, limiter);
  const depositor = async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      const provider = await authenticator.authenticate(request.headers.authorization);
      if (!providers.has(provider))
        throw forbidden(
          "ProviderNotServed",
          `this gateway keeps the shares of ${[...providers].join(", ")} only, not of ${provider}`,
        );
      request.depositor = provider;
    } catch (error) {
      reply.header("connection", "close");
      throw error;
    }
  };

  app.post<{ Body: { recordId: string; setId: number; position: number; wrappedShare: string; envelope: string } }>(
    "/shares",
    { schema: depositSchema, bodyLimit: INGEST_BODY_LIMIT, onRequest: depositor },
    async (request, reply) => {
      const provider = request.depositor as string;
      const { setId, position } = request.body;
      const recordId = request.body.recordId.toLowerCase();
      const envelope = decodeBase64(request.body.envelope);
      let hash: string;
      try {
        hash = await recordIdOf(envelope);
        parseEnvelope(envelope);
      } catch (cause) {
        throw unprocessable(
          "MalformedEnvelope",
          cause instanceof ConsentLedgerError ? cause.shortMessage : String(cause),
        );
      }
      if (hash !== recordId)
        throw unprocessable("IntegrityError", `the envelope hashes to ${hash}, not to recordId ${recordId}`);
      const { context } = await authorizeIngest(contracts, provider, envelope, recordId, undefined);
      const onChain = await positionAt(recordId);
      if (onChain.setId !== setId || onChain.position !== position)
        throw conflict(
          "NotInCustodianSet",
          `the chain puts record ${recordId} in set ${onChain.setId} with this custodian ${custodian} at position ${onChain.position}, ` +
            `not set ${setId} position ${position}: assign the record to the set first`,
        );
      let share: Uint8Array;
      try {
        share = await unwrapKeyShare(hexToBytes(request.body.wrappedShare), keyPair, recordId);
      } catch (cause) {
        if (cause instanceof WrongRecipientKeyError || cause instanceof ConsentLedgerError)
          throw unprocessable(
            "ShareNotForThisCustodian",
            `the share does not open with custodian ${custodian}'s key for record ${recordId}`,
          );
        throw cause;
      }
      const sealed = await vault.seal(recordId, encodeShare({ setId, position, share }));
      share.fill(0);
      const existing = store.getRecord(recordId);
      if (existing && !isHeldAsShare(existing))
        throw conflict("KeyConflict", `record ${recordId} is held here with its whole data key, not as a share`);
      const cid = await blobs.put(envelope);
      if (recordIdFromCid(cid) !== recordId)
        throw new Error(`the blob store returned CID ${cid} for record ${recordId}`);
      // The provider re-splits on every deposit: the latest deposit of a set is the one that combines
      // with the other custodians', so it replaces whatever share was held.
      const stored = existing
        ? store.replaceSealedKey(recordId, sealed.iv, sealed.ciphertext)
        : store.insertRecord({
            recordId,
            cid,
            provider: context.provider,
            patient: context.patient,
            dataClass: context.dataClass,
            version: context.version,
            keyIv: sealed.iv,
            keyCiphertext: sealed.ciphertext,
            depositedBy: provider,
            depositedAt: now(),
          }) || store.replaceSealedKey(recordId, sealed.iv, sealed.ciphertext);
      request.log.info({ recordId, provider, setId, position }, "key share deposited");
      return reply.status(existing ? 200 : 201).send({ recordId, cid, stored, setId, position });
    },
  );

  app.post<{ Params: { recordId: string }; Body: { purpose: string | number } }>(
    "/records/:recordId/share",
    { schema: releaseSchema },
    async (request) => {
      const requestedAt = now();
      const requester = await reader(request);
      const purpose = requestedPurpose(request.body.purpose);
      const record = store.getRecord(request.params.recordId);
      if (!record)
        throw notFound(
          "RecordNotFound",
          `this gateway holds no share of record ${request.params.recordId.toLowerCase()}`,
        );
      if (!isHeldAsShare(record))
        throw conflict(
          "KeyHeldWhole",
          `this gateway holds the whole key of ${record.recordId}: ask POST /records/${record.recordId}/key`,
        );
      if (record.keyCiphertext.length === 0) {
        // No share held: withdrawn after a re-share, or the ciphertext was re-synced from peers (resync.ts)
        // and the provider has not deposited this custodian's share again. The chain tells which.
        const now = await positionAt(record.recordId);
        if (now.position !== 0)
          throw conflict(
            "ShareNotDeposited",
            `custodian ${custodian} is at position ${now.position} of set ${now.setId} for record ${record.recordId} but holds ` +
              `no share of it (its copy was re-synced from peers): the record's provider must deposit this custodian's share again`,
          );
        throw new GatewayHttpError(
          410,
          "ShareWithdrawn",
          `this custodian's share of ${record.recordId} was withdrawn after a re-share`,
        );
      }
      // The set's facts are asked at the same head as the decision (chain.head() is shared by every
      // caller of this turn, authorizeRelease included), pinned to its hash, in parallel with it.
      const positions = positionsAt(record.recordId, chain.head());
      positions.catch(() => undefined); // awaited below, after the decision's own refusals
      const decision = await authorizeRelease(chain, contracts, custodian, record, requester, purpose, confirmations);
      const confirmedBlock = decision.block.number - confirmations;
      let { onChain, confirmed } = await positions;
      const held = decodeShare(
        await vault.open(record.recordId, { iv: record.keyIv, ciphertext: record.keyCiphertext }),
      );
      if (onChain.block.hash !== decision.block.hash) {
        // Not the decision's head (cannot happen while head() is shared per turn): ask at the decision's block.
        ({ onChain, confirmed } = await positionsAt(record.recordId, Promise.resolve(decision.block)));
      }
      let wrapped: Uint8Array;
      try {
        if (onChain.position === 0 || onChain.setId !== held.setId || onChain.position !== held.position)
          throw conflict(
            "NotInCustodianSet",
            `at block ${decision.block.number} record ${record.recordId} is in set ${onChain.setId}, where custodian ${custodian} ` +
              `is at position ${onChain.position}; the share held here is for set ${held.setId} position ${held.position}: it is not released`,
          );
        if (confirmed && (confirmed.setId !== held.setId || confirmed.position !== held.position))
          throw forbidden(
            "ShareNotConfirmed",
            `record ${record.recordId} is in set ${held.setId} with this custodian at position ${held.position} at block ` +
              `${decision.block.number}, but not at block ${confirmedBlock}, ${confirmations} blocks earlier: this custodian ` +
              `releases its share once the assignment is ${confirmations} blocks deep; try again within ${confirmations} blocks`,
          );
        wrapped = await wrapKeyShare(held.share, decision.publicKey, record.recordId, { x25519: nodeX25519 });
      } finally {
        held.share.fill(0);
      }
      const { releaseId, releasedAt } = await journalRelease(
        { journal, writer, log: request.log },
        { recordId: record.recordId, grantee: requester, purpose, decision, requestedAt },
        "key share released",
        { setId: held.setId, position: held.position },
      );
      return {
        recordId: record.recordId,
        custodian,
        setId: held.setId,
        position: held.position,
        threshold: onChain.threshold,
        wrappedShare: bytesToHex(wrapped),
        basis: basisName(decision.basis),
        purpose: purposeName(purpose),
        releaseId,
        checkedBlock: decision.block.number,
        releasedAt,
      };
    },
  );

  app.post<{ Params: { recordId: string } }>(
    "/records/:recordId/share/withdraw",
    { schema: withdrawSchema },
    async (request) => {
      const caller = await reader(request);
      const record = store.getRecord(request.params.recordId);
      if (!record || !isHeldAsShare(record))
        throw notFound(
          "RecordNotFound",
          `this gateway holds no share of record ${request.params.recordId.toLowerCase()}`,
        );
      if (getAddress(record.provider) !== caller)
        throw forbidden(
          "NotRecordProvider",
          `only record ${record.recordId}'s provider ${record.provider} may withdraw its share, not ${caller}`,
        );
      if (record.keyCiphertext.length === 0) return { recordId: record.recordId, withdrawn: false };
      const held = decodeShare(
        await vault.open(record.recordId, { iv: record.keyIv, ciphertext: record.keyCiphertext }),
      );
      held.share.fill(0);
      const onChain = await positionAt(record.recordId);
      if (onChain.setId === held.setId && onChain.position === held.position)
        throw conflict(
          "StillInCustodianSet",
          `the chain still puts record ${record.recordId} in set ${onChain.setId} with this custodian at position ${onChain.position}: its share stays`,
        );
      store.replaceSealedKey(record.recordId, new Uint8Array(0), new Uint8Array(0));
      request.log.info(
        { recordId: record.recordId, setId: held.setId, position: held.position },
        "key share withdrawn",
      );
      return { recordId: record.recordId, withdrawn: true };
    },
  );
}

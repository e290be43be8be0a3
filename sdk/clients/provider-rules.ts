/**
 * What a provider does, once for the ethers and the viem entry (no import of either): seal a record
 * client-side, store the ciphertext, anchor its hash; amend a record into its next version; publish many
 * records under one Merkle root; wrap a data key to a grantee the ledger allows; file a patient's
 * pseudonym from a verified pairing link. Each entry's ProviderClient extends ProviderClientBase with its
 * reads and writes (sdk/clients/provider.ts for ethers, sdk/viem/provider.ts for viem).
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";

import { dataClassCode, purposeCode, requireAddress, requireBytes32 } from "../args";
import type { PendingTransaction } from "../chain/transactions";
import { AccessBasis, type DataClassName, type PurposeName } from "../codes";
import { ZERO_HASH } from "../core/hex";
import type { TransactionOverrides } from "../core/overrides";
import { utf8Encode } from "../crypto/bytes";
import { ContentType, type RecordContext } from "../crypto/envelope";
import { sealRecordStream, sealRecordV2, type ByteSource } from "../crypto/envelope-v2";
import { wrapDataKey } from "../crypto/key-wrap";
import { bytes32ToPublicKey } from "../crypto/keys";
import type { SegmentCrypto } from "../crypto/segment-crypto";
import { AccessDeniedError, ConsentLedgerError, ContractRevertError, InvalidArgumentError } from "../errors";
import { assertFhirResource } from "../fhir/resource";
import { recordIdFromCid, type BlobStore, type StreamingBlobStore } from "../storage/blob-store";
import type { PairingLink, VerifyPairingOptions } from "./pairing";
import type { StoredRecord } from "./record-rules";

/** What a provider publishes: a FHIR R4 resource (or raw bytes) of one data class for one patient. */
export interface PublishInput {
  patient: string;
  dataClass: DataClassName | number;
  /** A FHIR R4 resource as a JSON object, or bytes (sent as application/octet-stream). */
  payload: unknown;
}

/** A record the provider published: what the chain and store hold, and the data key to hand over. */
export interface PublishedRecord {
  recordId: string;
  cid: string;
  patient: string;
  provider: string;
  dataClass: number;
  version: number;
  previousRecordId: string;
  /** The record's AES-256 key. Keep it secret: hand it to the custodian gateway, never to the chain. */
  dataKey: Uint8Array;
  transactionHash: string;
  blockNumber: number;
  /** Set for records published in a batch. */
  batch?: { root: string; proof: string[] };
}

/** A batch of records anchored as one Merkle root. */
export interface PublishedBatch {
  root: string;
  manifestCid: string;
  records: PublishedRecord[];
}

/** The manifest stored beside a batch: what each leaf is and where its ciphertext lives. */
export interface BatchManifest {
  format: "consent-ledger/record-batch/v1";
  chainId: number;
  registry: string;
  provider: string;
  root: string;
  records: { recordId: string; cid: string; patient: string; dataClass: number; proof: string[] }[];
}

/**
 * Receives each published record's data key once its anchor is mined: the custodian gateway's ingest
 * (gateway/) implements it; without one, the caller keeps `PublishedRecord.dataKey` itself.
 */
export interface KeyCustodian {
  depositKey(record: PublishedRecord): Promise<void>;
}

/** A record encrypted and stored, not yet anchored. */
export type SealedRecord = Omit<PublishedRecord, "transactionHash" | "blockNumber" | "batch">;

/** Options of publish, amend and publishBatch. */
export interface PublishOptions {
  /**
   * Called once the ciphertext is stored and before the anchor is sent, with each sealed record and its
   * data key (and, in a batch, its proof): keep the keys somewhere durable here, so that a crash after
   * the anchor is mined cannot leave an anchored record whose key is lost. A rejection sends nothing.
   */
  beforeAnchor?: (records: readonly (SealedRecord & { batch?: { root: string; proof: string[] } })[]) => Promise<void>;
}

/** A patient pseudonym the provider accepted from a verified pairing link. */
export interface PairedPatient {
  /** The address records are anchored under. */
  pseudonym: string;
  /** The pseudonym's X25519 public key, as the pseudonym signed it. */
  encryptionPublicKey: Uint8Array;
  /** The verified link, to keep as evidence that the patient gave this address. */
  link: PairingLink;
}

export const BATCH_LEAF_TYPES = ["bytes32", "address", "uint8"] as const;

/** A RecordRegistry write a provider sends; bytes arguments as bytes, for each library to encode. */
export type RegistryWrite =
  | {
      functionName: "anchorRecord";
      args: [patient: string, contentHash: string, dataClass: number, pointer: Uint8Array];
    }
  | { functionName: "amendRecord"; args: [previousId: string, contentHash: string, pointer: Uint8Array] }
  | { functionName: "anchorBatch"; args: [root: string, recordCount: number, manifest: Uint8Array] };

/**
 * What a provider does: encrypt a record client-side, store the ciphertext, anchor its hash; amend a
 * record into its next version; publish many records under one Merkle root.
 */
export abstract class ProviderClientBase {
  constructor(
    readonly store: BlobStore,
    readonly custodian?: KeyCustodian,
  ) {}

  /** The provider's address (the account the client writes with). */
  protected abstract account(): Promise<string>;
  /** The chain id and the ledger's and RecordRegistry's addresses. */
  protected abstract suite(): Promise<{ chainId: bigint; ledger: string; registry: string }>;
  /** RecordRegistry.recordOf. */
  protected abstract storedRecord(recordId: string): Promise<StoredRecord>;
  /** ConsentLedger.accessBasis at the latest block. */
  protected abstract accessBasisOf(
    patient: string,
    grantee: string,
    dataClass: number,
    purpose: number,
  ): Promise<number>;
  /** KeyDirectory.keyOf. */
  protected abstract registeredKeyOf(account: string): Promise<string>;
  /** Sends a RecordRegistry write with the caller's overrides; `decode` gets where it was mined. */
  protected abstract sendToRegistry<T>(
    action: string,
    call: RegistryWrite,
    overrides: TransactionOverrides | undefined,
    decode: (mined: { transactionHash: string; blockNumber: number }) => Promise<T>,
  ): Promise<PendingTransaction<T>>;

  private readonly paired = new Map<string, PairedPatient>();

  /**
   * Accepts the pairing link a patient showed (QR code or link from the dashboard): checks it is for this
   * provider, chain and ledger, unexpired, and signed by the pseudonym it names (PairingError otherwise),
   * then files the pseudonym as a patient of this provider. Records for the patient go under
   * `pseudonym`. In memory: persist `link` (or the payload) in the provider's own patient register.
   */
  async pairPatient(payload: string, options: { now?: number } = {}): Promise<PairedPatient> {
    const { chainId, ledger } = await this.suite();
    const link = await this.verifyPairing(payload, {
      provider: await this.account(),
      chainId,
      ledger,
      now: options.now,
    });
    const patient: PairedPatient = {
      pseudonym: link.pseudonym,
      encryptionPublicKey: bytes32ToPublicKey(link.encryptionKey),
      link,
    };
    this.paired.set(link.pseudonym, patient);
    return patient;
  }

  /** verifyPairingLink (sdk/clients/pairing.ts), which each entry supplies. */
  protected abstract verifyPairing(payload: string, options: VerifyPairingOptions): Promise<PairingLink>;

  /** The paired patient of `pseudonym`, if this client accepted a link for it. */
  pairedPatient(pseudonym: string): PairedPatient | undefined {
    return this.paired.get(requireAddress(pseudonym, "pseudonym"));
  }

  /** Encrypts, stores and anchors one record. The ciphertext is stored before the anchor is sent. */
  async publish(
    input: PublishInput,
    options: PublishOptions = {},
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<PublishedRecord>> {
    const patient = requireAddress(input.patient, "patient");
    const dataClass = dataClassCode(input.dataClass);
    const sealed = await this.seal(input.payload, { patient, dataClass, version: 1, previousRecordId: ZERO_HASH });
    await options.beforeAnchor?.([sealed]);
    return this.sendToRegistry(
      "anchor the record",
      { functionName: "anchorRecord", args: [patient, sealed.recordId, dataClass, utf8Encode(sealed.cid)] },
      overrides,
      (mined) => this.deposit({ ...sealed, ...mined }),
    );
  }

  /**
   * Publishes a record of any size read from a stream (an imaging study, a genome): sealed as a v2
   * envelope segment by segment straight into the store (which must stream: StreamingBlobStore), so
   * memory stays within a few segments; then anchored, and its key deposited with the custodian (a
   * GatewayClient streams the envelope to the gateway). `crypto`: nodeSegmentCrypto in Node for speed.
   */
  async publishStream(
    input: {
      patient: string;
      dataClass: DataClassName | number;
      source: ByteSource;
      contentType?: number;
      crypto?: SegmentCrypto;
    },
    options: PublishOptions = {},
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<PublishedRecord>> {
    const store = this.store as Partial<StreamingBlobStore>;
    if (typeof store.putStream !== "function")
      throw new InvalidArgumentError(
        "store",
        "publishStream needs a store that takes streams (putStream), such as FsBlobStore or MemoryBlobStore",
      );
    const patient = requireAddress(input.patient, "patient");
    const dataClass = dataClassCode(input.dataClass);
    const provider = await this.account();
    const { chainId, registry } = await this.suite();
    const record = { patient, dataClass, version: 1, previousRecordId: ZERO_HASH };
    const context: RecordContext = {
      chainId,
      registry,
      provider,
      contentType: input.contentType ?? ContentType.OCTET_STREAM,
      ...record,
    };
    const sealing = sealRecordStream(input.source, context, undefined, { crypto: input.crypto });
    const cid = await (store as StreamingBlobStore).putStream(sealing.envelope);
    const recordId = await sealing.recordId;
    if (recordIdFromCid(cid) !== recordId) {
      throw new InvalidArgumentError("store", `returned CID ${cid}, which is not the envelope's record id ${recordId}`);
    }
    const sealed: SealedRecord = { recordId, cid, provider, dataKey: sealing.dataKey, ...record };
    await options.beforeAnchor?.([sealed]);
    return this.sendToRegistry(
      "anchor the record",
      { functionName: "anchorRecord", args: [patient, recordId, dataClass, utf8Encode(cid)] },
      overrides,
      (mined) => this.deposit({ ...sealed, ...mined }),
    );
  }

  /** Publishes `payload` as the next version of `previousRecordId`, same patient and data class. */
  async amend(
    previousRecordId: string,
    payload: unknown,
    options: PublishOptions = {},
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<PublishedRecord>> {
    const previousId = requireBytes32(previousRecordId, "previousRecordId");
    const previous = await this.storedRecord(previousId);
    if (previous.version === 0) {
      throw new ContractRevertError("RecordNotFound", [previousId], { hint: "Amend a record that is anchored." });
    }
    if (previous.superseded) {
      throw new ContractRevertError("RecordAlreadySuperseded", [previousId], {
        hint: "Amend the latest version instead.",
      });
    }
    const sealed = await this.seal(payload, {
      patient: previous.patient,
      dataClass: previous.dataClass,
      version: previous.version + 1,
      previousRecordId: previousId,
    });
    await options.beforeAnchor?.([sealed]);
    return this.sendToRegistry(
      "amend the record",
      { functionName: "amendRecord", args: [previousId, sealed.recordId, utf8Encode(sealed.cid)] },
      overrides,
      (mined) => this.deposit({ ...sealed, ...mined }),
    );
  }

  /**
   * Encrypts and stores every record, then anchors them all under one Merkle root, with a manifest (in
   * the store) that lists each record, its CID and its proof. Costs a fraction of an anchor per record.
   */
  async publishBatch(
    inputs: readonly PublishInput[],
    options: PublishOptions = {},
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<PublishedBatch>> {
    if (inputs.length === 0) throw new InvalidArgumentError("records", "empty batch");
    const sealed: SealedRecord[] = [];
    for (const [index, input] of inputs.entries()) {
      const patient = requireAddress(input.patient, `records[${index}].patient`);
      const dataClass = dataClassCode(input.dataClass);
      sealed.push(await this.seal(input.payload, { patient, dataClass, version: 1, previousRecordId: ZERO_HASH }));
    }
    const tree = StandardMerkleTree.of(
      sealed.map((record) => [record.recordId, record.patient, record.dataClass]),
      [...BATCH_LEAF_TYPES],
    );
    const root = tree.root;
    const proofs = sealed.map((_, index) => tree.getProof(index));
    const { chainId, registry } = await this.suite();
    const manifest: BatchManifest = {
      format: "consent-ledger/record-batch/v1",
      chainId: Number(chainId),
      registry,
      provider: await this.account(),
      root,
      records: sealed.map((record, index) => ({
        recordId: record.recordId,
        cid: record.cid,
        patient: record.patient,
        dataClass: record.dataClass,
        proof: proofs[index],
      })),
    };
    const manifestCid = await this.store.put(utf8Encode(JSON.stringify(manifest)));
    await options.beforeAnchor?.(sealed.map((record, index) => ({ ...record, batch: { root, proof: proofs[index] } })));
    return this.sendToRegistry(
      "anchor the batch",
      { functionName: "anchorBatch", args: [root, sealed.length, utf8Encode(manifestCid)] },
      overrides,
      async (mined) => {
        const records: PublishedRecord[] = [];
        for (const [index, record] of sealed.entries()) {
          records.push(await this.deposit({ ...record, ...mined, batch: { root, proof: proofs[index] } }));
        }
        return { root, manifestCid, records };
      },
    );
  }

  /**
   * Wraps a record's data key to `grantee`'s registered X25519 key, after asking the ledger, at the
   * latest block, whether the grantee may read the record for `purpose` (a consent or an emergency
   * window). For providers who hand keys over themselves; a custodian gateway does the same for many.
   */
  async shareKey(
    record: Pick<PublishedRecord, "recordId" | "patient" | "dataClass" | "dataKey">,
    grantee: string,
    purpose: PurposeName | number,
  ): Promise<{ wrappedKey: Uint8Array; basis: "Consent" | "Emergency" }> {
    const who = requireAddress(grantee, "grantee");
    const purposeValue = purposeCode(purpose);
    const basis = await this.accessBasisOf(record.patient, who, record.dataClass, purposeValue);
    if (basis === AccessBasis.None) {
      throw new AccessDeniedError(`${who} may not read record ${record.recordId} for this purpose now`, {
        hint: "The patient must grant (or approve a request for) this data class and purpose first.",
      });
    }
    const registered = await this.registeredKeyOf(who);
    if (/^0x0+$/.test(registered)) {
      throw new ConsentLedgerError(`${who} has no encryption key in the key directory`, {
        hint: "The grantee must register one (ResearcherClient.registerEncryptionKey) before keys can be shared.",
      });
    }
    const wrappedKey = await wrapDataKey(record.dataKey, bytes32ToPublicKey(registered), record.recordId);
    return { wrappedKey, basis: basis === AccessBasis.Consent ? "Consent" : "Emergency" };
  }

  private async seal(
    payload: unknown,
    record: Pick<RecordContext, "patient" | "dataClass" | "version" | "previousRecordId">,
  ): Promise<SealedRecord> {
    const provider = await this.account();
    let bytes: Uint8Array;
    let contentType: number;
    if (payload instanceof Uint8Array) {
      bytes = payload;
      contentType = ContentType.OCTET_STREAM;
    } else {
      assertFhirResource(payload);
      bytes = utf8Encode(JSON.stringify(payload));
      contentType = ContentType.FHIR_JSON;
    }
    const { chainId, registry } = await this.suite();
    const context: RecordContext = {
      chainId,
      registry,
      provider,
      contentType,
      ...record,
    };
    // v2: committed to its data key, so the anchored id opens to this plaintext only, for every reader.
    const { envelope, dataKey, recordId } = await sealRecordV2(bytes, context);
    const cid = await this.store.put(envelope);
    if (recordIdFromCid(cid) !== recordId) {
      throw new InvalidArgumentError("store", `returned CID ${cid}, which is not the envelope's hash ${recordId}`);
    }
    return { recordId, cid, provider, dataKey, ...record };
  }

  private async deposit(record: PublishedRecord): Promise<PublishedRecord> {
    if (this.custodian) await this.custodian.depositKey(record);
    return record;
  }
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IVersioned} from "./IVersioned.sol";

/**
 * @title IRecordRegistry
 * @notice Anchors of encrypted records. A record's id is the SHA-256 of its ciphertext, so whoever
 * holds a ciphertext checks it against the chain with one call, and nothing can be swapped. The
 * ciphertext lives off-chain; its pointer (CID or URI) is emitted, not stored. Amendments supersede the
 * record they name, forming an append-only version chain: nothing is overwritten or deleted, and a
 * version can be superseded once only, so chains never fork.
 *
 * Batches anchor a Merkle root over many records (OpenZeppelin StandardMerkleTree, leaf
 * `keccak256(bytes.concat(keccak256(abi.encode(bytes32 contentHash, address patient, uint8 dataClass))))`);
 * each batched record is version 1 and is proven by its proof, on chain with {verifyBatchedRecord}.
 *
 * Record identity: a record anchored on its own is its content hash ({recordOf}); a record in a batch is
 * the batch's provider and its content hash ({batchedRecordOf}), whichever batch of that provider proves
 * it. The two never share storage, so anchoring a batched record's bytes on one's own creates another
 * record: it neither takes the batched record's id nor blocks the batch's provider from amending it.
 * Which record an envelope is follows from its authenticated header (its provider) and whether it comes
 * with a batch proof; readers with a proof go by the batch's claim.
 */
interface IRecordRegistry is IVersioned {
    /**
     * @notice A record, packed in one storage slot as {RecordWord} (layout: docs/contracts.md, "Packed
     * words").
     * @param patient Whose record.
     * @param providerIndex The anchoring provider's accreditation index ({IAccreditation-partyAt}).
     * @param version 1 for an original, n+1 for an amendment of version n.
     * @param dataClass One {DataClasses} code; amendments keep it.
     * @param superseded Whether an amendment has replaced this version.
     */
    struct Record {
        address patient;
        uint32 providerIndex;
        uint32 version;
        uint8 dataClass;
        bool superseded;
    }

    /// @notice A batch root, packed in one slot.
    struct Batch {
        uint32 providerIndex;
        uint32 recordCount;
        uint40 anchoredAt;
    }

    /// @notice A record inside a batch: the values of its Merkle leaf.
    struct BatchedRecord {
        bytes32 contentHash;
        address patient;
        uint8 dataClass;
    }

    /// @notice Thrown when a record's patient is the zero address.
    error InvalidPatient(address patient);
    /// @notice Thrown when a content hash or Merkle root is zero.
    error InvalidContentHash(bytes32 contentHash);
    /// @notice Thrown when a data class code is unknown.
    error UnknownRecordDataClass(uint8 dataClass);
    /// @notice Thrown when a record with this content hash is anchored already.
    error RecordAlreadyAnchored(bytes32 recordId);
    /// @notice Thrown when no record has this id.
    error RecordNotFound(bytes32 recordId);
    /// @notice Thrown when amending a version that has already been superseded.
    error RecordAlreadySuperseded(bytes32 recordId);
    /// @notice Thrown when a provider amends a record another provider anchored.
    error NotRecordProvider(bytes32 recordId, address caller);
    /// @notice Thrown when a batch root is anchored already.
    error BatchAlreadyAnchored(bytes32 root);
    /// @notice Thrown when no batch has this root.
    error BatchNotFound(bytes32 root);
    /// @notice Thrown when a batch counts no record.
    error EmptyRecordBatch();
    /// @notice Thrown when a Merkle proof does not place the record in the batch.
    error InvalidBatchProof(bytes32 root, bytes32 contentHash);
    /// @notice Thrown when the version counter would overflow.
    error VersionOverflow(bytes32 recordId);

    /**
     * @notice Emitted for every anchored version. `supersedes` is 0 for an original, else the id of the
     * version it replaces. `pointer` says where the ciphertext is (a CID or URI).
     */
    event RecordAnchored(
        bytes32 indexed recordId,
        address indexed patient,
        address indexed provider,
        uint8 dataClass,
        uint32 version,
        bytes32 supersedes,
        bytes pointer
    );
    /**
     * @notice Emitted when the batched record `contentHash` of batch `root` is amended by `recordId`,
     * before that version's {RecordAnchored} (whose `supersedes` is `contentHash`).
     */
    event BatchedRecordAmended(bytes32 indexed root, bytes32 indexed contentHash, bytes32 indexed recordId);
    /// @notice Emitted when `provider` anchors a batch; `manifest` points at the list of its records.
    event RecordBatchAnchored(bytes32 indexed root, address indexed provider, uint32 recordCount, bytes manifest);

    /**
     * @notice Anchors a new record for `patient`.
     * Requirements: caller is a live accredited provider; `patient` not zero; `contentHash` not zero and
     * not anchored; `dataClass` known.
     * Emits {RecordAnchored} with version 1.
     */
    function anchorRecord(address patient, bytes32 contentHash, uint8 dataClass, bytes calldata pointer) external;

    /**
     * @notice Anchors `contentHash` as the next version of `previousId`, same patient and class, and
     * marks `previousId` superseded.
     * Requirements: caller is a live accredited provider and the one that anchored `previousId`;
     * `previousId` exists and is not superseded; `contentHash` is new.
     * Emits {RecordAnchored} with `supersedes` = `previousId`.
     */
    function amendRecord(bytes32 previousId, bytes32 contentHash, bytes calldata pointer) external;

    /**
     * @notice Anchors a batch of `recordCount` new records by their Merkle `root`.
     * Requirements: caller is a live accredited provider; `root` not zero nor anchored; count not zero.
     * Emits {RecordBatchAnchored}.
     */
    function anchorBatch(bytes32 root, uint32 recordCount, bytes calldata manifest) external;

    /**
     * @notice Amends a record anchored in a batch: stores the batched version (as superseded, under the
     * batch's provider: see {batchedRecordOf}) and the new one (under its content hash), after checking the
     * proof. A separate anchor of `previous.contentHash` by anyone does not stand in the way.
     * Requirements: caller is a live accredited provider and batch `root`'s provider; `proof` places
     * `previous` in batch `root`; `previous` names a patient and a known data class, as {anchorRecord}
     * requires; the caller has not amended this content hash from any of its batches; `contentHash` is new.
     * Emits {BatchedRecordAmended}, then {RecordAnchored} with `supersedes` = `previous.contentHash`.
     */
    function amendBatchedRecord(
        bytes32 root,
        BatchedRecord calldata previous,
        bytes32[] calldata proof,
        bytes32 contentHash,
        bytes calldata pointer
    ) external;

    /// @notice The record anchored on its own (or as an amendment) with this id (all zero when none).
    function recordOf(bytes32 recordId) external view returns (Record memory);

    /**
     * @notice The batched record `contentHash` of the provider at `providerIndex`, as stored once amended:
     * version 1, that provider, superseded. All zero while it has not been amended (its membership is then
     * shown by {verifyBatchedRecord} alone) and for any content hash the provider never amended.
     */
    function batchedRecordOf(uint32 providerIndex, bytes32 contentHash) external view returns (Record memory);

    /// @notice The batch with this root (all zero when none).
    function batchOf(bytes32 root) external view returns (Batch memory);

    /// @notice Whether `record` is in the anchored batch `root`, by `proof`.
    function verifyBatchedRecord(
        bytes32 root,
        BatchedRecord calldata record,
        bytes32[] calldata proof
    ) external view returns (bool);

    /// @notice The ledger whose accreditation this registry obeys.
    function ledger() external view returns (address);
}

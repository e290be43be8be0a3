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
 */
interface IRecordRegistry is IVersioned {
    /**
     * @notice A record, packed in one storage slot:
     * bits 0-159 patient | 160-191 providerIndex | 192-223 version | 224-231 dataClass | 232-239 superseded |
     * 240 stored by a batch amendment (internal).
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
     * @notice Amends a record anchored in a batch: stores the batched version (as superseded) and the
     * new one, after checking the proof.
     * Requirements: as {amendRecord}, with `proof` placing `previous` in batch `root` of the caller, and
     * `previous` naming a patient and a known data class, as {anchorRecord} requires.
     * Emits {RecordAnchored} for the new version.
     */
    function amendBatchedRecord(
        bytes32 root,
        BatchedRecord calldata previous,
        bytes32[] calldata proof,
        bytes32 contentHash,
        bytes calldata pointer
    ) external;

    /// @notice The record with this id (all zero when none).
    function recordOf(bytes32 recordId) external view returns (Record memory);

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

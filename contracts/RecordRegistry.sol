// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IAccreditation} from "./interfaces/IAccreditation.sol";
import {IRecordRegistry} from "./interfaces/IRecordRegistry.sol";
import {IVersioned} from "./interfaces/IVersioned.sol";
import {DataClasses} from "./libraries/DataClasses.sol";
import {Roles} from "./libraries/Roles.sol";
import {RecordWord, RecordWordLibrary} from "./types/RecordWord.sol";

/**
 * @title RecordRegistry
 * @notice Anchors of encrypted health records and their append-only version chains. Accreditation is
 * the ledger's: a provider suspended there cannot anchor here from the same block.
 */
contract RecordRegistry is IRecordRegistry {
    IAccreditation private immutable _LEDGER;

    /// @dev Written whole, in one SSTORE.
    mapping(bytes32 recordId => RecordWord) private _records;
    mapping(bytes32 root => Batch) private _batches;
    /// @dev A provider's batched versions, stored when amended: a namespace of their own, so that no
    /// separate anchor of the same bytes (by anyone) can take a batched record's id or block its amendment.
    mapping(uint32 providerIndex => mapping(bytes32 contentHash => RecordWord)) private _batchedRecords;

    /// @param ledger_ The ConsentLedger whose accreditation decides who is a provider.
    constructor(IAccreditation ledger_) {
        _LEDGER = ledger_;
    }

    /// @inheritdoc IRecordRegistry
    function anchorRecord(address patient, bytes32 contentHash, uint8 dataClass, bytes calldata pointer) external {
        uint32 providerIndex = _LEDGER.requireAccredited(msg.sender, Roles.PROVIDER).index;
        if (patient == address(0)) revert InvalidPatient(patient);
        if (!DataClasses.isKnown(dataClass)) revert UnknownRecordDataClass(dataClass);
        _store(contentHash, Record(patient, providerIndex, 1, dataClass, false));
        emit RecordAnchored(contentHash, patient, msg.sender, dataClass, 1, bytes32(0), pointer);
    }

    /// @inheritdoc IRecordRegistry
    function amendRecord(bytes32 previousId, bytes32 contentHash, bytes calldata pointer) external {
        uint32 providerIndex = _LEDGER.requireAccredited(msg.sender, Roles.PROVIDER).index;
        Record memory previous = _records[previousId].unpack();
        if (previous.version == 0) revert RecordNotFound(previousId);
        _amend(previousId, previous, providerIndex, contentHash, pointer);
    }

    /// @inheritdoc IRecordRegistry
    function anchorBatch(bytes32 root, uint32 recordCount, bytes calldata manifest) external {
        uint32 providerIndex = _LEDGER.requireAccredited(msg.sender, Roles.PROVIDER).index;
        if (root == bytes32(0)) revert InvalidContentHash(root);
        if (recordCount == 0) revert EmptyRecordBatch();
        if (_batches[root].providerIndex != 0) revert BatchAlreadyAnchored(root);
        _batches[root] = Batch(providerIndex, recordCount, uint40(block.timestamp));
        emit RecordBatchAnchored(root, msg.sender, recordCount, manifest);
    }

    /// @inheritdoc IRecordRegistry
    function amendBatchedRecord(
        bytes32 root,
        BatchedRecord calldata previous,
        bytes32[] calldata proof,
        bytes32 contentHash,
        bytes calldata pointer
    ) external {
        uint32 providerIndex = _LEDGER.requireAccredited(msg.sender, Roles.PROVIDER).index;
        uint32 batchProvider = _batches[root].providerIndex;
        if (batchProvider == 0) revert BatchNotFound(root);
        if (batchProvider != providerIndex) revert NotRecordProvider(previous.contentHash, msg.sender);
        if (previous.contentHash == bytes32(0)) revert InvalidContentHash(previous.contentHash);
        // A leaf is the provider's own claim: stored now, it must pass the checks anchorRecord applies.
        if (previous.patient == address(0)) revert InvalidPatient(previous.patient);
        if (!DataClasses.isKnown(previous.dataClass)) revert UnknownRecordDataClass(previous.dataClass);
        if (!_inBatch(root, previous, proof)) revert InvalidBatchProof(root, previous.contentHash);
        // Keyed by the batch's provider, not by the batch: the same bytes in two of its batches are one
        // record, whose chain must not fork. A separate anchor of these bytes is another record.
        mapping(bytes32 => RecordWord) storage claimed = _batchedRecords[batchProvider];
        if (!claimed[previous.contentHash].isEmpty()) revert RecordAlreadySuperseded(previous.contentHash);
        // A version's bytes are new: the batched version's are taken by the batched version itself.
        if (contentHash == previous.contentHash) revert RecordAlreadyAnchored(contentHash);
        Record memory batched = Record(previous.patient, batchProvider, 1, previous.dataClass, true);
        claimed[previous.contentHash] = RecordWordLibrary.pack(batched);
        emit BatchedRecordAmended(root, previous.contentHash, contentHash);
        _anchorNext(previous.contentHash, batched, providerIndex, contentHash, pointer);
    }

    /// @inheritdoc IRecordRegistry
    function recordOf(bytes32 recordId) external view returns (Record memory) {
        return _records[recordId].unpack();
    }

    /// @inheritdoc IRecordRegistry
    function batchedRecordOf(uint32 providerIndex, bytes32 contentHash) external view returns (Record memory) {
        return _batchedRecords[providerIndex][contentHash].unpack();
    }

    /// @inheritdoc IRecordRegistry
    function batchOf(bytes32 root) external view returns (Batch memory) {
        return _batches[root];
    }

    /// @inheritdoc IRecordRegistry
    function verifyBatchedRecord(
        bytes32 root,
        BatchedRecord calldata record,
        bytes32[] calldata proof
    ) external view returns (bool) {
        return _batches[root].providerIndex != 0 && _inBatch(root, record, proof);
    }

    /// @inheritdoc IRecordRegistry
    function ledger() external view returns (address) {
        return address(_LEDGER);
    }

    /// @inheritdoc IVersioned
    function version() external pure returns (string memory) {
        return "1.0.0";
    }

    function _amend(
        bytes32 previousId,
        Record memory previous,
        uint32 providerIndex,
        bytes32 contentHash,
        bytes calldata pointer
    ) private {
        if (previous.providerIndex != providerIndex) revert NotRecordProvider(previousId, msg.sender);
        if (previous.superseded) revert RecordAlreadySuperseded(previousId);
        previous.superseded = true;
        _records[previousId] = RecordWordLibrary.pack(previous);
        _anchorNext(previousId, previous, providerIndex, contentHash, pointer);
    }

    /// @dev Stores `contentHash` as the version after `previous` (already marked superseded by the caller).
    function _anchorNext(
        bytes32 previousId,
        Record memory previous,
        uint32 providerIndex,
        bytes32 contentHash,
        bytes calldata pointer
    ) private {
        if (previous.version == type(uint32).max) revert VersionOverflow(previousId);
        // Cannot overflow: checked against type(uint32).max above.
        uint32 next;
        unchecked {
            next = previous.version + 1;
        }
        _store(contentHash, Record(previous.patient, providerIndex, next, previous.dataClass, false));
        emit RecordAnchored(contentHash, previous.patient, msg.sender, previous.dataClass, next, previousId, pointer);
    }

    function _store(bytes32 contentHash, Record memory record) private {
        if (contentHash == bytes32(0)) revert InvalidContentHash(contentHash);
        if (!_records[contentHash].isEmpty()) revert RecordAlreadyAnchored(contentHash);
        _records[contentHash] = RecordWordLibrary.pack(record);
    }

    function _inBatch(
        bytes32 root,
        BatchedRecord calldata record,
        bytes32[] calldata proof
    ) private pure returns (bool) {
        bytes32 leaf = keccak256(
            bytes.concat(keccak256(abi.encode(record.contentHash, record.patient, record.dataClass)))
        );
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }
}

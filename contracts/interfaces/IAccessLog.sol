// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IVersioned} from "./IVersioned.sol";

/**
 * @title IAccessLog
 * @notice Custodians record each release of a decryption key. Nothing is stored: the log is the events.
 * A single release is logged with every field indexed for filtering. A batch commits to its releases
 * with a Merkle root (OpenZeppelin StandardMerkleTree, leaf values
 * `(bytes32 recordId, address grantee, uint8 purpose, uint8 basis, uint64 releasedAt)`) and a pointer to
 * the manifest listing them, so its cost hardly grows with its size; each entry is provable against
 * the root and its count is public.
 */
interface IAccessLog is IVersioned {
    /// @notice Thrown when a basis is not Consent (1) or Emergency (2) of {IEmergencyAccess-AccessBasis}.
    error InvalidReleaseBasis(uint8 basis);
    /// @notice Thrown when a purpose code is unknown.
    error UnknownReleasePurpose(uint8 purpose);
    /// @notice Thrown when a release names a zero record or grantee.
    error InvalidRelease(bytes32 recordId, address grantee);
    /// @notice Thrown when a batch is empty or its root is zero.
    error InvalidReleaseBatch(bytes32 root, uint32 releaseCount);

    /// @notice Emitted when `custodian` releases the key of `recordId` to `grantee`.
    event KeyReleased(
        bytes32 indexed recordId,
        address indexed grantee,
        address indexed custodian,
        uint8 purpose,
        uint8 basis
    );
    /// @notice Emitted when `custodian` logs a batch of `releaseCount` releases under `root`.
    event KeyReleaseBatchLogged(bytes32 indexed root, address indexed custodian, uint32 releaseCount, bytes manifest);

    /**
     * @notice Logs one key release.
     * Requirements: caller is a live accredited custodian; record and grantee not zero; known purpose;
     * basis 1 (consent) or 2 (emergency).
     * Emits {KeyReleased}.
     */
    function logRelease(bytes32 recordId, address grantee, uint8 purpose, uint8 basis) external;

    /**
     * @notice Logs a batch of releases by their Merkle root and a pointer to their manifest.
     * Requirements: caller is a live accredited custodian; root not zero; count not zero.
     * Emits {KeyReleaseBatchLogged}.
     */
    function logReleaseBatch(bytes32 root, uint32 releaseCount, bytes calldata manifest) external;

    /// @notice The ledger whose accreditation this log obeys.
    function ledger() external view returns (address);
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IVersioned} from "./IVersioned.sol";

/**
 * @title ICustodianSets
 * @notice Which custodians guard a record's data key, and how many of them must agree. A provider
 * splits each record's data key into n shares (Shamir's secret sharing), one per custodian of a set; any
 * k of them rebuild the key, fewer reveal nothing. Each custodian decides alone, from the ledger, whether
 * to release its share.
 *
 * A set, once defined, never changes: changing custodians means defining a new set and assigning the
 * record to it (re-sharing). Every assignment is an event, so the history of who guarded a record when
 * is never rewritten; the current assignment is readable in one call.
 */
interface ICustodianSets is IVersioned {
    /**
     * @notice A set of custodians and its threshold.
     * @param threshold How many custodians' shares rebuild a data key (k), 2 <= k <= n.
     * @param custodians The custodians (n); share i of a record goes to custodians[i - 1].
     */
    struct CustodianSet {
        uint8 threshold;
        address[] custodians;
    }

    /// @notice Thrown when a threshold is below 2 or above the number of custodians.
    error InvalidCustodianThreshold(uint8 threshold, uint256 custodianCount);
    /// @notice Thrown when a set would hold more custodians than {MAX_CUSTODIANS}.
    error TooManyCustodians(uint256 custodianCount, uint256 maxCustodians);
    /// @notice Thrown when a custodian appears twice in one set.
    error DuplicateCustodian(address custodian);
    /// @notice Thrown when no set has this id.
    error CustodianSetNotFound(uint64 setId);
    /// @notice Thrown when no record has this id in the RecordRegistry.
    error CustodianRecordNotFound(bytes32 recordId);
    /// @notice Thrown when the caller is not the provider that anchored the record.
    error NotRecordProvider(bytes32 recordId, address caller);
    /// @notice Thrown when a record is assigned to the set that guards it already.
    error RecordAlreadyInSet(bytes32 recordId, uint64 setId);

    /// @notice Emitted when `definedBy` defines set `setId`: `threshold` of `custodians`.
    event CustodianSetDefined(uint64 indexed setId, address indexed definedBy, uint8 threshold, address[] custodians);
    /**
     * @notice Emitted when `provider` puts `recordId` under set `setId`; `previousSetId` is 0 for a first
     * assignment, else the set whose shares the provider replaced (re-sharing).
     */
    event RecordCustodiansAssigned(
        bytes32 indexed recordId,
        uint64 indexed setId,
        address indexed provider,
        uint64 previousSetId
    );

    /**
     * @notice Defines a new, immutable set: `threshold` of `custodians`. Returns its id (from 1).
     * Requirements: caller is a live accredited provider; 2 <= `threshold` <= number of custodians <=
     * {MAX_CUSTODIANS}; every custodian is a live accredited custodian now, and appears once.
     * Emits {CustodianSetDefined}.
     */
    function defineSet(address[] calldata custodians, uint8 threshold) external returns (uint64 setId);

    /**
     * @notice Puts `recordId` under set `setId`, replacing any earlier assignment (re-sharing).
     * Requirements: the record is anchored in the RecordRegistry; the caller is a live accredited
     * provider and the one that anchored it; the set exists and is not the record's current one.
     * Emits {RecordCustodiansAssigned}.
     */
    function assignRecord(bytes32 recordId, uint64 setId) external;

    /// @notice The set with this id; reverts {CustodianSetNotFound} when none.
    function setOf(uint64 setId) external view returns (CustodianSet memory);

    /// @notice The set guarding `recordId` now, 0 when none.
    function custodianSetOf(bytes32 recordId) external view returns (uint64);

    /**
     * @notice For a reader, in one call: the set guarding `recordId` now and its definition (an empty set,
     * id 0, when none).
     */
    function recordCustodians(bytes32 recordId) external view returns (uint64 setId, CustodianSet memory set);

    /**
     * @notice For a custodian deciding on a release, in one call: the set guarding `recordId` now, its
     * threshold, and `custodian`'s position in it (1-based, so its share's number), 0 when it is not a
     * member or the record has no set.
     */
    function custodianPositionOf(
        bytes32 recordId,
        address custodian
    ) external view returns (uint64 setId, uint8 threshold, uint8 position);

    /// @notice The number of sets defined so far (ids run from 1 to this).
    function setCount() external view returns (uint64);

    /// @notice The most custodians one set may hold.
    function MAX_CUSTODIANS() external view returns (uint256);

    /// @notice The ledger whose accreditation this contract obeys.
    function ledger() external view returns (address);

    /// @notice The record registry whose anchors say who provides a record.
    function records() external view returns (address);
}

// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {IAccreditation} from "./interfaces/IAccreditation.sol";
import {ICustodianSets} from "./interfaces/ICustodianSets.sol";
import {IRecordRegistry} from "./interfaces/IRecordRegistry.sol";
import {IVersioned} from "./interfaces/IVersioned.sol";
import {Roles} from "./libraries/Roles.sol";

/**
 * @title CustodianSets
 * @notice k-of-n custodian sets and the assignment of records to them. Accreditation is the ledger's,
 * record ownership the registry's: a set is checked against both when it is defined or assigned, and
 * every custodian checks its own accreditation again at each release.
 */
contract CustodianSets is ICustodianSets {
    /// @inheritdoc ICustodianSets
    uint256 public constant MAX_CUSTODIANS = 16;

    IAccreditation private immutable _LEDGER;
    IRecordRegistry private immutable _RECORDS;

    uint64 private _setCount;
    mapping(uint64 setId => CustodianSet) private _sets;
    mapping(bytes32 recordId => uint64 setId) private _assignments;

    /// @param ledger_ The ConsentLedger whose accreditation decides who is a provider and a custodian.
    /// @param records_ The RecordRegistry whose anchors say which provider owns a record.
    constructor(IAccreditation ledger_, IRecordRegistry records_) {
        _LEDGER = ledger_;
        _RECORDS = records_;
    }

    /// @inheritdoc ICustodianSets
    function defineSet(address[] calldata custodians, uint8 threshold) external returns (uint64 setId) {
        _LEDGER.requireAccredited(msg.sender, Roles.PROVIDER);
        uint256 count = custodians.length;
        if (count > MAX_CUSTODIANS) revert TooManyCustodians(count, MAX_CUSTODIANS);
        if (threshold < 2 || threshold > count) revert InvalidCustodianThreshold(threshold, count);
        for (uint256 i = 0; i < count; ++i) {
            _LEDGER.requireAccredited(custodians[i], Roles.CUSTODIAN);
            for (uint256 j = 0; j < i; ++j) {
                if (custodians[j] == custodians[i]) revert DuplicateCustodian(custodians[i]);
            }
        }
        // Cannot overflow: one set per transaction at most, far fewer than 2^64.
        unchecked {
            setId = ++_setCount;
        }
        _sets[setId] = CustodianSet(threshold, custodians);
        emit CustodianSetDefined(setId, msg.sender, threshold, custodians);
    }

    /// @inheritdoc ICustodianSets
    function assignRecord(bytes32 recordId, uint64 setId) external {
        uint32 callerIndex = _LEDGER.requireAccredited(msg.sender, Roles.PROVIDER).index;
        IRecordRegistry.Record memory record = _RECORDS.recordOf(recordId);
        if (record.version == 0) revert CustodianRecordNotFound(recordId);
        if (record.providerIndex != callerIndex) revert NotRecordProvider(recordId, msg.sender);
        if (_sets[setId].threshold == 0) revert CustodianSetNotFound(setId);
        uint64 previous = _assignments[recordId];
        if (previous == setId) revert RecordAlreadyInSet(recordId, setId);
        _assignments[recordId] = setId;
        emit RecordCustodiansAssigned(recordId, setId, msg.sender, previous);
    }

    /// @inheritdoc ICustodianSets
    function setOf(uint64 setId) external view returns (CustodianSet memory) {
        CustodianSet memory set = _sets[setId];
        if (set.threshold == 0) revert CustodianSetNotFound(setId);
        return set;
    }

    /// @inheritdoc ICustodianSets
    function custodianSetOf(bytes32 recordId) external view returns (uint64) {
        return _assignments[recordId];
    }

    /// @inheritdoc ICustodianSets
    function recordCustodians(bytes32 recordId) external view returns (uint64 setId, CustodianSet memory set) {
        setId = _assignments[recordId];
        if (setId != 0) set = _sets[setId];
    }

    /// @inheritdoc ICustodianSets
    function custodianPositionOf(
        bytes32 recordId,
        address custodian
    ) external view returns (uint64 setId, uint8 threshold, uint8 position) {
        setId = _assignments[recordId];
        if (setId == 0) return (0, 0, 0);
        CustodianSet storage set = _sets[setId];
        threshold = set.threshold;
        uint256 count = set.custodians.length;
        for (uint256 i = 0; i < count; ++i) {
            if (set.custodians[i] == custodian) return (setId, threshold, uint8(i + 1));
        }
    }

    /// @inheritdoc ICustodianSets
    function setCount() external view returns (uint64) {
        return _setCount;
    }

    /// @inheritdoc ICustodianSets
    function ledger() external view returns (address) {
        return address(_LEDGER);
    }

    /// @inheritdoc ICustodianSets
    function records() external view returns (address) {
        return address(_RECORDS);
    }

    /// @inheritdoc IVersioned
    function version() external pure returns (string memory) {
        return "1.0.0";
    }
}

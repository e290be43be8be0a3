// SPDX-License-Identifier: MIT
pragma solidity 0.8.29;

import {IAccessLog} from "./interfaces/IAccessLog.sol";
import {IAccreditation} from "./interfaces/IAccreditation.sol";
import {IEmergencyAccess} from "./interfaces/IEmergencyAccess.sol";
import {IVersioned} from "./interfaces/IVersioned.sol";
import {Purposes} from "./libraries/Purposes.sol";
import {Roles} from "./libraries/Roles.sol";

/**
 * @title AccessLog
 * @notice The custodians' record of key releases. Nothing here is read by a contract, so nothing is
 * stored: every entry is an event.
 */
contract AccessLog is IAccessLog {
    IAccreditation private immutable _LEDGER;

    /// @param ledger_ The ConsentLedger whose accreditation decides who is a custodian.
    constructor(IAccreditation ledger_) {
        _LEDGER = ledger_;
    }

    /// @inheritdoc IAccessLog
    function logRelease(bytes32 recordId, address grantee, uint8 purpose, uint8 basis) external {
        _LEDGER.requireAccredited(msg.sender, Roles.CUSTODIAN);
        if (recordId == bytes32(0) || grantee == address(0)) revert InvalidRelease(recordId, grantee);
        if (!Purposes.isKnown(purpose)) revert UnknownReleasePurpose(purpose);
        if (
            basis != uint8(IEmergencyAccess.AccessBasis.Consent) &&
            basis != uint8(IEmergencyAccess.AccessBasis.Emergency)
        ) {
            revert InvalidReleaseBasis(basis);
        }
        emit KeyReleased(recordId, grantee, msg.sender, purpose, basis);
    }

    /// @inheritdoc IAccessLog
    function logReleaseBatch(bytes32 root, uint32 releaseCount, bytes calldata manifest) external {
        _LEDGER.requireAccredited(msg.sender, Roles.CUSTODIAN);
        if (root == bytes32(0) || releaseCount == 0) revert InvalidReleaseBatch(root, releaseCount);
        emit KeyReleaseBatchLogged(root, msg.sender, releaseCount, manifest);
    }

    /// @inheritdoc IAccessLog
    function ledger() external view returns (address) {
        return address(_LEDGER);
    }

    /// @inheritdoc IVersioned
    function version() external pure returns (string memory) {
        return "1.0.0";
    }
}

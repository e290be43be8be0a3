// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IEmergencyAccess} from "../interfaces/IEmergencyAccess.sol";
import {EmergencyReasons} from "../libraries/EmergencyReasons.sol";
import {Purposes} from "../libraries/Purposes.sol";
import {Roles} from "../libraries/Roles.sol";
import {AccessRequests} from "./AccessRequests.sol";

/// @title EmergencyAccess
/// @notice Time-boxed break-the-glass windows, bounded at deployment, that patients can opt out of.
abstract contract EmergencyAccess is AccessRequests, IEmergencyAccess {
    uint40 private immutable _MAX_EMERGENCY_DURATION;

    mapping(address patient => mapping(address provider => uint40 until)) private _emergencyUntil;

    constructor(uint40 maxEmergencyDuration_) {
        _MAX_EMERGENCY_DURATION = maxEmergencyDuration_;
    }

    /// @inheritdoc IEmergencyAccess
    function openEmergencyAccess(address patient, uint8 reasonCode, uint40 duration) external {
        _requireAccredited(msg.sender, Roles.PROVIDER);
        if (!EmergencyReasons.isKnown(reasonCode)) revert UnknownEmergencyReason(reasonCode);
        if (duration == 0 || duration > _MAX_EMERGENCY_DURATION) {
            revert InvalidEmergencyDuration(duration, _MAX_EMERGENCY_DURATION);
        }
        if (_patientSettings[patient].emergencyOptOut) revert EmergencyAccessOptedOut(patient);
        // Cannot overflow: duration is bounded by the deployment's maximum, far below 2^40 - now.
        uint40 until = uint40(block.timestamp) + duration;
        _emergencyUntil[patient][msg.sender] = until;
        emit EmergencyAccessOpened(patient, msg.sender, reasonCode, until);
    }

    /// @inheritdoc IEmergencyAccess
    function closeEmergencyAccess(address patient) external {
        if (_emergencyUntil[patient][msg.sender] <= block.timestamp) revert EmergencyAccessNotOpen(patient, msg.sender);
        delete _emergencyUntil[patient][msg.sender];
        emit EmergencyAccessClosed(patient, msg.sender);
    }

    /// @inheritdoc IEmergencyAccess
    function setEmergencyOptOut(bool optedOut) external {
        _patientSettings[msg.sender].emergencyOptOut = optedOut;
        emit EmergencyOptOutSet(msg.sender, optedOut);
    }

    /// @inheritdoc IEmergencyAccess
    function emergencyAccessUntil(address patient, address provider) external view returns (uint40) {
        return _emergencyUntil[patient][provider];
    }

    /// @inheritdoc IEmergencyAccess
    function emergencyOptedOut(address patient) external view returns (bool) {
        return _patientSettings[patient].emergencyOptOut;
    }

    /// @inheritdoc IEmergencyAccess
    function accessBasis(
        address patient,
        address grantee,
        uint8 dataClass,
        uint8 purpose
    ) external view returns (AccessBasis) {
        _requireKnownCodes(dataClass, purpose);
        if (_hasConsent(patient, grantee, dataClass, purpose)) return AccessBasis.Consent;
        if (
            (Purposes.EMERGENCY >> purpose) & 1 == 1 &&
            _emergencyUntil[patient][grantee] > block.timestamp &&
            !_patientSettings[patient].emergencyOptOut &&
            _isAccredited(grantee, Roles.PROVIDER)
        ) return AccessBasis.Emergency;
        return AccessBasis.None;
    }

    /// @inheritdoc IEmergencyAccess
    function maxEmergencyDuration() external view returns (uint40) {
        return _MAX_EMERGENCY_DURATION;
    }
}

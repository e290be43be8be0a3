// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IEmergencyAccess} from "../interfaces/IEmergencyAccess.sol";
import {EmergencyReasons} from "../libraries/EmergencyReasons.sol";
import {Purposes} from "../libraries/Purposes.sol";
import {Roles} from "../libraries/Roles.sol";
import {EmergencyWindowWord, EmergencyWindowWordLibrary} from "../types/EmergencyWindowWord.sol";
import {SettingsWord} from "../types/SettingsWord.sol";
import {AccessRequests} from "./AccessRequests.sol";

/// @title EmergencyAccess
/// @notice Time-boxed break-the-glass windows, bounded at deployment, that patients can opt out of.
abstract contract EmergencyAccess is AccessRequests, IEmergencyAccess {
    uint40 private immutable _MAX_EMERGENCY_DURATION;

    mapping(address patient => mapping(address provider => EmergencyWindowWord)) private _emergencyWindows;

    constructor(uint40 maxEmergencyDuration_) {
        _MAX_EMERGENCY_DURATION = maxEmergencyDuration_;
    }

    /// @inheritdoc IEmergencyAccess
    function openEmergencyAccess(address patient, uint8 reasonCode, uint40 duration) external {
        uint16 suspensions = _requireAccredited(msg.sender, Roles.PROVIDER).suspensions;
        if (patient == address(0) || patient == msg.sender) revert InvalidEmergencyPatient(patient);
        if (!EmergencyReasons.isKnown(reasonCode)) revert UnknownEmergencyReason(reasonCode);
        if (duration == 0 || duration > _MAX_EMERGENCY_DURATION) {
            revert InvalidEmergencyDuration(duration, _MAX_EMERGENCY_DURATION);
        }
        SettingsWord settings = _patientSettings[patient];
        if (settings.emergencyOptOut()) revert EmergencyAccessOptedOut(patient);
        // Cannot overflow: durations are bounded by the deployment's maximum, far below 2^40 - now.
        uint40 now_ = uint40(block.timestamp);
        uint40 until = now_ + duration;
        uint40 periodStart = _emergencyWindows[patient][msg.sender].periodStart();
        if (periodStart == 0 || now_ >= periodStart + 2 * _MAX_EMERGENCY_DURATION) periodStart = now_;
        uint40 capUntil = periodStart + _MAX_EMERGENCY_DURATION;
        if (until > capUntil) revert EmergencyAccessCapExceeded(patient, msg.sender, until, capUntil);
        _emergencyWindows[patient][msg.sender] = EmergencyWindowWordLibrary.pack(
            until,
            settings.emergencyEpoch(),
            suspensions,
            periodStart
        );
        emit EmergencyAccessOpened(patient, msg.sender, reasonCode, until);
    }

    /// @inheritdoc IEmergencyAccess
    function closeEmergencyAccess(address patient) external {
        if (_openWindowUntil(patient, msg.sender) == 0) revert EmergencyAccessNotOpen(patient, msg.sender);
        // Only the end is cleared: the period's start stays, so closing and reopening keeps the cap.
        EmergencyWindowWord window = _emergencyWindows[patient][msg.sender];
        _emergencyWindows[patient][msg.sender] = window.setUntil(0);
        emit EmergencyAccessClosed(patient, msg.sender);
    }

    /// @inheritdoc IEmergencyAccess
    function setEmergencyOptOut(bool optedOut) external {
        _setEmergencyOptOut(_actor(), optedOut);
    }

    /// @inheritdoc IEmergencyAccess
    function emergencyAccessUntil(address patient, address provider) external view returns (uint40) {
        return _openWindowUntil(patient, provider);
    }

    /// @inheritdoc IEmergencyAccess
    function emergencyOptedOut(address patient) external view returns (bool) {
        return _patientSettings[patient].emergencyOptOut();
    }

    /// @dev The one path of every opt-out and opt-in, direct or signed: `patient` is the caller or the signer.
    function _setEmergencyOptOut(address patient, bool optedOut) internal {
        SettingsWord settings = _patientSettings[patient];
        uint16 epoch = settings.emergencyEpoch();
        if (optedOut) {
            // A new epoch ends every window opened before, for good: opting back in revives none.
            // Wrapping after 65,536 opt-outs is harmless: a window outlives no more than a few.
            unchecked {
                ++epoch;
            }
        }
        _patientSettings[patient] = settings.withEmergency(optedOut, epoch);
        emit EmergencyOptOutSet(patient, optedOut);
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
            _openWindowUntil(patient, grantee) != 0 &&
            _isAccredited(grantee, Roles.PROVIDER)
        ) return AccessBasis.Emergency;
        return AccessBasis.None;
    }

    /// @inheritdoc IEmergencyAccess
    function maxEmergencyDuration() external view returns (uint40) {
        return _MAX_EMERGENCY_DURATION;
    }

    /// @dev The end of `provider`'s window on `patient` if it is open now (not ended, opened in the current
    /// epoch, and since the provider's last suspension), else 0. No separate opt-out check: opting out
    /// moves to a new epoch, and no window can be opened while opted out, so every window of the current
    /// epoch was opened while opted in.
    function _openWindowUntil(address patient, address provider) private view returns (uint40) {
        EmergencyWindowWord window = _emergencyWindows[patient][provider];
        uint40 until = window.until();
        if (
            until <= block.timestamp ||
            window.epoch() != _patientSettings[patient].emergencyEpoch() ||
            window.suspensions() != _party(provider).suspensions
        ) return 0;
        return until;
    }
}

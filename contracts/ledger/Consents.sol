// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IConsents} from "../interfaces/IConsents.sol";
import {DataClasses} from "../libraries/DataClasses.sol";
import {Purposes} from "../libraries/Purposes.sol";
import {Accreditation} from "./Accreditation.sol";

/// @title Consents
/// @notice Consents and delegates. Every way of granting or revoking (direct, batched, signed, by
/// approving a request) ends in {_grant} or {_revoke}, so the checks live in one place.
abstract contract Consents is Accreditation, IConsents {
    /// @dev Packed as documented on {IConsents-Consent} and written whole, so a grant is one SSTORE.
    mapping(address patient => mapping(address grantee => uint256 packedConsent)) private _consents;
    mapping(address patient => mapping(address delegate => uint40 validUntil)) private _delegates;

    /// @inheritdoc IConsents
    function grant(
        address patient,
        address grantee,
        uint32 dataClasses,
        uint32 purposes,
        uint40 validFrom,
        uint40 validUntil
    ) external {
        _requirePatientOrDelegate(patient, msg.sender);
        _grant(patient, grantee, dataClasses, purposes, validFrom, validUntil, msg.sender);
    }

    /// @inheritdoc IConsents
    function grantBatch(address patient, GrantTerms[] calldata grants) external {
        if (grants.length == 0) revert EmptyBatch();
        _requirePatientOrDelegate(patient, msg.sender);
        for (uint256 i; i < grants.length; ++i) {
            GrantTerms calldata terms = grants[i];
            _grant(
                patient,
                terms.grantee,
                terms.dataClasses,
                terms.purposes,
                terms.validFrom,
                terms.validUntil,
                msg.sender
            );
        }
    }

    /// @inheritdoc IConsents
    function revoke(address patient, address grantee) external {
        _requirePatientOrDelegate(patient, msg.sender);
        _revoke(patient, grantee, msg.sender);
    }

    /// @inheritdoc IConsents
    function appointDelegate(address delegate, uint40 validUntil) external {
        if (delegate == address(0) || delegate == msg.sender) revert InvalidDelegate(delegate);
        if (validUntil <= block.timestamp) revert InvalidValidity(uint40(block.timestamp), validUntil);
        _delegates[msg.sender][delegate] = validUntil;
        emit DelegateAppointed(msg.sender, delegate, validUntil);
    }

    /// @inheritdoc IConsents
    function removeDelegate(address delegate) external {
        if (_delegates[msg.sender][delegate] == 0) revert DelegateNotFound(msg.sender, delegate);
        delete _delegates[msg.sender][delegate];
        emit DelegateRemoved(msg.sender, delegate);
    }

    /// @inheritdoc IConsents
    function consentOf(address patient, address grantee) external view returns (Consent memory) {
        uint256 packed = _consents[patient][grantee];
        return Consent(uint32(packed), uint32(packed >> 32), uint40(packed >> 64), uint40(packed >> 104));
    }

    /// @inheritdoc IConsents
    function delegateUntil(address patient, address delegate) external view returns (uint40) {
        return _delegates[patient][delegate];
    }

    /// @inheritdoc IConsents
    function hasAccess(address patient, address grantee, uint8 dataClass, uint8 purpose) external view returns (bool) {
        return _hasConsent(patient, grantee, dataClass, purpose);
    }

    /// @dev The consent half of every access check: one slot, then the grantee's accreditation only
    /// when the consent itself passes and the purpose needs one.
    function _hasConsent(
        address patient,
        address grantee,
        uint8 dataClass,
        uint8 purpose
    ) internal view returns (bool) {
        // Codes beyond the tables would read other fields of the packed word: they never pass.
        if (!DataClasses.isKnown(dataClass) || !Purposes.isKnown(purpose)) return false;
        uint256 packed = _consents[patient][grantee];
        uint256 purposeBit;
        // Cannot overflow: purpose < 256.
        unchecked {
            purposeBit = 32 + uint256(purpose);
        }
        // Bit `dataClass` of the classes and bit `purpose` of the purposes (which start at bit 32).
        if ((packed >> dataClass) & (packed >> purposeBit) & 1 == 0) return false;
        if (block.timestamp < uint40(packed >> 64) || block.timestamp >= uint40(packed >> 104)) return false;
        uint8 roles = Purposes.requiredRoles(purpose);
        return roles == 0 || _isAccredited(grantee, roles);
    }

    function _grant(
        address patient,
        address grantee,
        uint32 dataClasses,
        uint32 purposes,
        uint40 validFrom,
        uint40 validUntil,
        address actor
    ) internal {
        // A delegate manages consent; reading the data itself is the patient's own decision to give.
        if (grantee == address(0) || grantee == patient || grantee == actor) revert InvalidGrantee(grantee);
        if (!DataClasses.isValidSet(dataClasses)) revert InvalidDataClasses(dataClasses);
        if (!Purposes.isValidSet(purposes)) revert InvalidPurposes(purposes);
        if (validUntil <= validFrom || validUntil <= block.timestamp) revert InvalidValidity(validFrom, validUntil);
        _consents[patient][grantee] =
            uint256(dataClasses) |
            (uint256(purposes) << 32) |
            (uint256(validFrom) << 64) |
            (uint256(validUntil) << 104);
        emit ConsentGranted(patient, grantee, actor, dataClasses, purposes, validFrom, validUntil);
    }

    function _revoke(address patient, address grantee, address actor) internal {
        // A stored consent always has classes and an end, so a zero word means there is none.
        if (_consents[patient][grantee] == 0) revert ConsentNotFound(patient, grantee);
        delete _consents[patient][grantee];
        emit ConsentRevoked(patient, grantee, actor);
    }

    function _requirePatientOrDelegate(address patient, address actor) internal view {
        if (actor == patient) return;
        uint40 until = _delegates[patient][actor];
        if (until == 0) revert NotPatientOrDelegate(patient, actor);
        if (until <= block.timestamp) revert DelegateExpired(patient, actor, until);
    }

    function _requireKnownCodes(uint8 dataClass, uint8 purpose) internal pure {
        if (!DataClasses.isKnown(dataClass)) revert UnknownDataClass(dataClass);
        if (!Purposes.isKnown(purpose)) revert UnknownPurpose(purpose);
    }
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IConsents} from "../interfaces/IConsents.sol";
import {DataClasses} from "../libraries/DataClasses.sol";
import {Purposes} from "../libraries/Purposes.sol";
import {ConsentWord, ConsentWordLibrary} from "../types/ConsentWord.sol";
import {Accreditation} from "./Accreditation.sol";

/// @title Consents
/// @notice Consents and delegates. Every way of granting or revoking (direct, batched, signed, by
/// approving a request) ends in {_grant} or {_revoke}, so the checks live in one place.
abstract contract Consents is Accreditation, IConsents {
    // Consents have no Solidity variable: each lives at {_consentSlot}, a {ConsentWord} written whole,
    // so a grant is one SSTORE.
    mapping(address patient => mapping(address delegate => Delegation)) private _delegates;

    /// @inheritdoc IConsents
    function grant(
        address patient,
        address grantee,
        uint32 dataClasses,
        uint32 purposes,
        uint40 validFrom,
        uint40 validUntil
    ) external {
        _requireMayGrant(patient, msg.sender, dataClasses, purposes, validUntil);
        _grant(patient, grantee, dataClasses, purposes, validFrom, validUntil, msg.sender);
    }

    /// @inheritdoc IConsents
    function grantBatch(address patient, GrantTerms[] calldata grants) external {
        if (grants.length == 0) revert EmptyBatch();
        // The appointment is checked once; its scope item by item. The patient's own batch pays nothing per item.
        bool byDelegate = msg.sender != patient;
        Delegation memory appointment;
        if (byDelegate) appointment = _liveDelegation(patient, msg.sender);
        for (uint256 i; i < grants.length; ++i) {
            GrantTerms calldata terms = grants[i];
            if (byDelegate) {
                _requireWithinScope(
                    patient,
                    msg.sender,
                    appointment,
                    terms.dataClasses,
                    terms.purposes,
                    terms.validUntil
                );
            }
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
    function appointDelegate(address delegate, uint40 validUntil, uint32 purposes, bool sensitiveClasses) external {
        _appointDelegate(_actor(), delegate, validUntil, purposes, sensitiveClasses);
    }

    /// @inheritdoc IConsents
    function removeDelegate(address delegate) external {
        _removeDelegate(_actor(), delegate);
    }

    /// @inheritdoc IConsents
    function consentOf(address patient, address grantee) external view returns (Consent memory) {
        ConsentWord word = _loadConsent(patient, grantee);
        return Consent(word.dataClasses(), word.purposes(), word.validFrom(), word.validUntil());
    }

    /// @inheritdoc IConsents
    function delegateUntil(address patient, address delegate) external view returns (uint40) {
        return _delegates[patient][delegate].validUntil;
    }

    /// @inheritdoc IConsents
    function delegateOf(address patient, address delegate) external view returns (Delegation memory) {
        return _delegates[patient][delegate];
    }

    /// @inheritdoc IConsents
    function hasAccess(address patient, address grantee, uint8 dataClass, uint8 purpose) external view returns (bool) {
        bool allowed = _hasConsent(patient, grantee, dataClass, purpose);
        // Returned from scratch space: the encoder would first read the free memory pointer.
        assembly ("memory-safe") {
            mstore(0x00, allowed)
            return(0x00, 0x20)
        }
    }

    /// @dev The consent half of every access check: one slot, then the grantee's accreditation only
    /// when the consent itself passes and the purpose needs one. The consent's checks are one assembly
    /// expression ({ConsentWordLibrary-covers}), without branches; the only branches left skip the
    /// second read (consent failed, or the purpose needs no role). This is the hot path of every key
    /// release, and the compiled Solidity spent more gas on jumps and stack shuffling than on the checks
    /// (README, gas).
    /// The rules: codes outside the tables never pass (they would read other fields of the word); bit
    /// `dataClass` of the classes and bit `32 + purpose` of the purposes must both be set; validFrom <=
    /// now < validUntil; then {Purposes-REQUIRED_ROLES}, held live. The model-based tests check it
    /// against a reference model after every step.
    function _hasConsent(
        address patient,
        address grantee,
        uint8 dataClass,
        uint8 purpose
    ) internal view returns (bool) {
        uint256 covered = _loadConsent(patient, grantee).covers(dataClass, purpose, DataClasses.COUNT, Purposes.COUNT);
        uint256 roles;
        // A local because assembly cannot read library constants; the optimizer folds it.
        uint256 roleTable = Purposes.REQUIRED_ROLES;
        assembly ("memory-safe") {
            // Not masked to 8 bits: a dirty purpose has already failed {ConsentWordLibrary-covers}.
            roles := and(shr(shl(3, purpose), roleTable), 0xff)
        }
        if (covered == 0) return false;
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
        // Read first: the write below then finds the slot warm, so knowing what is replaced costs ~100 gas.
        ConsentWord previous = _loadConsent(patient, grantee);
        _storeConsent(patient, grantee, ConsentWordLibrary.pack(dataClasses, purposes, validFrom, validUntil));
        // A consent that has not ended is access (or the promise of it) that this grant narrows or widens:
        // the audit trail says exactly what it was. A revocation mark ends at 0, an expired consent before now.
        if (_isLive(previous)) {
            emit ConsentReplaced(
                patient,
                grantee,
                previous.dataClasses(),
                previous.purposes(),
                previous.validFrom(),
                previous.validUntil()
            );
        }
        emit ConsentGranted(patient, grantee, actor, dataClasses, purposes, validFrom, validUntil);
    }

    /// @dev The one path of every appointment, direct or signed: `patient` is the caller or the signer,
    /// never a delegate.
    function _appointDelegate(
        address patient,
        address delegate,
        uint40 validUntil,
        uint32 purposes,
        bool sensitiveClasses
    ) internal {
        if (delegate == address(0) || delegate == patient) revert InvalidDelegate(delegate);
        if (validUntil <= block.timestamp) revert InvalidValidity(uint40(block.timestamp), validUntil);
        if (!Purposes.isValidSet(purposes)) revert InvalidPurposes(purposes);
        _delegates[patient][delegate] = Delegation(validUntil, purposes, sensitiveClasses);
        emit DelegateAppointed(patient, delegate, validUntil, purposes, sensitiveClasses);
    }

    /// @dev The one path of every removal of a delegate, direct or signed.
    function _removeDelegate(address patient, address delegate) internal {
        if (_delegates[patient][delegate].validUntil == 0) revert DelegateNotFound(patient, delegate);
        delete _delegates[patient][delegate];
        emit DelegateRemoved(patient, delegate);
    }

    function _revoke(address patient, address grantee, address actor) internal {
        if (!_loadConsent(patient, grantee).holdsConsent()) revert ConsentNotFound(patient, grantee);
        // The mark, not a cleared slot: a standing policy must not re-grant what the patient took away.
        // It costs the clearing refund (4,800 gas); every grant overwrites it.
        _storeConsent(patient, grantee, ConsentWordLibrary.REVOKED);
        emit ConsentRevoked(patient, grantee, actor);
    }

    /// @dev Whether a standing policy must leave a request of `grantee` to the patient: the last word
    /// `patient` stored for it is a revocation (held back until the patient's side grants or approves
    /// again), or a consent that has not ended (an approval would replace it, narrowing or widening
    /// access, which only the patient's side may do, having seen the change).
    function _holdsBackPolicy(address patient, address grantee) internal view returns (bool) {
        ConsentWord word = _loadConsent(patient, grantee);
        return word.isRevoked() || _isLive(word);
    }

    /// @dev Whether a consent word has not ended: its validUntil is after now (a revocation mark's is 0).
    function _isLive(ConsentWord word) private view returns (bool) {
        return word.validUntil() > block.timestamp;
    }

    /**
     * @dev Where the consent of `patient` to `grantee` is stored: keccak256(patient ‖ grantee), over
     * the 40 packed bytes. One hash where a nested mapping needs two (about 55 gas on every check,
     * grant and revoke). Every mapping of this contract has a fixed-size key, so every slot Solidity
     * derives here hashes a 64-byte preimage (or 32, for the data of a long string); no 40-byte
     * preimage can give one of them short of a keccak collision. A mapping keyed by `bytes` or
     * `string` would break that argument: do not add one.
     */
    function _consentSlot(address patient, address grantee) private pure returns (uint256 slot) {
        assembly ("memory-safe") {
            // Scratch space only: bytes 0x0c-0x1f take the patient, 0x20-0x33 the grantee. The high
            // bytes of each word land outside the hashed range or are overwritten, so no masking.
            mstore(0x14, grantee)
            mstore(0x00, patient)
            slot := keccak256(0x0c, 0x28)
        }
    }

    function _loadConsent(address patient, address grantee) private view returns (ConsentWord word) {
        uint256 slot = _consentSlot(patient, grantee);
        assembly ("memory-safe") {
            word := sload(slot)
        }
    }

    function _storeConsent(address patient, address grantee, ConsentWord word) private {
        uint256 slot = _consentSlot(patient, grantee);
        assembly ("memory-safe") {
            sstore(slot, word)
        }
    }

    /**
     * @dev Who takes one of the patient's own settings: the caller, or, when the ledger calls itself from
     * {ISignedConsents-actBySig}, the signer it has just verified, appended as the last word of the call
     * (ERC-2771's pattern, the ledger its own and only trusted forwarder). The ledger makes no other call
     * to itself, so no one else is ever read from calldata. Only the functions of actBySig's types use it.
     */
    function _actor() internal view returns (address actor) {
        actor = msg.sender;
        if (actor == address(this)) {
            assembly ("memory-safe") {
                actor := calldataload(sub(calldatasize(), 0x20))
            }
        }
    }

    /// @dev Reverts unless `actor` is `patient` or one of its delegates in office.
    function _requirePatientOrDelegate(address patient, address actor) internal view {
        if (actor != patient) _liveDelegation(patient, actor);
    }

    /// @dev What `actor` must be to grant `patient`'s consent to `dataClasses` for `purposes` until
    /// `validUntil`: the patient, or a delegate in office acting within the scope of its appointment.
    function _requireMayGrant(
        address patient,
        address actor,
        uint32 dataClasses,
        uint32 purposes,
        uint40 validUntil
    ) internal view {
        if (actor != patient)
            _requireWithinScope(patient, actor, _liveDelegation(patient, actor), dataClasses, purposes, validUntil);
    }

    /// @dev The scope check of {_requireMayGrant} for a delegate already known to be in office: its
    /// purposes, sensitive classes only with leave, and an end no later than the appointment's, so no
    /// access a delegate gives outlives the appointment it was given under.
    function _requireWithinScope(
        address patient,
        address delegate,
        Delegation memory appointment,
        uint32 dataClasses,
        uint32 purposes,
        uint40 validUntil
    ) internal pure {
        if (
            purposes & ~appointment.purposes != 0 ||
            (!appointment.sensitiveClasses && dataClasses & DataClasses.SENSITIVE != 0)
        ) revert DelegateScopeExceeded(patient, delegate, dataClasses, purposes);
        if (validUntil > appointment.validUntil) {
            revert DelegateGrantOutlivesAppointment(patient, delegate, validUntil, appointment.validUntil);
        }
    }

    /// @dev The appointment of `actor` by `patient`; reverts when there is none or it has ended.
    function _liveDelegation(address patient, address actor) internal view returns (Delegation memory appointment) {
        appointment = _delegates[patient][actor];
        uint40 until = appointment.validUntil;
        if (until == 0) revert NotPatientOrDelegate(patient, actor);
        if (until <= block.timestamp) revert DelegateExpired(patient, actor, until);
    }

    /// @dev Reverts unless the consent of `patient` to `grantee` is, the revocation mark aside, the word
    /// `expected` the signer saw (0: none): a relayer that holds a signature while the consent changes
    /// cannot make it replace a consent its signer never saw. Reading here warms the slot {_grant} reads.
    function _requireConsentSeen(address patient, address grantee, uint256 expected) internal view {
        uint256 actual = _loadConsent(patient, grantee).consentBits();
        if (actual != expected) revert ConsentChanged(patient, grantee, expected, actual);
    }

    function _requireKnownCodes(uint8 dataClass, uint8 purpose) internal pure {
        if (!DataClasses.isKnown(dataClass)) revert UnknownDataClass(dataClass);
        if (!Purposes.isKnown(purpose)) revert UnknownPurpose(purpose);
    }
}

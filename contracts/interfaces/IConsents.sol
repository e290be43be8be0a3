// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title IConsents
 * @notice A patient's consents and delegates. A consent lets one grantee read a set of data classes
 * for a set of purposes between two times. There is one consent per patient and grantee: a new grant
 * replaces the old one, so narrowing is as easy as widening (and says what it replaced, {ConsentReplaced},
 * when that had not ended), and a revocation ends it. Delegates (a
 * parent for a minor, a carer) act for the patient until their appointment ends, but cannot appoint.
 */
interface IConsents {
    /**
     * @notice A consent, packed in one storage slot as {ConsentWord} (layout: docs/contracts.md, "Packed
     * words"). A revocation leaves bit 255 alone in the slot: no consent, and a hold on automatic approval of
     * this grantee by the patient's standing policy, until the patient's side grants or approves again.
     * @param dataClasses Bitmask of {DataClasses} codes.
     * @param purposes Bitmask of {Purposes} codes.
     * @param validFrom First second of validity (unix time).
     * @param validUntil First second at which the consent has ended.
     */
    struct Consent {
        uint32 dataClasses;
        uint32 purposes;
        uint40 validFrom;
        uint40 validUntil;
    }

    /// @notice The terms of one grant in a batch, and of a signed grant.
    struct GrantTerms {
        address grantee;
        uint32 dataClasses;
        uint32 purposes;
        uint40 validFrom;
        uint40 validUntil;
    }

    /// @notice Thrown when `actor` is neither `patient` nor one of its delegates.
    error NotPatientOrDelegate(address patient, address actor);
    /// @notice Thrown when `delegate`'s appointment by `patient` ended at `expiredAt`.
    error DelegateExpired(address patient, address delegate, uint40 expiredAt);
    /// @notice Thrown when a grant names the zero address, the patient, or the delegate granting it.
    error InvalidGrantee(address grantee);
    /// @notice Thrown when a set of data classes is empty or holds an unknown code.
    error InvalidDataClasses(uint32 dataClasses);
    /// @notice Thrown when a set of purposes is empty or holds an unknown code.
    error InvalidPurposes(uint32 purposes);
    /// @notice Thrown when a single data class code is unknown.
    error UnknownDataClass(uint8 dataClass);
    /// @notice Thrown when a single purpose code is unknown.
    error UnknownPurpose(uint8 purpose);
    /// @notice Thrown when a validity period is empty or already over.
    error InvalidValidity(uint40 validFrom, uint40 validUntil);
    /// @notice Thrown when there is no consent from `patient` to `grantee` to revoke.
    error ConsentNotFound(address patient, address grantee);
    /// @notice Thrown when a delegate is the zero address or the patient.
    error InvalidDelegate(address delegate);
    /// @notice Thrown when `delegate` is not a delegate of `patient`.
    error DelegateNotFound(address patient, address delegate);
    /// @notice Thrown when a batch is empty.
    error EmptyBatch();

    /// @notice Emitted when `patient` (or `actor` for it) grants `grantee` a consent.
    event ConsentGranted(
        address indexed patient,
        address indexed grantee,
        address actor,
        uint32 dataClasses,
        uint32 purposes,
        uint40 validFrom,
        uint40 validUntil
    );
    /**
     * @notice Emitted when a grant (direct, batched, signed, or by an approved request) replaces a consent
     * of `patient` to `grantee` that had not ended, with that consent's terms, right before the
     * {ConsentGranted} of its replacement: the two say exactly what changed.
     */
    event ConsentReplaced(
        address indexed patient,
        address indexed grantee,
        uint32 dataClasses,
        uint32 purposes,
        uint40 validFrom,
        uint40 validUntil
    );
    /// @notice Emitted when `patient` (or `actor` for it) revokes the consent of `grantee`.
    event ConsentRevoked(address indexed patient, address indexed grantee, address actor);
    /// @notice Emitted when `patient` appoints `delegate`, or changes its end.
    event DelegateAppointed(address indexed patient, address indexed delegate, uint40 validUntil);
    /// @notice Emitted when `patient` removes `delegate`.
    event DelegateRemoved(address indexed patient, address indexed delegate);

    /**
     * @notice Grants `grantee` access to `dataClasses` for `purposes` from `validFrom` (0: now) until
     * `validUntil`, replacing any consent `patient` gave `grantee` before.
     * Requirements: caller is `patient` or a live delegate; grantee is neither zero, `patient`, nor the
     * delegate itself (a delegate manages consent but cannot grant itself access);
     * both sets are non-empty and known; `validUntil` is after `validFrom` and after now.
     * Accreditation is checked when access is checked, not here, so a lapse takes effect at once.
     * Emits {ConsentReplaced} when it replaces a consent that has not ended, then {ConsentGranted}.
     */
    function grant(
        address patient,
        address grantee,
        uint32 dataClasses,
        uint32 purposes,
        uint40 validFrom,
        uint40 validUntil
    ) external;

    /**
     * @notice Grants several consents of one patient in one transaction, with the same rules as {grant}.
     * Emits one {ConsentGranted} per item, each after its {ConsentReplaced} when it replaces a consent
     * that has not ended.
     */
    function grantBatch(address patient, GrantTerms[] calldata grants) external;

    /**
     * @notice Ends the consent `patient` gave `grantee`, from this block, and holds back the patient's
     * standing policy for `grantee`: its next request waits for the patient (or a delegate), whose
     * grant or approval lifts the hold.
     * Requirements: caller is `patient` or a live delegate; a consent exists (even if expired).
     * Emits {ConsentRevoked}.
     */
    function revoke(address patient, address grantee) external;

    /**
     * @notice Appoints `delegate` to grant, revoke, approve and deny for the caller until `validUntil`,
     * or changes the end of an appointment. A delegate cannot appoint delegates: appointments are
     * always made by the patient's own account (or its smart wallet).
     * Requirements: `delegate` is neither zero nor the caller; `validUntil` is in the future.
     * Emits {DelegateAppointed}.
     */
    function appointDelegate(address delegate, uint40 validUntil) external;

    /**
     * @notice Removes `delegate` of the caller at once.
     * Requirements: `delegate` is a delegate of the caller (live or lapsed).
     * Emits {DelegateRemoved}.
     */
    function removeDelegate(address delegate) external;

    /// @notice The consent `patient` gave `grantee`, as stored (zero when none).
    function consentOf(address patient, address grantee) external view returns (Consent memory);

    /// @notice When the appointment of `delegate` by `patient` ends, 0 when there is none.
    function delegateUntil(address patient, address delegate) external view returns (uint40);

    /**
     * @notice Whether `grantee` may read `patient`'s data of `dataClass` for `purpose` right now (in
     * the current block) under a consent: the consent covers both, has started and not ended, and the
     * grantee holds the accreditation the purpose needs (see {Purposes-REQUIRED_ROLES}), live.
     * Emergency windows are answered by {IEmergencyAccess-accessBasis}. Unknown codes answer false (no
     * grant can hold them); the check does not revert, so that contracts may call it on any input. At
     * most two cold storage reads: the consent, then the grantee's accreditation.
     */
    function hasAccess(address patient, address grantee, uint8 dataClass, uint8 purpose) external view returns (bool);
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title IEmergencyAccess
 * @notice Break the glass: an accredited provider opens a short, bounded window in which it may read
 * all of a patient's data for treatment, with a reason code. The opening is logged loudly, the window
 * ends by itself, the provider may close it early, and a patient can opt out in advance.
 */
interface IEmergencyAccess {
    /// @notice How a grantee may read: under a consent, inside an emergency window, or not at all.
    enum AccessBasis {
        None,
        Consent,
        Emergency
    }

    /// @notice Thrown when `patient` has opted out of emergency access.
    error EmergencyAccessOptedOut(address patient);
    /// @notice Thrown when an emergency window is empty or longer than the ledger's bound.
    error InvalidEmergencyDuration(uint40 duration, uint40 maxDuration);
    /// @notice Thrown when the reason code is not in {EmergencyReasons}.
    error UnknownEmergencyReason(uint8 reasonCode);
    /// @notice Thrown when an emergency opening names the zero address or the provider itself as patient.
    error InvalidEmergencyPatient(address patient);
    /// @notice Thrown when closing a window that is not open.
    error EmergencyAccessNotOpen(address patient, address provider);
    /// @notice Thrown when an opening would end at `until`, past `capUntil`: the first opening of the
    /// provider's current period on the patient plus {maxEmergencyDuration}.
    error EmergencyAccessCapExceeded(address patient, address provider, uint40 until, uint40 capUntil);

    /// @notice Emitted, loudly, when `provider` breaks the glass on `patient`'s data.
    event EmergencyAccessOpened(address indexed patient, address indexed provider, uint8 reasonCode, uint40 until);
    /// @notice Emitted when `provider` closes its window before it ends.
    event EmergencyAccessClosed(address indexed patient, address indexed provider);
    /// @notice Emitted when `patient` opts out of, or back into, emergency access.
    event EmergencyOptOutSet(address indexed patient, bool optedOut);

    /**
     * @notice Opens (or reopens) an emergency window on `patient`'s data for the caller, from now for
     * `duration` seconds. Reopening cannot chain windows past the maximum: the first opening of a
     * provider on a patient starts a period of twice {maxEmergencyDuration}, within which its windows
     * end at most {maxEmergencyDuration} after that first opening (closing a window keeps the period).
     * Requirements: caller is a live accredited provider; `patient` is neither zero nor the caller and
     * has not opted out; `reasonCode` is
     * known; `duration` is between 1 second and {maxEmergencyDuration}; the window ends within the cap
     * of the current period.
     * Emits {EmergencyAccessOpened}, at every opening.
     */
    function openEmergencyAccess(address patient, uint8 reasonCode, uint40 duration) external;

    /**
     * @notice Closes the caller's open window on `patient`. Its period stays: closing and reopening
     * does not reset the cap of {openEmergencyAccess}.
     * Requirements: a window of the caller on `patient` is open. Emits {EmergencyAccessClosed}.
     */
    function closeEmergencyAccess(address patient) external;

    /**
     * @notice Opts the caller out of emergency access (`optedOut` true), or back in. Opting out also
     * ends windows already open, for good: opting back in does not revive them. Only the patient's own
     * account may.
     * Emits {EmergencyOptOutSet}.
     */
    function setEmergencyOptOut(bool optedOut) external;

    /// @notice When `provider`'s open window on `patient` ends; 0 when none is open (never opened, ended,
    /// closed, ended by the patient's opt-out, or by the provider's suspension, even once reinstated).
    function emergencyAccessUntil(address patient, address provider) external view returns (uint40);

    /// @notice Whether `patient` has opted out of emergency access.
    function emergencyOptedOut(address patient) external view returns (bool);

    /**
     * @notice On what basis, if any, `grantee` may read `patient`'s `dataClass` for `purpose` now: a
     * consent ({IConsents-hasAccess}) first, else an emergency window, which covers every class for
     * treatment and emergency treatment while the provider is accredited and the patient not opted out.
     * Requirements: `dataClass` and `purpose` are known codes.
     */
    function accessBasis(
        address patient,
        address grantee,
        uint8 dataClass,
        uint8 purpose
    ) external view returns (AccessBasis);

    /// @notice The longest emergency window, in seconds, fixed at deployment.
    function maxEmergencyDuration() external view returns (uint40);
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title IAccreditation
 * @notice The administrator (a multisig in production) accredits providers, researchers and custodians,
 * optionally until a date, marks research organisations as non-profit, and can suspend any of them.
 * A suspended or expired party loses every power at once: each check reads the accreditation live.
 * Patients need no accreditation.
 */
interface IAccreditation {
    /**
     * @notice What the ledger knows of an accredited party. One storage slot.
     * @param roles Bitmask of {Roles}: 1 provider, 2 researcher, 4 custodian.
     * @param nonProfit Whether the organisation is not-for-profit (DUO NPU/NCU policies need it).
     * @param suspended Whether the administrator has suspended it.
     * @param accreditedUntil When the accreditation lapses (unix seconds), 0 for never.
     * @param index A number given once per party, from 1; records store it in place of the address.
     * @param suspensions How many times the party was suspended (wrapping at 2^16): an emergency window
     * records it when opened, so a suspension ends the provider's windows for good.
     */
    struct Party {
        uint8 roles;
        bool nonProfit;
        bool suspended;
        uint40 accreditedUntil;
        uint32 index;
        uint16 suspensions;
    }

    /// @notice Thrown when `party` holds none of `roles`.
    error PartyNotAccredited(address party, uint8 roles);
    /// @notice Thrown when `party` has been suspended.
    error AccreditationSuspended(address party);
    /// @notice Thrown when `party`'s accreditation lapsed at `expiredAt`.
    error AccreditationExpired(address party, uint40 expiredAt);
    /// @notice Thrown when an accreditation names no role, or a role that does not exist.
    error InvalidRoles(uint8 roles);
    /// @notice Thrown when an accreditation would end at or before the current block.
    error InvalidAccreditationExpiry(uint40 accreditedUntil);
    /// @notice Thrown on renounceOwnership: a ledger without administrator could never suspend anyone.
    error AdministrationCannotBeRenounced();
    /// @notice Thrown when the zero address is named as a party.
    error InvalidParty(address party);

    /// @notice Emitted when `party` is accredited, or its accreditation changes.
    event PartyAccredited(address indexed party, uint8 roles, bool nonProfit, uint40 accreditedUntil, uint32 index);
    /// @notice Emitted when `party` is suspended, with a numeric reason code chosen by the administrator.
    event PartySuspended(address indexed party, uint16 reasonCode);
    /// @notice Emitted when a suspension of `party` is lifted.
    event PartyReinstated(address indexed party);

    /**
     * @notice Accredits `party` for `roles`, or replaces its roles, flag and expiry. A suspension stays
     * as it is: lift it with {reinstate}.
     * Requirements: caller is the administrator; `party` is not zero; `roles` is a non-empty set of
     * known roles; `accreditedUntil` is 0 or in the future.
     * Emits {PartyAccredited}.
     */
    function accredit(address party, uint8 roles, bool nonProfit, uint40 accreditedUntil) external;

    /**
     * @notice Suspends `party`: from this block it can use none of its roles.
     * Requirements: caller is the administrator; `party` is accredited.
     * Emits {PartySuspended}.
     */
    function suspend(address party, uint16 reasonCode) external;

    /**
     * @notice Lifts the suspension of `party`.
     * Requirements: caller is the administrator; `party` is accredited.
     * Emits {PartyReinstated}.
     */
    function reinstate(address party) external;

    /// @notice The stored accreditation of `party` (all zero for a party never accredited).
    function partyOf(address party) external view returns (Party memory);

    /// @notice The party given `index` at its first accreditation, or zero.
    function partyAt(uint32 index) external view returns (address);

    /// @notice Whether `party` holds one of `roles`, is not suspended and has not lapsed, now.
    function isAccredited(address party, uint8 roles) external view returns (bool);

    /**
     * @notice Reverts unless `party` holds one of `roles`, live; returns its accreditation. For
     * contracts that act on the ledger's word (record registry, access log): they revert with the
     * ledger's own error.
     */
    function requireAccredited(address party, uint8 roles) external view returns (Party memory);
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @dev A party's accreditation as stored (docs/contracts.md, "Packed words"): bits 0-7 roles |
 * 8-15 nonProfit (0 or 1) | 16-23 suspended (0 or 1) | 24-63 accreditedUntil (0: no expiry) |
 * 64-95 index | 96-111 suspensions | 112-255 zero.
 * Solidity code writes and reads it as the struct {IAccreditation-Party}, whose storage layout the
 * compiler derives from the field order: exactly this one (test/contracts/layouts.test.ts pins both).
 * The assembly of the access check reads the raw word at these offsets; nothing else reads it raw, so
 * the library holds the offsets and masks only. Storing the word as this type and converting to the
 * struct by hand costs about 250 gas on every call that returns the struct (requestAccess, anchor,
 * logRelease, emergencyOpen), so the struct stays the storage type.
 */
type PartyWord is uint256;

using PartyWordLibrary for PartyWord global;

/// @dev Offsets and masks of {PartyWord}, the one definition of its layout.
library PartyWordLibrary {
    uint256 internal constant ROLES_OFFSET = 0;
    uint256 internal constant NON_PROFIT_OFFSET = 8;
    uint256 internal constant SUSPENDED_OFFSET = 16;
    uint256 internal constant ACCREDITED_UNTIL_OFFSET = 24;
    uint256 internal constant INDEX_OFFSET = 64;
    uint256 internal constant SUSPENSIONS_OFFSET = 96;
    uint256 internal constant MASK_8_BITS = 0xff;
    uint256 internal constant MASK_40_BITS = 0xffffffffff;
}

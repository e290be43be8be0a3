// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @dev A consent as stored: one word, written whole (docs/contracts.md, "Packed words").
 * bits 0-31 dataClasses | 32-63 purposes | 64-103 validFrom | 104-143 validUntil | 144-254 zero |
 * 255 the revocation mark, set only in a word that holds nothing else.
 */
type ConsentWord is uint256;

using ConsentWordLibrary for ConsentWord global;

/// @dev Offsets, masks and accessors of {ConsentWord}, the one definition of its layout.
library ConsentWordLibrary {
    uint256 internal constant DATA_CLASSES_OFFSET = 0;
    uint256 internal constant PURPOSES_OFFSET = 32;
    uint256 internal constant VALID_FROM_OFFSET = 64;
    uint256 internal constant VALID_UNTIL_OFFSET = 104;
    uint256 internal constant REVOKED_OFFSET = 255;
    uint256 internal constant MASK_32_BITS = 0xffffffff;
    uint256 internal constant MASK_40_BITS = 0xffffffffff;

    /// @dev The word a revocation leaves: no consent, and a hold on automatic approval of the grantee
    /// until the patient (or a delegate) grants or approves again.
    ConsentWord internal constant REVOKED = ConsentWord.wrap(uint256(1) << REVOKED_OFFSET);

    function pack(
        uint32 dataClasses_,
        uint32 purposes_,
        uint40 validFrom_,
        uint40 validUntil_
    ) internal pure returns (ConsentWord) {
        return
            ConsentWord.wrap(
                (uint256(dataClasses_) << DATA_CLASSES_OFFSET) |
                    (uint256(purposes_) << PURPOSES_OFFSET) |
                    (uint256(validFrom_) << VALID_FROM_OFFSET) |
                    (uint256(validUntil_) << VALID_UNTIL_OFFSET)
            );
    }

    function dataClasses(ConsentWord word) internal pure returns (uint32) {
        return uint32(ConsentWord.unwrap(word) >> DATA_CLASSES_OFFSET);
    }

    function purposes(ConsentWord word) internal pure returns (uint32) {
        return uint32(ConsentWord.unwrap(word) >> PURPOSES_OFFSET);
    }

    function validFrom(ConsentWord word) internal pure returns (uint40) {
        return uint40(ConsentWord.unwrap(word) >> VALID_FROM_OFFSET);
    }

    function validUntil(ConsentWord word) internal pure returns (uint40) {
        return uint40(ConsentWord.unwrap(word) >> VALID_UNTIL_OFFSET);
    }

    /// @dev Whether the word is exactly the revocation mark.
    function isRevoked(ConsentWord word) internal pure returns (bool) {
        return ConsentWord.unwrap(word) == ConsentWord.unwrap(REVOKED);
    }

    /// @dev Whether the word holds a consent (a stored consent always has classes and an end), ignoring
    /// the revocation mark.
    function holdsConsent(ConsentWord word) internal pure returns (bool) {
        return ConsentWord.unwrap(word) & ~ConsentWord.unwrap(REVOKED) != 0;
    }

    /**
     * @dev The consent's own checks, as one expression without branches (the hot path of every key
     * release): codes below `classCount` and `purposeCount` (others would read other fields of the
     * word), bit `dataClass` of the classes and bit `purpose` of the purposes both set, and
     * validFrom <= now < validUntil. Returns 1 or 0.
     */
    function covers(
        ConsentWord word,
        uint8 dataClass,
        uint8 purpose,
        uint256 classCount,
        uint256 purposeCount
    ) internal view returns (uint256 covered) {
        assembly ("memory-safe") {
            // Not masked to 8 bits: were the high bits ever dirty (Solidity does not promise them clean
            // inside assembly), the code comparisons below fail and the check answers false. It fails
            // closed, never open.
            let now_ := timestamp()
            covered := and(
                and(
                    and(lt(dataClass, classCount), lt(purpose, purposeCount)),
                    // Bit 0 only: other bits of the two shifted words must never combine into a pass.
                    and(
                        and(shr(add(DATA_CLASSES_OFFSET, dataClass), word), shr(add(PURPOSES_OFFSET, purpose), word)),
                        1
                    )
                ),
                and(
                    iszero(lt(now_, and(shr(VALID_FROM_OFFSET, word), MASK_40_BITS))),
                    lt(now_, and(shr(VALID_UNTIL_OFFSET, word), MASK_40_BITS))
                )
            )
        }
    }
}

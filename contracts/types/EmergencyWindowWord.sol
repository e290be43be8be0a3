// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @dev A provider's emergency window on a patient as stored (docs/contracts.md, "Packed words"):
 * bits 0-39 until (0 once closed) | 40-55 the patient's emergency epoch when the window was opened |
 * 56-71 the provider's suspension count then | 72-111 the first opening of the current period |
 * 112-255 zero.
 */
type EmergencyWindowWord is uint256;

using EmergencyWindowWordLibrary for EmergencyWindowWord global;

/// @dev Offsets, masks and accessors of {EmergencyWindowWord}, the one definition of its layout.
library EmergencyWindowWordLibrary {
    uint256 internal constant UNTIL_OFFSET = 0;
    uint256 internal constant EPOCH_OFFSET = 40;
    uint256 internal constant SUSPENSIONS_OFFSET = 56;
    uint256 internal constant PERIOD_START_OFFSET = 72;
    uint256 internal constant MASK_40_BITS = 0xffffffffff;

    function pack(
        uint40 until_,
        uint16 epoch_,
        uint16 suspensions_,
        uint40 periodStart_
    ) internal pure returns (EmergencyWindowWord) {
        return
            EmergencyWindowWord.wrap(
                (uint256(until_) << UNTIL_OFFSET) |
                    (uint256(epoch_) << EPOCH_OFFSET) |
                    (uint256(suspensions_) << SUSPENSIONS_OFFSET) |
                    (uint256(periodStart_) << PERIOD_START_OFFSET)
            );
    }

    function until(EmergencyWindowWord word) internal pure returns (uint40) {
        return uint40(EmergencyWindowWord.unwrap(word) >> UNTIL_OFFSET);
    }

    function epoch(EmergencyWindowWord word) internal pure returns (uint16) {
        return uint16(EmergencyWindowWord.unwrap(word) >> EPOCH_OFFSET);
    }

    function suspensions(EmergencyWindowWord word) internal pure returns (uint16) {
        return uint16(EmergencyWindowWord.unwrap(word) >> SUSPENSIONS_OFFSET);
    }

    function periodStart(EmergencyWindowWord word) internal pure returns (uint40) {
        return uint40(EmergencyWindowWord.unwrap(word) >> PERIOD_START_OFFSET);
    }

    /// @dev The same word with `until` set to `until_` (0 closes the window and keeps the period).
    function setUntil(EmergencyWindowWord word, uint40 until_) internal pure returns (EmergencyWindowWord) {
        return
            EmergencyWindowWord.wrap(
                (EmergencyWindowWord.unwrap(word) & ~(MASK_40_BITS << UNTIL_OFFSET)) | (uint256(until_) << UNTIL_OFFSET)
            );
    }
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessRequests} from "../interfaces/IAccessRequests.sol";

/**
 * @dev Everything a patient sets once, as stored (docs/contracts.md, "Packed words"), read by requests
 * and emergency openings: bits 0-7 permission | 8-71 modifiers | 72-103 dataClasses | 104-119 purposes |
 * 120-151 diseaseId | 152-191 maxDuration | 192-231 validUntil (bits 0-231: the policy, zero when none) |
 * 232-239 emergencyOptOut (0 or 1) | 240-255 emergencyEpoch. The epoch counts opt-outs: an emergency
 * window opened in an earlier epoch is over for good.
 */
type SettingsWord is uint256;

using SettingsWordLibrary for SettingsWord global;

/// @dev Offsets, masks and accessors of {SettingsWord}, the one definition of its layout.
library SettingsWordLibrary {
    uint256 internal constant PERMISSION_OFFSET = 0;
    uint256 internal constant MODIFIERS_OFFSET = 8;
    uint256 internal constant DATA_CLASSES_OFFSET = 72;
    uint256 internal constant PURPOSES_OFFSET = 104;
    uint256 internal constant DISEASE_ID_OFFSET = 120;
    uint256 internal constant MAX_DURATION_OFFSET = 152;
    uint256 internal constant VALID_UNTIL_OFFSET = 192;
    uint256 internal constant EMERGENCY_OPT_OUT_OFFSET = 232;
    uint256 internal constant EMERGENCY_EPOCH_OFFSET = 240;
    /// @dev The policy's bits, 0-231: what setting or clearing a policy replaces.
    uint256 internal constant POLICY_MASK = (uint256(1) << EMERGENCY_OPT_OUT_OFFSET) - 1;

    /// @dev The same word with its policy replaced by `policy` (the opt-out and its epoch kept).
    function withPolicy(
        SettingsWord word,
        IAccessRequests.DataUsePolicy calldata policy
    ) internal pure returns (SettingsWord) {
        return
            SettingsWord.wrap(
                (SettingsWord.unwrap(word) & ~POLICY_MASK) |
                    (uint256(policy.permission) << PERMISSION_OFFSET) |
                    (uint256(policy.modifiers) << MODIFIERS_OFFSET) |
                    (uint256(policy.dataClasses) << DATA_CLASSES_OFFSET) |
                    (uint256(policy.purposes) << PURPOSES_OFFSET) |
                    (uint256(policy.diseaseId) << DISEASE_ID_OFFSET) |
                    (uint256(policy.maxDuration) << MAX_DURATION_OFFSET) |
                    (uint256(policy.validUntil) << VALID_UNTIL_OFFSET)
            );
    }

    /// @dev The same word without a policy (the opt-out and its epoch kept).
    function withoutPolicy(SettingsWord word) internal pure returns (SettingsWord) {
        return SettingsWord.wrap(SettingsWord.unwrap(word) & ~POLICY_MASK);
    }

    /// @dev The same word with the opt-out set to `optedOut` and the epoch to `epoch_` (the policy kept).
    function withEmergency(SettingsWord word, bool optedOut, uint16 epoch_) internal pure returns (SettingsWord) {
        uint256 flag = optedOut ? 1 : 0;
        return
            SettingsWord.wrap(
                (SettingsWord.unwrap(word) & POLICY_MASK) |
                    (flag << EMERGENCY_OPT_OUT_OFFSET) |
                    (uint256(epoch_) << EMERGENCY_EPOCH_OFFSET)
            );
    }

    function permission(SettingsWord word) internal pure returns (uint8) {
        return uint8(SettingsWord.unwrap(word) >> PERMISSION_OFFSET);
    }

    function modifiers(SettingsWord word) internal pure returns (uint64) {
        return uint64(SettingsWord.unwrap(word) >> MODIFIERS_OFFSET);
    }

    function dataClasses(SettingsWord word) internal pure returns (uint32) {
        return uint32(SettingsWord.unwrap(word) >> DATA_CLASSES_OFFSET);
    }

    function purposes(SettingsWord word) internal pure returns (uint16) {
        return uint16(SettingsWord.unwrap(word) >> PURPOSES_OFFSET);
    }

    function diseaseId(SettingsWord word) internal pure returns (uint32) {
        return uint32(SettingsWord.unwrap(word) >> DISEASE_ID_OFFSET);
    }

    function maxDuration(SettingsWord word) internal pure returns (uint40) {
        return uint40(SettingsWord.unwrap(word) >> MAX_DURATION_OFFSET);
    }

    function validUntil(SettingsWord word) internal pure returns (uint40) {
        return uint40(SettingsWord.unwrap(word) >> VALID_UNTIL_OFFSET);
    }

    function emergencyOptOut(SettingsWord word) internal pure returns (bool) {
        return uint8(SettingsWord.unwrap(word) >> EMERGENCY_OPT_OUT_OFFSET) != 0;
    }

    function emergencyEpoch(SettingsWord word) internal pure returns (uint16) {
        return uint16(SettingsWord.unwrap(word) >> EMERGENCY_EPOCH_OFFSET);
    }
}

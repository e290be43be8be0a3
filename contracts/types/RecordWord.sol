// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRecordRegistry} from "../interfaces/IRecordRegistry.sol";

/**
 * @dev A record anchor as stored (docs/contracts.md, "Packed words"), written whole in one SSTORE:
 * bits 0-159 patient | 160-191 providerIndex | 192-223 version | 224-231 dataClass | 232-239 superseded (0 or 1) |
 * 240-255 zero. Zero when nothing is anchored (a stored record has version 1 or more).
 */
type RecordWord is uint256;

using RecordWordLibrary for RecordWord global;

/// @dev Offsets and accessors of {RecordWord}, the one definition of its layout.
library RecordWordLibrary {
    uint256 internal constant PATIENT_OFFSET = 0;
    uint256 internal constant PROVIDER_INDEX_OFFSET = 160;
    uint256 internal constant VERSION_OFFSET = 192;
    uint256 internal constant DATA_CLASS_OFFSET = 224;
    uint256 internal constant SUPERSEDED_OFFSET = 232;

    function pack(IRecordRegistry.Record memory record) internal pure returns (RecordWord) {
        return
            RecordWord.wrap(
                (uint256(uint160(record.patient)) << PATIENT_OFFSET) |
                    (uint256(record.providerIndex) << PROVIDER_INDEX_OFFSET) |
                    (uint256(record.version) << VERSION_OFFSET) |
                    (uint256(record.dataClass) << DATA_CLASS_OFFSET) |
                    (record.superseded ? uint256(1) << SUPERSEDED_OFFSET : 0)
            );
    }

    function unpack(RecordWord word) internal pure returns (IRecordRegistry.Record memory) {
        return
            IRecordRegistry.Record(
                patient(word),
                providerIndex(word),
                version(word),
                dataClass(word),
                superseded(word)
            );
    }

    function patient(RecordWord word) internal pure returns (address) {
        return address(uint160(RecordWord.unwrap(word) >> PATIENT_OFFSET));
    }

    function providerIndex(RecordWord word) internal pure returns (uint32) {
        return uint32(RecordWord.unwrap(word) >> PROVIDER_INDEX_OFFSET);
    }

    function version(RecordWord word) internal pure returns (uint32) {
        return uint32(RecordWord.unwrap(word) >> VERSION_OFFSET);
    }

    function dataClass(RecordWord word) internal pure returns (uint8) {
        return uint8(RecordWord.unwrap(word) >> DATA_CLASS_OFFSET);
    }

    function superseded(RecordWord word) internal pure returns (bool) {
        return (RecordWord.unwrap(word) >> SUPERSEDED_OFFSET) & 1 == 1;
    }

    function isEmpty(RecordWord word) internal pure returns (bool) {
        return RecordWord.unwrap(word) == 0;
    }
}

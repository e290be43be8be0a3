// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title EmergencyReasons
 * @notice Why a provider broke the glass. Numeric codes only: the clinical story stays off-chain.
 */
library EmergencyReasons {
    uint8 internal constant PATIENT_UNRESPONSIVE = 1;
    uint8 internal constant LIFE_THREATENING_CONDITION = 2;
    uint8 internal constant URGENT_CARE_CONSENT_UNAVAILABLE = 3;
    uint8 internal constant PUBLIC_HEALTH_EMERGENCY = 4;

    uint8 internal constant MAX = 4;

    function isKnown(uint8 reason) internal pure returns (bool) {
        return reason != 0 && reason <= MAX;
    }
}

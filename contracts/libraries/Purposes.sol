// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Roles} from "./Roles.sol";

/**
 * @title Purposes
 * @notice Purposes of use, from HL7 v3 ActReason / PurposeOfUse
 * (system http://terminology.hl7.org/CodeSystem/v3-ActReason). A set of purposes is a bitmask.
 * Each purpose names the accreditation its grantee must hold when access is checked, so a consent
 * never outlives the grantee's standing.
 */
library Purposes {
    uint8 internal constant TREAT = 0; // treatment
    uint8 internal constant ETREAT = 1; // emergency treatment
    uint8 internal constant CAREMGT = 2; // care management
    uint8 internal constant HRESCH = 3; // healthcare research
    uint8 internal constant BIORCH = 4; // biomedical research
    uint8 internal constant CLINTRCH = 5; // clinical trial research
    uint8 internal constant PUBHLTH = 6; // public health
    uint8 internal constant HPAYMT = 7; // healthcare payment
    uint8 internal constant HOPERAT = 8; // healthcare operations
    uint8 internal constant PATRQT = 9; // patient requested (a relative, a personal app)

    uint8 internal constant COUNT = 10;
    uint32 internal constant ALL = uint32((1 << COUNT) - 1);

    uint32 internal constant TREATMENT = uint32((1 << TREAT) | (1 << ETREAT) | (1 << CAREMGT));
    uint32 internal constant RESEARCH = uint32((1 << HRESCH) | (1 << BIORCH) | (1 << CLINTRCH));
    /// @dev Purposes an emergency (break-the-glass) window covers.
    uint32 internal constant EMERGENCY = uint32((1 << TREAT) | (1 << ETREAT));

    function isKnown(uint8 purpose) internal pure returns (bool) {
        return purpose < COUNT;
    }

    function isValidSet(uint32 purposes) internal pure returns (bool) {
        return purposes != 0 && purposes & ~ALL == 0;
    }

    /**
     * @dev The roles of which the grantee must hold at least one, live, for each purpose: byte `purpose`
     * of this table, 0 when none is needed. Treatment needs a provider, research a researcher, other
     * institutional purposes any accreditation; a patient-requested disclosure (to a relative, say)
     * needs none. A table, so the access check spends one shift instead of branches: TREAT, ETREAT,
     * CAREMGT -> provider; HRESCH, BIORCH, CLINTRCH -> researcher; PUBHLTH, HPAYMT, HOPERAT -> any
     * role; PATRQT -> none; unknown codes -> none (never granted).
     */
    uint256 internal constant REQUIRED_ROLES =
        (uint256(Roles.PROVIDER) << (TREAT * 8)) |
            (uint256(Roles.PROVIDER) << (ETREAT * 8)) |
            (uint256(Roles.PROVIDER) << (CAREMGT * 8)) |
            (uint256(Roles.RESEARCHER) << (HRESCH * 8)) |
            (uint256(Roles.RESEARCHER) << (BIORCH * 8)) |
            (uint256(Roles.RESEARCHER) << (CLINTRCH * 8)) |
            (uint256(Roles.ALL) << (PUBHLTH * 8)) |
            (uint256(Roles.ALL) << (HPAYMT * 8)) |
            (uint256(Roles.ALL) << (HOPERAT * 8));
}

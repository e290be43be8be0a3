// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title DataUse
 * @notice Codes of the GA4GH Data Use Ontology (DUO) used by standing policies and access requests.
 * A code is its DUO number (DUO:0000042 is 42); a set of modifiers is a uint64 bitmask, bit n for
 * DUO:00000n, since every id used is below 64.
 */
library DataUse {
    // Permissions: what kind of research a policy allows, and what kind a request declares.
    uint8 internal constant NRES = 4; // no restriction
    uint8 internal constant HMB = 6; // health / medical / biomedical research (under GRU)
    uint8 internal constant DS = 7; // disease-specific research (under HMB), with a MONDO disease id
    uint8 internal constant POA = 11; // population origins or ancestry research only
    uint8 internal constant GRU = 42; // general research use

    // Modifiers a policy may carry.
    uint8 internal constant PUB = 19; // publication required
    uint8 internal constant COL = 20; // collaboration with the data provider required
    uint8 internal constant IRB = 21; // ethics approval required
    uint8 internal constant MOR = 24; // publication moratorium
    uint8 internal constant TS = 25; // time limit on use
    uint8 internal constant RTN = 29; // return derived data to the resource
    uint8 internal constant NPOA = 44; // population origins or ancestry research prohibited
    uint8 internal constant NPU = 45; // not-for-profit use only
    uint8 internal constant NCU = 46; // non-commercial use only

    /// @dev Modifiers that oblige the researcher: a request must accept each one its policy carries.
    uint64 internal constant OBLIGATIONS = uint64((1 << PUB) | (1 << COL) | (1 << IRB) | (1 << MOR) | (1 << RTN));

    /// @dev Every modifier the matcher understands; a policy may carry no other.
    uint64 internal constant SUPPORTED_MODIFIERS =
        OBLIGATIONS | uint64((1 << TS) | (1 << NPOA) | (1 << NPU) | (1 << NCU));

    function isPolicyPermission(uint8 code) internal pure returns (bool) {
        return code == NRES || code == GRU || code == HMB || code == DS || code == POA;
    }

    function isResearchCategory(uint8 code) internal pure returns (bool) {
        return code == GRU || code == HMB || code == DS || code == POA;
    }

    /**
     * @dev Whether research of kind `category` (on `diseaseId` for DS) falls under a policy's
     * `permission` (on `policyDiseaseId` for DS). The ontology's hierarchy is GRU ⊇ HMB ⊇ DS, with POA
     * under GRU but outside HMB. Disease matching is exact: the chain knows no MONDO descendants.
     */
    function permits(
        uint8 permission,
        uint32 policyDiseaseId,
        uint8 category,
        uint32 diseaseId
    ) internal pure returns (bool) {
        if (permission == NRES || permission == GRU) return true;
        if (permission == HMB) return category == HMB || category == DS;
        if (permission == DS) return category == DS && diseaseId == policyDiseaseId;
        return category == POA; // permission == POA
    }
}

// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title DataClasses
 * @notice The code list of clinical data classes a record belongs to and a consent covers. Only these
 * numeric codes reach the chain, never a name or free text. Each maps to HL7 FHIR R4 resource types and
 * categories (see README, "Data classes"). A set of classes is a bitmask: bit `c` stands for class `c`.
 */
library DataClasses {
    uint8 internal constant LAB_RESULT = 0; // Observation(category=laboratory), DiagnosticReport(LAB)
    uint8 internal constant VITAL_SIGNS = 1; // Observation(category=vital-signs)
    uint8 internal constant IMAGING = 2; // ImagingStudy, DiagnosticReport(RAD)
    uint8 internal constant MEDICATION = 3; // MedicationRequest, MedicationStatement
    uint8 internal constant CONDITION = 4; // Condition
    uint8 internal constant PROCEDURE = 5; // Procedure
    uint8 internal constant IMMUNIZATION = 6; // Immunization
    uint8 internal constant ALLERGY = 7; // AllergyIntolerance
    uint8 internal constant CLINICAL_NOTE = 8; // DocumentReference(category=clinical-note)
    uint8 internal constant ENCOUNTER = 9; // Encounter
    uint8 internal constant CARE_PLAN = 10; // CarePlan
    uint8 internal constant GENOMIC = 11; // MolecularSequence, Observation(category=genomics)
    uint8 internal constant MENTAL_HEALTH = 12; // sensitive: Condition/Observation labelled PSY
    uint8 internal constant SEXUAL_REPRODUCTIVE_HEALTH = 13; // sensitive: labelled SEX
    uint8 internal constant SUBSTANCE_USE = 14; // sensitive: labelled SUD (42 CFR Part 2)

    uint8 internal constant COUNT = 15;
    uint32 internal constant ALL = uint32((1 << COUNT) - 1);

    /// @dev Classes a standing policy never releases by itself: the patient always decides these by hand.
    uint32 internal constant SENSITIVE = uint32(
        (1 << MENTAL_HEALTH) | (1 << SEXUAL_REPRODUCTIVE_HEALTH) | (1 << SUBSTANCE_USE)
    );

    function isKnown(uint8 dataClass) internal pure returns (bool) {
        return dataClass < COUNT;
    }

    /// @dev A non-empty set made only of known classes.
    function isValidSet(uint32 dataClasses) internal pure returns (bool) {
        return dataClasses != 0 && dataClasses & ~ALL == 0;
    }
}

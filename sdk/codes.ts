/**
 * The code tables of the ledger, mirrored from contracts/libraries/*.sol. The contracts hold the rules;
 * these names only let people and programs say "LAB_RESULT" instead of 0. test/contracts/codes.test.ts
 * checks them against the contracts' behaviour.
 */

import { UnknownCodeError } from "./errors";

/** Clinical data classes (contracts/libraries/DataClasses.sol), with the FHIR R4 resources they cover. */
export const DataClass = {
  LAB_RESULT: 0,
  VITAL_SIGNS: 1,
  IMAGING: 2,
  MEDICATION: 3,
  CONDITION: 4,
  PROCEDURE: 5,
  IMMUNIZATION: 6,
  ALLERGY: 7,
  CLINICAL_NOTE: 8,
  ENCOUNTER: 9,
  CARE_PLAN: 10,
  GENOMIC: 11,
  MENTAL_HEALTH: 12,
  SEXUAL_REPRODUCTIVE_HEALTH: 13,
  SUBSTANCE_USE: 14,
} as const;
export type DataClassName = keyof typeof DataClass;
export type DataClassCode = (typeof DataClass)[DataClassName];

/**
 * FHIR R4 resource types (and category where one is used) that each data class covers, for people to read;
 * sdk/fhir/terminology.ts (DATA_CLASS_SLICES) holds the same with full codings, and a test keeps them equal.
 */
export const DataClassFhir: Readonly<Record<DataClassName, readonly string[]>> = {
  LAB_RESULT: ["Observation?category=laboratory", "DiagnosticReport?category=LAB", "Specimen"],
  VITAL_SIGNS: ["Observation?category=vital-signs"],
  IMAGING: ["ImagingStudy", "Media", "DiagnosticReport?category=RAD"],
  MEDICATION: ["MedicationRequest", "MedicationStatement", "MedicationAdministration", "MedicationDispense"],
  CONDITION: ["Condition"],
  PROCEDURE: ["Procedure"],
  IMMUNIZATION: ["Immunization"],
  ALLERGY: ["AllergyIntolerance"],
  CLINICAL_NOTE: ["Composition", "DocumentReference"],
  ENCOUNTER: ["Encounter"],
  CARE_PLAN: ["CarePlan", "Goal"],
  GENOMIC: ["MolecularSequence", "DiagnosticReport?category=GE"],
  MENTAL_HEALTH: ["Condition (security label PSY)", "Observation (security label PSY)"],
  SEXUAL_REPRODUCTIVE_HEALTH: ["Condition (security label SEX)", "Observation (security label SEX)"],
  SUBSTANCE_USE: ["Condition (security label SUD)", "Observation (security label SUD)"],
};

/** Classes a standing policy never releases by itself. */
export const SENSITIVE_DATA_CLASSES: readonly DataClassName[] = [
  "MENTAL_HEALTH",
  "SEXUAL_REPRODUCTIVE_HEALTH",
  "SUBSTANCE_USE",
];

/** HL7 v3 ActReason PurposeOfUse codes (contracts/libraries/Purposes.sol). */
export const Purpose = {
  TREAT: 0,
  ETREAT: 1,
  CAREMGT: 2,
  HRESCH: 3,
  BIORCH: 4,
  CLINTRCH: 5,
  PUBHLTH: 6,
  HPAYMT: 7,
  HOPERAT: 8,
  PATRQT: 9,
} as const;
export type PurposeName = keyof typeof Purpose;
export type PurposeCode = (typeof Purpose)[PurposeName];
export const PURPOSE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
export const PurposeDisplay: Readonly<Record<PurposeName, string>> = {
  TREAT: "treatment",
  ETREAT: "emergency treatment",
  CAREMGT: "care management",
  HRESCH: "healthcare research",
  BIORCH: "biomedical research",
  CLINTRCH: "clinical trial research",
  PUBHLTH: "public health",
  HPAYMT: "healthcare payment",
  HOPERAT: "healthcare operations",
  PATRQT: "patient requested",
};
export const RESEARCH_PURPOSES: readonly PurposeName[] = ["HRESCH", "BIORCH", "CLINTRCH"];

/** Accreditation roles (contracts/libraries/Roles.sol), a bitmask. */
export const Role = { PROVIDER: 1, RESEARCHER: 2, CUSTODIAN: 4 } as const;
export type RoleName = keyof typeof Role;

/** GA4GH Data Use Ontology codes (contracts/libraries/DataUse.sol): the number of DUO:00000nn. */
export const Duo = {
  NRES: 4,
  HMB: 6,
  DS: 7,
  POA: 11,
  GRU: 42,
  PUB: 19,
  COL: 20,
  IRB: 21,
  MOR: 24,
  TS: 25,
  RTN: 29,
  NPOA: 44,
  NPU: 45,
  NCU: 46,
} as const;
export type DuoName = keyof typeof Duo;
export const DUO_PERMISSIONS: readonly DuoName[] = ["NRES", "GRU", "HMB", "DS", "POA"];
export const DUO_RESEARCH_CATEGORIES: readonly DuoName[] = ["GRU", "HMB", "DS", "POA"];
export const DUO_OBLIGATIONS: readonly DuoName[] = ["PUB", "COL", "IRB", "MOR", "RTN"];
export const DUO_MODIFIERS: readonly DuoName[] = [...DUO_OBLIGATIONS, "TS", "NPOA", "NPU", "NCU"];

/** Why a provider broke the glass (contracts/libraries/EmergencyReasons.sol). */
export const EmergencyReason = {
  PATIENT_UNRESPONSIVE: 1,
  LIFE_THREATENING_CONDITION: 2,
  URGENT_CARE_CONSENT_UNAVAILABLE: 3,
  PUBLIC_HEALTH_EMERGENCY: 4,
} as const;
export type EmergencyReasonName = keyof typeof EmergencyReason;

/** IEmergencyAccess.AccessBasis. */
export const AccessBasis = { None: 0, Consent: 1, Emergency: 2 } as const;
export type AccessBasisName = keyof typeof AccessBasis;

/** IAccessRequests.RequestStatus: the ledger stores only pending requests. */
export const RequestStatus = { None: 0, Pending: 1, Expired: 2 } as const;
/** A request's state as the SDK reports it: the stored status, or the outcome its events record. */
export type RequestStatusName = keyof typeof RequestStatus | "Approved" | "Denied" | "Cancelled";

/** A bitmask of the given codes. */
export function maskOf(codes: Iterable<number>): number {
  let mask = 0;
  for (const code of codes) mask |= 1 << code;
  return mask >>> 0;
}

/** The codes set in a bitmask, ascending. */
export function codesOf(mask: number | bigint): number[] {
  const value = BigInt(mask);
  const codes: number[] = [];
  for (let bit = 0; bit < 64; bit++) if ((value >> BigInt(bit)) & 1n) codes.push(bit);
  return codes;
}

/** A uint64 DUO modifier bitmask of the given codes. */
export function duoMaskOf(names: Iterable<DuoName>): bigint {
  let mask = 0n;
  for (const name of names) mask |= 1n << BigInt(Duo[name]);
  return mask;
}

/**
 * Code → name and name → code for every table. `nameOf` answers undefined for a code the table does not
 * hold (a newer ledger's), so a reader can show the number; `codeOf` throws UnknownCodeError, so a typo
 * in what someone asks for never becomes a wrong code.
 */
export const CODE_TABLES = {
  "data class": DataClass,
  purpose: Purpose,
  role: Role,
  DUO: Duo,
  "emergency reason": EmergencyReason,
  "access basis": AccessBasis,
  "request status": RequestStatus,
} as const;
export type CodeTableName = keyof typeof CODE_TABLES;

/** The name of `code` in `table`, or undefined when the table has no such code. */
export function nameOf<T extends Readonly<Record<string, number>>>(
  table: T,
  code: number | bigint,
): (keyof T & string) | undefined {
  const wanted = Number(code);
  return (Object.keys(table) as (keyof T & string)[]).find((name) => table[name] === wanted);
}

/** The name of `code` in `table`, or the code itself as text (for display). */
export function nameOrCode<T extends Readonly<Record<string, number>>>(
  table: T,
  code: number | bigint,
): (keyof T & string) | string {
  return nameOf(table, code) ?? String(code);
}

/** The code of `name` in `table` (case-insensitive, "-" or " " for "_"); UnknownCodeError when absent. */
export function codeOf<T extends Readonly<Record<string, number>>>(
  table: T,
  name: string,
  tableName = tableNameOf(table),
): T[keyof T] {
  const key = name
    .trim()
    .toUpperCase()
    .replace(/[\s-]+/g, "_");
  const found = Object.keys(table).find((entry) => entry.toUpperCase() === key);
  if (found === undefined) throw new UnknownCodeError(tableName, name, Object.keys(table));
  return table[found as keyof T];
}

function tableNameOf(table: object): string {
  return (Object.keys(CODE_TABLES) as CodeTableName[]).find((name) => CODE_TABLES[name] === table) ?? "code";
}

export const dataClassName = (code: number | bigint): DataClassName | undefined => nameOf(DataClass, code);
export const purposeName = (code: number | bigint): PurposeName | undefined => nameOf(Purpose, code);
export const duoName = (code: number | bigint): DuoName | undefined => nameOf(Duo, code);
export const emergencyReasonName = (code: number | bigint): EmergencyReasonName | undefined =>
  nameOf(EmergencyReason, code);
export const accessBasisName = (code: number | bigint): AccessBasisName | undefined => nameOf(AccessBasis, code);
export const requestStatusName = (code: number | bigint): keyof typeof RequestStatus | undefined =>
  nameOf(RequestStatus, code);

/** The names of the codes set in a bitmask, ascending; a code the table lacks is given as its number. */
export function namesOf<T extends Readonly<Record<string, number>>>(
  table: T,
  mask: number | bigint,
): ((keyof T & string) | string)[] {
  return codesOf(mask).map((code) => nameOrCode(table, code));
}

/** Role names of an accreditation's role bitmask (Role is itself a bitmask, not bit positions). */
export function roleNames(roles: number): RoleName[] {
  return (Object.keys(Role) as RoleName[]).filter((name) => (roles & Role[name]) !== 0);
}

/** A role bitmask of the given names; UnknownCodeError for a name not in Role. */
export function roleMask(names: Iterable<string>): number {
  let mask = 0;
  for (const name of names) mask |= codeOf(Role, name);
  return mask;
}

/**
 * The FHIR R4 terms the SDK speaks: which resources each data class covers, the official codes and
 * displays it uses, and the CodeSystems it publishes for its own codes. Export (./export.ts) and import
 * (./import.ts) both read these tables, so the two directions cannot drift apart.
 */
import { keccak256Utf8 } from "../core/hex";

import type { AuditAction } from "../clients/audit";
import type { DataClassName, PurposeName } from "../codes";

/** A FHIR Coding. */
export interface Coding {
  system: string;
  code: string;
  display?: string;
}

export const SYSTEM = {
  caip10: "https://chainagnostic.org/CAIPs/caip-10",
  consentScope: "http://terminology.hl7.org/CodeSystem/consentscope",
  consentCategory: "http://terminology.hl7.org/CodeSystem/consentcategorycodes",
  consentAction: "http://terminology.hl7.org/CodeSystem/consentaction",
  loinc: "http://loinc.org",
  actCode: "http://terminology.hl7.org/CodeSystem/v3-ActCode",
  actReason: "http://terminology.hl7.org/CodeSystem/v3-ActReason",
  participationType: "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
  resourceTypes: "http://hl7.org/fhir/resource-types",
  observationCategory: "http://terminology.hl7.org/CodeSystem/observation-category",
  diagnosticServiceSection: "http://terminology.hl7.org/CodeSystem/v2-0074",
  lifecycle: "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle",
  auditEntityType: "http://terminology.hl7.org/CodeSystem/audit-entity-type",
  objectRole: "http://terminology.hl7.org/CodeSystem/object-role",
  securitySource: "http://terminology.hl7.org/CodeSystem/security-source-type",
  /** Our own: published as CodeSystem resources by `ledgerCodeSystems()`. */
  auditAction: "https://consent-ledger.org/fhir/CodeSystem/audit-action",
  dataClass: "https://consent-ledger.org/fhir/CodeSystem/data-class",
  /** Identifier systems (https, not URNs): records, requests and consents on a ledger. */
  recordId: "https://consent-ledger.org/fhir/sid/record-id",
  requestId: "https://consent-ledger.org/fhir/sid/request-id",
  consentId: "https://consent-ledger.org/fhir/sid/consent",
  /** GA4GH Data Use Ontology terms as policy URIs. */
  obo: "http://purl.obolibrary.org/obo/",
  maxDurationExtension: "https://consent-ledger.org/fhir/StructureDefinition/max-duration",
} as const;

/** v3-ActReason PurposeOfUse codes with their official R4 displays. */
export const PURPOSE_CODING: Readonly<Record<PurposeName | "BTG", Coding>> = {
  TREAT: { system: SYSTEM.actReason, code: "TREAT", display: "treatment" },
  ETREAT: { system: SYSTEM.actReason, code: "ETREAT", display: "Emergency Treatment" },
  CAREMGT: { system: SYSTEM.actReason, code: "CAREMGT", display: "care management" },
  HRESCH: { system: SYSTEM.actReason, code: "HRESCH", display: "healthcare research" },
  BIORCH: { system: SYSTEM.actReason, code: "BIORCH", display: "biomedical research" },
  CLINTRCH: { system: SYSTEM.actReason, code: "CLINTRCH", display: "clinical trial research" },
  PUBHLTH: { system: SYSTEM.actReason, code: "PUBHLTH", display: "public health" },
  HPAYMT: { system: SYSTEM.actReason, code: "HPAYMT", display: "healthcare payment" },
  HOPERAT: { system: SYSTEM.actReason, code: "HOPERAT", display: "healthcare operations" },
  PATRQT: { system: SYSTEM.actReason, code: "PATRQT", display: "patient requested" },
  BTG: { system: SYSTEM.actReason, code: "BTG", display: "break the glass" },
};

/** Security labels (v3-ActCode information sensitivity) of the sensitive classes. */
export const SENSITIVITY_LABEL = {
  MENTAL_HEALTH: { system: SYSTEM.actCode, code: "PSY", display: "psychiatry disorder information sensitivity" },
  SEXUAL_REPRODUCTIVE_HEALTH: {
    system: SYSTEM.actCode,
    code: "SEX",
    display: "sexuality and reproductive health information sensitivity",
  },
  SUBSTANCE_USE: { system: SYSTEM.actCode, code: "SUD", display: "substance use disorder information sensitivity" },
} as const satisfies Partial<Record<DataClassName, Coding>>;

export const POLICY_RULE = {
  optIn: { system: SYSTEM.actCode, code: "OPTIN", display: "opt-in" },
  optOut: { system: SYSTEM.actCode, code: "OPTOUT", display: "op-out" },
} as const;

/**
 * One part of what a data class covers: resources of these types, narrowed (when given) to those carrying
 * one of `code` in a code element (a category) or the security label `securityLabel`. A Consent says it as
 * one nested provision per slice.
 */
export interface DataClassSlice {
  class: readonly string[];
  code?: Coding;
  securityLabel?: Coding;
}

const lab = (code: string, display: string): Coding => ({ system: SYSTEM.observationCategory, code, display });
const section = (code: string, display: string): Coding => ({ system: SYSTEM.diagnosticServiceSection, code, display });

/** What each data class covers in FHIR R4 terms. */
export const DATA_CLASS_SLICES: Readonly<Record<DataClassName, readonly DataClassSlice[]>> = {
  LAB_RESULT: [
    { class: ["Observation"], code: lab("laboratory", "Laboratory") },
    { class: ["DiagnosticReport"], code: section("LAB", "Laboratory") },
    { class: ["Specimen"] },
  ],
  VITAL_SIGNS: [{ class: ["Observation"], code: lab("vital-signs", "Vital Signs") }],
  IMAGING: [{ class: ["ImagingStudy", "Media"] }, { class: ["DiagnosticReport"], code: section("RAD", "Radiology") }],
  MEDICATION: [
    { class: ["MedicationAdministration", "MedicationDispense", "MedicationRequest", "MedicationStatement"] },
  ],
  CONDITION: [{ class: ["Condition"] }],
  PROCEDURE: [{ class: ["Procedure"] }],
  IMMUNIZATION: [{ class: ["Immunization"] }],
  ALLERGY: [{ class: ["AllergyIntolerance"] }],
  CLINICAL_NOTE: [{ class: ["Composition", "DocumentReference"] }],
  ENCOUNTER: [{ class: ["Encounter"] }],
  CARE_PLAN: [{ class: ["CarePlan", "Goal"] }],
  GENOMIC: [{ class: ["MolecularSequence"] }, { class: ["DiagnosticReport"], code: section("GE", "Genetics") }],
  MENTAL_HEALTH: [{ class: ["Condition", "Observation"], securityLabel: SENSITIVITY_LABEL.MENTAL_HEALTH }],
  SEXUAL_REPRODUCTIVE_HEALTH: [
    { class: ["Condition", "Observation"], securityLabel: SENSITIVITY_LABEL.SEXUAL_REPRODUCTIVE_HEALTH },
  ],
  SUBSTANCE_USE: [{ class: ["Condition", "Observation"], securityLabel: SENSITIVITY_LABEL.SUBSTANCE_USE }],
};

/** A slice's identity, for matching a provision of an imported Consent against the table. */
export function sliceKey(slice: { class: readonly string[]; code?: Coding; securityLabel?: Coding }): string {
  const coding = (c?: Coding) => (c ? `${c.system}|${c.code}` : "");
  return `${[...slice.class].sort().join(",")}#${coding(slice.code)}#${coding(slice.securityLabel)}`;
}

/** How each audit action is typed: an ISO 21089 lifecycle event R4 defines, and the FHIR REST-ish action. */
export const AUDIT_TYPE: Readonly<
  Record<AuditAction, { type: Coding; action: "C" | "R" | "U" | "D" | "E"; display: string }>
> = {
  "record-anchored": { type: lifecycle("originate"), action: "C", display: "Record anchored on the ledger" },
  "record-amended": { type: lifecycle("amend"), action: "U", display: "Record amended" },
  "consent-granted": { type: lifecycle("originate"), action: "C", display: "Consent granted" },
  "consent-revoked": { type: lifecycle("deprecate"), action: "D", display: "Consent revoked" },
  "request-opened": { type: lifecycle("originate"), action: "C", display: "Access requested" },
  "request-approved": { type: lifecycle("attest"), action: "U", display: "Access request approved" },
  "request-denied": { type: lifecycle("deprecate"), action: "U", display: "Access request denied" },
  "request-cancelled": { type: lifecycle("deprecate"), action: "U", display: "Access request cancelled" },
  "key-released": { type: lifecycle("disclose"), action: "R", display: "Data key released to a reader" },
  "release-batch-unverifiable": {
    type: lifecycle("disclose"),
    action: "R",
    display: "Release batch logged by a custodian that could not be verified",
  },
  "emergency-opened": { type: lifecycle("access"), action: "E", display: "Emergency access opened (break the glass)" },
  "emergency-closed": { type: lifecycle("deprecate"), action: "U", display: "Emergency access closed" },
  "emergency-opt-out-set": { type: lifecycle("amend"), action: "U", display: "Emergency opt-out changed" },
  "delegate-appointed": { type: lifecycle("originate"), action: "C", display: "Delegate appointed" },
  "delegate-removed": { type: lifecycle("deprecate"), action: "D", display: "Delegate removed" },
  "policy-set": { type: lifecycle("originate"), action: "C", display: "Standing data-use policy set" },
  "policy-cleared": { type: lifecycle("deprecate"), action: "D", display: "Standing data-use policy cleared" },
};

function lifecycle(code: "originate" | "amend" | "deprecate" | "attest" | "disclose" | "access"): Coding {
  const display = {
    originate: "Originate/Retain Record Lifecycle Event",
    amend: "Amend (Update) Record Lifecycle Event",
    deprecate: "Deprecate Record Lifecycle Event",
    attest: "Attest Record Lifecycle Event",
    disclose: "Disclose Record Lifecycle Event",
    access: "Access/View Record Lifecycle Event",
  }[code];
  return { system: SYSTEM.lifecycle, code, display };
}

/** The CodeSystem resources for the SDK's own code systems (to publish at their URLs). */
export function ledgerCodeSystems(dataClassDescriptions?: Partial<Record<DataClassName, string>>) {
  const base = {
    resourceType: "CodeSystem" as const,
    status: "active",
    publisher: "Consent Ledger",
    caseSensitive: true,
    content: "complete",
  };
  return [
    {
      ...base,
      id: "audit-action",
      url: SYSTEM.auditAction,
      name: "ConsentLedgerAuditAction",
      title: "Consent Ledger audit actions",
      description: "The kinds of change a patient's audit trail on a Consent Ledger records (AuditEvent.subtype).",
      concept: Object.entries(AUDIT_TYPE).map(([code, entry]) => ({ code, display: entry.display })),
    },
    {
      ...base,
      id: "data-class",
      url: SYSTEM.dataClass,
      name: "ConsentLedgerDataClass",
      title: "Consent Ledger data classes",
      description:
        "The classes of clinical data a consent on a Consent Ledger covers; each maps to FHIR resource types narrowed by category or security label (Consent.provision).",
      concept: (Object.keys(DATA_CLASS_SLICES) as DataClassName[]).map((code) => ({
        code,
        display: dataClassDescriptions?.[code] ?? code.toLowerCase().replace(/_/g, " "),
      })),
    },
  ];
}

/** A FHIR id (and urn:uuid fullUrl) derived from `parts`: stable across exports, distinct per event. */
export function stableUuid(...parts: readonly (string | number | undefined)[]): string {
  const hex = keccak256Utf8(parts.map((part) => String(part ?? "")).join("\u0000")).slice(2, 34);
  // Version 8 (RFC 9562, custom), variant 10: a well-formed UUID for urn:uuid.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((parseInt(hex[16], 16) & 3) | 8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

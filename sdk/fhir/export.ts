/**
 * HL7 FHIR R4 views of what the chain holds: a consent as a `Consent` resource, the audit trail as
 * `AuditEvent` resources. Accounts are identified by CAIP-10 ids (eip155:<chainId>:<address>).
 */
import {
  DataClass,
  DataClassFhir,
  type DataClassName,
  Purpose,
  PURPOSE_SYSTEM,
  PurposeDisplay,
  type PurposeName,
  RESEARCH_PURPOSES,
  codesOf,
} from "../codes";
import type { AuditEntry } from "../clients/audit";
import type { Consent } from "../clients/types";
import type { FhirResource } from "./resource";

const CAIP10_SYSTEM = "https://chainagnostic.org/CAIPs/caip-10";
const DATA_CLASS_SYSTEM = "https://consent-ledger.org/fhir/CodeSystem/data-class";

function accountReference(chainId: bigint | number, address: string) {
  return { identifier: { system: CAIP10_SYSTEM, value: `eip155:${chainId}:${address}` } };
}

function purposeName(code: number): PurposeName {
  return (Object.keys(Purpose) as PurposeName[]).find((name) => Purpose[name] === code) as PurposeName;
}

function dataClassName(code: number): DataClassName {
  return (Object.keys(DataClass) as DataClassName[]).find((name) => DataClass[name] === code) as DataClassName;
}

function purposeCodings(mask: number) {
  return codesOf(mask)
    .map(purposeName)
    .filter(Boolean)
    .map((name) => ({ system: PURPOSE_SYSTEM, code: name, display: PurposeDisplay[name] }));
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/** A consent as a FHIR R4 Consent resource. `now` decides whether it is active. */
export function consentToFhir(consent: Consent, options: { chainId: bigint | number; now: number; recordedAt?: number }): FhirResource {
  const purposes = codesOf(consent.purposes).map(purposeName);
  const research = purposes.length > 0 && purposes.every((name) => RESEARCH_PURPOSES.includes(name));
  const treatment = purposes.every((name) => ["TREAT", "ETREAT", "CAREMGT"].includes(name));
  const active = consent.validFrom <= options.now && options.now < consent.validUntil;
  const resourceTypes = new Set<string>();
  for (const code of codesOf(consent.dataClasses)) {
    for (const entry of DataClassFhir[dataClassName(code)] ?? []) resourceTypes.add(entry.split(/[?\s]/)[0]);
  }
  return {
    resourceType: "Consent",
    status: active ? "active" : "inactive",
    scope: {
      coding: [
        {
          system: "http://terminology.hl7.org/CodeSystem/consentscope",
          code: research ? "research" : treatment ? "treatment" : "patient-privacy",
        },
      ],
    },
    category: [{ coding: [{ system: "http://loinc.org", code: "59284-0", display: "Patient Consent" }] }],
    patient: accountReference(options.chainId, consent.patient),
    dateTime: iso(options.recordedAt ?? consent.validFrom),
    provision: {
      type: "permit",
      period: { start: iso(consent.validFrom), end: iso(consent.validUntil) },
      actor: [
        {
          role: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", code: "IRCP", display: "information recipient" }] },
          reference: accountReference(options.chainId, consent.grantee),
        },
      ],
      action: [{ coding: [{ system: "http://terminology.hl7.org/CodeSystem/consentaction", code: "access" }] }],
      purpose: purposeCodings(consent.purposes),
      class: [...resourceTypes].map((code) => ({ system: "http://hl7.org/fhir/resource-types", code })),
      code: codesOf(consent.dataClasses).map((code) => ({
        coding: [{ system: DATA_CLASS_SYSTEM, code: dataClassName(code) }],
      })),
    },
  };
}

const AUDIT_TYPE: Record<AuditEntry["action"], { code: string; display: string; action: "C" | "R" | "U" | "D" | "E" }> = {
  "record-anchored": { code: "originate", display: "Originate/Retain Record Lifecycle Event", action: "C" },
  "record-amended": { code: "amend", display: "Amend (Update) Record Lifecycle Event", action: "U" },
  "consent-granted": { code: "originate", display: "Consent granted", action: "C" },
  "consent-revoked": { code: "deactivate", display: "Consent revoked", action: "D" },
  "request-opened": { code: "originate", display: "Access requested", action: "C" },
  "request-approved": { code: "verify", display: "Access request approved", action: "U" },
  "request-denied": { code: "deactivate", display: "Access request denied", action: "U" },
  "request-cancelled": { code: "deactivate", display: "Access request cancelled", action: "U" },
  "key-released": { code: "disclose", display: "Disclose Record Lifecycle Event", action: "R" },
  "emergency-opened": { code: "access", display: "Emergency access opened (break the glass)", action: "E" },
  "emergency-closed": { code: "deactivate", display: "Emergency access closed", action: "U" },
  "emergency-opt-out-set": { code: "amend", display: "Emergency opt-out changed", action: "U" },
  "delegate-appointed": { code: "originate", display: "Delegate appointed", action: "C" },
  "delegate-removed": { code: "deactivate", display: "Delegate removed", action: "D" },
  "policy-set": { code: "originate", display: "Standing data-use policy set", action: "C" },
  "policy-cleared": { code: "deactivate", display: "Standing data-use policy cleared", action: "D" },
};

/** One audit entry as a FHIR R4 AuditEvent. */
export function auditEntryToFhir(entry: AuditEntry, options: { chainId: bigint | number; ledger: string }): FhirResource {
  const type = AUDIT_TYPE[entry.action];
  const entities: object[] = [
    { what: accountReference(options.chainId, entry.patient), type: { system: "http://terminology.hl7.org/CodeSystem/audit-entity-type", code: "1", display: "Person" }, role: { system: "http://terminology.hl7.org/CodeSystem/object-role", code: "1", display: "Patient" } },
  ];
  if (entry.recordId) {
    entities.push({ what: { identifier: { system: "urn:consent-ledger:record", value: entry.recordId } }, type: { system: "http://terminology.hl7.org/CodeSystem/audit-entity-type", code: "2", display: "System Object" } });
  }
  if (entry.requestId) {
    entities.push({ what: { identifier: { system: "urn:consent-ledger:request", value: entry.requestId } }, type: { system: "http://terminology.hl7.org/CodeSystem/audit-entity-type", code: "2", display: "System Object" } });
  }
  const agents: object[] = [{ who: accountReference(options.chainId, entry.actor), requestor: true }];
  if (entry.counterparty && entry.counterparty !== entry.actor) {
    agents.push({ who: accountReference(options.chainId, entry.counterparty), requestor: false });
  }
  return {
    resourceType: "AuditEvent",
    id: `${entry.transactionHash.slice(2, 18)}-${entry.logIndex}`,
    type: { system: "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle", code: type.code, display: type.display },
    subtype: [{ system: "https://consent-ledger.org/fhir/CodeSystem/audit-action", code: entry.action }],
    action: type.action,
    recorded: iso(entry.time),
    outcome: "0",
    purposeOfEvent: entry.purposes ? purposeCodings(entry.purposes).map((coding) => ({ coding: [coding] })) : undefined,
    agent: agents,
    source: {
      observer: { identifier: { system: CAIP10_SYSTEM, value: `eip155:${options.chainId}:${options.ledger}` }, display: "Consent Ledger" },
      type: [{ system: "http://terminology.hl7.org/CodeSystem/security-source-type", code: "4", display: "Application Server" }],
    },
    entity: entities,
  };
}

/** A patient's trail as a FHIR Bundle (type collection) of AuditEvents. */
export function auditTrailToFhirBundle(entries: readonly AuditEntry[], options: { chainId: bigint | number; ledger: string }): FhirResource {
  return {
    resourceType: "Bundle",
    type: "collection",
    entry: entries.map((entry) => ({ resource: auditEntryToFhir(entry, options) })),
  };
}

/**
 * HL7 FHIR R4 views of what the chain holds, following IHE Privacy Consent on FHIR (PCF) where it applies:
 * a consent, the standing research policy and the emergency opt-out as `Consent` resources (scope
 * patient-privacy: they are consents to share data), the audit trail as `AuditEvent` resources.
 * Accounts are identified by CAIP-10 ids (eip155:<chainId>:<address>).
 *
 * Validity: a consent is valid for validFrom <= t < validUntil; `provision.period.end` carries validUntil.
 * A consent granted "from now" (validFrom 0) has no period start, so that import gives back the same state.
 */

import { DataClass, type DataClassName, Purpose, type PurposeName, codesOf } from "../codes";
import { bytesToBase64, utf8Encode } from "../crypto/bytes";
import type { AuditEntry } from "../clients/audit";
import type { Consent, DataUsePolicy, SignedConsent } from "../clients/types";
import type { FhirResource } from "./resource";
import {
  AUDIT_TYPE,
  type Coding,
  DATA_CLASS_SLICES,
  POLICY_RULE,
  PURPOSE_CODING,
  SENSITIVITY_LABEL,
  SYSTEM,
  stableUuid,
} from "./terminology";

/** Where the resources come from: the chain and the ledger contract. */
export interface LedgerOrigin {
  chainId: bigint | number;
  ledger: string;
}

function caip10(chainId: bigint | number, address: string): string {
  return `eip155:${chainId}:${address}`;
}

function accountReference(chainId: bigint | number, address: string) {
  return { identifier: { system: SYSTEM.caip10, value: caip10(chainId, address) } };
}

const nameOf = <T extends Record<string, number>>(table: T, code: number) =>
  (Object.keys(table) as (keyof T & string)[]).find((name) => table[name] === code);

function purposeCodings(mask: number): Coding[] {
  return codesOf(mask)
    .map((code) => nameOf(Purpose, code))
    .filter((name): name is PurposeName => name !== undefined)
    .map((name) => ({ ...PURPOSE_CODING[name] }));
}

function dataClassNames(mask: number): DataClassName[] {
  return codesOf(mask)
    .map((code) => nameOf(DataClass, code))
    .filter((name): name is DataClassName => name !== undefined);
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/** The identifier of the consent `patient` gives `grantee` on a ledger (one per pair: a new grant replaces it). */
export function consentIdentifier(origin: LedgerOrigin, patient: string, grantee: string) {
  return { system: SYSTEM.consentId, value: `${caip10(origin.chainId, origin.ledger)}/consent/${patient}/${grantee}` };
}

function policyIdentifier(origin: LedgerOrigin, patient: string, kind: "policy" | "emergency-opt-out") {
  return { system: SYSTEM.consentId, value: `${caip10(origin.chainId, origin.ledger)}/${kind}/${patient}` };
}

/**
 * The nested provisions that say which data: one permit per slice of each class, then one deny of the
 * sensitive labels the classes do not include (ordinary classes never cover PSY, SEX or SUD data).
 */
function dataProvisions(mask: number) {
  const names = dataClassNames(mask);
  const provisions: object[] = [];
  for (const name of names) {
    for (const slice of DATA_CLASS_SLICES[name]) {
      provisions.push({
        type: "permit",
        class: slice.class.map((code) => ({ system: SYSTEM.resourceTypes, code })),
        ...(slice.code ? { code: [{ coding: [{ ...slice.code }] }] } : {}),
        ...(slice.securityLabel ? { securityLabel: [{ ...slice.securityLabel }] } : {}),
      });
    }
  }
  const excluded = (Object.keys(SENSITIVITY_LABEL) as (keyof typeof SENSITIVITY_LABEL)[]).filter(
    (name) => !names.includes(name),
  );
  if (excluded.length > 0) {
    provisions.push({ type: "deny", securityLabel: excluded.map((name) => ({ ...SENSITIVITY_LABEL[name] })) });
  }
  return provisions;
}

const PATIENT_CONSENT_CATEGORY = { coding: [{ system: SYSTEM.loinc, code: "59284-0", display: "Patient Consent" }] };
const PRIVACY_SCOPE = {
  coding: [{ system: SYSTEM.consentScope, code: "patient-privacy", display: "Privacy Consent" }],
};

export interface ConsentExportOptions extends LedgerOrigin {
  /** Unix seconds: whether the consent is active is decided at this time. */
  now: number;
  /** Unix seconds of the block that recorded it (Consent.dateTime). */
  recordedAt?: number;
  /** Who granted it, when not the patient (a delegate). */
  performer?: string;
  /** The patient's signature, when the grant was signed off-chain (Consent.sourceAttachment). */
  signedConsent?: SignedConsent;
}

/** A consent as a FHIR R4 Consent resource. */
export function consentToFhir(consent: Consent, options: ConsentExportOptions): FhirResource {
  const identifier = consentIdentifier(options, consent.patient, consent.grantee);
  const recordedAt = options.recordedAt ?? (consent.validFrom > 0 ? consent.validFrom : undefined);
  return {
    resourceType: "Consent",
    id: stableUuid(identifier.value, consent.dataClasses, consent.purposes, consent.validFrom, consent.validUntil),
    identifier: [identifier],
    status: options.now < consent.validUntil ? "active" : "inactive",
    scope: PRIVACY_SCOPE,
    category: [PATIENT_CONSENT_CATEGORY],
    patient: accountReference(options.chainId, consent.patient),
    ...(recordedAt !== undefined ? { dateTime: iso(recordedAt) } : {}),
    performer: [accountReference(options.chainId, options.performer ?? consent.patient)],
    ...(options.signedConsent
      ? {
          sourceAttachment: {
            contentType: "application/json",
            title: "The patient's EIP-712 signature of this grant (a Consent Ledger signed consent)",
            data: bytesToBase64(utf8Encode(JSON.stringify(options.signedConsent))),
          },
        }
      : {}),
    policyRule: { coding: [{ ...POLICY_RULE.optIn }] },
    provision: {
      type: "permit",
      period: { ...(consent.validFrom > 0 ? { start: iso(consent.validFrom) } : {}), end: iso(consent.validUntil) },
      actor: [
        {
          role: { coding: [{ system: SYSTEM.participationType, code: "IRCP", display: "information recipient" }] },
          reference: accountReference(options.chainId, consent.grantee),
        },
      ],
      action: [{ coding: [{ system: SYSTEM.consentAction, code: "access", display: "Access" }] }],
      purpose: purposeCodings(consent.purposes),
      provision: dataProvisions(consent.dataClasses),
    },
  };
}

function oboUri(prefix: "DUO" | "MONDO", id: number): string {
  return `${SYSTEM.obo}${prefix}_${String(id).padStart(7, "0")}`;
}

/**
 * A patient's standing research policy (broad consent) as a FHIR R4 Consent: no actor (any accredited
 * researcher whose request the policy approves), the GA4GH DUO permission and modifiers (and the MONDO
 * disease) as `policy` URIs, the longest access it grants as an extension.
 */
export function policyToFhir(
  patient: string,
  policy: DataUsePolicy,
  options: LedgerOrigin & { now: number; recordedAt?: number },
): FhirResource {
  const identifier = policyIdentifier(options, patient, "policy");
  const duo = [policy.permission, ...codesOf(policy.modifiers)];
  return {
    resourceType: "Consent",
    id: stableUuid(
      identifier.value,
      policy.permission,
      String(policy.modifiers),
      policy.dataClasses,
      policy.purposes,
      policy.diseaseId,
      policy.maxDuration,
      policy.validUntil,
    ),
    ...(policy.maxDuration > 0
      ? {
          extension: [
            {
              url: SYSTEM.maxDurationExtension,
              valueDuration: { value: policy.maxDuration, unit: "s", system: "http://unitsofmeasure.org", code: "s" },
            },
          ],
        }
      : {}),
    identifier: [identifier],
    status: policy.validUntil === 0 || options.now < policy.validUntil ? "active" : "inactive",
    scope: PRIVACY_SCOPE,
    category: [
      PATIENT_CONSENT_CATEGORY,
      { coding: [{ system: SYSTEM.consentCategory, code: "research", display: "Research Information Access" }] },
    ],
    patient: accountReference(options.chainId, patient),
    ...(options.recordedAt !== undefined ? { dateTime: iso(options.recordedAt) } : {}),
    performer: [accountReference(options.chainId, patient)],
    policy: [
      ...duo.map((code) => ({ uri: oboUri("DUO", code) })),
      ...(policy.diseaseId > 0 ? [{ uri: oboUri("MONDO", policy.diseaseId) }] : []),
    ],
    policyRule: { coding: [{ ...POLICY_RULE.optIn }] },
    provision: {
      type: "permit",
      ...(policy.validUntil > 0 ? { period: { end: iso(policy.validUntil) } } : {}),
      action: [{ coding: [{ system: SYSTEM.consentAction, code: "access", display: "Access" }] }],
      purpose: purposeCodings(policy.purposes),
      provision: dataProvisions(policy.dataClasses),
    },
  };
}

/** A patient's emergency opt-out (no break-the-glass access) as a FHIR R4 Consent denying it. */
export function emergencyOptOutToFhir(patient: string, options: LedgerOrigin & { recordedAt?: number }): FhirResource {
  const identifier = policyIdentifier(options, patient, "emergency-opt-out");
  return {
    resourceType: "Consent",
    id: stableUuid(identifier.value),
    identifier: [identifier],
    status: "active",
    scope: PRIVACY_SCOPE,
    category: [PATIENT_CONSENT_CATEGORY],
    patient: accountReference(options.chainId, patient),
    ...(options.recordedAt !== undefined ? { dateTime: iso(options.recordedAt) } : {}),
    performer: [accountReference(options.chainId, patient)],
    policyRule: { coding: [{ ...POLICY_RULE.optOut }] },
    provision: {
      type: "deny",
      action: [{ coding: [{ system: SYSTEM.consentAction, code: "access", display: "Access" }] }],
      purpose: [{ ...PURPOSE_CODING.ETREAT }, { ...PURPOSE_CODING.BTG }],
    },
  };
}

const entityType = {
  person: { system: SYSTEM.auditEntityType, code: "1", display: "Person" },
  systemObject: { system: SYSTEM.auditEntityType, code: "2", display: "System Object" },
  consent: { system: SYSTEM.resourceTypes, code: "Consent", display: "Consent" },
};

/** One audit entry as a FHIR R4 AuditEvent. */
export function auditEntryToFhir(entry: AuditEntry, options: LedgerOrigin): FhirResource {
  const type = AUDIT_TYPE[entry.action];
  const entities: object[] = [
    {
      what: accountReference(options.chainId, entry.patient),
      type: entityType.person,
      role: { system: SYSTEM.objectRole, code: "1", display: "Patient" },
    },
  ];
  if (entry.recordId) {
    entities.push({
      what: { identifier: { system: SYSTEM.recordId, value: entry.recordId } },
      type: entityType.systemObject,
    });
  }
  if (entry.requestId) {
    entities.push({
      what: { identifier: { system: SYSTEM.requestId, value: entry.requestId } },
      type: entityType.systemObject,
    });
  }
  const consentParty =
    entry.action.startsWith("consent-") || entry.action === "request-approved" || entry.action === "key-released"
      ? entry.action === "key-released" && entry.basis !== "consent"
        ? undefined
        : entry.counterparty
      : undefined;
  if (consentParty) {
    entities.push({
      what: { identifier: consentIdentifier(options, entry.patient, consentParty) },
      type: entityType.consent,
    });
  } else if (entry.action.startsWith("policy-")) {
    entities.push({
      what: { identifier: policyIdentifier(options, entry.patient, "policy") },
      type: entityType.consent,
    });
  } else if (entry.action === "emergency-opt-out-set") {
    entities.push({
      what: { identifier: policyIdentifier(options, entry.patient, "emergency-opt-out") },
      type: entityType.consent,
    });
  }
  const agents: object[] = [
    {
      type: {
        coding: [
          entry.action === "key-released" || entry.action === "release-batch-unverifiable"
            ? { system: SYSTEM.participationType, code: "CST", display: "custodian" }
            : { system: SYSTEM.participationType, code: "AUT", display: "author (originator)" },
        ],
      },
      who: accountReference(options.chainId, entry.actor),
      requestor: true,
    },
  ];
  if (entry.counterparty && entry.counterparty !== entry.actor) {
    agents.push({
      type: { coding: [{ system: SYSTEM.participationType, code: "IRCP", display: "information recipient" }] },
      who: accountReference(options.chainId, entry.counterparty),
      requestor: false,
    });
  }
  const purposes = entry.purposes ? purposeCodings(entry.purposes) : [];
  if (entry.action === "emergency-opened" || entry.basis === "emergency") purposes.push({ ...PURPOSE_CODING.BTG });
  const id = stableUuid(
    "audit",
    String(options.chainId),
    options.ledger,
    entry.transactionHash,
    entry.logIndex,
    entry.action,
    entry.recordId,
    entry.requestId,
    entry.counterparty,
    entry.purposes,
    entry.time,
  );
  return {
    resourceType: "AuditEvent",
    id,
    type: { ...type.type },
    subtype: [{ system: SYSTEM.auditAction, code: entry.action, display: type.display }],
    action: type.action,
    recorded: iso(entry.time),
    outcome: "0",
    ...(purposes.length > 0 ? { purposeOfEvent: purposes.map((coding) => ({ coding: [coding] })) } : {}),
    agent: agents,
    source: {
      observer: {
        identifier: { system: SYSTEM.caip10, value: caip10(options.chainId, options.ledger) },
        display: "Consent Ledger",
      },
      type: [{ system: SYSTEM.securitySource, code: "4", display: "Application Server" }],
    },
    entity: entities,
  };
}

/** Resources as a FHIR Bundle of type collection, each entry with its urn:uuid fullUrl. */
export function fhirCollection(resources: readonly FhirResource[]): FhirResource {
  return {
    resourceType: "Bundle",
    type: "collection",
    entry: resources.map((resource) => ({ fullUrl: `urn:uuid:${String(resource.id)}`, resource })),
  };
}

/** A patient's trail as a FHIR Bundle (type collection) of AuditEvents. */
export function auditTrailToFhirBundle(entries: readonly AuditEntry[], options: LedgerOrigin): FhirResource {
  return fhirCollection(entries.map((entry) => auditEntryToFhir(entry, options)));
}

/**
 * FHIR R4 Consent import: what a hospital's consent system or an IHE PCF Consent Recorder records, read
 * as the ledger action it amounts to (a grant, the standing research policy, or the emergency opt-out),
 * with a plain summary for the patient to read before signing. A Consent the ledger cannot express
 * exactly is refused with the element and the reason (UnsupportedFhirConsentError): the ledger never
 * signs something broader or narrower than what the patient agreed to.
 */
import { getAddress, isAddress } from "../core/hex";

import {
  DataClass,
  type DataClassName,
  Duo,
  type DuoName,
  Purpose,
  type PurposeName,
  RESEARCH_PURPOSES,
  DUO_PERMISSIONS,
  DUO_MODIFIERS,
  maskOf,
  duoMaskOf,
} from "../codes";
import type { DataUsePolicy } from "../clients/types";
import { InvalidArgumentError } from "../errors";
import { type Coding, DATA_CLASS_SLICES, PURPOSE_CODING, SENSITIVITY_LABEL, SYSTEM, sliceKey } from "./terminology";

/** A FHIR Consent the ledger cannot express: `path` names the element (FHIRPath-like), `reason` says why. */
export class UnsupportedFhirConsentError extends InvalidArgumentError {
  override name = "UnsupportedFhirConsentError";
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super("FHIR Consent", `${path}: ${reason}`, {
      hint: 'The ledger grants whole data classes to one account for a set of purposes and a period (docs/fhir.md, "Import"). Record this consent in the hospital\'s own system, or ask the patient for one the ledger can hold.',
    });
  }
}

/** What an imported Consent becomes on the ledger. */
export type LedgerConsentAction =
  | {
      kind: "grant";
      grant: { grantee: string; dataClasses: number; purposes: number; validFrom: number; validUntil: number };
    }
  | { kind: "policy"; policy: DataUsePolicy }
  | { kind: "emergency-opt-out"; optedOut: true };

export interface ImportedConsent {
  action: LedgerConsentAction;
  /** What signing it does, in plain words, one sentence per line. */
  summary: string[];
}

export interface FhirConsentImportOptions {
  chainId: bigint | number;
  /** The patient who will sign: a CAIP-10 patient identifier in the Consent must name this account. */
  patient?: string;
  /** Maps a provision actor's reference that is not a CAIP-10 identifier to a ledger account (or undefined). */
  resolveActor?: (reference: unknown) => string | undefined;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  value !== null && typeof value === "object" && !Array.isArray(value);
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

const ALLOWED_ACTIONS = new Set(["access", "use"]);
const TOP_PERMIT_FIELDS = new Set([
  "type",
  "period",
  "actor",
  "action",
  "purpose",
  "provision",
  "class",
  "code",
  "securityLabel",
  "id",
  "extension",
]);

function refuse(path: string, reason: string): never {
  throw new UnsupportedFhirConsentError(path, reason);
}

function seconds(value: unknown, path: string): number {
  if (typeof value !== "string" || Number.isNaN(Date.parse(value)))
    refuse(path, `is ${JSON.stringify(value)}, not a FHIR dateTime`);
  const ms = Date.parse(value);
  if (ms % 1000 !== 0) refuse(path, "has fractions of a second; the ledger keeps whole seconds");
  if (!/T/.test(value)) refuse(path, "is a date without a time; the ledger needs the exact second (with a time zone)");
  return ms / 1000;
}

function codings(concept: unknown, path: string): Coding[] {
  if (!isObject(concept)) refuse(path, "is not a CodeableConcept");
  return list(concept.coding).map((c, i) => {
    if (!isObject(c) || typeof c.system !== "string" || typeof c.code !== "string")
      refuse(`${path}.coding[${i}]`, "needs a system and a code");
    return { system: c.system, code: c.code };
  });
}

function purposesOf(value: unknown, path: string): PurposeName[] {
  const names: PurposeName[] = [];
  list(value).forEach((c, i) => {
    if (!isObject(c) || c.system !== SYSTEM.actReason || typeof c.code !== "string") {
      refuse(`${path}[${i}]`, `is not an HL7 v3 ActReason purpose of use (${SYSTEM.actReason})`);
    }
    if (c.code === "BTG") return;
    if (!(c.code in Purpose))
      refuse(`${path}[${i}]`, `purpose ${c.code} is not one the ledger knows (${Object.keys(Purpose).join(", ")})`);
    names.push(c.code as PurposeName);
  });
  return names;
}

function accountOf(reference: unknown, path: string, options: FhirConsentImportOptions): string {
  const identifier = isObject(reference) && isObject(reference.identifier) ? reference.identifier : undefined;
  if (identifier && identifier.system === SYSTEM.caip10 && typeof identifier.value === "string") {
    const match = /^eip155:(\d+):(0x[0-9a-fA-F]{40})$/.exec(identifier.value);
    if (!match || !isAddress(match[2]))
      refuse(`${path}.identifier.value`, `${identifier.value} is not a CAIP-10 account id eip155:<chainId>:<address>`);
    if (BigInt(match[1]) !== BigInt(options.chainId))
      refuse(`${path}.identifier.value`, `names an account on chain ${match[1]}, not on chain ${options.chainId}`);
    return getAddress(match[2].toLowerCase());
  }
  const resolved = options.resolveActor?.(reference);
  if (resolved) return getAddress(resolved);
  return refuse(
    path,
    "names no ledger account: use an identifier with system https://chainagnostic.org/CAIPs/caip-10 (eip155:<chainId>:<address>), or register the mapping",
  );
}

/** The data classes that nested provisions (or the top one's class/code/securityLabel) name exactly. */
function dataClassesOf(provision: Json, path: string): DataClassName[] {
  const bySlice = new Map<string, { name: DataClassName; index: number }>();
  for (const name of Object.keys(DATA_CLASS_SLICES) as DataClassName[]) {
    DATA_CLASS_SLICES[name].forEach((slice, index) => bySlice.set(sliceKey(slice), { name, index }));
  }
  const nested = list(provision.provision);
  const permits: { slice: Json; path: string }[] = [];
  const denies: { deny: Json; path: string }[] = [];
  if (provision.class !== undefined || provision.code !== undefined || provision.securityLabel !== undefined) {
    if (nested.length > 0)
      refuse(`${path}.class`, "data is named both here and in nested provisions; name it in one place");
    permits.push({ slice: provision, path });
  }
  nested.forEach((item, i) => {
    const itemPath = `${path}.provision[${i}]`;
    if (!isObject(item)) refuse(itemPath, "is not a provision");
    for (const key of Object.keys(item)) {
      if (key === "actor")
        refuse(
          `${itemPath}.actor`,
          "nested rules for other actors: the ledger holds one set of rules per account (several actors with different rules)",
        );
      if (key === "data")
        refuse(
          `${itemPath}.data`,
          "names individual records: the ledger grants whole classes of data (per-record data)",
        );
      if (!["type", "class", "code", "securityLabel", "id", "extension"].includes(key))
        refuse(`${itemPath}.${key}`, `a nested ${key} is a rule the ledger cannot hold`);
    }
    if (item.type === "deny") denies.push({ deny: item, path: itemPath });
    else if (item.type === "permit" || item.type === undefined) permits.push({ slice: item, path: itemPath });
    else refuse(`${itemPath}.type`, `is ${JSON.stringify(item.type)}, not permit or deny`);
  });
  if (permits.length === 0)
    refuse(
      `${path}.provision`,
      "names no data: the ledger grants classes of data (nested permit provisions by resource type and category or security label)",
    );

  const covered = new Map<DataClassName, { slices: Set<number>; path: string }>();
  for (const { slice, path: slicePath } of permits) {
    const classes = list(slice.class).map((c, i) => {
      if (!isObject(c) || c.system !== SYSTEM.resourceTypes || typeof c.code !== "string")
        refuse(`${slicePath}.class[${i}]`, `is not a FHIR resource type (${SYSTEM.resourceTypes})`);
      return c.code;
    });
    const codes = list(slice.code).flatMap((c, i) => codings(c, `${slicePath}.code[${i}]`));
    const labels = list(slice.securityLabel).map((c, i) => {
      if (!isObject(c) || typeof c.system !== "string" || typeof c.code !== "string")
        refuse(`${slicePath}.securityLabel[${i}]`, "needs a system and a code");
      return { system: c.system, code: c.code };
    });
    if (codes.length > 1 || labels.length > 1)
      refuse(`${slicePath}`, "several codes or labels in one provision: give each its own provision");
    const match = bySlice.get(sliceKey({ class: classes, code: codes[0], securityLabel: labels[0] }));
    if (!match) {
      refuse(
        slicePath,
        `resources ${classes.join(", ") || "(any type)"}${codes[0] ? ` with ${codes[0].system}#${codes[0].code}` : ""}${labels[0] ? ` labelled ${labels[0].code}` : ""} are not one of the ledger's data classes (docs/fhir.md lists what each class covers)`,
      );
    }
    const seen = covered.get(match.name) ?? { slices: new Set<number>(), path: slicePath };
    seen.slices.add(match.index);
    covered.set(match.name, seen);
  }
  const names = [...covered.keys()];
  for (const name of names) {
    const { slices, path: slicePath } = covered.get(name)!;
    if (slices.size !== DATA_CLASS_SLICES[name].length) {
      refuse(
        slicePath,
        `covers only part of ${name} (${DATA_CLASS_SLICES[name].length} provisions make it up): the ledger grants a class whole`,
      );
    }
  }
  const excludable = new Set<string>(
    (Object.keys(SENSITIVITY_LABEL) as (keyof typeof SENSITIVITY_LABEL)[])
      .filter((name) => !names.includes(name))
      .map((name) => SENSITIVITY_LABEL[name].code),
  );
  for (const { deny, path: denyPath } of denies) {
    if (deny.class !== undefined || deny.code !== undefined)
      refuse(denyPath, "denies part of the data granted (a deny exception): the ledger grants whole classes");
    list(deny.securityLabel).forEach((label, i) => {
      if (!isObject(label) || label.system !== SYSTEM.actCode || !excludable.has(String(label.code))) {
        refuse(
          `${denyPath}.securityLabel[${i}]`,
          "a deny exception other than excluding a sensitive class not granted (PSY, SEX, SUD): the ledger cannot hold it",
        );
      }
    });
    if (list(deny.securityLabel).length === 0) refuse(denyPath, "a deny exception that names no data");
  }
  return names;
}

function checkCommon(resource: Json, options: FhirConsentImportOptions) {
  if (resource.resourceType !== "Consent")
    refuse("resourceType", `is ${JSON.stringify(resource.resourceType)}, not Consent`);
  if (resource.status !== "active")
    refuse("Consent.status", `is ${JSON.stringify(resource.status)}: only an active consent is recorded on the ledger`);
  const scope = isObject(resource.scope) ? codings(resource.scope, "Consent.scope") : [];
  if (scope.length > 0 && !scope.some((c) => c.system === SYSTEM.consentScope && c.code === "patient-privacy")) {
    refuse(
      "Consent.scope",
      `is ${scope.map((c) => c.code).join(", ")}: the ledger holds privacy consents (patient-privacy), not consents to treatment or to join a study`,
    );
  }
  if (
    resource.patient !== undefined &&
    isObject(resource.patient) &&
    isObject(resource.patient.identifier) &&
    resource.patient.identifier.system === SYSTEM.caip10
  ) {
    const patient = accountOf(resource.patient, "Consent.patient", options);
    if (options.patient && getAddress(options.patient) !== patient)
      refuse("Consent.patient", `is ${patient}, not the signing patient ${getAddress(options.patient)}`);
  }
  if (!isObject(resource.provision))
    refuse("Consent.provision", "is missing: the Consent says nothing the ledger could record");
  const provision = resource.provision;
  if (provision.data !== undefined)
    refuse(
      "Consent.provision.data",
      "names individual records: the ledger grants whole classes of data (per-record data)",
    );
  if (provision.dataPeriod !== undefined)
    refuse("Consent.provision.dataPeriod", "limits data by when it was recorded: the ledger grants whole classes");
  list(provision.action).forEach((action, i) => {
    for (const c of codings(action, `Consent.provision.action[${i}]`)) {
      if (c.system !== SYSTEM.consentAction || !ALLOWED_ACTIONS.has(c.code))
        refuse(`Consent.provision.action[${i}]`, `${c.code} is not access or use, the one action the ledger grants`);
    }
  });
  for (const key of Object.keys(provision)) {
    if (!TOP_PERMIT_FIELDS.has(key)) refuse(`Consent.provision.${key}`, "is a rule the ledger cannot hold");
  }
  return provision;
}

const human = (name: string) => name.toLowerCase().replace(/_/g, " ");
const when = (s: number) => new Date(s * 1000).toISOString().replace(".000Z", "Z");

/** Reads a FHIR R4 Consent as the ledger action it amounts to; throws UnsupportedFhirConsentError otherwise. */
export function consentFromFhir(resource: unknown, options: FhirConsentImportOptions): ImportedConsent {
  if (!isObject(resource)) refuse("Consent", "is not a JSON object");
  const provision = checkCommon(resource, options);

  if (provision.type === "deny") {
    const purposes = purposesOf(provision.purpose, "Consent.provision.purpose");
    if (
      provision.actor !== undefined ||
      provision.provision !== undefined ||
      provision.class !== undefined ||
      provision.code !== undefined ||
      provision.securityLabel !== undefined
    ) {
      refuse(
        "Consent.provision",
        "a deny of part of the data or for some parties: the one refusal the ledger holds is the emergency opt-out (deny, purpose ETREAT)",
      );
    }
    if (purposes.length !== 1 || purposes[0] !== "ETREAT") {
      refuse(
        "Consent.provision.purpose",
        "a refusal other than of emergency (break-the-glass) access: the ledger grants only what is consented, so there is nothing else to refuse",
      );
    }
    return {
      action: { kind: "emergency-opt-out", optedOut: true },
      summary: [
        "Opt out of emergency access: no provider may break the glass to read your records, even in an emergency.",
      ],
    };
  }
  if (provision.type !== "permit")
    refuse("Consent.provision.type", `is ${JSON.stringify(provision.type)}, not permit or deny`);

  const purposes = purposesOf(provision.purpose, "Consent.provision.purpose");
  if (purposes.length === 0)
    refuse("Consent.provision.purpose", "names no purpose of use: the ledger grants data for named purposes");
  const dataClasses = dataClassesOf(provision, "Consent.provision");
  const period = isObject(provision.period) ? provision.period : {};
  const validFrom = period.start === undefined ? 0 : seconds(period.start, "Consent.provision.period.start");
  const actors = list(provision.actor);
  const classesText = dataClasses.map(human).join(", ");
  const purposesText = purposes.map((p) => PURPOSE_CODING[p].display).join(", ");

  if (actors.length === 0) {
    const notResearch = purposes.find((p) => !RESEARCH_PURPOSES.includes(p));
    if (notResearch)
      refuse(
        "Consent.provision.actor",
        `names no one, which the ledger holds only as a research policy; purpose ${notResearch} is not research`,
      );
    return {
      action: { kind: "policy", policy: policyOf(resource, provision, dataClasses, purposes) },
      summary: policySummary(resource, provision, dataClasses, purposes),
    };
  }
  if (actors.length > 1)
    refuse(
      "Consent.provision.actor[1]",
      "several actors: the ledger holds one consent per account; import one Consent per recipient",
    );
  const actor = actors[0];
  if (!isObject(actor)) refuse("Consent.provision.actor[0]", "is not an actor");
  const grantee = accountOf(actor.reference, "Consent.provision.actor[0].reference", options);
  if (period.end === undefined)
    refuse("Consent.provision.period.end", "is missing: a consent on the ledger always ends");
  const validUntil = seconds(period.end, "Consent.provision.period.end");
  if (validUntil <= validFrom) refuse("Consent.provision.period", "ends before it starts");
  return {
    action: {
      kind: "grant",
      grant: {
        grantee,
        dataClasses: maskOf(dataClasses.map((n) => DataClass[n])),
        purposes: maskOf(purposes.map((n) => Purpose[n])),
        validFrom,
        validUntil,
      },
    },
    summary: [
      `Let ${grantee} read your ${classesText}`,
      `for ${purposesText},`,
      `${validFrom ? `from ${when(validFrom)}` : "from now"} until ${when(validUntil)}.`,
      "This replaces any consent you gave that account before; you can revoke it at any time.",
    ],
  };
}

function duoOf(uri: string): { kind: "DUO" | "MONDO"; id: number } | undefined {
  const match = /^http:\/\/purl\.obolibrary\.org\/obo\/(DUO|MONDO)_(\d{7})$/.exec(uri);
  return match ? { kind: match[1] as "DUO" | "MONDO", id: Number(match[2]) } : undefined;
}

function policyOf(
  resource: Json,
  provision: Json,
  dataClasses: DataClassName[],
  purposes: PurposeName[],
): DataUsePolicy {
  const duoNames: DuoName[] = [];
  let diseaseId = 0;
  list(resource.policy).forEach((p, i) => {
    const uri = isObject(p) && typeof p.uri === "string" ? p.uri : "";
    const term = duoOf(uri);
    if (!term)
      refuse(
        `Consent.policy[${i}]`,
        `${uri || "(no uri)"} is not a GA4GH DUO or MONDO term (${SYSTEM.obo}DUO_nnnnnnn)`,
      );
    if (term.kind === "MONDO") {
      diseaseId = term.id;
      return;
    }
    const name = (Object.keys(Duo) as DuoName[]).find((n) => Duo[n] === term.id);
    if (!name)
      refuse(
        `Consent.policy[${i}]`,
        `DUO_${String(term.id).padStart(7, "0")} is not a DUO term the ledger knows (${Object.keys(Duo).join(", ")})`,
      );
    duoNames.push(name);
  });
  const permissions = duoNames.filter((n) => DUO_PERMISSIONS.includes(n));
  if (permissions.length !== 1)
    refuse(
      "Consent.policy",
      `a research policy needs exactly one DUO permission (${DUO_PERMISSIONS.join(", ")}), found ${permissions.length}`,
    );
  const modifiers = duoNames.filter((n) => !DUO_PERMISSIONS.includes(n));
  const unknown = modifiers.find((n) => !DUO_MODIFIERS.includes(n));
  if (unknown) refuse("Consent.policy", `${unknown} is not a DUO modifier`);
  const extension = list(resource.extension).find((e) => isObject(e) && e.url === SYSTEM.maxDurationExtension) as
    Json | undefined;
  let maxDuration = 0;
  if (extension) {
    const duration = isObject(extension.valueDuration) ? extension.valueDuration : {};
    if (
      duration.code !== "s" ||
      duration.system !== "http://unitsofmeasure.org" ||
      !Number.isSafeInteger(duration.value)
    ) {
      refuse("Consent.extension", "max-duration must be a Duration in whole seconds (UCUM s)");
    }
    maxDuration = duration.value as number;
  }
  const period = isObject(provision.period) ? provision.period : {};
  if (period.start !== undefined)
    refuse("Consent.provision.period.start", "a research policy holds from when it is set");
  return {
    permission: Duo[permissions[0]],
    modifiers: duoMaskOf(modifiers),
    dataClasses: maskOf(dataClasses.map((n) => DataClass[n])),
    purposes: maskOf(purposes.map((n) => Purpose[n])),
    diseaseId,
    maxDuration,
    validUntil: period.end === undefined ? 0 : seconds(period.end, "Consent.provision.period.end"),
  };
}

function policySummary(
  resource: Json,
  provision: Json,
  dataClasses: DataClassName[],
  purposes: PurposeName[],
): string[] {
  const policy = policyOf(resource, provision, dataClasses, purposes);
  const permission = (Object.keys(Duo) as DuoName[]).find((n) => Duo[n] === policy.permission)!;
  return [
    `Approve, without asking you each time, research requests for your ${dataClasses.map(human).join(", ")}`,
    `for ${purposes.map((p) => PURPOSE_CODING[p].display).join(", ")} that fit data use ${permission}${policy.diseaseId ? ` (disease MONDO:${String(policy.diseaseId).padStart(7, "0")})` : ""},`,
    `${policy.maxDuration ? `each for at most ${policy.maxDuration} s, ` : ""}${policy.validUntil ? `until ${when(policy.validUntil)}` : "until you clear it"}.`,
    "Mental health, sexual and reproductive health and substance use data are never released by the policy alone.",
  ];
}

/**
 * What applying an imported consent asks of a PatientClient: either entry's has these, so the choice of
 * write lives here once.
 */
export interface FhirConsentTarget<Overrides, Pending> {
  grant(input: ImportedGrant, options: { patient?: string }, overrides?: Overrides): Promise<Pending>;
  setPolicy(input: DataUsePolicy, overrides?: Overrides): Promise<Pending>;
  setEmergencyOptOut(optedOut: boolean, overrides?: Overrides): Promise<Pending>;
}

type ImportedGrant = Extract<LedgerConsentAction, { kind: "grant" }>["grant"];

/**
 * Signs what `consentFromFhir` read, through `client` (relayed when the client has a relayer): the grant,
 * the research policy or the emergency opt-out. A delegate (`options.patient`) may apply a grant only:
 * the policy and the opt-out are the patient's own settings.
 */
export function applyImportedConsent<Overrides, Pending>(
  client: FhirConsentTarget<Overrides, Pending>,
  imported: ImportedConsent,
  options: { patient?: string } = {},
  overrides?: Overrides,
): Promise<Pending> {
  const action = imported.action;
  if (action.kind === "grant") return client.grant(action.grant, options, overrides);
  if (options.patient !== undefined) {
    throw new InvalidArgumentError(
      "patient",
      "a delegate cannot set a patient's research policy or emergency opt-out",
      {
        hint: "The patient signs these themselves.",
      },
    );
  }
  if (action.kind === "policy") return client.setPolicy(action.policy, overrides);
  return client.setEmergencyOptOut(true, overrides);
}

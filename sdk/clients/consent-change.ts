/**
 * What a patient's action changes, in plain words, computed from what is in force now and the action's
 * effect on the ledger. One statement of the rules for every screen that asks "are you sure?" (the
 * dashboard's review step, a CLI's confirmation): a grant or an approval replaces the grantee's consent
 * (IConsents: one consent per patient and grantee); a revocation ends it and holds back the standing
 * policy for that grantee; a denial closes the request for good; opting out of emergency access ends
 * open windows for good; a standing policy never releases the sensitive classes by itself.
 */
import {
  codesOf,
  PurposeDisplay,
  SENSITIVE_DATA_CLASSES,
  type DataClassName,
  type PurposeName,
  DataClass,
  Purpose,
  Duo,
  type DuoName,
} from "../codes";
import type { AccessRequest, Consent, DataUsePolicy } from "./types";

/** Data classes in words a patient reads (the codes are DataClass's names). */
export const DataClassDisplay: Readonly<Record<DataClassName, string>> = {
  LAB_RESULT: "Lab results",
  VITAL_SIGNS: "Vital signs",
  IMAGING: "Imaging (scans, X-rays)",
  MEDICATION: "Medications",
  CONDITION: "Conditions (diagnoses)",
  PROCEDURE: "Procedures",
  IMMUNIZATION: "Immunizations",
  ALLERGY: "Allergies",
  CLINICAL_NOTE: "Clinical notes",
  ENCOUNTER: "Visits and admissions",
  CARE_PLAN: "Care plans",
  GENOMIC: "Genomic data",
  MENTAL_HEALTH: "Mental health",
  SEXUAL_REPRODUCTIVE_HEALTH: "Sexual and reproductive health",
  SUBSTANCE_USE: "Substance use",
};

/**
 * Classes a screen flags wherever they appear: the ones a standing policy never releases
 * (SENSITIVE_DATA_CLASSES) and genomic data, which identifies the patient and their relatives.
 */
export const FLAGGED_DATA_CLASSES: readonly DataClassName[] = [...SENSITIVE_DATA_CLASSES, "GENOMIC"];

/** DUO terms (GA4GH Data Use Ontology) as a patient reads them. */
export const DuoDisplay: Readonly<Record<DuoName, string>> = {
  NRES: "no restriction",
  GRU: "general research use",
  HMB: "health, medical or biomedical research",
  DS: "research on a specific disease",
  POA: "population or ancestry research",
  PUB: "results must be published",
  COL: "collaboration with the data's source required",
  IRB: "ethics approval required",
  MOR: "publication moratorium",
  TS: "time limit on use",
  RTN: "results returned to the data's source",
  NPOA: "no population or ancestry research",
  NPU: "not-for-profit use only",
  NCU: "non-commercial use only",
};

const DATA_CLASS_BY_CODE = new Map(
  Object.entries(DataClass).map(([name, code]) => [code as number, name as DataClassName]),
);
const PURPOSE_BY_CODE = new Map(Object.entries(Purpose).map(([name, code]) => [code as number, name as PurposeName]));
const DUO_BY_CODE = new Map(Object.entries(Duo).map(([name, code]) => [code as number, name as DuoName]));

/** The flagged classes in a bitmask of data classes. */
export function flaggedClassesOf(mask: number): DataClassName[] {
  return codesOf(mask)
    .map((code) => DATA_CLASS_BY_CODE.get(code))
    .filter((name): name is DataClassName => name !== undefined && FLAGGED_DATA_CLASSES.includes(name));
}

/** "Lab results, Mental health" for a bitmask of data classes. */
export function dataClassText(mask: number): string {
  return codesOf(mask)
    .map((code) => {
      const name = DATA_CLASS_BY_CODE.get(code);
      return name ? DataClassDisplay[name] : `data class ${code}`;
    })
    .join(", ");
}

/** "healthcare research, public health" for a bitmask of purposes. */
export function purposeMaskText(mask: number): string {
  return codesOf(mask)
    .map((code) => {
      const name = PURPOSE_BY_CODE.get(code);
      return name ? PurposeDisplay[name] : `purpose ${code}`;
    })
    .join(", ");
}

/** "health, medical or biomedical research" for a DUO code. */
export function duoTextOf(code: number): string {
  const name = DUO_BY_CODE.get(code);
  return name ? DuoDisplay[name] : `DUO:${String(code).padStart(7, "0")}`;
}

/** One action a patient (or their delegate) can take, with the numbers the ledger will store. */
export type ConsentAction =
  | { kind: "grant"; grantee: string; dataClasses: number; purposes: number; validFrom: number; validUntil: number }
  | { kind: "approve"; request: AccessRequest }
  | { kind: "deny"; request: AccessRequest }
  | { kind: "revoke"; grantee: string }
  | { kind: "set-policy"; policy: Omit<DataUsePolicy, "diseaseId"> & { diseaseId?: number } }
  | { kind: "clear-policy" }
  | { kind: "emergency-opt-out"; optedOut: boolean }
  | {
      kind: "appoint-delegate";
      delegate: string;
      validUntil: number;
      /** The purposes the delegate may grant or approve (a bitmask); absent: not shown. */
      purposes?: number;
      /** Whether it may give the sensitive classes. */
      sensitiveClasses?: boolean;
    }
  | { kind: "remove-delegate"; delegate: string };

/** What is in force now, as far as the action concerns it. */
export interface ConsentState {
  /** The chain's time (unix seconds): what "in force" is measured against. */
  now: number;
  /** The patient's consent to the action's grantee (or researcher), if any is stored. */
  consent?: Consent;
  policy?: DataUsePolicy;
  optedOut?: boolean;
  /** The delegate's appointment end (unix seconds), for delegate actions; 0 or absent when none. */
  delegateUntil?: number;
}

export interface ConsentChange {
  kind: ConsentAction["kind"];
  /** Who the change is about: the grantee, researcher or delegate; absent for the patient's own settings. */
  party?: string;
  /** One line: what this does. */
  title: string;
  before: string;
  after: string;
  /** Access the party gains or loses (bitmasks), for grants, approvals and revocations. */
  gained: { dataClasses: number; purposes: number };
  lost: { dataClasses: number; purposes: number };
  /** Flagged classes (FLAGGED_DATA_CLASSES) the action gives access to or puts in a policy. */
  flagged: DataClassName[];
  /** What no later action can take back. */
  cannotUndo: string[];
  /** What else to know before confirming (urgent care, replaced access, ...). */
  notes: string[];
}

export interface DescribeOptions {
  /** A name for an address ("pharma", "you"); defaults to the address. */
  nameOf?: (address: string) => string;
  /** A date in words; defaults to an ISO day. */
  dayOf?: (unixSeconds: number) => string;
}

const EMPTY = { dataClasses: 0, purposes: 0 };

function inForce(consent: Consent | undefined, now: number): Consent | undefined {
  return consent && consent.dataClasses !== 0 && consent.validUntil > now ? consent : undefined;
}

/**
 * The change `action` makes to `state`, in words: before → after, what it gains and loses, what cannot be
 * undone. Pure: the same inputs always give the same words, so a screen and a test can compare them.
 */
export function describeConsentChange(
  action: ConsentAction,
  state: ConsentState,
  options: DescribeOptions = {},
): ConsentChange {
  const nameOf = options.nameOf ?? ((address: string) => address);
  const dayOf = options.dayOf ?? ((seconds: number) => new Date(seconds * 1000).toISOString().slice(0, 10));
  const access = (consent: { dataClasses: number; purposes: number; validFrom: number; validUntil: number }) =>
    `${dataClassText(consent.dataClasses)}, for ${purposeMaskText(consent.purposes)}, ` +
    (consent.validFrom > state.now ? `from ${dayOf(consent.validFrom)} ` : "") +
    `until ${dayOf(consent.validUntil)}`;
  const current = inForce(state.consent, state.now);
  const released = (who: string) =>
    `Records ${who} has already opened stay with them: no later action can recall data already released.`;

  const giving = (
    party: string,
    next: { dataClasses: number; purposes: number; validFrom: number; validUntil: number },
    title: string,
    extraUndo: string[],
  ): ConsentChange => {
    const name = nameOf(party);
    const gained = {
      dataClasses: next.dataClasses & ~(current?.dataClasses ?? 0),
      purposes: next.purposes & ~(current?.purposes ?? 0),
    };
    const lost = {
      dataClasses: (current?.dataClasses ?? 0) & ~next.dataClasses,
      purposes: (current?.purposes ?? 0) & ~next.purposes,
    };
    const notes: string[] = [];
    if (current) {
      notes.push(`This replaces what ${name} may see now: one consent per person, the newest wins.`);
      if (lost.dataClasses) notes.push(`${name} will no longer see: ${dataClassText(lost.dataClasses)}.`);
      if (lost.purposes) notes.push(`${name} will no longer use your data for: ${purposeMaskText(lost.purposes)}.`);
      if (next.validUntil < current.validUntil)
        notes.push(`Access ends sooner: ${dayOf(next.validUntil)} instead of ${dayOf(current.validUntil)}.`);
    }
    const flagged = flaggedClassesOf(next.dataClasses);
    if (flagged.length)
      notes.push(
        `Includes sensitive data: ${dataClassText(flagged.reduce((mask, n) => mask | (1 << DataClass[n]), 0))}.`,
      );
    return {
      kind: action.kind,
      party,
      title,
      before: current ? `${name} may see ${access(current)}.` : `${name} cannot see any of your records.`,
      after: `${name} may see ${access(next)}.`,
      gained,
      lost,
      flagged,
      cannotUndo: [...extraUndo, released(name)],
      notes,
    };
  };

  switch (action.kind) {
    case "grant":
      return giving(action.grantee, action, `Give ${nameOf(action.grantee)} access`, []);
    case "approve": {
      const terms = action.request.terms;
      const next = {
        dataClasses: terms.dataClasses,
        purposes: 1 << terms.purpose,
        validFrom: state.now,
        validUntil: state.now + terms.duration,
      };
      return giving(action.request.researcher, next, `Approve ${nameOf(action.request.researcher)}'s request`, [
        "The request is closed once decided: it cannot be decided again.",
      ]);
    }
    case "deny": {
      const name = nameOf(action.request.researcher);
      return {
        kind: action.kind,
        party: action.request.researcher,
        title: `Deny ${name}'s request`,
        before: `${name}'s request for ${dataClassText(action.request.terms.dataClasses)} is waiting for you.`,
        after: current
          ? `The request is closed; ${name} keeps the access you gave before: ${access(current)}.`
          : `The request is closed; ${name} gets nothing from it.`,
        gained: EMPTY,
        lost: EMPTY,
        flagged: [],
        cannotUndo: [`The request is closed for good: ${name} would have to ask again.`],
        notes: [],
      };
    }
    case "revoke": {
      const name = nameOf(action.grantee);
      return {
        kind: action.kind,
        party: action.grantee,
        title: `Revoke ${name}'s access`,
        before: current ? `${name} may see ${access(current)}.` : `${name} has no access in force.`,
        after: `${name} cannot see any of your records: the custodian refuses new keys from the next block.`,
        gained: EMPTY,
        lost: current ? { dataClasses: current.dataClasses, purposes: current.purposes } : EMPTY,
        flagged: [],
        cannotUndo: [released(name)],
        notes: [
          `Your standing policy will not approve ${name} again by itself; a new grant or approval from you will.`,
        ],
      };
    }
    case "set-policy": {
      const policy = action.policy;
      const flagged = flaggedClassesOf(policy.dataClasses);
      const words = (p: { permission: number; dataClasses: number; purposes: number; validUntil: number }) =>
        `requests for ${duoTextOf(p.permission)} that ask for ${dataClassText(p.dataClasses)} (${purposeMaskText(p.purposes)}) are approved at once` +
        (p.validUntil ? `, until ${dayOf(p.validUntil)}` : "");
      const notes = [
        "Access approved by the policy lasts its full term even if you change or clear the policy later; revoke it to end it.",
      ];
      const neverByPolicy = flagged.filter((name) => SENSITIVE_DATA_CLASSES.includes(name));
      if (neverByPolicy.length) {
        notes.push(
          `The ledger never releases ${dataClassText(neverByPolicy.reduce((mask, n) => mask | (1 << DataClass[n]), 0))} by policy: those requests still come to you.`,
        );
      }
      return {
        kind: action.kind,
        title: state.policy ? "Change your standing policy" : "Set a standing policy",
        before: state.policy
          ? `Now: ${words(state.policy)}.`
          : "Now: no standing policy; you decide every request yourself.",
        after: `After: ${words(policy)}, without asking you.`,
        gained: EMPTY,
        lost: EMPTY,
        flagged,
        cannotUndo: [
          "Requests it approves become consents at once; researchers may open records under them before you look.",
        ],
        notes,
      };
    }
    case "clear-policy":
      return {
        kind: action.kind,
        title: "Clear your standing policy",
        before: "Now: a standing policy approves requests that fit it without asking you.",
        after: "After: no standing policy; every new request waits for your decision.",
        gained: EMPTY,
        lost: EMPTY,
        flagged: [],
        cannotUndo: [],
        notes: ["Consents the policy already approved stay in force until they end or you revoke them."],
      };
    case "emergency-opt-out":
      return action.optedOut
        ? {
            kind: action.kind,
            title: "Opt out of emergency access",
            before:
              "Now: an accredited provider may open a short, logged emergency window on your records when you cannot be asked.",
            after: "After: no provider can open your records through the ledger in an emergency.",
            gained: EMPTY,
            lost: EMPTY,
            flagged: [],
            cannotUndo: ["Emergency windows open now end at once, for good: opting back in does not reopen them."],
            notes: [
              "In urgent care (if you are unconscious or cannot answer), the team treating you will not be able to read your records, allergies or medications through the ledger unless you have given them consent.",
              "Only you can change this, not a delegate; you can opt back in at any time.",
            ],
          }
        : {
            kind: action.kind,
            title: "Allow emergency access again",
            before: "Now: no provider can open your records through the ledger in an emergency.",
            after:
              "After: an accredited provider may open a short, logged emergency window on your records when you cannot be asked.",
            gained: EMPTY,
            lost: EMPTY,
            flagged: [],
            cannotUndo: ["Records a provider opens in an emergency window stay with them."],
            notes: ["Every opening appears in your audit trail."],
          };
    case "appoint-delegate": {
      const name = nameOf(action.delegate);
      const until = state.delegateUntil && state.delegateUntil > state.now ? state.delegateUntil : 0;
      return {
        kind: action.kind,
        party: action.delegate,
        title: `Appoint ${name} as your delegate`,
        before: until ? `${name} may decide for you until ${dayOf(until)}.` : `${name} cannot decide for you.`,
        after:
          `${name} may approve, deny, grant and revoke for you until ${dayOf(action.validUntil)}` +
          (action.purposes === undefined
            ? ""
            : `, granting and approving only for ${purposeMaskText(action.purposes)}` +
              (action.sensitiveClasses
                ? ", sensitive classes included"
                : ", never mental health, sexual and reproductive health or substance use")) +
          `; access they give ends by ${dayOf(action.validUntil)} at the latest; they cannot appoint others or change emergency access.`,
        gained: EMPTY,
        lost: EMPTY,
        flagged: [],
        cannotUndo: [
          "Access your delegate gives stays in force after you remove them, until it ends (at the latest when this appointment would have ended) or you revoke it; data released under it stays released.",
        ],
        notes: [],
      };
    }
    case "remove-delegate": {
      const name = nameOf(action.delegate);
      return {
        kind: action.kind,
        party: action.delegate,
        title: `Remove ${name} as your delegate`,
        before: `${name} may decide for you${state.delegateUntil ? ` until ${dayOf(state.delegateUntil)}` : ""}.`,
        after: `${name} can no longer decide for you.`,
        gained: EMPTY,
        lost: EMPTY,
        flagged: [],
        cannotUndo: [],
        notes: [`Decisions ${name} already made stay in force until they end or you change them.`],
      };
    }
  }
}

/**
 * A reference model of the consent rules, in plain TypeScript: what the NatSpec of
 * contracts/interfaces/{IAccreditation,IConsents,IAccessRequests,IEmergencyAccess,ISignedConsents}.sol
 * says, written out again without looking at storage layouts or bit tricks. The model-based test
 * (consent-model.test.ts) applies the same random operations to this model and to the real contracts,
 * and after every step demands that both agree: on every access answer, on the stored state, on every
 * event, and on whether (and with which custom error) an operation reverts.
 *
 * Conventions:
 * - Every operation takes the block timestamp it runs at (`now`) and the account that calls it (or signs
 *   it). It either returns normally, having changed the model and recorded the events it expects, or
 *   throws a `Revert` naming the custom error and its arguments, having changed nothing the caller keeps
 *   (the test applies each operation to a `clone()` and keeps the clone only when it did not revert).
 * - Where the specification names several requirements, the checks run in the order the implementation
 *   documents them (interface "Requirements:" lists, the internal `_require*` helpers first); the error
 *   a reverting operation must raise is part of the specification the test holds the contracts to.
 * - Addresses are EIP-55 checksummed strings, as ethers returns them.
 */
import { AbiCoder, ZeroAddress, keccak256 } from "ethers";

// -------------------------------------------------------------------------------------------------
// The code tables (contracts/libraries), restated.

export const Role = { PROVIDER: 1, RESEARCHER: 2, CUSTODIAN: 4, ALL: 7 } as const;

/** Data classes 0-14; 12-14 (mental health, sexual and reproductive health, substance use) are sensitive. */
export const DATA_CLASS_COUNT = 15;
export const ALL_DATA_CLASSES = (1 << DATA_CLASS_COUNT) - 1;
export const SENSITIVE_DATA_CLASSES = (1 << 12) | (1 << 13) | (1 << 14);

/** Purposes 0-9: TREAT, ETREAT, CAREMGT, HRESCH, BIORCH, CLINTRCH, PUBHLTH, HPAYMT, HOPERAT, PATRQT. */
export const PURPOSE_COUNT = 10;
export const ALL_PURPOSES = (1 << PURPOSE_COUNT) - 1;
export const P = {
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
export const RESEARCH_PURPOSES = (1 << P.HRESCH) | (1 << P.BIORCH) | (1 << P.CLINTRCH);
/** What a break-the-glass window covers: treatment and emergency treatment, every class. */
export const EMERGENCY_PURPOSES = (1 << P.TREAT) | (1 << P.ETREAT);

/**
 * The accreditation the grantee of a consent must hold, live, when access is checked:
 * TREAT/ETREAT/CAREMGT → provider; HRESCH/BIORCH/CLINTRCH → researcher; PUBHLTH/HPAYMT/HOPERAT → any
 * role; PATRQT (a relative, a personal app) → none.
 */
export function requiredRoles(purpose: number): number {
  if (purpose === P.TREAT || purpose === P.ETREAT || purpose === P.CAREMGT) return Role.PROVIDER;
  if (purpose === P.HRESCH || purpose === P.BIORCH || purpose === P.CLINTRCH) return Role.RESEARCHER;
  if (purpose === P.PUBHLTH || purpose === P.HPAYMT || purpose === P.HOPERAT) return Role.ALL;
  return 0;
}

export const isKnownDataClass = (c: number): boolean => Number.isInteger(c) && c >= 0 && c < DATA_CLASS_COUNT;
export const isKnownPurpose = (u: number): boolean => Number.isInteger(u) && u >= 0 && u < PURPOSE_COUNT;
const isValidSet = (mask: number, all: number): boolean => mask !== 0 && (mask & ~all) === 0;
const has = (mask: number, bit: number): boolean => bit >= 0 && bit < 32 && ((mask >>> bit) & 1) === 1;
const hasBig = (mask: bigint, bit: number): boolean => ((mask >> BigInt(bit)) & 1n) === 1n;

/** GA4GH DUO codes (contracts/libraries/DataUse.sol). */
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
const bit = (n: number): bigint => 1n << BigInt(n);
export const DUO_OBLIGATIONS = bit(Duo.PUB) | bit(Duo.COL) | bit(Duo.IRB) | bit(Duo.MOR) | bit(Duo.RTN);
export const DUO_SUPPORTED_MODIFIERS = DUO_OBLIGATIONS | bit(Duo.TS) | bit(Duo.NPOA) | bit(Duo.NPU) | bit(Duo.NCU);
const POLICY_PERMISSIONS = [Duo.NRES, Duo.GRU, Duo.HMB, Duo.DS, Duo.POA] as number[];
const RESEARCH_CATEGORIES = [Duo.GRU, Duo.HMB, Duo.DS, Duo.POA] as number[];

export const EMERGENCY_REASONS = [1, 2, 3, 4];

export const UINT40_MAX = 2 ** 40 - 1;
const UINT16_WRAP = 0x10000;

// -------------------------------------------------------------------------------------------------
// Values.

export interface Party {
  roles: number;
  nonProfit: boolean;
  suspended: boolean;
  accreditedUntil: number;
  index: number;
  /** Suspensions so far (mod 2^16): a window opened before the last one is over. */
  suspensions: number;
}

/** IConsents.Delegation: a delegate's appointment, its end and its scope. */
export interface Delegation {
  validUntil: number;
  purposes: number;
  sensitiveClasses: boolean;
}

export interface Consent {
  dataClasses: number;
  purposes: number;
  validFrom: number;
  validUntil: number;
}

export interface GrantTerms extends Consent {
  grantee: string;
}

export interface RequestTerms {
  patient: string;
  dataClasses: number;
  purpose: number;
  researchCategory: number;
  diseaseId: number;
  acceptedObligations: bigint;
  duration: number;
  studyId: string;
  protocolHash: string;
}

export interface AccessRequest {
  researcher: string;
  openedAt: number;
  terms: RequestTerms;
}

export interface DataUsePolicy {
  permission: number;
  modifiers: bigint;
  dataClasses: number;
  purposes: number;
  diseaseId: number;
  maxDuration: number;
  validUntil: number;
}

/**
 * IAccessRequests.RequestStatus. Only pending requests are stored: deciding or cancelling one clears it
 * (its outcome is in its event), so a closed request reads as None, like one never opened.
 */
export const Status = { None: 0, Pending: 1, Expired: 2 } as const;

/** A pending request (nothing else is stored). */
export interface StoredRequest {
  expiresAt: number;
  request: AccessRequest;
}

export interface EmergencyWindow {
  /** 0 once closed. */
  until: number;
  /** The patient's opt-out epoch when it was opened. */
  epoch: number;
  /** The provider's suspension count when it was opened. */
  suspensions: number;
  /** The first opening of the provider's current period on the patient: windows end by it + the maximum. */
  periodStart: number;
}

export interface ModelEvent {
  name: string;
  args: unknown[];
}

/** The custom error an operation must revert with. */
export class Revert extends Error {
  constructor(
    readonly errorName: string,
    readonly args: readonly unknown[],
  ) {
    super(`${errorName}(${args.map(String).join(", ")})`);
  }
}

function revert(errorName: string, ...args: unknown[]): never {
  throw new Revert(errorName, args);
}

export interface LedgerParameters {
  administrator: string;
  requestTtl: number;
  maxRequestDuration: number;
  maxEmergencyDuration: number;
}

const REQUEST_TYPE =
  "tuple(address researcher, uint40 openedAt, tuple(address patient, uint32 dataClasses, uint8 purpose, " +
  "uint8 researchCategory, uint32 diseaseId, uint64 acceptedObligations, uint40 duration, bytes32 studyId, " +
  "bytes32 protocolHash) terms)";

/** A request's id, as IAccessRequests documents it: keccak256(abi.encode(researcher, openedAt, terms)). */
export function requestIdOf(request: AccessRequest): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode([REQUEST_TYPE], [request]));
}

const pair = (a: string, b: string): string => `${a}|${b}`;

/** RequestTerms in the order of the Solidity struct (as events and calldata carry it). */
export function termsTuple(t: RequestTerms): unknown[] {
  return [
    t.patient,
    t.dataClasses,
    t.purpose,
    t.researchCategory,
    t.diseaseId,
    t.acceptedObligations,
    t.duration,
    t.studyId,
    t.protocolHash,
  ];
}

/** DataUsePolicy in the order of the Solidity struct. */
export function policyTuple(p: DataUsePolicy): unknown[] {
  return [p.permission, p.modifiers, p.dataClasses, p.purposes, p.diseaseId, p.maxDuration, p.validUntil];
}

// -------------------------------------------------------------------------------------------------

export class ConsentModel {
  owner: string;
  readonly params: LedgerParameters;
  parties = new Map<string, Party>();
  partyCount = 0;
  /** patient|grantee → consent; absent when none (a revocation deletes). */
  consents = new Map<string, Consent>();
  /** patient|grantee pairs revoked since their last grant: no automatic approval for them. */
  revoked = new Set<string>();
  /** patient|delegate → the appointment: its end and scope. */
  delegates = new Map<string, Delegation>();
  requests = new Map<string, StoredRequest>();
  /** Every request ever opened, in order (for the test to pick from). */
  requestLog: AccessRequest[] = [];
  policies = new Map<string, DataUsePolicy>();
  optedOut = new Map<string, boolean>();
  epochs = new Map<string, number>();
  /** patient|provider → window. */
  windows = new Map<string, EmergencyWindow>();
  /** signer → set of used or cancelled nonces (as decimal strings). */
  usedNonces = new Map<string, Set<string>>();
  /** Events the last operation emitted, in order. */
  events: ModelEvent[] = [];

  constructor(params: LedgerParameters) {
    this.params = params;
    this.owner = params.administrator;
  }

  clone(): ConsentModel {
    const copy = new ConsentModel(this.params);
    copy.owner = this.owner;
    copy.parties = new Map([...this.parties].map(([k, v]) => [k, { ...v }]));
    copy.partyCount = this.partyCount;
    copy.consents = new Map([...this.consents].map(([k, v]) => [k, { ...v }]));
    copy.revoked = new Set(this.revoked);
    copy.delegates = new Map([...this.delegates].map(([k, v]) => [k, { ...v }]));
    copy.requests = new Map([...this.requests].map(([k, v]) => [k, { ...v }]));
    copy.requestLog = [...this.requestLog];
    copy.policies = new Map([...this.policies].map(([k, v]) => [k, { ...v }]));
    copy.optedOut = new Map(this.optedOut);
    copy.epochs = new Map(this.epochs);
    copy.windows = new Map([...this.windows].map(([k, v]) => [k, { ...v }]));
    copy.usedNonces = new Map([...this.usedNonces].map(([k, v]) => [k, new Set(v)]));
    copy.events = [];
    return copy;
  }

  private emit(name: string, ...args: unknown[]): void {
    this.events.push({ name, args });
  }

  // ---------------------------------------------------------------------------------------------
  // Accreditation (IAccreditation).

  partyOf(party: string): Party {
    return (
      this.parties.get(party) ?? {
        roles: 0,
        nonProfit: false,
        suspended: false,
        accreditedUntil: 0,
        index: 0,
        suspensions: 0,
      }
    );
  }

  /** Holds one of `roles`, is not suspended, and has not lapsed (an accreditation ends AT its date). */
  isAccredited(party: string, roles: number, now: number): boolean {
    const p = this.partyOf(party);
    return (p.roles & roles) !== 0 && !p.suspended && (p.accreditedUntil === 0 || p.accreditedUntil > now);
  }

  /** IAccreditation.requireAccredited: the party, or the error that names why it may not act. */
  requireAccredited(party: string, roles: number, now: number): Party {
    const p = this.partyOf(party);
    if ((p.roles & roles) === 0) revert("PartyNotAccredited", party, roles);
    if (p.suspended) revert("AccreditationSuspended", party);
    if (p.accreditedUntil !== 0 && p.accreditedUntil <= now) revert("AccreditationExpired", party, p.accreditedUntil);
    return p;
  }

  private onlyOwner(caller: string): void {
    if (caller !== this.owner) revert("OwnableUnauthorizedAccount", caller);
  }

  accredit(
    caller: string,
    party: string,
    roles: number,
    nonProfit: boolean,
    accreditedUntil: number,
    now: number,
  ): void {
    this.onlyOwner(caller);
    if (party === ZeroAddress) revert("InvalidParty", party);
    if (roles === 0 || (roles & ~Role.ALL) !== 0) revert("InvalidRoles", roles);
    if (accreditedUntil !== 0 && accreditedUntil <= now) revert("InvalidAccreditationExpiry", accreditedUntil);
    const existing = this.parties.get(party);
    // An index is given once, at the first accreditation; a suspension stays as it is.
    const index = existing?.index ?? ++this.partyCount;
    this.parties.set(party, {
      roles,
      nonProfit,
      suspended: existing?.suspended ?? false,
      accreditedUntil,
      index,
      suspensions: existing?.suspensions ?? 0,
    });
    this.emit("PartyAccredited", party, roles, nonProfit, accreditedUntil, index);
  }

  suspend(caller: string, party: string, reasonCode: number): void {
    this.onlyOwner(caller);
    const p = this.parties.get(party);
    if (p === undefined || p.roles === 0) revert("PartyNotAccredited", party, Role.ALL);
    p.suspended = true;
    p.suspensions = (p.suspensions + 1) % UINT16_WRAP;
    this.emit("PartySuspended", party, reasonCode);
  }

  reinstate(caller: string, party: string): void {
    this.onlyOwner(caller);
    const p = this.parties.get(party);
    if (p === undefined || p.roles === 0) revert("PartyNotAccredited", party, Role.ALL);
    p.suspended = false;
    this.emit("PartyReinstated", party);
  }

  /** Administration can move but never vanish. */
  renounceOwnership(caller: string): void {
    this.onlyOwner(caller);
    revert("AdministrationCannotBeRenounced");
  }

  // ---------------------------------------------------------------------------------------------
  // Consents and delegates (IConsents).

  consentOf(patient: string, grantee: string): Consent {
    return this.consents.get(pair(patient, grantee)) ?? { dataClasses: 0, purposes: 0, validFrom: 0, validUntil: 0 };
  }

  delegateUntil(patient: string, delegate: string): number {
    return this.delegateOf(patient, delegate).validUntil;
  }

  delegateOf(patient: string, delegate: string): Delegation {
    return this.delegates.get(pair(patient, delegate)) ?? { validUntil: 0, purposes: 0, sensitiveClasses: false };
  }

  /** The patient itself, or a delegate whose appointment has not ended (it ends AT its date). */
  private requirePatientOrDelegate(patient: string, actor: string, now: number): void {
    if (actor === patient) return;
    const until = this.delegateUntil(patient, actor);
    if (until === 0) revert("NotPatientOrDelegate", patient, actor);
    if (until <= now) revert("DelegateExpired", patient, actor, until);
  }

  /**
   * A delegate gives access only within the scope the patient set (#12, point 4): its purposes, the
   * sensitive classes only with leave, and never past the end of its appointment. The patient is unbounded.
   */
  private requireWithinScope(
    patient: string,
    actor: string,
    dataClasses: number,
    purposes: number,
    validUntil: number,
  ): void {
    if (actor === patient) return;
    const appointment = this.delegateOf(patient, actor);
    if (
      (purposes & ~appointment.purposes) !== 0 ||
      (!appointment.sensitiveClasses && (dataClasses & SENSITIVE_DATA_CLASSES) !== 0)
    ) {
      revert("DelegateScopeExceeded", patient, actor, dataClasses, purposes);
    }
    if (validUntil > appointment.validUntil)
      revert("DelegateGrantOutlivesAppointment", patient, actor, validUntil, appointment.validUntil);
  }

  /** The word a signer sees for (patient, grantee): the stored consent packed, 0 when none or revoked. */
  consentWord(patient: string, grantee: string): bigint {
    const c = this.consentOf(patient, grantee);
    return (
      BigInt(c.dataClasses) |
      (BigInt(c.purposes) << 32n) |
      (BigInt(c.validFrom) << 64n) |
      (BigInt(c.validUntil) << 104n)
    );
  }

  /** A signed grant or approval applies only over the consent its signer saw (#12, point 2). */
  private requireConsentSeen(patient: string, grantee: string, expected: bigint): void {
    const actual = this.consentWord(patient, grantee);
    if (actual !== expected) revert("ConsentChanged", patient, grantee, expected, actual);
  }

  /** The one rule of every grant, however it arrives (direct, batch, signed, approved request). */
  private grantConsent(patient: string, terms: GrantTerms, actor: string, now: number): void {
    // A delegate manages consent; it cannot grant itself access.
    if (terms.grantee === ZeroAddress || terms.grantee === patient || terms.grantee === actor) {
      revert("InvalidGrantee", terms.grantee);
    }
    if (!isValidSet(terms.dataClasses, ALL_DATA_CLASSES)) revert("InvalidDataClasses", terms.dataClasses);
    if (!isValidSet(terms.purposes, ALL_PURPOSES)) revert("InvalidPurposes", terms.purposes);
    if (terms.validUntil <= terms.validFrom || terms.validUntil <= now) {
      revert("InvalidValidity", terms.validFrom, terms.validUntil);
    }
    // One consent per patient and grantee: a new grant replaces the old one whole, and says what a
    // consent that had not ended was (#12, point 2).
    const previous = this.consents.get(pair(patient, terms.grantee));
    this.consents.set(pair(patient, terms.grantee), {
      dataClasses: terms.dataClasses,
      purposes: terms.purposes,
      validFrom: terms.validFrom,
      validUntil: terms.validUntil,
    });
    this.revoked.delete(pair(patient, terms.grantee));
    if (previous !== undefined && previous.validUntil > now) {
      this.emit(
        "ConsentReplaced",
        patient,
        terms.grantee,
        previous.dataClasses,
        previous.purposes,
        previous.validFrom,
        previous.validUntil,
      );
    }
    this.emit(
      "ConsentGranted",
      patient,
      terms.grantee,
      actor,
      terms.dataClasses,
      terms.purposes,
      terms.validFrom,
      terms.validUntil,
    );
  }

  private revokeConsent(patient: string, grantee: string, actor: string): void {
    // A consent exists until revoked, even once expired.
    if (!this.consents.has(pair(patient, grantee))) revert("ConsentNotFound", patient, grantee);
    this.consents.delete(pair(patient, grantee));
    // What the patient took away, a standing policy does not give back.
    this.revoked.add(pair(patient, grantee));
    this.emit("ConsentRevoked", patient, grantee, actor);
  }

  grant(actor: string, patient: string, terms: GrantTerms, now: number): void {
    this.requirePatientOrDelegate(patient, actor, now);
    this.requireWithinScope(patient, actor, terms.dataClasses, terms.purposes, terms.validUntil);
    this.grantConsent(patient, terms, actor, now);
  }

  grantBatch(actor: string, patient: string, grants: readonly GrantTerms[], now: number): void {
    if (grants.length === 0) revert("EmptyBatch");
    this.requirePatientOrDelegate(patient, actor, now);
    for (const terms of grants) {
      this.requireWithinScope(patient, actor, terms.dataClasses, terms.purposes, terms.validUntil);
      this.grantConsent(patient, terms, actor, now);
    }
  }

  revoke(actor: string, patient: string, grantee: string, now: number): void {
    this.requirePatientOrDelegate(patient, actor, now);
    this.revokeConsent(patient, grantee, actor);
  }

  /** The caller appoints for itself: a delegate appointing appoints ITS OWN delegates, never the patient's. */
  appointDelegate(
    caller: string,
    delegate: string,
    validUntil: number,
    purposes: number,
    sensitiveClasses: boolean,
    now: number,
  ): void {
    if (delegate === ZeroAddress || delegate === caller) revert("InvalidDelegate", delegate);
    if (validUntil <= now) revert("InvalidValidity", now, validUntil);
    if (!isValidSet(purposes, ALL_PURPOSES)) revert("InvalidPurposes", purposes);
    this.delegates.set(pair(caller, delegate), { validUntil, purposes, sensitiveClasses });
    this.emit("DelegateAppointed", caller, delegate, validUntil, purposes, sensitiveClasses);
  }

  removeDelegate(caller: string, delegate: string): void {
    if (this.delegateUntil(caller, delegate) === 0) revert("DelegateNotFound", caller, delegate);
    this.delegates.delete(pair(caller, delegate));
    this.emit("DelegateRemoved", caller, delegate);
  }

  /**
   * IConsents.hasAccess: a consent covering both codes, started and not ended, and the accreditation
   * the purpose needs, live. Unknown codes are false.
   */
  hasAccess(patient: string, grantee: string, dataClass: number, purpose: number, now: number): boolean {
    if (!isKnownDataClass(dataClass) || !isKnownPurpose(purpose)) return false;
    const consent = this.consents.get(pair(patient, grantee));
    if (consent === undefined) return false;
    if (!has(consent.dataClasses, dataClass) || !has(consent.purposes, purpose)) return false;
    if (now < consent.validFrom || now >= consent.validUntil) return false;
    const roles = requiredRoles(purpose);
    return roles === 0 || this.isAccredited(grantee, roles, now);
  }

  /**
   * IEmergencyAccess.accessBasis: 1 (Consent) first, else 2 (Emergency) inside an open window for
   * TREAT/ETREAT of a live provider, else 0. Reverts for unknown codes.
   */
  accessBasis(patient: string, grantee: string, dataClass: number, purpose: number, now: number): number {
    if (!isKnownDataClass(dataClass)) revert("UnknownDataClass", dataClass);
    if (!isKnownPurpose(purpose)) revert("UnknownPurpose", purpose);
    if (this.hasAccess(patient, grantee, dataClass, purpose, now)) return 1;
    if (
      has(EMERGENCY_PURPOSES, purpose) &&
      this.emergencyAccessUntil(patient, grantee, now) !== 0 &&
      this.isAccredited(grantee, Role.PROVIDER, now)
    ) {
      return 2;
    }
    return 0;
  }

  // ---------------------------------------------------------------------------------------------
  // Requests and standing policies (IAccessRequests).

  policyOf(patient: string): DataUsePolicy {
    return (
      this.policies.get(patient) ?? {
        permission: 0,
        modifiers: 0n,
        dataClasses: 0,
        purposes: 0,
        diseaseId: 0,
        maxDuration: 0,
        validUntil: 0,
      }
    );
  }

  private validateTerms(researcher: string, terms: RequestTerms): void {
    if (terms.patient === ZeroAddress || terms.patient === researcher) revert("InvalidRequestPatient", terms.patient);
    if (!isValidSet(terms.dataClasses, ALL_DATA_CLASSES)) revert("InvalidDataClasses", terms.dataClasses);
    if (!isKnownPurpose(terms.purpose)) revert("UnknownPurpose", terms.purpose);
    // Research purposes only, each with a DUO research category.
    if (!has(RESEARCH_PURPOSES, terms.purpose)) revert("RequestPurposeNotResearch", terms.purpose);
    const category = terms.researchCategory;
    if (!RESEARCH_CATEGORIES.includes(category)) revert("InvalidResearchCategory", terms.purpose, category);
    // A disease id exactly for disease-specific research.
    if ((category === Duo.DS) !== (terms.diseaseId !== 0)) revert("InvalidDiseaseId", category, terms.diseaseId);
    if ((terms.acceptedObligations & ~DUO_OBLIGATIONS) !== 0n) revert("InvalidObligations", terms.acceptedObligations);
    if (terms.duration === 0 || terms.duration > this.params.maxRequestDuration) {
      revert("InvalidDuration", terms.duration, this.params.maxRequestDuration);
    }
  }

  /** DUO: GRU ⊇ HMB ⊇ DS (exact disease), POA under GRU but outside HMB; NRES allows everything. */
  private static permits(permission: number, policyDisease: number, category: number, disease: number): boolean {
    switch (permission) {
      case Duo.NRES:
      case Duo.GRU:
        return true;
      case Duo.HMB:
        return category === Duo.HMB || category === Duo.DS;
      case Duo.DS:
        return category === Duo.DS && disease === policyDisease;
      case Duo.POA:
        return category === Duo.POA;
      default:
        return false;
    }
  }

  /**
   * Whether the patient's standing policy approves the request by itself (docs/contracts.md "Policy matching",
   * after the DUOS matcher: anything that does not approve leaves the request to the patient).
   */
  policyMatches(terms: RequestTerms, researcherNonProfit: boolean, now: number): boolean {
    const policy = this.policies.get(terms.patient);
    if (policy === undefined || policy.permission === 0) return false;
    if (policy.validUntil !== 0 && policy.validUntil <= now) return false;
    if (!has(policy.purposes, terms.purpose)) return false;
    if ((terms.dataClasses & ~policy.dataClasses) !== 0) return false;
    // Sensitive classes are always decided by hand.
    if ((terms.dataClasses & SENSITIVE_DATA_CLASSES) !== 0) return false;
    if (!ConsentModel.permits(policy.permission, policy.diseaseId, terms.researchCategory, terms.diseaseId))
      return false;
    const m = policy.modifiers;
    if (hasBig(m, Duo.NPOA) && terms.researchCategory === Duo.POA) return false;
    if ((hasBig(m, Duo.NPU) || hasBig(m, Duo.NCU)) && !researcherNonProfit) return false;
    const obligations = m & DUO_OBLIGATIONS;
    if ((terms.acceptedObligations & obligations) !== obligations) return false;
    if (hasBig(m, Duo.IRB) && /^0x0{64}$/.test(terms.protocolHash)) return false;
    if (hasBig(m, Duo.TS) && terms.duration > policy.maxDuration) return false;
    return true;
  }

  /**
   * Whether a standing policy leaves a request of `grantee` to the patient: revoked since the patient's
   * side last granted, or holding a consent that has not ended (approving would replace it).
   */
  private holdsBackPolicy(patient: string, grantee: string, now: number): boolean {
    const consent = this.consents.get(pair(patient, grantee));
    return this.revoked.has(pair(patient, grantee)) || (consent !== undefined && consent.validUntil > now);
  }

  /** IAccessRequests.policyApproves: false for a researcher not live; reverts for invalid terms. */
  policyApproves(researcher: string, terms: RequestTerms, now: number): boolean {
    if (!this.isAccredited(researcher, Role.RESEARCHER, now)) return false;
    this.validateTerms(researcher, terms);
    return (
      this.policyMatches(terms, this.partyOf(researcher).nonProfit, now) &&
      !this.holdsBackPolicy(terms.patient, researcher, now)
    );
  }

  /** Opens a request; grants at once when the patient's policy approves. Returns the request. */
  requestAccess(
    researcher: string,
    terms: RequestTerms,
    now: number,
  ): { requestId: string; approved: boolean; request: AccessRequest } {
    const party = this.requireAccredited(researcher, Role.RESEARCHER, now);
    this.validateTerms(researcher, terms);
    const request: AccessRequest = { researcher, openedAt: now, terms: { ...terms } };
    const requestId = requestIdOf(request);
    if (this.requests.has(requestId)) revert("RequestAlreadyExists", requestId);
    const expiresAt = now + this.params.requestTtl;
    const approved =
      this.policyMatches(terms, party.nonProfit, now) && !this.holdsBackPolicy(terms.patient, researcher, now);
    // Stored only while it waits for the patient.
    if (!approved) this.requests.set(requestId, { expiresAt, request });
    this.requestLog.push(request);
    this.emit("RequestOpened", requestId, terms.patient, researcher, now, expiresAt, termsTuple(request.terms));
    if (approved) {
      this.emit("RequestApproved", requestId, terms.patient, ZeroAddress);
      this.grantConsent(terms.patient, this.requestGrant(request, now), ZeroAddress, now);
    }
    return { requestId, approved, request };
  }

  /** What approving a request grants: its classes for its one purpose, from now for its duration. */
  private requestGrant(request: AccessRequest, now: number): GrantTerms {
    return {
      grantee: request.researcher,
      dataClasses: request.terms.dataClasses,
      purposes: 2 ** request.terms.purpose,
      validFrom: now,
      validUntil: now + request.terms.duration,
    };
  }

  /** Pending (Expired once past its time) while stored; None, expiresAt 0, for unknown or closed ones. */
  requestStatus(requestId: string, now: number): { status: number; expiresAt: number } {
    const stored = this.requests.get(requestId);
    if (stored === undefined) return { status: Status.None, expiresAt: 0 };
    return { status: stored.expiresAt <= now ? Status.Expired : Status.Pending, expiresAt: stored.expiresAt };
  }

  /**
   * Approve or deny: the patient or a live delegate, a pending request, before it expires. The decision
   * closes the request: it can never be decided again (RequestNotFound).
   */
  decide(actor: string, request: AccessRequest, approve: boolean, now: number): string {
    this.requirePatientOrDelegate(request.terms.patient, actor, now);
    const requestId = requestIdOf(request);
    const stored = this.requests.get(requestId);
    if (stored === undefined) revert("RequestNotFound", requestId);
    if (stored.expiresAt <= now) revert("RequestExpired", requestId, stored.expiresAt);
    if (approve) {
      const terms = request.terms;
      this.requireWithinScope(terms.patient, actor, terms.dataClasses, 2 ** terms.purpose, now + terms.duration);
    }
    // Approval grants the researcher as it is now: suspended or lapsed since asking, it can only be denied.
    if (approve) this.requireAccredited(request.researcher, Role.RESEARCHER, now);
    this.requests.delete(requestId);
    if (approve) {
      this.emit("RequestApproved", requestId, request.terms.patient, actor);
      this.grantConsent(request.terms.patient, this.requestGrant(request, now), actor, now);
    } else {
      this.emit("RequestDenied", requestId, request.terms.patient, actor);
    }
    return requestId;
  }

  /** Only its researcher withdraws a request, while it is pending (an expired one too). */
  cancel(caller: string, request: AccessRequest): string {
    const requestId = requestIdOf(request);
    if (!this.requests.has(requestId)) revert("RequestNotFound", requestId);
    if (request.researcher !== caller) revert("NotRequestResearcher", requestId, caller);
    this.requests.delete(requestId);
    this.emit("RequestCancelled", requestId, request.terms.patient);
    return requestId;
  }

  setPolicy(caller: string, policy: DataUsePolicy, now: number): void {
    if (!POLICY_PERMISSIONS.includes(policy.permission)) revert("InvalidPolicyPermission", policy.permission);
    const unsupported = policy.modifiers & ~DUO_SUPPORTED_MODIFIERS;
    if (unsupported !== 0n) revert("UnsupportedPolicyModifiers", unsupported);
    if (!isValidSet(policy.dataClasses, ALL_DATA_CLASSES)) revert("InvalidDataClasses", policy.dataClasses);
    if (policy.purposes === 0 || (policy.purposes & ~RESEARCH_PURPOSES) !== 0)
      revert("InvalidPolicyPurposes", policy.purposes);
    if ((policy.permission === Duo.DS) !== (policy.diseaseId !== 0))
      revert("InvalidDiseaseId", policy.permission, policy.diseaseId);
    if (hasBig(policy.modifiers, Duo.TS) !== (policy.maxDuration !== 0)) {
      revert("InvalidPolicyTimeLimit", policy.modifiers, policy.maxDuration);
    }
    if (policy.validUntil !== 0 && policy.validUntil <= now) revert("InvalidValidity", 0, policy.validUntil);
    this.policies.set(caller, { ...policy });
    this.emit("PolicySet", caller, policyTuple(policy));
  }

  clearPolicy(caller: string): void {
    this.policies.delete(caller);
    this.emit("PolicyCleared", caller);
  }

  // ---------------------------------------------------------------------------------------------
  // Emergency access (IEmergencyAccess).

  emergencyOptedOut(patient: string): boolean {
    return this.optedOut.get(patient) ?? false;
  }

  /** The end of an open window: not ended, opened in the patient's current epoch, patient not opted out. */
  emergencyAccessUntil(patient: string, provider: string, now: number): number {
    const window = this.windows.get(pair(patient, provider));
    if (window === undefined) return 0;
    if (window.until <= now || window.epoch !== (this.epochs.get(patient) ?? 0) || this.emergencyOptedOut(patient))
      return 0;
    // A suspension ends the provider's windows for good, reinstated or not.
    if (window.suspensions !== this.partyOf(provider).suspensions) return 0;
    return window.until;
  }

  openEmergencyAccess(provider: string, patient: string, reasonCode: number, duration: number, now: number): void {
    const { suspensions } = this.requireAccredited(provider, Role.PROVIDER, now);
    if (patient === ZeroAddress || patient === provider) revert("InvalidEmergencyPatient", patient);
    if (!EMERGENCY_REASONS.includes(reasonCode)) revert("UnknownEmergencyReason", reasonCode);
    if (duration === 0 || duration > this.params.maxEmergencyDuration) {
      revert("InvalidEmergencyDuration", duration, this.params.maxEmergencyDuration);
    }
    if (this.emergencyOptedOut(patient)) revert("EmergencyAccessOptedOut", patient);
    const until = now + duration;
    // Within twice the maximum of the period's first opening, windows end at most the maximum after it.
    const max = this.params.maxEmergencyDuration;
    let periodStart = this.windows.get(pair(patient, provider))?.periodStart ?? 0;
    if (periodStart === 0 || now >= periodStart + 2 * max) periodStart = now;
    if (until > periodStart + max) revert("EmergencyAccessCapExceeded", patient, provider, until, periodStart + max);
    this.windows.set(pair(patient, provider), {
      until,
      epoch: this.epochs.get(patient) ?? 0,
      suspensions,
      periodStart,
    });
    this.emit("EmergencyAccessOpened", patient, provider, reasonCode, until);
  }

  closeEmergencyAccess(provider: string, patient: string, now: number): void {
    if (this.emergencyAccessUntil(patient, provider, now) === 0) revert("EmergencyAccessNotOpen", patient, provider);
    // Closing keeps the period, so close-and-reopen does not reset the cap.
    this.windows.get(pair(patient, provider))!.until = 0;
    this.emit("EmergencyAccessClosed", patient, provider);
  }

  /** Opting out ends every open window for good (a new epoch); opting back in revives none. */
  setEmergencyOptOut(patient: string, optedOut: boolean): void {
    if (optedOut) this.epochs.set(patient, ((this.epochs.get(patient) ?? 0) + 1) % UINT16_WRAP);
    this.optedOut.set(patient, optedOut);
    this.emit("EmergencyOptOutSet", patient, optedOut);
  }

  // ---------------------------------------------------------------------------------------------
  // Signed operations (ISignedConsents).

  isNonceUsed(signer: string, nonce: bigint): boolean {
    return this.usedNonces.get(signer)?.has(nonce.toString()) ?? false;
  }

  /** Bit i set when nonce word * 256 + i is used or cancelled (Permit2's `nonceBitmap`). */
  nonceBitmap(signer: string, word: bigint): bigint {
    let bitmap = 0n;
    for (let i = 0n; i < 256n; i++) if (this.isNonceUsed(signer, (word << 8n) + i)) bitmap |= 1n << i;
    return bitmap;
  }

  invalidateNonces(caller: string, word: bigint, mask: bigint): void {
    const used = this.usedNonces.get(caller) ?? new Set<string>();
    for (let i = 0; i < 256; i++) if (hasBig(mask, i)) used.add(((word << 8n) + BigInt(i)).toString());
    this.usedNonces.set(caller, used);
    this.emit("NoncesInvalidated", caller, word, mask);
  }

  /**
   * A signature works before its deadline (inclusive), once per nonce, and only when `signer` signed
   * exactly this message for this contract on this chain (`validSignature`, decided by whoever made it).
   */
  private useSignature(signer: string, nonce: bigint, deadline: bigint, validSignature: boolean, now: number): void {
    if (BigInt(now) > deadline) revert("SignatureExpired", deadline);
    if (this.isNonceUsed(signer, nonce)) revert("NonceAlreadyUsed", signer, nonce);
    if (!validSignature) revert("InvalidSignature", signer);
    const used = this.usedNonces.get(signer) ?? new Set<string>();
    used.add(nonce.toString());
    this.usedNonces.set(signer, used);
  }

  grantBySig(
    patient: string,
    terms: GrantTerms,
    seenConsent: bigint,
    signer: string,
    nonce: bigint,
    deadline: bigint,
    valid: boolean,
    now: number,
  ): void {
    this.useSignature(signer, nonce, deadline, valid, now);
    this.requirePatientOrDelegate(patient, signer, now);
    this.requireWithinScope(patient, signer, terms.dataClasses, terms.purposes, terms.validUntil);
    this.requireConsentSeen(patient, terms.grantee, seenConsent);
    this.grantConsent(patient, terms, signer, now);
  }

  revokeBySig(
    patient: string,
    grantee: string,
    signer: string,
    nonce: bigint,
    deadline: bigint,
    valid: boolean,
    now: number,
  ): void {
    this.useSignature(signer, nonce, deadline, valid, now);
    this.requirePatientOrDelegate(patient, signer, now);
    this.revokeConsent(patient, grantee, signer);
  }

  /** `seenConsent` is signed by an approval only; a denial passes undefined. */
  decideBySig(
    request: AccessRequest,
    approve: boolean,
    seenConsent: bigint | undefined,
    signer: string,
    nonce: bigint,
    deadline: bigint,
    valid: boolean,
    now: number,
  ): string {
    this.useSignature(signer, nonce, deadline, valid, now);
    if (approve) this.requireConsentSeen(request.terms.patient, request.researcher, seenConsent ?? 0n);
    return this.decide(signer, request, approve, now);
  }

  // ---------------------------------------------------------------------------------------------
  // For the invariants and for picking interesting moments.

  /** Every time at which some answer of the model may change: the model's own boundaries. */
  boundaries(): number[] {
    const times = new Set<number>();
    for (const c of this.consents.values()) times.add(c.validFrom).add(c.validUntil);
    for (const d of this.delegates.values()) times.add(d.validUntil);
    for (const p of this.parties.values()) if (p.accreditedUntil !== 0) times.add(p.accreditedUntil);
    for (const w of this.windows.values()) times.add(w.until);
    for (const r of this.requests.values()) times.add(r.expiresAt);
    for (const p of this.policies.values()) if (p.validUntil !== 0) times.add(p.validUntil);
    return [...times].filter((t) => t > 0 && t < UINT40_MAX).sort((a, b) => a - b);
  }
}

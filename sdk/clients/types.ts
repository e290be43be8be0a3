import type { DataClassName, DuoName, PurposeName, RequestStatusName } from "../codes";
import type { SignedActionKind } from "./consent-types";

/** A consent as the ledger stores it: bitmasks and unix seconds. */
export interface Consent {
  patient: string;
  grantee: string;
  dataClasses: number;
  purposes: number;
  validFrom: number;
  validUntil: number;
}

/**
 * What a grant or an approval would change for one grantee, as the chain stands now: the consent in
 * force or scheduled (`before`, undefined when none has not ended), the one that would be stored
 * (`after`), and whether the transaction would replace `before` (the ledger then emits ConsentReplaced
 * with it). For an approval, `after` starts at the latest block's time: the mined consent starts at its
 * own block's.
 */
export interface ConsentPreview {
  before: Consent | undefined;
  after: Consent;
  replaces: boolean;
  /**
   * The consent word the ledger holds now for (patient, grantee), as a signed grant or approval carries
   * it (`seenConsent`, see {@link consentWordOf}): an ended consent still counts, a revoked one is 0. If
   * the ledger holds another word when the signature is relayed, it refuses it (ConsentChanged).
   */
  seenConsent: bigint;
}

/** What a delegate may do for a patient: the purposes it may grant or approve, and the sensitive classes or not. */
export interface DelegateScopeInput {
  purposes: readonly (PurposeName | number)[] | number;
  /** Whether it may grant or approve mental health, sexual and reproductive health, substance use. */
  sensitiveClasses: boolean;
}

/** What a patient grants; sets by name or code, times as Date or unix seconds. */
export interface GrantInput {
  grantee: string;
  dataClasses: readonly (DataClassName | number)[] | number;
  purposes: readonly (PurposeName | number)[] | number;
  /** Defaults to now. */
  validFrom?: Date | number;
  validUntil: Date | number;
}

/** IAccessRequests.RequestTerms, with numbers as the ledger holds them. */
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

/** IAccessRequests.AccessRequest: what deciding a request passes back to the ledger. */
export interface AccessRequest {
  researcher: string;
  openedAt: number;
  terms: RequestTerms;
}

/** What a researcher asks for, by name. */
export interface RequestInput {
  patient: string;
  dataClasses: readonly (DataClassName | number)[] | number;
  purpose: PurposeName | number;
  /** DUO research category (GRU, HMB, DS, POA); required for research purposes. */
  researchCategory?: DuoName | number;
  /** MONDO id of the disease, for DS research. */
  diseaseId?: number;
  /** DUO obligations the researcher accepts: PUB, COL, IRB, MOR, RTN. */
  acceptedObligations?: readonly (DuoName | number)[];
  /** Seconds of access wanted from approval. */
  duration: number;
  /** A study identifier: a 0x 32-byte value, or any string (its keccak256 is sent, never the text). */
  studyId: string;
  /** Hash of the protocol / ethics approval, 0x 32 bytes (see `hashDocument`). */
  protocolHash?: string;
}

/** IAccessRequests.DataUsePolicy, by name. */
export interface PolicyInput {
  permission: DuoName | number;
  /** DUO modifiers by name or code, or their mask as stored (DataUsePolicy.modifiers). */
  modifiers?: readonly (DuoName | number)[] | bigint;
  dataClasses: readonly (DataClassName | number)[] | number;
  purposes?: readonly (PurposeName | number)[] | number;
  diseaseId?: number;
  /** Seconds; required with the TS modifier. */
  maxDuration?: number;
  validUntil?: Date | number;
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

/** A request as researchers and patients see it. */
/**
 * What became of the consent an approved request created: still the one in force, run out, revoked by
 * the patient (or a delegate), or replaced by a later grant or approval for the same researcher.
 */
export type ConsentFate = "InForce" | "Expired" | "Revoked" | "Replaced";

export interface RequestView {
  requestId: string;
  request: AccessRequest;
  status: RequestStatusName;
  /** For an approved request: what became of the consent it gave (undefined for any other status). */
  consent?: ConsentFate;
  expiresAt: number;
  blockNumber: number;
  transactionHash: string;
}

/** A patient action signed off-chain for someone else to relay: a JSON-safe object. */
export interface SignedConsent {
  /**
   * grant, revoke, approve, deny: the ledger's typed *BySig functions; setPolicy, clearPolicy,
   * appointDelegate, removeDelegate, setEmergencyOptOut, invalidateNonces: its actBySig; registerKey:
   * KeyDirectory.registerKeyBySig.
   */
  kind: "grant" | "revoke" | "approve" | "deny" | SignedActionKind | "registerKey";
  chainId: number;
  ledger: string;
  signer: string;
  nonce: string;
  deadline: number;
  signature: string;
  patient?: string;
  grant?: { grantee: string; dataClasses: number; purposes: number; validFrom: number; validUntil: number };
  /** For a grant or an approval: the consent word the signer saw (decimal), see ConsentPreview.seenConsent. */
  seenConsent?: string;
  grantee?: string;
  request?: {
    researcher: string;
    openedAt: number;
    terms: Omit<RequestTerms, "acceptedObligations"> & { acceptedObligations: string };
  };
  /**
   * For an actBySig kind and registerKey: the signed fields between `signer` and `nonce`, by their EIP-712
   * names (ACTION_TYPES, KEY_DIRECTORY_TYPES): integers as decimal strings, booleans, addresses and bytes32 as hex.
   */
  fields?: Record<string, string | boolean>;
  /** For registerKey: the KeyDirectory it is signed for (its EIP-712 verifying contract). */
  keyDirectory?: string;
}

/** Who the requests were made to or by. */
export type RequestParty = { patient: string; researcher?: undefined } | { researcher: string; patient?: undefined };

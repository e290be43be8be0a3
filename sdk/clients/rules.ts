/**
 * What the clients make of their inputs and of what the contracts return, once for the ethers and the
 * viem entry: a grant's terms, a policy, a stored consent, policy or accreditation by value, roles,
 * nonce words. No import of ethers or viem, so both entries share every rule and only talk to the
 * contracts differently.
 */
import { dataClassMask, duoModifierMask, duoPermissionCode, purposeMask, requireAddress, toUnixSeconds } from "../args";
import { RESEARCH_PURPOSES, Purpose, Role, maskOf, type RoleName } from "../codes";
import { InvalidArgumentError, UnknownCodeError, describeValue } from "../errors";
import type { Consent, DataUsePolicy, DelegateScopeInput, GrantInput, PolicyInput } from "./types";

/** Numbers as either library returns them (ethers and viem give bigint or number by width). */
type Numeric = bigint | number;

/**
 * A delegate in office: who, until when (unix seconds), and its scope: the purposes it may grant or
 * approve (a {@link Purpose} bitmask) and whether it may give the sensitive classes.
 */
export interface Delegate {
  delegate: string;
  validUntil: number;
  purposes: number;
  sensitiveClasses: boolean;
}

/** A delegate's scope as the ledger stores it. */
export interface DelegateScope {
  purposes: number;
  sensitiveClasses: boolean;
}

/**
 * A carer's scope: treatment, emergency treatment and care management, no sensitive classes. What the
 * dashboard and the CLI offer unless the patient chooses otherwise.
 */
export const CARE_DELEGATE_SCOPE: DelegateScopeInput = {
  purposes: ["TREAT", "ETREAT", "CAREMGT"],
  sensitiveClasses: false,
};

/** A delegate's scope as the ledger takes it (appointDelegate); throws InvalidArgumentError on a bad input. */
export function delegateScopeTerms(scope: DelegateScopeInput): DelegateScope {
  if (scope === null || typeof scope !== "object" || typeof scope.sensitiveClasses !== "boolean") {
    throw new InvalidArgumentError(
      "scope",
      `must be { purposes, sensitiveClasses: boolean }, got ${describeValue(scope)}`,
      {
        hint: "Say what the delegate may grant, e.g. CARE_DELEGATE_SCOPE.",
      },
    );
  }
  return { purposes: purposeMask(scope.purposes), sensitiveClasses: scope.sensitiveClasses };
}

/** A stored appointment (delegateOf) by value. */
export function delegateFromStored(
  delegate: string,
  stored: { validUntil: Numeric; purposes: Numeric; sensitiveClasses: boolean },
): Delegate {
  return {
    delegate,
    validUntil: Number(stored.validUntil),
    purposes: Number(stored.purposes),
    sensitiveClasses: Boolean(stored.sensitiveClasses),
  };
}

/**
 * The consent word of a stored consent, as the ledger packs it and a signed grant or approval carries it:
 * `dataClasses | purposes << 32 | validFrom << 64 | validUntil << 104`; 0 when there is none.
 */
export function consentWordOf(
  consent: Pick<Consent, "dataClasses" | "purposes" | "validFrom" | "validUntil"> | undefined,
): bigint {
  if (consent === undefined) return 0n;
  return (
    BigInt(consent.dataClasses) |
    (BigInt(consent.purposes) << 32n) |
    (BigInt(consent.validFrom) << 64n) |
    (BigInt(consent.validUntil) << 104n)
  );
}

/** The consent a word stands for (see consentWordOf), or undefined for 0 (none, or revoked). */
export function consentOfWord(
  word: bigint,
): Pick<Consent, "dataClasses" | "purposes" | "validFrom" | "validUntil"> | undefined {
  const field = (shift: bigint, bits: bigint) => Number((word >> shift) & ((1n << bits) - 1n));
  if (word === 0n) return undefined;
  return {
    dataClasses: field(0n, 32n),
    purposes: field(32n, 32n),
    validFrom: field(64n, 40n),
    validUntil: field(104n, 40n),
  };
}

/** An account's accreditation (IAccreditation.Party), by value. */
export interface Accreditation {
  /** Role bitmask (see Role, roleNames). */
  roles: number;
  nonProfit: boolean;
  suspended: boolean;
  /** Unix seconds; 0 means no end date. */
  accreditedUntil: number;
}

/** A grant's terms as the ledger takes them; throws InvalidArgumentError on a bad input. */
export function grantTerms(input: GrantInput) {
  const grantee = requireAddress(input.grantee, "grantee");
  const validFrom = toUnixSeconds(input.validFrom, "validFrom");
  const validUntil = toUnixSeconds(input.validUntil, "validUntil");
  if (validUntil <= validFrom) {
    throw new InvalidArgumentError("validUntil", `must be after validFrom (${validFrom}), got ${validUntil}`);
  }
  return {
    grantee,
    dataClasses: dataClassMask(input.dataClasses),
    purposes: purposeMask(input.purposes),
    validFrom,
    validUntil,
  };
}

/** A standing policy as the ledger takes it; purposes default to every research purpose. */
export function policyTerms(input: PolicyInput): DataUsePolicy {
  return {
    permission: duoPermissionCode(input.permission),
    modifiers: duoModifierMask(input.modifiers),
    dataClasses: dataClassMask(input.dataClasses),
    purposes:
      input.purposes === undefined
        ? maskOf(RESEARCH_PURPOSES.map((name) => Purpose[name]))
        : purposeMask(input.purposes),
    diseaseId: input.diseaseId ?? 0,
    maxDuration: input.maxDuration ?? 0,
    validUntil: toUnixSeconds(input.validUntil, "validUntil"),
  };
}

/** A stored consent (consentOf) by value; undefined when none was ever stored. */
export function consentFromStored(
  patient: string,
  grantee: string,
  stored: { dataClasses: Numeric; purposes: Numeric; validFrom: Numeric; validUntil: Numeric },
): Consent | undefined {
  if (BigInt(stored.validUntil) === 0n) return undefined;
  return {
    patient,
    grantee,
    dataClasses: Number(stored.dataClasses),
    purposes: Number(stored.purposes),
    validFrom: Number(stored.validFrom),
    validUntil: Number(stored.validUntil),
  };
}

/** A stored policy (policyOf) by value; undefined when none is set. */
export function policyFromStored(stored: {
  permission: Numeric;
  modifiers: Numeric;
  dataClasses: Numeric;
  purposes: Numeric;
  diseaseId: Numeric;
  maxDuration: Numeric;
  validUntil: Numeric;
}): DataUsePolicy | undefined {
  if (Number(stored.permission) === 0) return undefined;
  return {
    permission: Number(stored.permission),
    modifiers: BigInt(stored.modifiers),
    dataClasses: Number(stored.dataClasses),
    purposes: Number(stored.purposes),
    diseaseId: Number(stored.diseaseId),
    maxDuration: Number(stored.maxDuration),
    validUntil: Number(stored.validUntil),
  };
}

/** A stored accreditation (partyOf) by value. */
export function accreditationFromStored(stored: {
  roles: Numeric;
  nonProfit: boolean;
  suspended: boolean;
  accreditedUntil: Numeric;
}): Accreditation {
  return {
    roles: Number(stored.roles),
    nonProfit: stored.nonProfit,
    suspended: stored.suspended,
    accreditedUntil: Number(stored.accreditedUntil),
  };
}

/** An accreditation's terms as the ledger takes them: roles by name to a bitmask, never none. */
export function accreditTerms(input: {
  party: string;
  roles: readonly RoleName[];
  nonProfit?: boolean;
  accreditedUntil?: Date | number;
}): { party: string; roles: number; nonProfit: boolean; until: number } {
  const party = requireAddress(input.party, "party");
  if (input.roles.length === 0) throw new InvalidArgumentError("roles", "name at least one role");
  let roles = 0;
  for (const role of input.roles) {
    const key = String(role).toUpperCase() as RoleName;
    if (!(key in Role)) throw new UnknownCodeError("role", role, Object.keys(Role));
    roles |= Role[key];
  }
  return {
    party,
    roles,
    nonProfit: input.nonProfit ?? false,
    until: toUnixSeconds(input.accreditedUntil, "accreditedUntil"),
  };
}

/** The largest bitmap word index (nonce >> 8) a uint256 nonce can have. */
const MAX_WORD = 2n ** 248n - 1n;

/** A nonce bitmap word's index, checked. */
export function nonceWordIndex(word: bigint | number): bigint {
  const index = BigInt(word);
  if (index < 0n || index > MAX_WORD) throw new InvalidArgumentError("word", `must be 0 to 2^248-1, got ${index}`);
  return index;
}

/** The nonces a bitmap word marks used, ascending. */
export function usedNonces(word: bigint | number, bitmap: bigint): bigint[] {
  const base = BigInt(word) * 256n;
  const used: bigint[] = [];
  for (let bit = 0n; bit < 256n; bit++) if ((bitmap >> bit) & 1n) used.push(base + bit);
  return used;
}

export const FULL_NONCE_WORD = 2n ** 256n - 1n;
/** A bound on the search for an unused nonce, so a signer who cancelled nonces in bulk gets an answer, not an endless scan. */
export const MAX_NONCE_WORDS = 256n;

/** The lowest unused nonce, reading bitmap words one at a time with `wordAt`. */
export async function lowestUnusedNonce(wordAt: (word: bigint) => Promise<bigint>): Promise<bigint> {
  for (let word = 0n; word < MAX_NONCE_WORDS; word++) {
    const bitmap = await wordAt(word);
    if (bitmap !== FULL_NONCE_WORD) {
      let bit = 0n;
      while ((bitmap >> bit) & 1n) bit++;
      return word * 256n + bit;
    }
  }
  throw new InvalidArgumentError("nonce", `the first ${MAX_NONCE_WORDS * 256n} nonces are used`, {
    hint: "Pass an explicit nonce.",
  });
}

/** invalidateNonces' arguments that cancel one nonce: its word and its bit. */
export function cancelNonceArgs(nonce: bigint): [bigint, bigint] {
  return [nonce >> 8n, 1n << (nonce & 0xffn)];
}

/**
 * Reads of what a dashboard or a command line shows, typed and converted once: a patient's standing
 * policy, delegates, requests by patient or by researcher, an account's accreditation and a signer's nonce
 * bitmap word. Each takes the contracts bound by `connect` (a signer or a read-only provider).
 */
import type { EventLog } from "ethers";

import { requireAddress } from "../args";
import type { LedgerContracts } from "../chain/connect";
import { InvalidArgumentError } from "../errors";
import { requestViews } from "./requests";
import type { DataUsePolicy, RequestView } from "./types";

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

/** An account's accreditation (IAccreditation.Party), by value. */
export interface Accreditation {
  /** Role bitmask (see Role, roleNames). */
  roles: number;
  nonProfit: boolean;
  suspended: boolean;
  /** Unix seconds; 0 means no end date. */
  accreditedUntil: number;
}

/** The patient's standing research policy, or undefined when none is set. */
export async function policyOf(contracts: LedgerContracts, patient: string): Promise<DataUsePolicy | undefined> {
  const stored = await contracts.ledger.policyOf(requireAddress(patient, "patient"));
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

/**
 * The patient's delegates in office at the latest block: every delegate the events ever named, kept
 * where storage still holds an end date after now (a removal or an expiry drops them).
 */
export async function delegatesOf(contracts: LedgerContracts, patient: string): Promise<Delegate[]> {
  const who = requireAddress(patient, "patient");
  const events = (await contracts.ledger.queryFilter(
    contracts.ledger.filters.DelegateAppointed(who),
    contracts.deployment.deployedAtBlock ?? 0,
  )) as unknown as EventLog[];
  const named = [...new Set(events.map((event) => event.args.delegate as string))];
  const now = Number((await contracts.provider.getBlock("latest"))?.timestamp ?? 0);
  const delegates = await Promise.all(
    named.map(async (delegate) => {
      const appointment = await contracts.ledger.delegateOf(who, delegate);
      return {
        delegate,
        validUntil: Number(appointment.validUntil),
        purposes: Number(appointment.purposes),
        sensitiveClasses: appointment.sensitiveClasses,
      };
    }),
  );
  return delegates.filter((entry) => entry.validUntil > now);
}

/** Who the requests were made to or by. */
export type RequestParty = { patient: string; researcher?: undefined } | { researcher: string; patient?: undefined };

/** Requests made to a patient or by a researcher, oldest first; by default only those still pending. */
export async function requestsOf(
  contracts: LedgerContracts,
  party: RequestParty,
  options: { all?: boolean } = {},
): Promise<RequestView[]> {
  const filter =
    party.patient !== undefined
      ? contracts.ledger.filters.RequestOpened(undefined, requireAddress(party.patient, "patient"))
      : contracts.ledger.filters.RequestOpened(undefined, undefined, requireAddress(party.researcher, "researcher"));
  const events = await contracts.ledger.queryFilter(filter, contracts.deployment.deployedAtBlock ?? 0);
  const views = await requestViews(contracts, events as unknown as EventLog[]);
  return options.all ? views : views.filter((view) => view.status === "Pending");
}

/** An account's accreditation; roles 0 for an account never accredited. */
export async function accreditationOf(contracts: LedgerContracts, party: string): Promise<Accreditation> {
  const stored = await contracts.ledger.partyOf(requireAddress(party, "party"));
  return {
    roles: Number(stored.roles),
    nonProfit: stored.nonProfit,
    suspended: stored.suspended,
    accreditedUntil: Number(stored.accreditedUntil),
  };
}

/** The largest bitmap word index (nonce >> 8) a uint256 nonce can have. */
const MAX_WORD = 2n ** 248n - 1n;

/**
 * One word of a signer's nonce bitmap (Permit2 style): bit i set means nonce `word * 256 + i` is used or
 * cancelled. Word 0 holds nonces 0..255.
 */
export async function nonceWordOf(contracts: LedgerContracts, signer: string, word: bigint | number = 0n): Promise<bigint> {
  const index = BigInt(word);
  if (index < 0n || index > MAX_WORD) throw new InvalidArgumentError("word", `must be 0 to 2^248-1, got ${index}`);
  return contracts.ledger.nonceBitmap(requireAddress(signer, "signer"), index);
}

/** The nonces a bitmap word marks used, ascending. */
export function usedNonces(word: bigint | number, bitmap: bigint): bigint[] {
  const base = BigInt(word) * 256n;
  const used: bigint[] = [];
  for (let bit = 0n; bit < 256n; bit++) if ((bitmap >> bit) & 1n) used.push(base + bit);
  return used;
}

/**
 * Reads of what a dashboard or a command line shows, typed and converted once: a patient's standing
 * policy, delegates, requests by patient or by researcher, an account's accreditation and a signer's nonce
 * bitmap word. Each takes the contracts bound by `connect` (a signer or a read-only provider).
 */
import type { EventLog } from "ethers";

import { requireAddress } from "../args";
import type { LedgerContracts } from "../chain/connect";
import { requestViews } from "./requests";
import {
  accreditationFromStored,
  delegateFromStored,
  nonceWordIndex,
  policyFromStored,
  type Accreditation,
  type Delegate,
} from "./rules";
import type { DataUsePolicy, RequestParty, RequestView } from "./types";

export type { RequestParty } from "./types";

export { usedNonces } from "./rules";
export type { Accreditation, Delegate } from "./rules";

/** The patient's standing research policy, or undefined when none is set. */
export async function policyOf(contracts: LedgerContracts, patient: string): Promise<DataUsePolicy | undefined> {
  return policyFromStored(await contracts.ledger.policyOf(requireAddress(patient, "patient")));
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
    named.map(async (delegate) => delegateFromStored(delegate, await contracts.ledger.delegateOf(who, delegate))),
  );
  return delegates.filter((entry) => entry.validUntil > now);
}

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
  return accreditationFromStored(await contracts.ledger.partyOf(requireAddress(party, "party")));
}

/**
 * One word of a signer's nonce bitmap (Permit2 style): bit i set means nonce `word * 256 + i` is used or
 * cancelled. Word 0 holds nonces 0..255.
 */
export async function nonceWordOf(
  contracts: LedgerContracts,
  signer: string,
  word: bigint | number = 0n,
): Promise<bigint> {
  return contracts.ledger.nonceBitmap(requireAddress(signer, "signer"), nonceWordIndex(word));
}

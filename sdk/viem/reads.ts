/**
 * The reads of sdk/clients/reads.ts for viem contracts, with the same conversions (sdk/clients/rules.ts),
 * so both entries give the same values.
 */
import { requireAddress } from "../args";
import {
  accreditationFromStored,
  delegateFromStored,
  nonceWordIndex,
  policyFromStored,
  type Accreditation,
  type Delegate,
} from "../clients/rules";
import type { DataUsePolicy } from "../clients/types";
import type { ViemLedgerContracts } from "./connect";

export { usedNonces } from "../clients/rules";

const at = (address: string) => address as `0x${string}`;

/** The latest block's time (unix seconds): the ledger's own clock. */
export async function latestTime(contracts: ViemLedgerContracts): Promise<number> {
  return Number((await contracts.client.getBlock({ blockTag: "latest" })).timestamp);
}

/** The patient's standing research policy, or undefined when none is set. */
export async function policyOf(contracts: ViemLedgerContracts, patient: string): Promise<DataUsePolicy | undefined> {
  return policyFromStored(await contracts.ledger.read.policyOf([at(requireAddress(patient, "patient"))]));
}

/** An account's accreditation; roles 0 for an account never accredited. */
export async function accreditationOf(contracts: ViemLedgerContracts, party: string): Promise<Accreditation> {
  return accreditationFromStored(await contracts.ledger.read.partyOf([at(requireAddress(party, "party"))]));
}

/** One word of a signer's nonce bitmap: bit i set means nonce `word * 256 + i` is used or cancelled. */
export async function nonceWordOf(
  contracts: ViemLedgerContracts,
  signer: string,
  word: bigint | number = 0n,
): Promise<bigint> {
  return contracts.ledger.read.nonceBitmap([at(requireAddress(signer, "signer")), nonceWordIndex(word)]);
}

/**
 * The patient's delegates in office at the latest block, with their scope (named by events, kept where
 * storage still holds an end after now).
 */
export async function delegatesOf(contracts: ViemLedgerContracts, patient: string): Promise<Delegate[]> {
  const who = requireAddress(patient, "patient");
  const events = await contracts.ledger.getEvents.DelegateAppointed(
    { patient: at(who) },
    { fromBlock: BigInt(contracts.deployment.deployedAtBlock ?? 0) },
  );
  const named = [...new Set(events.map((event) => event.args.delegate as string))];
  const now = await latestTime(contracts);
  const delegates = await Promise.all(
    named.map(async (delegate) =>
      delegateFromStored(delegate, await contracts.ledger.read.delegateOf([at(who), at(delegate)])),
    ),
  );
  return delegates.filter((entry) => entry.validUntil > now);
}

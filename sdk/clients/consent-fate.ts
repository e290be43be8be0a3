import type { EventLog } from "ethers";

import type { LedgerContracts } from "../chain/connect";
import type { ConsentFate } from "./types";

/** Where an event sits in the chain's order. */
export interface Position {
  blockNumber: number;
  index: number;
  transactionHash: string;
}

function after(a: Position, b: Position): boolean {
  return a.blockNumber > b.blockNumber || (a.blockNumber === b.blockNumber && a.index > b.index);
}

/**
 * What became of the consents that approvals created: for each approval (its RequestApproved event,
 * the patient and the researcher), whether the consent it gave is still the one in force, has since
 * been revoked, replaced by a later grant or approval, or has run out. An approval's status alone
 * ("Approved") would keep saying so after the patient took the access away.
 *
 * Two log queries for all approvals together (grants and revocations between these patients and
 * researchers), then one read of each consent that no later event touched, to tell in force from
 * expired by the ledger's own clock.
 */
export async function consentFates(
  contracts: LedgerContracts,
  approvals: readonly { approval: Position; patient: string; researcher: string }[],
): Promise<ConsentFate[]> {
  if (approvals.length === 0) return [];
  const { ledger } = contracts;
  const from = contracts.deployment.deployedAtBlock ?? 0;
  const patients = [...new Set(approvals.map((a) => a.patient))];
  const researchers = [...new Set(approvals.map((a) => a.researcher))];
  // An array in a topic position matches any of its values (ethers passes it as an OR to eth_getLogs);
  // the typechain signatures only declare single values.
  const anyOf = (addresses: string[]) => addresses as unknown as string;
  const [granted, revoked, latest] = await Promise.all([
    ledger.queryFilter(ledger.filters.ConsentGranted(anyOf(patients), anyOf(researchers)), from),
    ledger.queryFilter(ledger.filters.ConsentRevoked(anyOf(patients), anyOf(researchers)), from),
    contracts.provider.getBlock("latest"),
  ]);
  const now = latest?.timestamp ?? Math.floor(Date.now() / 1000);
  const events = new Map<string, ConsentEvent[]>();
  for (const [kind, list] of [
    ["granted", granted],
    ["revoked", revoked],
  ] as const) {
    for (const event of list as unknown as EventLog[]) {
      const key = consentPair(event.args.patient, event.args.grantee);
      const entries = events.get(key) ?? [];
      entries.push({
        kind,
        at: { blockNumber: event.blockNumber, index: event.index, transactionHash: event.transactionHash },
      });
      events.set(key, entries);
    }
  }
  return Promise.all(
    approvals.map(async ({ approval, patient, researcher }) => {
      const fate = fateFromEvents(approval, events.get(consentPair(patient, researcher)) ?? []);
      if (fate) return fate;
      const consent = await ledger.consentOf(patient, researcher);
      return Number(consent.validUntil) > now ? "InForce" : "Expired";
    }),
  );
}

/** A grant or revocation between one patient and one grantee, and where it sits in the chain. */
export interface ConsentEvent {
  kind: "granted" | "revoked";
  at: Position;
}

/** The key of a patient and grantee pair, whatever the addresses' case. */
export function consentPair(patient: string, grantee: string): string {
  return `${patient.toLowerCase()}:${grantee.toLowerCase()}`;
}

/**
 * An approval's fate from the grants and revocations of its pair: Revoked or Replaced by the latest one
 * after it, or undefined when none came after (storage then tells in force from expired). Shared by the
 * ethers and the viem entry.
 */
export function fateFromEvents(
  approval: Position,
  events: readonly ConsentEvent[],
): "Revoked" | "Replaced" | undefined {
  // The approval's own grant is logged in the same transaction: anything later in the chain is not.
  const later = events
    .filter((event) => event.at.transactionHash !== approval.transactionHash && after(event.at, approval))
    .sort((a, b) => (after(a.at, b.at) ? 1 : -1));
  const last = later.at(-1);
  if (last?.kind === "revoked") return "Revoked";
  if (last?.kind === "granted") return "Replaced";
  return undefined;
}

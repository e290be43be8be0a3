/**
 * Research requests for viem contracts: a request's status (from storage, and once closed from the
 * event that closed it) and a request found by its id, as sdk/clients/requests.ts does for ethers, on the
 * same rules (sdk/clients/request-rules.ts).
 */
import { requireAddress, requireBytes32 } from "../args";
import { consentPair, fateFromEvents, type ConsentEvent, type Position } from "../clients/consent-fate";
import { requestFromArgs, type RequestOpenedArgs } from "../clients/request-rules";
import type { AccessRequest, ConsentFate, RequestParty, RequestView } from "../clients/types";

export type { RequestParty } from "../clients/types";
import { RequestStatus } from "../codes";
import { ConsentLedgerError } from "../errors";
import type { ViemLedgerContracts } from "./connect";
import { latestTime } from "./reads";

const at = (value: string) => value as `0x${string}`;

/**
 * The state of a request: Pending or Expired while the ledger stores it; once closed, the outcome its
 * event records (Approved, Denied, Cancelled); None when it was never opened here.
 */
export async function requestStatusOf(
  contracts: ViemLedgerContracts,
  requestId: string,
): Promise<{ status: RequestView["status"]; expiresAt: number }> {
  const { status, expiresAt } = await statusWithOutcome(contracts, requestId);
  return { status, expiresAt };
}

/** requestStatusOf, with the position of the event that closed the request. */
async function statusWithOutcome(
  contracts: ViemLedgerContracts,
  requestId: string,
): Promise<{ status: RequestView["status"]; expiresAt: number; decidedBy?: Position }> {
  const id = at(requireBytes32(requestId, "requestId"));
  const [stored, expiresAt] = await contracts.ledger.read.requestStatus([id]);
  if (Number(stored) === RequestStatus.Pending) return { status: "Pending", expiresAt: Number(expiresAt) };
  if (Number(stored) === RequestStatus.Expired) return { status: "Expired", expiresAt: Number(expiresAt) };
  const range = { fromBlock: BigInt(contracts.deployment.deployedAtBlock ?? 0) };
  const { getEvents } = contracts.ledger;
  const [approved, denied, cancelled] = await Promise.all([
    getEvents.RequestApproved({ requestId: id }, range),
    getEvents.RequestDenied({ requestId: id }, range),
    getEvents.RequestCancelled({ requestId: id }, range),
  ]);
  // The latest outcome wins: an id closed and opened again in one block has more than one.
  const outcomes = [
    ...approved.map((event) => ({ status: "Approved" as const, event })),
    ...denied.map((event) => ({ status: "Denied" as const, event })),
    ...cancelled.map((event) => ({ status: "Cancelled" as const, event })),
  ].sort((a, b) => Number(a.event.blockNumber - b.event.blockNumber) || a.event.logIndex - b.event.logIndex);
  const last = outcomes.at(-1);
  return { status: last?.status ?? "None", expiresAt: 0, decidedBy: last && positionOf(last.event) };
}

function positionOf(event: {
  blockNumber: bigint | null;
  logIndex: number | null;
  transactionHash: string | null;
}): Position {
  return {
    blockNumber: Number(event.blockNumber),
    index: Number(event.logIndex),
    transactionHash: String(event.transactionHash),
  };
}

/** Requests made to a patient or by a researcher, oldest first; by default only those still pending. */
export async function requestsOf(
  contracts: ViemLedgerContracts,
  party: RequestParty,
  options: { all?: boolean } = {},
): Promise<RequestView[]> {
  const filter =
    party.patient !== undefined
      ? { patient: at(requireAddress(party.patient, "patient")) }
      : { researcher: at(requireAddress(party.researcher, "researcher")) };
  const events = await contracts.ledger.getEvents.RequestOpened(filter, {
    fromBlock: BigInt(contracts.deployment.deployedAtBlock ?? 0),
  });
  const entries = await Promise.all(
    events.map(async (event) => {
      const requestId = (event.args as { requestId: string }).requestId;
      const { status, expiresAt, decidedBy } = await statusWithOutcome(contracts, requestId);
      const position = positionOf(event);
      const view: RequestView = {
        requestId,
        request: requestFromArgs(event.args as unknown as RequestOpenedArgs),
        status,
        expiresAt,
        blockNumber: position.blockNumber,
        transactionHash: position.transactionHash,
      };
      return { view, approval: status === "Approved" ? decidedBy : undefined };
    }),
  );
  // An approval's status stays "Approved" for good; what the patient did since is on its consent.
  const approved = entries.filter((entry) => entry.approval !== undefined);
  const fates = await consentFates(
    contracts,
    approved.map(({ view, approval }) => ({
      approval: approval!,
      patient: view.request.terms.patient,
      researcher: view.request.researcher,
    })),
  );
  approved.forEach((entry, index) => (entry.view.consent = fates[index]));
  const views = entries.map((entry) => entry.view);
  return options.all ? views : views.filter((view) => view.status === "Pending");
}

/** What became of the consents approvals gave (sdk/clients/consent-fate.ts, for viem). */
async function consentFates(
  contracts: ViemLedgerContracts,
  approvals: readonly { approval: Position; patient: string; researcher: string }[],
): Promise<ConsentFate[]> {
  if (approvals.length === 0) return [];
  const range = { fromBlock: BigInt(contracts.deployment.deployedAtBlock ?? 0) };
  const pairs = {
    patient: [...new Set(approvals.map((a) => at(a.patient)))],
    grantee: [...new Set(approvals.map((a) => at(a.researcher)))],
  };
  const [granted, revoked, now] = await Promise.all([
    contracts.ledger.getEvents.ConsentGranted(pairs, range),
    contracts.ledger.getEvents.ConsentRevoked(pairs, range),
    latestTime(contracts),
  ]);
  const events = new Map<string, ConsentEvent[]>();
  for (const [kind, list] of [
    ["granted", granted],
    ["revoked", revoked],
  ] as const) {
    for (const event of list) {
      const args = event.args as { patient: string; grantee: string };
      const key = consentPair(args.patient, args.grantee);
      events.set(key, [...(events.get(key) ?? []), { kind, at: positionOf(event) }]);
    }
  }
  return Promise.all(
    approvals.map(async ({ approval, patient, researcher }) => {
      const fate = fateFromEvents(approval, events.get(consentPair(patient, researcher)) ?? []);
      if (fate) return fate;
      const consent = await contracts.ledger.read.consentOf([at(patient), at(researcher)]);
      return Number(consent.validUntil) > now ? "InForce" : "Expired";
    }),
  );
}

/** The request opened with `requestId`, rebuilt from its RequestOpened event. */
export async function requestById(contracts: ViemLedgerContracts, requestId: string): Promise<AccessRequest> {
  const id = at(requireBytes32(requestId, "requestId"));
  const events = await contracts.ledger.getEvents.RequestOpened(
    { requestId: id },
    { fromBlock: BigInt(contracts.deployment.deployedAtBlock ?? 0) },
  );
  if (events.length === 0) {
    throw new ConsentLedgerError(`No request ${id} was opened on this ledger`, {
      hint: "Check the request id, and that you are on the network where it was made.",
    });
  }
  return requestFromArgs(events[0].args as unknown as RequestOpenedArgs);
}

/**
 * Research requests for viem contracts: a request's status (from storage, and once closed from the
 * event that closed it) and a request found by its id, as sdk/clients/requests.ts does for ethers, on the
 * same rules (sdk/clients/request-rules.ts).
 */
import { requireBytes32 } from "../args";
import { requestFromArgs, type RequestOpenedArgs } from "../clients/request-rules";
import type { AccessRequest, RequestView } from "../clients/types";
import { RequestStatus } from "../codes";
import { ConsentLedgerError } from "../errors";
import type { ViemLedgerContracts } from "./connect";

const at = (value: string) => value as `0x${string}`;

/**
 * The state of a request: Pending or Expired while the ledger stores it; once closed, the outcome its
 * event records (Approved, Denied, Cancelled); None when it was never opened here.
 */
export async function requestStatusOf(contracts: ViemLedgerContracts, requestId: string): Promise<{ status: RequestView["status"]; expiresAt: number }> {
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
  return { status: outcomes.at(-1)?.status ?? "None", expiresAt: 0 };
}

/** The request opened with `requestId`, rebuilt from its RequestOpened event. */
export async function requestById(contracts: ViemLedgerContracts, requestId: string): Promise<AccessRequest> {
  const id = at(requireBytes32(requestId, "requestId"));
  const events = await contracts.ledger.getEvents.RequestOpened({ requestId: id }, { fromBlock: BigInt(contracts.deployment.deployedAtBlock ?? 0) });
  if (events.length === 0) {
    throw new ConsentLedgerError(`No request ${id} was opened on this ledger`, {
      hint: "Check the request id, and that you are on the network where it was made.",
    });
  }
  return requestFromArgs(events[0].args as unknown as RequestOpenedArgs);
}

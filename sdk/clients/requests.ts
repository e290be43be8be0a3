import type { Log, EventLog } from "ethers";

import { RequestStatus, type RequestStatusName } from "../codes";
import { requireBytes32 } from "../args";
import type { LedgerContracts } from "../chain/connect";
import { ConsentLedgerError } from "../errors";
import { consentFates } from "./consent-fate";
import { requestFromArgs, type RequestOpenedArgs } from "./request-rules";
import type { AccessRequest, RequestView } from "./types";

export { hashDocument, requestIdOf, studyIdOf, toAbiRequest, toRequestTerms } from "./request-rules";

/** Rebuilds the request from its RequestOpened event. */
export function requestFromEvent(event: EventLog): AccessRequest {
  return requestFromArgs(event.args as unknown as RequestOpenedArgs);
}

/**
 * The state of a request: Pending or Expired while the ledger stores it; once closed, the outcome its
 * event records (Approved, Denied, Cancelled); None when it was never opened here.
 */
export async function requestStatusOf(
  contracts: LedgerContracts,
  requestId: string,
): Promise<{ status: RequestStatusName; expiresAt: number; decidedBy?: EventLog }> {
  const id = requireBytes32(requestId, "requestId");
  const [stored, expiresAt] = await contracts.ledger.requestStatus(id);
  if (Number(stored) === RequestStatus.Pending) return { status: "Pending", expiresAt: Number(expiresAt) };
  if (Number(stored) === RequestStatus.Expired) return { status: "Expired", expiresAt: Number(expiresAt) };
  const from = contracts.deployment.deployedAtBlock ?? 0;
  const { ledger } = contracts;
  const [approved, denied, cancelled] = await Promise.all([
    ledger.queryFilter(ledger.filters.RequestApproved(id), from),
    ledger.queryFilter(ledger.filters.RequestDenied(id), from),
    ledger.queryFilter(ledger.filters.RequestCancelled(id), from),
  ]);
  // The latest outcome wins: an id closed and opened again in one block has more than one.
  const outcomes = [
    ...approved.map((event) => ({ status: "Approved" as const, event })),
    ...denied.map((event) => ({ status: "Denied" as const, event })),
    ...cancelled.map((event) => ({ status: "Cancelled" as const, event })),
  ].sort((a, b) => a.event.blockNumber - b.event.blockNumber || a.event.index - b.event.index);
  const last = outcomes.at(-1);
  return { status: last?.status ?? "None", expiresAt: 0, decidedBy: last?.event as EventLog | undefined };
}

/** Requests from their RequestOpened events, with their live status. */
export async function requestViews(contracts: LedgerContracts, events: EventLog[]): Promise<RequestView[]> {
  const views = await Promise.all(
    events.map(async (event) => {
      const requestId: string = event.args.requestId;
      const { status, expiresAt, decidedBy } = await requestStatusOf(contracts, requestId);
      const view: RequestView = {
        requestId,
        request: requestFromEvent(event),
        status,
        expiresAt,
        blockNumber: event.blockNumber,
        transactionHash: event.transactionHash,
      };
      return { view, approval: status === "Approved" ? decidedBy : undefined };
    }),
  );
  // An approval's status stays "Approved" for good; what the patient did since is on its consent.
  const approved = views.filter((entry) => entry.approval !== undefined);
  const fates = await consentFates(
    contracts,
    approved.map(({ view, approval }) => ({
      approval: approval as EventLog,
      patient: view.request.terms.patient,
      researcher: view.request.researcher,
    })),
  );
  approved.forEach((entry, index) => (entry.view.consent = fates[index]));
  return views.map((entry) => entry.view);
}

/** Finds a request by id on-chain. */
export async function findRequest(contracts: LedgerContracts, requestId: string): Promise<RequestView> {
  const id = requireBytes32(requestId, "requestId");
  const events = await contracts.ledger.queryFilter(
    contracts.ledger.filters.RequestOpened(id),
    contracts.deployment.deployedAtBlock ?? 0,
  );
  if (events.length === 0) {
    throw new ConsentLedgerError(`No request ${id} was opened on this ledger`, {
      hint: "Check the request id, and that you are on the network where it was made.",
    });
  }
  const [view] = await requestViews(contracts, events as unknown as EventLog[]);
  return view;
}

/** The RequestOpened event in a receipt's logs. */
export function openedRequestIn(
  contracts: LedgerContracts,
  logs: readonly Log[],
): { requestId: string; request: AccessRequest } {
  for (const log of logs) {
    const parsed = contracts.ledger.interface.parseLog(log);
    if (parsed?.name === "RequestOpened") {
      return { requestId: parsed.args.requestId, request: requestFromEvent({ args: parsed.args } as EventLog) };
    }
  }
  throw new ConsentLedgerError("The transaction opened no request");
}

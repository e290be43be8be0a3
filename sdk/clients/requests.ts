import { AbiCoder, keccak256, toUtf8Bytes, isHexString, ZeroHash, type Log, type EventLog } from "ethers";

import { Purpose, RESEARCH_PURPOSES, RequestStatus, type RequestStatusName } from "../codes";
import {
  dataClassMask,
  duoModifierMask,
  purposeCode,
  requireAddress,
  requireBytes32,
  researchCategoryCode,
  toDurationSeconds,
} from "../args";
import type { LedgerContracts } from "../chain/connect";
import { ConsentLedgerError, InvalidArgumentError } from "../errors";
import { consentFates } from "./consent-fate";
import type { AccessRequest, RequestInput, RequestTerms, RequestView } from "./types";

const REQUEST_TUPLE =
  "tuple(address researcher, uint40 openedAt, tuple(address patient, uint32 dataClasses, uint8 purpose, uint8 researchCategory, uint32 diseaseId, uint64 acceptedObligations, uint40 duration, bytes32 studyId, bytes32 protocolHash) terms)";

/** The id the ledger gives a request: keccak256(abi.encode(request)). */
export function requestIdOf(request: AccessRequest): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode([REQUEST_TUPLE], [toAbiRequest(request)]));
}

/** Hash of a document (a protocol, an ethics approval) as sent on-chain: keccak256 of its bytes. */
export function hashDocument(contents: Uint8Array | string): string {
  return keccak256(typeof contents === "string" ? toUtf8Bytes(contents) : contents);
}

/** A study id on-chain: a 32-byte value as given, else keccak256 of the text (never the text itself). */
export function studyIdOf(studyId: string): string {
  if (isHexString(studyId, 32)) return studyId.toLowerCase();
  if (studyId.trim() === "") throw new InvalidArgumentError("studyId", "empty");
  return keccak256(toUtf8Bytes(studyId.trim()));
}

/** Turns a researcher's named request into the ledger's terms, checking what can be checked off-chain. */
export function toRequestTerms(input: RequestInput): RequestTerms {
  const purpose = purposeCode(input.purpose);
  // The ledger takes requests for research purposes only: their consents need the researcher's live
  // accreditation at every access. Other purposes are the patient's to grant directly.
  if (!RESEARCH_PURPOSES.some((name) => Purpose[name] === purpose)) {
    throw new InvalidArgumentError(
      "purpose",
      `requests are for research purposes only (${RESEARCH_PURPOSES.join(", ")}), got ${String(input.purpose)}`,
      { hint: "Ask the patient to grant other purposes directly." },
    );
  }
  if (input.researchCategory === undefined) {
    throw new InvalidArgumentError("researchCategory", "research purposes need a DUO research category", {
      hint: "Pass GRU, HMB, DS (with a diseaseId) or POA.",
    });
  }
  const researchCategory = researchCategoryCode(input.researchCategory);
  return {
    patient: requireAddress(input.patient, "patient"),
    dataClasses: dataClassMask(input.dataClasses),
    purpose,
    researchCategory,
    diseaseId: input.diseaseId ?? 0,
    acceptedObligations: duoModifierMask(input.acceptedObligations, true),
    duration: toDurationSeconds(input.duration, "duration"),
    studyId: studyIdOf(input.studyId),
    protocolHash: input.protocolHash === undefined ? ZeroHash : requireBytes32(input.protocolHash, "protocolHash"),
  };
}

/** The request struct in the shape ethers encodes. */
export function toAbiRequest(request: AccessRequest) {
  const t = request.terms;
  return {
    researcher: request.researcher,
    openedAt: request.openedAt,
    terms: {
      patient: t.patient,
      dataClasses: t.dataClasses,
      purpose: t.purpose,
      researchCategory: t.researchCategory,
      diseaseId: t.diseaseId,
      acceptedObligations: t.acceptedObligations,
      duration: t.duration,
      studyId: t.studyId,
      protocolHash: t.protocolHash,
    },
  };
}

/** Rebuilds the request from its RequestOpened event. */
export function requestFromEvent(event: EventLog): AccessRequest {
  const args = event.args;
  const terms = args.terms;
  return {
    researcher: args.researcher,
    openedAt: Number(args.openedAt),
    terms: {
      patient: terms.patient,
      dataClasses: Number(terms.dataClasses),
      purpose: Number(terms.purpose),
      researchCategory: Number(terms.researchCategory),
      diseaseId: Number(terms.diseaseId),
      acceptedObligations: BigInt(terms.acceptedObligations),
      duration: Number(terms.duration),
      studyId: terms.studyId,
      protocolHash: terms.protocolHash,
    },
  };
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
export function openedRequestIn(contracts: LedgerContracts, logs: readonly Log[]): { requestId: string; request: AccessRequest } {
  for (const log of logs) {
    const parsed = contracts.ledger.interface.parseLog(log);
    if (parsed?.name === "RequestOpened") {
      return { requestId: parsed.args.requestId, request: requestFromEvent({ args: parsed.args } as EventLog) };
    }
  }
  throw new ConsentLedgerError("The transaction opened no request");
}

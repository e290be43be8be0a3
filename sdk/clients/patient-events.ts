/**
 * A patient's history and state at a cost that does not grow with the chain or with the history:
 *
 * - `PatientEventReader`: every event about one patient in four log queries per block range (the ledger's
 *   events that index the patient first, those that index it second, the records anchored for it, the
 *   key releases of those records) plus one for the custodians' release batches, remembered by block so
 *   a later read asks only for the blocks since (and re-reads the last few, in case they were reorganised).
 * - `readBatch`: many view calls in one `eth_call` at one block, without any deployed helper: the call
 *   carries the creation code of contracts/lens/ReadBatch.sol, whose constructor makes the calls.
 */
import { AbiCoder, zeroPadValue, type EventLog, type Result } from "ethers";

import { requireAddress } from "../args";
import type { LedgerContracts } from "../chain/connect";
import { RequestStatus, Role } from "../codes";
import { ConsentLedgerError } from "../errors";
import type { Accreditation, Delegate } from "./reads";
import { recordsFromEvents, type AnchoredRecord } from "./records";
import { requestFromEvent } from "./requests";
import type { Consent, DataUsePolicy, RequestView } from "./types";
import {
  batchResultOf,
  byChainOrder,
  chunks,
  MAX_CALLS_PER_BATCH,
  PATIENT_FIRST,
  PATIENT_SECOND,
  PatientEventReaderBase,
  READ_BATCH_OUTPUT,
  type BatchCall,
  type BatchResult,
  type PatientEventLogs,
  type PatientLogQueries,
  type ReadBatchOutput,
} from "./patient-events-core";
import { ReadBatch__factory } from "../../typechain-types/factories/contracts/lens/ReadBatch__factory";

/** Every event about one patient, by family, each in chain order. */
export type PatientEvents = PatientEventLogs<EventLog>;

export { chunks, MAX_CALLS_PER_BATCH, MAX_PER_QUERY, REREAD_BLOCKS } from "./patient-events-core";
export type { BatchCall, BatchResult } from "./patient-events-core";

/**
 * Reads a patient's events, remembering them by block: the first read of a patient makes five log
 * queries from the deployment block, a read at the same block makes none, a read at a later block makes
 * five over the new blocks (and the last REREAD_BLOCKS before them). Keep one per page or process.
 */
export class PatientEventReader extends PatientEventReaderBase<EventLog> {
  /**
   * @param options.maxBlockRange The most blocks one eth_getLogs may span, for nodes that limit it (many
   *   public endpoints do): a longer range is read in windows of that size, the queries of all windows
   *   together. Unlimited by default.
   */
  constructor(
    readonly contracts: LedgerContracts,
    options: { maxBlockRange?: number } = {},
  ) {
    super(ethersLogQueries(contracts), contracts.deployment.deployedAtBlock ?? 0, options);
  }
}

/** The log queries of PatientEventReader, through the ethers contracts. */
function ethersLogQueries(contracts: LedgerContracts): PatientLogQueries<EventLog> {
  const { ledger, records, accessLog } = contracts;
  const hashes = (names: string[]) =>
    names.map((name) => ledger.interface.getEvent(name as never)?.topicHash as string);
  const query = (
    contract: typeof ledger | typeof records | typeof accessLog,
    topics: unknown,
    from: number,
    to: number,
  ) => contract.queryFilter(topics as never, from, to) as unknown as Promise<EventLog[]>;
  return {
    patientFirst: (patient, from, to) =>
      query(ledger, [hashes(Object.keys(PATIENT_FIRST)), zeroPadValue(patient, 32)], from, to),
    patientSecond: (patient, from, to) =>
      query(ledger, [hashes(Object.keys(PATIENT_SECOND)), null, zeroPadValue(patient, 32)], from, to),
    anchored: (patient, from, to) => query(records, records.filters.RecordAnchored(undefined, patient), from, to),
    batches: (from, to) => query(accessLog, accessLog.filters.KeyReleaseBatchLogged(), from, to),
    released: (ids, from, to) => query(accessLog, accessLog.filters.KeyReleased(ids as never), from, to),
    latestBlock: () => contracts.provider.getBlockNumber(),
  };
}

/**
 * Many view calls in one `eth_call` at `blockTag`, on any node, with nothing deployed: the call runs the
 * creation code of ReadBatch (contracts/lens/ReadBatch.sol), whose constructor makes each static call
 * and returns the results, with the block's number and time and `account`'s balance. A call that
 * reverts does not fail the others: its `success` is false. Asked at a block number, an answer from
 * another block is refused (ConsentLedgerError).
 */
export async function readBatch(
  contracts: LedgerContracts,
  calls: readonly BatchCall[],
  account: string,
  blockTag: number | "latest" = "latest",
): Promise<BatchResult> {
  const { data } = await new ReadBatch__factory().getDeployTransaction(
    calls.map((call) => call.target),
    calls.map((call) => call.data),
    requireAddress(account, "account"),
  );
  const output = await contracts.provider.call({ data, blockTag });
  return batchResultOf(
    output,
    (answer) =>
      AbiCoder.defaultAbiCoder()
        .decode([...READ_BATCH_OUTPUT], answer)
        .toArray() as unknown as ReadBatchOutput,
    blockTag,
  );
}

/** A pending request of a live researcher, with its accreditation at the same block. */
export interface PendingRequestView extends RequestView {
  party: Accreditation;
}

/** What a patient's page shows now, read at one block. */
export interface PatientState {
  blockNumber: number;
  /** The block's time: every expiry is measured against it. */
  now: number;
  /** The patient's balance in wei (whether it can pay for gas). */
  balance: bigint;
  records: AnchoredRecord[];
  /** Requests still pending, oldest first. */
  requests: PendingRequestView[];
  /** Consents in force or scheduled (not ended), by grantee. */
  consents: Consent[];
  policy?: DataUsePolicy;
  delegates: Delegate[];
  optedOut: boolean;
  /** Emergency windows open now: the provider and until when. */
  emergencyWindows: { provider: string; until: number }[];
  /**
   * Sections whose reads failed (the node refused a chunk of them, or the ledger a call): each is left
   * empty here, so a page must say it could not be read rather than show it as empty.
   */
  unread: StateSection[];
}

/** The parts of PatientState read apart, each of which may fail alone. */
export type StateSection = "consents" | "delegates" | "emergencyWindows" | "requests";

/**
 * The patient's state at the block of `events`, in readBatch `eth_call`s of at most MAX_CALLS_PER_BATCH view
 * calls each (one for a history naming fewer than that, all at that block): the policy, the opt-out, the
 * consent of every grantee the events name, the end of every delegate they name, every emergency window
 * they show opened, the status of every request they do not show closed, and the accreditation of each
 * researcher still waiting; requests of researchers who are not live researchers are left out. A
 * section whose reads fail is named in `unread`; only the policy and opt-out must be read.
 */
export async function patientState(
  contracts: LedgerContracts,
  patientAddress: string,
  events: PatientEvents,
): Promise<PatientState> {
  const patient = requireAddress(patientAddress, "patient");
  const ledger = contracts.ledger;
  const target = await ledger.getAddress();
  const unique = (addresses: string[]) => [...new Set(addresses)];
  const grantees = unique(events.granted.map((event) => event.args.grantee as string));
  const delegates = unique(events.appointed.map((event) => event.args.delegate as string));
  const openers = unique(events.emergencyOpened.map((event) => event.args.provider as string));
  // A request is closed for good by its last event when that is a decision or a cancellation; the
  // ledger says whether the others are still pending or have expired.
  const lastEvent = new Map<string, EventLog>();
  for (const event of [...events.opened, ...events.approved, ...events.denied, ...events.cancelled].sort(
    byChainOrder,
  )) {
    lastEvent.set(event.args.requestId as string, event);
  }
  const open = events.opened.filter((event) => lastEvent.get(event.args.requestId as string) === event);
  const researchers = unique(open.map((event) => event.args.researcher as string));

  // The reads by section: a section whose reads fail (a chunk the node refuses, a call the ledger
  // refuses) is left empty and named in `unread`; the others still show. Only the first is needed whole.
  type Call = { name: string; args: unknown[] };
  const sections: { name: "core" | StateSection; calls: Call[] }[] = [
    {
      name: "core",
      calls: [
        { name: "policyOf", args: [patient] },
        { name: "emergencyOptedOut", args: [patient] },
      ],
    },
    { name: "consents", calls: grantees.map((grantee) => ({ name: "consentOf", args: [patient, grantee] })) },
    { name: "delegates", calls: delegates.map((delegate) => ({ name: "delegateOf", args: [patient, delegate] })) },
    {
      name: "emergencyWindows",
      calls: openers.map((provider) => ({ name: "emergencyAccessUntil", args: [patient, provider] })),
    },
    {
      name: "requests",
      calls: [
        ...open.map((event) => ({ name: "requestStatus", args: [event.args.requestId] })),
        ...researchers.map((researcher) => ({ name: "partyOf", args: [researcher] })),
      ],
    },
  ];
  const calls = sections.flatMap((section) => section.calls);
  // At most MAX_CALLS_PER_BATCH calls per eth_call, all at the block of the events.
  const callChunks = chunks(calls, MAX_CALLS_PER_BATCH);
  const batches = await Promise.all(
    callChunks.map((chunk) =>
      readBatch(
        contracts,
        chunk.map((call) => ({
          target,
          data: ledger.interface.encodeFunctionData(call.name as never, call.args as never),
        })),
        patient,
        events.toBlock,
      ).then(
        (batch) => batch,
        (error: unknown) => error as Error,
      ),
    ),
  );
  const first = batches[0];
  if (first instanceof Error) throw first;
  const results = batches.flatMap((batch, index) =>
    batch instanceof Error ? callChunks[index].map(() => undefined) : batch.results,
  );
  const unread: StateSection[] = [];
  let next = 0;
  const decoded = sections.map((section) => {
    const outputs = section.calls.map((call) => {
      const result = results[next++];
      return result?.success ? ledger.interface.decodeFunctionResult(call.name as never, result.returnData) : undefined;
    });
    if (outputs.some((output) => output === undefined)) {
      if (section.name === "core") {
        const failed = section.calls[outputs.findIndex((output) => output === undefined)];
        throw new ConsentLedgerError(`The ledger refused the read ${failed.name}(${failed.args.join(", ")})`, {
          hint: "Check that the deployment is this suite's ledger.",
        });
      }
      unread.push(section.name);
      return [];
    }
    return outputs as Result[];
  });
  const [core, consentOutputs, delegateOutputs, windowOutputs, requestOutputs] = decoded;
  const now = first.timestamp;
  const [[storedPolicy], [optedOut]] = core;
  const consents = consentOutputs
    .map(([stored], index) => ({
      patient,
      grantee: grantees[index],
      dataClasses: Number(stored.dataClasses),
      purposes: Number(stored.purposes),
      validFrom: Number(stored.validFrom),
      validUntil: Number(stored.validUntil),
    }))
    .filter((consent) => consent.validUntil > now);
  const inOffice = delegateOutputs
    .map(([appointment], index) => ({
      delegate: delegates[index],
      validUntil: Number(appointment.validUntil),
      purposes: Number(appointment.purposes),
      sensitiveClasses: Boolean(appointment.sensitiveClasses),
    }))
    .filter((entry) => entry.validUntil > now);
  const emergencyWindows = windowOutputs
    .map(([until], index) => ({ provider: openers[index], until: Number(until) }))
    .filter((window) => window.until > now);
  const statuses = requestOutputs.slice(0, open.length).map(([status, expiresAt]) => ({
    status: Number(status),
    expiresAt: Number(expiresAt),
  }));
  const parties = new Map(
    requestOutputs.slice(open.length).map(([stored], index) => {
      const party: Accreditation = {
        roles: Number(stored.roles),
        nonProfit: stored.nonProfit,
        suspended: stored.suspended,
        accreditedUntil: Number(stored.accreditedUntil),
      };
      return [researchers[index], party];
    }),
  );
  // A request from a researcher who is not a live researcher now cannot be approved: not shown.
  const live = (party?: Accreditation) =>
    party !== undefined &&
    (party.roles & Role.RESEARCHER) !== 0 &&
    !party.suspended &&
    (party.accreditedUntil === 0 || party.accreditedUntil > now);
  const requests = statuses
    .map((status, index) => ({ event: open[index], ...status }))
    .filter(
      (entry) => entry.status === RequestStatus.Pending && live(parties.get(entry.event.args.researcher as string)),
    )
    .map(({ event, expiresAt }) => ({
      requestId: event.args.requestId as string,
      request: requestFromEvent(event),
      status: "Pending" as const,
      expiresAt,
      blockNumber: event.blockNumber,
      transactionHash: event.transactionHash,
      party: parties.get(event.args.researcher as string) as Accreditation,
    }));
  const policy =
    Number(storedPolicy.permission) === 0
      ? undefined
      : {
          permission: Number(storedPolicy.permission),
          modifiers: BigInt(storedPolicy.modifiers),
          dataClasses: Number(storedPolicy.dataClasses),
          purposes: Number(storedPolicy.purposes),
          diseaseId: Number(storedPolicy.diseaseId),
          maxDuration: Number(storedPolicy.maxDuration),
          validUntil: Number(storedPolicy.validUntil),
        };
  return {
    blockNumber: first.blockNumber,
    now,
    balance: first.balance,
    records: recordsFromEvents(events.anchored),
    requests,
    consents,
    policy,
    delegates: inOffice,
    optedOut: Boolean(optedOut),
    emergencyWindows,
    unread,
  };
}

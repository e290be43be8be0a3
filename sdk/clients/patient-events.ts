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
import { AbiCoder, zeroPadValue, type EventLog, type Log, type Result } from "ethers";

import { requireAddress } from "../args";
import type { LedgerContracts } from "../chain/connect";
import { RequestStatus, Role } from "../codes";
import { ConsentLedgerError, InvalidArgumentError } from "../errors";
import type { Accreditation, Delegate } from "./reads";
import { recordsFromEvents, type AnchoredRecord } from "./records";
import { requestFromEvent } from "./requests";
import type { Consent, DataUsePolicy, RequestView } from "./types";
import { ReadBatch__factory } from "../../typechain-types/factories/contracts/lens/ReadBatch__factory";

/** Every event about one patient, by family, each in chain order. */
export interface PatientEvents {
  /** The last block these events cover. */
  toBlock: number;
  granted: EventLog[];
  revoked: EventLog[];
  opened: EventLog[];
  approved: EventLog[];
  denied: EventLog[];
  cancelled: EventLog[];
  emergencyOpened: EventLog[];
  emergencyClosed: EventLog[];
  optOut: EventLog[];
  appointed: EventLog[];
  removed: EventLog[];
  policySet: EventLog[];
  policyCleared: EventLog[];
  anchored: EventLog[];
  /** Key releases logged one by one, of the patient's records. */
  released: EventLog[];
  /** Every custodian's release batch (their manifests say which releases are the patient's). */
  batches: EventLog[];
}

type Family = Exclude<keyof PatientEvents, "toBlock">;

/** Ledger events whose first indexed argument is the patient, by event name. */
const PATIENT_FIRST: Record<string, Family> = {
  ConsentGranted: "granted",
  ConsentRevoked: "revoked",
  EmergencyAccessOpened: "emergencyOpened",
  EmergencyAccessClosed: "emergencyClosed",
  EmergencyOptOutSet: "optOut",
  DelegateAppointed: "appointed",
  DelegateRemoved: "removed",
  PolicySet: "policySet",
  PolicyCleared: "policyCleared",
};
/** Ledger events whose second indexed argument is the patient (the first is the request id). */
const PATIENT_SECOND: Record<string, Family> = {
  RequestOpened: "opened",
  RequestApproved: "approved",
  RequestDenied: "denied",
  RequestCancelled: "cancelled",
};

/**
 * Blocks at the head that a later read asks for again: a reorganisation shorter than this is seen; one
 * deeper than this on a chain with finality is not expected.
 */
export const REREAD_BLOCKS = 12;

/**
 * Anyone accredited can emit events naming a patient (records, requests, releases), so what those events
 * name is read in chunks, never in one query or call that grows with them. MAX_PER_QUERY: the most
 * record ids in one log query's topic list. MAX_CALLS_PER_BATCH: the most view calls in one readBatch
 * eth_call; fewer, because ReadBatch returns its results as a contract's code would be returned, which
 * nodes cap at 24,576 bytes (EIP-170): 64 calls of up to 7 words each stay under it.
 */
export const MAX_PER_QUERY = 100;
export const MAX_CALLS_PER_BATCH = 64;

export function chunks<T>(items: readonly T[], size = MAX_PER_QUERY): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size));
  return out;
}

function emptyEvents(toBlock: number): PatientEvents {
  return {
    toBlock,
    granted: [],
    revoked: [],
    opened: [],
    approved: [],
    denied: [],
    cancelled: [],
    emergencyOpened: [],
    emergencyClosed: [],
    optOut: [],
    appointed: [],
    removed: [],
    policySet: [],
    policyCleared: [],
    anchored: [],
    released: [],
    batches: [],
  };
}

const byChainOrder = (a: Log, b: Log) => a.blockNumber - b.blockNumber || a.index - b.index;

/**
 * Reads a patient's events, remembering them by block: the first read of a patient makes five log
 * queries from the deployment block, a read at the same block makes none, a read at a later block makes
 * five over the new blocks (and the last REREAD_BLOCKS before them). Keep one per page or process.
 */
export class PatientEventReader {
  private readonly cache = new Map<string, Promise<PatientEvents>>();

  /**
   * @param options.maxBlockRange The most blocks one eth_getLogs may span, for nodes that limit it (many
   *   public endpoints do): a longer range is read in windows of that size, the queries of all windows
   *   together. Unlimited by default.
   */
  constructor(
    readonly contracts: LedgerContracts,
    readonly options: { maxBlockRange?: number } = {},
  ) {
    const range = options.maxBlockRange;
    if (range !== undefined && (!Number.isSafeInteger(range) || range < 1)) {
      throw new InvalidArgumentError(
        "maxBlockRange",
        `must be a whole number of blocks, 1 or more, got ${String(range)}`,
      );
    }
  }

  /** The patient's events up to `toBlock` (the latest block when omitted). */
  async read(patientAddress: string, toBlock?: number): Promise<PatientEvents> {
    const patient = requireAddress(patientAddress, "patient");
    const to = toBlock ?? (await this.contracts.provider.getBlockNumber());
    const key = patient.toLowerCase();
    const previous = await this.cache.get(key)?.catch(() => undefined);
    if (previous && previous.toBlock === to) return previous;
    const start = this.contracts.deployment.deployedAtBlock ?? 0;
    // Only forward from what is known; a read for an older block starts over (it is not cached).
    const base = previous && previous.toBlock < to ? previous : undefined;
    const from = base ? Math.max(start, base.toBlock + 1 - REREAD_BLOCKS) : start;
    const reading = this.readRange(patient, from, to, base);
    if (!previous || previous.toBlock <= to) {
      this.cache.set(key, reading);
      reading.catch(() => this.cache.delete(key));
    }
    return reading;
  }

  private async readRange(patient: string, from: number, to: number, base?: PatientEvents): Promise<PatientEvents> {
    const { ledger, records, accessLog } = this.contracts;
    const topic = zeroPadValue(patient, 32);
    const hashes = (names: string[]) =>
      names.map((name) => ledger.interface.getEvent(name as never)?.topicHash as string);
    const step = this.options.maxBlockRange ?? Number.POSITIVE_INFINITY;
    const windows: [number, number][] = [];
    for (let start = from; start <= to; start = start + step) windows.push([start, Math.min(to, start + step - 1)]);
    const query = async (contract: typeof ledger | typeof records | typeof accessLog, topics: unknown) =>
      (
        await Promise.all(
          windows.map(
            ([start, end]) => contract.queryFilter(topics as never, start, end) as unknown as Promise<EventLog[]>,
          ),
        )
      ).flat();

    const [first, second, anchoredNew, batchesNew] = await Promise.all([
      query(ledger, [hashes(Object.keys(PATIENT_FIRST)), topic]),
      query(ledger, [hashes(Object.keys(PATIENT_SECOND)), null, topic]),
      query(records, records.filters.RecordAnchored(undefined, patient)),
      query(accessLog, accessLog.filters.KeyReleaseBatchLogged()),
    ]);
    const events = emptyEvents(to);
    // What is kept from before: everything below the re-read range.
    if (base) {
      for (const family of Object.keys(events) as (keyof PatientEvents)[]) {
        if (family === "toBlock") continue;
        events[family] = base[family].filter((event) => event.blockNumber < from);
      }
    }
    for (const [list, names] of [
      [first, PATIENT_FIRST],
      [second, PATIENT_SECOND],
    ] as const) {
      for (const event of list) {
        const family = names[event.eventName];
        if (family) events[family].push(event);
      }
    }
    events.anchored.push(...anchoredNew);
    events.batches.push(...batchesNew);
    // Releases of the patient's records, old and new, in the range: one query per MAX_PER_QUERY record ids.
    const recordIds = [...new Set(events.anchored.map((event) => event.args.recordId as string))];
    const releases = await Promise.all(
      chunks(recordIds).map((ids) => query(accessLog, accessLog.filters.KeyReleased(ids as never))),
    );
    events.released.push(...releases.flat());
    for (const family of Object.keys(events) as (keyof PatientEvents)[]) {
      if (family !== "toBlock") events[family].sort(byChainOrder);
    }
    return events;
  }
}

/** One view call for `readBatch`. */
export interface BatchCall {
  target: string;
  data: string;
}

/** What `readBatch` returns: the block the calls saw and each call's outcome. */
export interface BatchResult {
  blockNumber: number;
  timestamp: number;
  /** The balance of the account passed, in wei. */
  balance: bigint;
  results: { success: boolean; returnData: string }[];
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
  if (output === "0x") {
    throw new ConsentLedgerError("The node returned nothing for a batch of reads", {
      hint: "The node must run contract creation code in eth_call (every Ethereum client does).",
    });
  }
  const [blockNumber, timestamp, balance, success, returnData] = AbiCoder.defaultAbiCoder().decode(
    ["uint256", "uint256", "uint256", "bool[]", "bytes[]"],
    output,
  );
  // Every read of a page is taken at one block: a node (or a load balancer in front of several) that
  // answered at another one would mix states, so such an answer is refused.
  if (typeof blockTag === "number" && Number(blockNumber) !== blockTag) {
    throw new ConsentLedgerError(
      `The node answered a batch of reads asked at block ${blockTag} at block ${Number(blockNumber)}`,
      {
        hint: "Use a node that serves the block asked for (an archive node for old blocks), not one behind a load balancer that ignores it.",
      },
    );
  }
  return {
    blockNumber: Number(blockNumber),
    timestamp: Number(timestamp),
    balance: BigInt(balance),
    results: (success as boolean[]).map((ok, index) => ({ success: ok, returnData: (returnData as string[])[index] })),
  };
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

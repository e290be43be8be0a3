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
import { AbiCoder, zeroPadValue, type EventLog, type Log } from "ethers";

import { requireAddress } from "../args";
import type { LedgerContracts } from "../chain/connect";
import { RequestStatus } from "../codes";
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
    // Releases of the patient's records, old and new, in the range: one query with every record id.
    const recordIds = [...new Set(events.anchored.map((event) => event.args.recordId as string))];
    if (recordIds.length)
      events.released.push(...(await query(accessLog, accessLog.filters.KeyReleased(recordIds as never))));
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
 * reverts does not fail the others: its `success` is false.
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
  return {
    blockNumber: Number(blockNumber),
    timestamp: Number(timestamp),
    balance: BigInt(balance),
    results: (success as boolean[]).map((ok, index) => ({ success: ok, returnData: (returnData as string[])[index] })),
  };
}

/** A pending request, with its researcher's accreditation at the same block. */
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
}

/**
 * The patient's state at the block of `events`, in one `eth_call` (readBatch) whatever the length of the
 * history: the policy, the opt-out, the consent of every grantee the events name, the end of every
 * delegate they name, every emergency window they show opened, the status of every request they do
 * not show closed, and the accreditation of each researcher still waiting.
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

  const calls: { name: string; args: unknown[] }[] = [
    { name: "policyOf", args: [patient] },
    { name: "emergencyOptedOut", args: [patient] },
    ...grantees.map((grantee) => ({ name: "consentOf", args: [patient, grantee] })),
    ...delegates.map((delegate) => ({ name: "delegateUntil", args: [patient, delegate] })),
    ...openers.map((provider) => ({ name: "emergencyAccessUntil", args: [patient, provider] })),
    ...open.map((event) => ({ name: "requestStatus", args: [event.args.requestId] })),
    ...researchers.map((researcher) => ({ name: "partyOf", args: [researcher] })),
  ];
  const batch = await readBatch(
    contracts,
    calls.map((call) => ({
      target,
      data: ledger.interface.encodeFunctionData(call.name as never, call.args as never),
    })),
    patient,
    events.toBlock,
  );
  let next = 0;
  const take = () => {
    const call = calls[next];
    const result = batch.results[next++];
    if (!result.success) {
      throw new ConsentLedgerError(`The ledger refused the read ${call.name}(${call.args.join(", ")})`, {
        details: result.returnData,
        hint: "Check that the deployment is this suite's ledger.",
      });
    }
    return ledger.interface.decodeFunctionResult(call.name as never, result.returnData);
  };
  const now = batch.timestamp;
  const [storedPolicy] = take();
  const [optedOut] = take();
  const consents = grantees
    .map((grantee) => {
      const [stored] = take();
      return {
        patient,
        grantee,
        dataClasses: Number(stored.dataClasses),
        purposes: Number(stored.purposes),
        validFrom: Number(stored.validFrom),
        validUntil: Number(stored.validUntil),
      };
    })
    .filter((consent) => consent.validUntil > now);
  const inOffice = delegates
    .map((delegate) => ({ delegate, validUntil: Number(take()[0]) }))
    .filter((entry) => entry.validUntil > now);
  const emergencyWindows = openers
    .map((provider) => ({ provider, until: Number(take()[0]) }))
    .filter((window) => window.until > now);
  const statuses = open.map(() => {
    const [status, expiresAt] = take();
    return { status: Number(status), expiresAt: Number(expiresAt) };
  });
  const parties = new Map(
    researchers.map((researcher) => {
      const [stored] = take();
      const party: Accreditation = {
        roles: Number(stored.roles),
        nonProfit: stored.nonProfit,
        suspended: stored.suspended,
        accreditedUntil: Number(stored.accreditedUntil),
      };
      return [researcher, party];
    }),
  );
  const requests = open
    .map((event, index) => ({ event, ...statuses[index] }))
    .filter((entry) => entry.status === RequestStatus.Pending)
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
    blockNumber: batch.blockNumber,
    now,
    balance: batch.balance,
    records: recordsFromEvents(events.anchored),
    requests,
    consents,
    policy,
    delegates: inOffice,
    optedOut: Boolean(optedOut),
    emergencyWindows,
  };
}

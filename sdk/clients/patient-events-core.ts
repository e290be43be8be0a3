/**
 * The patient's events and batched reads once for both entries, importing neither ethers nor viem:
 * which events a patient's history holds, how they are remembered by block and merged with the blocks
 * read since, and what readBatch's answer must be. Each entry supplies only its log queries and its
 * eth_call (sdk/clients/patient-events.ts, sdk/viem/audit.ts).
 */
import { requireAddress } from "../args";
import { ConsentLedgerError, InvalidArgumentError } from "../errors";

/** One event as both entries give it: its name, its arguments by name, and where it is on the chain. */
export interface ChainEvent {
  eventName?: string;
  // The arguments by name, as each library decodes them (ethers' Result, viem's object).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  args: any;
  blockNumber: number;
  blockHash: string;
  transactionHash: string;
  /** The log's index in its block. */
  index: number;
}

/** Every event about one patient, by family, each in chain order. */
export interface PatientEventLogs<E extends ChainEvent = ChainEvent> {
  /** The last block these events cover. */
  toBlock: number;
  granted: E[];
  revoked: E[];
  opened: E[];
  approved: E[];
  denied: E[];
  cancelled: E[];
  emergencyOpened: E[];
  emergencyClosed: E[];
  optOut: E[];
  appointed: E[];
  removed: E[];
  policySet: E[];
  policyCleared: E[];
  anchored: E[];
  /** Key releases logged one by one, of the patient's records. */
  released: E[];
  /** Every custodian's release batch (their manifests say which releases are the patient's). */
  batches: E[];
}

export type Family = Exclude<keyof PatientEventLogs, "toBlock">;

/** Ledger events whose first indexed argument is the patient, by event name. */
export const PATIENT_FIRST: Record<string, Family> = {
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
export const PATIENT_SECOND: Record<string, Family> = {
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

export function emptyEvents<E extends ChainEvent>(toBlock: number): PatientEventLogs<E> {
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

export const byChainOrder = (a: ChainEvent, b: ChainEvent) => a.blockNumber - b.blockNumber || a.index - b.index;

/** The log queries of one entry's reader, over blocks `from`..`to` inclusive. */
export interface PatientLogQueries<E extends ChainEvent> {
  /** The ledger's events that index the patient first (PATIENT_FIRST's names). */
  patientFirst(patient: string, from: number, to: number): Promise<E[]>;
  /** The ledger's events that index the patient second (PATIENT_SECOND's names). */
  patientSecond(patient: string, from: number, to: number): Promise<E[]>;
  anchored(patient: string, from: number, to: number): Promise<E[]>;
  batches(from: number, to: number): Promise<E[]>;
  /** KeyReleased of these record ids (at most MAX_PER_QUERY). */
  released(recordIds: string[], from: number, to: number): Promise<E[]>;
  latestBlock(): Promise<number>;
}

/**
 * Reads a patient's events, remembering them by block: the first read of a patient makes five log
 * queries from the deployment block, a read at the same block makes none, a read at a later block makes
 * five over the new blocks (and the last REREAD_BLOCKS before them). Keep one per page or process.
 */
export class PatientEventReaderBase<E extends ChainEvent> {
  private readonly cache = new Map<string, Promise<PatientEventLogs<E>>>();

  constructor(
    private readonly queries: PatientLogQueries<E>,
    private readonly deployedAtBlock: number,
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
  async read(patientAddress: string, toBlock?: number): Promise<PatientEventLogs<E>> {
    const patient = requireAddress(patientAddress, "patient");
    const to = toBlock ?? (await this.queries.latestBlock());
    const key = patient.toLowerCase();
    const previous = await this.cache.get(key)?.catch(() => undefined);
    if (previous && previous.toBlock === to) return previous;
    const start = this.deployedAtBlock;
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

  private async readRange(
    patient: string,
    from: number,
    to: number,
    base?: PatientEventLogs<E>,
  ): Promise<PatientEventLogs<E>> {
    const step = this.options.maxBlockRange ?? Number.POSITIVE_INFINITY;
    const windows: [number, number][] = [];
    for (let start = from; start <= to; start = start + step) windows.push([start, Math.min(to, start + step - 1)]);
    const query = async (one: (start: number, end: number) => Promise<E[]>) =>
      (await Promise.all(windows.map(([start, end]) => one(start, end)))).flat();
    const q = this.queries;
    const [first, second, anchoredNew, batchesNew] = await Promise.all([
      query((start, end) => q.patientFirst(patient, start, end)),
      query((start, end) => q.patientSecond(patient, start, end)),
      query((start, end) => q.anchored(patient, start, end)),
      query((start, end) => q.batches(start, end)),
    ]);
    const events = emptyEvents<E>(to);
    // What is kept from before: everything below the re-read range.
    if (base) {
      for (const family of Object.keys(events) as (keyof PatientEventLogs)[]) {
        if (family === "toBlock") continue;
        events[family] = base[family].filter((event) => event.blockNumber < from);
      }
    }
    for (const [list, names] of [
      [first, PATIENT_FIRST],
      [second, PATIENT_SECOND],
    ] as const) {
      for (const event of list) {
        const family = names[event.eventName as string];
        if (family) events[family].push(event);
      }
    }
    events.anchored.push(...anchoredNew);
    events.batches.push(...batchesNew);
    // Releases of the patient's records, old and new, in the range: one query per MAX_PER_QUERY record ids.
    const recordIds = [...new Set(events.anchored.map((event) => event.args.recordId as string))];
    const releases = await Promise.all(
      chunks(recordIds).map((ids) => query((start, end) => q.released(ids, start, end))),
    );
    events.released.push(...releases.flat());
    for (const family of Object.keys(events) as (keyof PatientEventLogs)[]) {
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

/** The answer ReadBatch's creation code gives, decoded by either library. */
export type ReadBatchOutput = [
  blockNumber: bigint,
  timestamp: bigint,
  balance: bigint,
  success: readonly boolean[],
  returnData: readonly string[],
];

/** The ABI types of ReadBatch's answer. */
export const READ_BATCH_OUTPUT = ["uint256", "uint256", "uint256", "bool[]", "bytes[]"] as const;

/**
 * readBatch's answer checked: nothing returned, or an answer from another block than the one asked for,
 * is refused (ConsentLedgerError), with the same words on both entries.
 */
export function batchResultOf(
  output: string,
  decode: (output: string) => ReadBatchOutput,
  blockTag: number | "latest",
): BatchResult {
  if (output === "0x") {
    throw new ConsentLedgerError("The node returned nothing for a batch of reads", {
      hint: "The node must run contract creation code in eth_call (every Ethereum client does).",
    });
  }
  const [blockNumber, timestamp, balance, success, returnData] = decode(output);
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
    results: success.map((ok, index) => ({ success: ok, returnData: returnData[index] })),
  };
}

/**
 * How the gateway reads what a release depends on, cheaply and never stale:
 *
 * - The head (latest block: number, hash, time) is read once per event-loop turn for every release
 *   that arrived in that turn, and the query is sent only after the last of them arrived: so each
 *   release is still decided by a block that was the latest after its request came in. A release
 *   arriving later waits for the next turn's read.
 * - Each fact (custodian accredited, record anchored or in its batch, access basis, encryption key) is
 *   read by eth_call pinned to the block's hash (EIP-1898), and kept per block hash: a block's state
 *   never changes, so a kept fact is exact for that hash. A reorganised-away block's hash is never the
 *   head again unless that very block is, so its facts cannot be used for another block.
 * - Calls go straight through JSON-RPC with the contracts' ABI (no Contract proxy), batched by the
 *   provider with no stall (start.ts sets batchStallTime 0).
 */
import type { Interface } from "ethers";

import { type LedgerContracts, Role } from "../sdk/index";
import type { CheckedBlock } from "./authorize";
import type { StoredRecord } from "./store";

/** A JSON-RPC call (JsonRpcApiProvider.send). */
export type RpcSend = (method: string, params: unknown[]) => Promise<unknown>;

/** The record as anchored: RecordRegistry.recordOf. */
export interface AnchoredRecord {
  version: bigint;
  patient: string;
  dataClass: number;
  superseded: boolean;
}

interface RpcBlock {
  number: string;
  hash: string;
  timestamp: string;
}

/** Block hashes whose facts are kept: the head and a few before it (confirmations, a reorganisation). */
const KEPT_BLOCKS = 8;
/** Encoded calls kept (ethers checksums every address it encodes, a keccak each): the same questions recur. */
const KEPT_CALLDATA = 50_000;

export class ChainReader {
  private readonly ledger: Interface;
  private readonly records: Interface;
  private readonly keys: Interface;
  private readonly facts = new Map<string, Map<string, Promise<unknown>>>();
  private readonly calldata = new Map<string, string>();
  private headOfTurn?: Promise<CheckedBlock>;
  private readonly blocksOfTurn = new Map<number, Promise<CheckedBlock | undefined>>();

  constructor(
    private readonly contracts: LedgerContracts,
    private readonly send: RpcSend,
  ) {
    this.ledger = contracts.ledger.interface;
    this.records = contracts.records.interface;
    this.keys = contracts.keys.interface;
  }

  /** The latest block, read once for all releases of this turn, after they arrived. */
  head(): Promise<CheckedBlock> {
    this.headOfTurn ??= this.afterThisTurn(() => {
      this.headOfTurn = undefined;
      return this.block("latest").then((block) => {
        if (!block) throw new Error("the node returned no latest block");
        return block;
      });
    });
    return this.headOfTurn;
  }

  /** Block `number` (undefined if the node has none), read once per turn. */
  blockAt(number: number): Promise<CheckedBlock | undefined> {
    let pending = this.blocksOfTurn.get(number);
    if (!pending) {
      pending = this.afterThisTurn(() => {
        this.blocksOfTurn.delete(number);
        return this.block(`0x${number.toString(16)}`);
      });
      this.blocksOfTurn.set(number, pending);
    }
    return pending;
  }

  custodianLive(custodian: string, block: CheckedBlock): Promise<boolean> {
    return this.fact(block, `c|${custodian}`, async () =>
      Boolean(
        await this.call(
          this.ledger,
          this.contracts.deployment.ledger,
          "isAccredited",
          [custodian, Role.CUSTODIAN],
          block,
        ),
      ),
    );
  }

  anchored(recordId: string, block: CheckedBlock): Promise<AnchoredRecord> {
    return this.fact(block, `r|${recordId}`, async () => {
      const record = (await this.call(
        this.records,
        this.contracts.deployment.records,
        "recordOf",
        [recordId],
        block,
      )) as {
        version: bigint;
        patient: string;
        dataClass: bigint;
        superseded: boolean;
      };
      return {
        version: record.version,
        patient: record.patient,
        dataClass: Number(record.dataClass),
        superseded: record.superseded,
      };
    });
  }

  inBatch(record: StoredRecord, block: CheckedBlock): Promise<boolean> {
    const batch = record.batch;
    if (!batch) return Promise.resolve(false);
    return this.fact(block, `b|${record.recordId}|${batch.root}`, async () =>
      Boolean(
        await this.call(
          this.records,
          this.contracts.deployment.records,
          "verifyBatchedRecord",
          [
            batch.root,
            { contentHash: record.recordId, patient: record.patient, dataClass: record.dataClass },
            batch.proof,
          ],
          block,
        ),
      ),
    );
  }

  /**
   * Whether the batch provider of `record.batch.root` amended its batched record `record.recordId`
   * (RecordRegistry.batchOf, then batchedRecordOf under that provider); false outside a batch. The
   * batch's claim decides, never another provider's separate anchor of the same bytes.
   */
  batchedSuperseded(record: StoredRecord, block: CheckedBlock): Promise<boolean> {
    const batch = record.batch;
    if (!batch) return Promise.resolve(false);
    return this.fact(block, `s|${record.recordId}|${batch.root}`, async () => {
      const registry = this.contracts.deployment.records;
      const { providerIndex } = (await this.call(this.records, registry, "batchOf", [batch.root], block)) as {
        providerIndex: bigint;
      };
      // A number, not a bigint: the call's arguments are also its cache key, which JSON cannot hold bigints in.
      const stored = (await this.call(
        this.records,
        registry,
        "batchedRecordOf",
        [Number(providerIndex), record.recordId],
        block,
      )) as {
        superseded: boolean;
      };
      return stored.superseded;
    });
  }

  accessBasis(
    patient: string,
    requester: string,
    dataClass: number,
    purpose: number,
    block: CheckedBlock,
  ): Promise<number> {
    return this.fact(block, `a|${patient}|${requester}|${dataClass}|${purpose}`, async () =>
      Number(
        await this.call(
          this.ledger,
          this.contracts.deployment.ledger,
          "accessBasis",
          [patient, requester, dataClass, purpose],
          block,
        ),
      ),
    );
  }

  /**
   * CustodianSets.custodianPositionOf(recordId, custodian) at `block`: the record's set, its threshold and
   * the custodian's 1-based position (0: not a member). Throws when the deployment names no CustodianSets.
   */
  custodianPosition(
    recordId: string,
    custodian: string,
    block: CheckedBlock,
  ): Promise<{ setId: number; threshold: number; position: number }> {
    const sets = this.contracts.custodianSets;
    if (!sets) return Promise.reject(new Error("the deployment names no CustodianSets contract"));
    return this.fact(block, `p|${recordId}|${custodian}`, async () => {
      const result = (await this.call(
        sets.interface,
        this.contracts.deployment.custodianSets as string,
        "custodianPositionOf",
        [recordId, custodian],
        block,
        true,
      )) as [bigint, bigint, bigint];
      return { setId: Number(result[0]), threshold: Number(result[1]), position: Number(result[2]) };
    });
  }

  keyOf(account: string, block: CheckedBlock): Promise<string> {
    return this.fact(block, `k|${account}`, async () =>
      String(await this.call(this.keys, this.contracts.deployment.keys, "keyOf", [account], block)),
    );
  }

  /** Runs `read` once this turn's I/O callbacks have run (setImmediate), so it sees every request of the turn. */
  private afterThisTurn<T>(read: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => setImmediate(() => read().then(resolve, reject)));
  }

  private async block(tag: string): Promise<CheckedBlock | undefined> {
    const block = (await this.send("eth_getBlockByNumber", [tag, false])) as RpcBlock | null;
    if (!block) return undefined;
    return { number: Number(block.number), hash: block.hash, timestamp: Number(block.timestamp) };
  }

  private fact<T>(block: CheckedBlock, key: string, read: () => Promise<T>): Promise<T> {
    let kept = this.facts.get(block.hash);
    if (!kept) {
      kept = new Map();
      this.facts.set(block.hash, kept);
      if (this.facts.size > KEPT_BLOCKS) this.facts.delete(this.facts.keys().next().value as string);
    }
    let pending = kept.get(key) as Promise<T> | undefined;
    if (!pending) {
      pending = read();
      const map = kept;
      map.set(key, pending);
      pending.catch(() => map.get(key) === pending && map.delete(key)); // a failed read is not kept
    }
    return pending;
  }

  private async call(
    abi: Interface,
    to: string,
    name: string,
    args: readonly unknown[],
    block: CheckedBlock,
    /** Every output (a tuple), not only the first. */
    all = false,
  ): Promise<unknown> {
    const key = `${to}|${name}|${JSON.stringify(args)}`;
    let data = this.calldata.get(key);
    if (data === undefined) {
      data = abi.encodeFunctionData(name, args);
      if (this.calldata.size >= KEPT_CALLDATA) this.calldata.clear();
      this.calldata.set(key, data);
    }
    const result = (await this.send("eth_call", [{ to, data }, { blockHash: block.hash }])) as string;
    const decoded = abi.decodeFunctionResult(name, result);
    return all ? [...decoded] : decoded[0];
  }
}

/** The JSON-RPC `send` of the contracts' provider (a JsonRpcProvider: the gateway talks to one node). */
export function rpcSendOf(contracts: LedgerContracts): RpcSend {
  const provider = contracts.provider as { send?: RpcSend };
  if (typeof provider.send !== "function") {
    throw new Error("the gateway needs a JSON-RPC provider (JsonRpcProvider) to read the chain by block hash");
  }
  return provider.send.bind(provider);
}

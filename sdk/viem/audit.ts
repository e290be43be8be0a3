/**
 * The audit trail on the viem entry: the ethers entry's PatientEventReader, readBatch and AuditClient,
 * on the same logic (sdk/clients/patient-events-core.ts, sdk/clients/audit-core.ts); this file holds
 * only viem's log queries, block and transaction reads, call encoding and the one eth_call.
 */
import {
  decodeAbiParameters,
  decodeFunctionResult,
  encodeDeployData,
  encodeEventTopics,
  encodeFunctionData,
  pad,
  parseEventLogs,
  type Abi,
} from "viem";

import { requireAddress } from "../args";
import {
  accessLogAbi,
  consentLedgerAbi,
  custodianSetsAbi,
  readBatchAbi,
  readBatchBytecode,
  recordRegistryAbi,
} from "../chain/abis";
import { AuditClientBase, type AuditChain } from "../clients/audit-core";
import {
  batchResultOf,
  PATIENT_FIRST,
  PATIENT_SECOND,
  PatientEventReaderBase,
  READ_BATCH_OUTPUT,
  type BatchCall,
  type BatchResult,
  type ChainEvent,
  type PatientLogQueries,
  type ReadBatchOutput,
} from "../clients/patient-events-core";
import { getAddress } from "../core/hex";
import type { BlobStore } from "../storage/blob-store";
import type { ViemLedgerContracts } from "./connect";

const at = (value: string) => value as `0x${string}`;
const hex = (value: number) => `0x${value.toString(16)}`;

/** A raw log as eth_getLogs returns it. */
interface RpcLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
  blockHash: string;
  transactionHash: string;
  logIndex: string;
}

/** The log queries of the viem PatientEventReader: raw eth_getLogs, decoded by viem into ChainEvents. */
function viemLogQueries(contracts: ViemLedgerContracts): PatientLogQueries<ChainEvent> {
  const { deployment, client } = contracts;
  const logs = async (address: string, abi: Abi, topics: unknown[], from: number, to: number) => {
    const raw = (await client.request({
      method: "eth_getLogs",
      params: [
        { address: at(address), topics: topics as never, fromBlock: hex(from) as never, toBlock: hex(to) as never },
      ],
    } as never)) as RpcLog[];
    return parseEventLogs({ abi, logs: raw as never }).map((log): ChainEvent => ({
      eventName: log.eventName,
      args: log.args,
      blockNumber: Number(log.blockNumber),
      blockHash: log.blockHash as string,
      transactionHash: log.transactionHash as string,
      index: Number(log.logIndex),
    }));
  };
  const selector = (abi: Abi, eventName: string) => encodeEventTopics({ abi, eventName } as never)[0];
  const ledgerTopics = (names: string[]) => names.map((name) => selector(consentLedgerAbi as Abi, name));
  const patientTopic = (patient: string) => pad(at(patient.toLowerCase()), { size: 32 });
  return {
    patientFirst: (patient, from, to) =>
      logs(
        deployment.ledger,
        consentLedgerAbi as Abi,
        [ledgerTopics(Object.keys(PATIENT_FIRST)), patientTopic(patient)],
        from,
        to,
      ),
    patientSecond: (patient, from, to) =>
      logs(
        deployment.ledger,
        consentLedgerAbi as Abi,
        [ledgerTopics(Object.keys(PATIENT_SECOND)), null, patientTopic(patient)],
        from,
        to,
      ),
    anchored: (patient, from, to) =>
      logs(
        deployment.records,
        recordRegistryAbi as Abi,
        encodeEventTopics({
          abi: recordRegistryAbi,
          eventName: "RecordAnchored",
          args: { patient: at(patient) },
        } as never),
        from,
        to,
      ),
    batches: (from, to) =>
      logs(
        deployment.accessLog,
        accessLogAbi as Abi,
        [selector(accessLogAbi as Abi, "KeyReleaseBatchLogged")],
        from,
        to,
      ),
    released: (ids, from, to) =>
      logs(
        deployment.accessLog,
        accessLogAbi as Abi,
        encodeEventTopics({ abi: accessLogAbi, eventName: "KeyReleased", args: { recordId: ids.map(at) } } as never),
        from,
        to,
      ),
    latestBlock: async () => Number(await client.getBlockNumber()),
  };
}

/**
 * Reads a patient's events, remembering them by block (see the ethers entry's PatientEventReader: the
 * same queries, cache and results). Keep one per page or process.
 */
export class PatientEventReader extends PatientEventReaderBase<ChainEvent> {
  constructor(
    readonly contracts: ViemLedgerContracts,
    options: { maxBlockRange?: number } = {},
  ) {
    super(viemLogQueries(contracts), contracts.deployment.deployedAtBlock ?? 0, options);
  }
}

/**
 * Many view calls in one `eth_call` at `blockTag`, with nothing deployed (see the ethers entry's
 * readBatch: the creation code of contracts/lens/ReadBatch.sol, the same results and refusals).
 */
export async function readBatch(
  contracts: ViemLedgerContracts,
  calls: readonly BatchCall[],
  account: string,
  blockTag: number | "latest" = "latest",
): Promise<BatchResult> {
  const data = encodeDeployData({
    abi: readBatchAbi,
    bytecode: readBatchBytecode,
    args: [
      calls.map((call) => at(call.target)),
      calls.map((call) => at(call.data)),
      at(requireAddress(account, "account")),
    ],
  } as never);
  const { data: output } = await contracts.client.call(
    typeof blockTag === "number" ? { data, blockNumber: BigInt(blockTag) } : { data, blockTag },
  );
  return batchResultOf(
    output ?? "0x",
    (answer) =>
      decodeAbiParameters(
        READ_BATCH_OUTPUT.map((type) => ({ type })),
        at(answer),
      ) as unknown as ReadBatchOutput,
    blockTag,
  );
}

/** The audit chain of AuditClient, through viem. */
function viemAuditChain(contracts: ViemLedgerContracts, reader: PatientEventReader): AuditChain {
  const { client, deployment } = contracts;
  return {
    readEvents: (patient, toBlock) => reader.read(patient, toBlock),
    blockTimestamp: async (block) =>
      Number(
        (typeof block === "string"
          ? await client.getBlock({ blockHash: at(block) })
          : await client.getBlock({ blockNumber: BigInt(block) })
        ).timestamp,
      ),
    // viem gives the sender as the node does (lowercase); the entries name it checksummed, as ethers does.
    senderOf: async (hash) => {
      const { from } = await client.getTransaction({ hash: at(hash) });
      return from ? getAddress(from) : "";
    },
    ledgerAddress: deployment.ledger,
    custodianSetsAddress: contracts.custodianSets ? deployment.custodianSets : undefined,
    encodeCustodianPositionOf: (recordId, custodian) =>
      encodeFunctionData({
        abi: custodianSetsAbi,
        functionName: "custodianPositionOf",
        args: [at(recordId), at(custodian)],
      } as never),
    decodeCustodianPositionOf: (data) => {
      const [setId, , position] = decodeFunctionResult({
        abi: custodianSetsAbi,
        functionName: "custodianPositionOf",
        data: at(data),
      } as never) as unknown as [bigint | number, unknown, bigint | number];
      return { setId: Number(setId), position: Number(position) };
    },
    encodeAccessBasis: (patient, grantee, dataClass, purpose) =>
      encodeFunctionData({
        abi: consentLedgerAbi,
        functionName: "accessBasis",
        args: [at(patient), at(grantee), dataClass, purpose],
      } as never),
    decodeAccessBasis: (data) =>
      Number(decodeFunctionResult({ abi: consentLedgerAbi, functionName: "accessBasis", data: at(data) } as never)),
    readBatch: (calls, account, block) => readBatch(contracts, calls, account, block),
  };
}

/**
 * Rebuilds a patient's whole history from the chain's events (see the ethers entry's AuditClient: the
 * same entries, verification and errors). Batched key releases are read from their manifests in `store`.
 */
export class AuditClient extends AuditClientBase {
  /** Where the patient's events come from: pass a reader a page shares, so each log is read once. */
  readonly events: PatientEventReader;

  constructor(
    readonly contracts: ViemLedgerContracts,
    store?: BlobStore,
    events?: PatientEventReader,
  ) {
    const reader = events ?? new PatientEventReader(contracts);
    super(viemAuditChain(contracts, reader), store);
    this.events = reader;
  }
}

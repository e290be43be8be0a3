/**
 * The viem entry's CustodianSetClient: the one k-of-n custody client (sdk/clients/custodian-set-core.ts)
 * with CustodianSets and KeyDirectory read and written through viem, and this entry's record opener.
 * The same methods, results and errors as the ethers entry's.
 */
import { parseEventLogs, type WalletClient } from "viem";

import { custodianSetsAbi } from "../chain/abis";
import {
  CustodianSetClientBase,
  noCustodianSets,
  type CustodianSetChain,
  type CustodianSetClientOptions,
} from "../clients/custodian-set-core";
import type { GatewayClientBase } from "../clients/gateway-core";
import { ConsentLedgerError } from "../errors";
import type { ViemLedgerContracts } from "./connect";
import { viemRecordOpener } from "./gateway";
import { requireWallet, send } from "./send";

const at = (value: string) => value as `0x${string}`;

/** CustodianSets and KeyDirectory through viem, sending with `wallet`. */
function viemCustodianSetChain(contracts: ViemLedgerContracts, wallet: WalletClient): CustodianSetChain {
  const sets = contracts.custodianSets;
  if (!sets) throw noCustodianSets();
  const call = (functionName: string, args: readonly unknown[]) => ({
    address: sets.address,
    abi: custodianSetsAbi,
    functionName,
    args,
  });
  return {
    async setOf(setId) {
      const set = await sets.read.setOf([BigInt(setId)]);
      return { threshold: Number(set.threshold), custodians: [...set.custodians] };
    },
    async recordCustodians(recordId) {
      const [setId, set] = await sets.read.recordCustodians([at(recordId)]);
      return { setId: Number(setId), threshold: Number(set.threshold), custodians: [...set.custodians] };
    },
    custodianSetOf: async (recordId) => Number(await sets.read.custodianSetOf([at(recordId)])),
    defineSet: (custodians, threshold) =>
      send(
        contracts,
        wallet,
        "define the custodian set",
        call("defineSet", [custodians.map(at), threshold]),
        undefined,
        (receipt) => {
          const [defined] = parseEventLogs({
            abi: custodianSetsAbi,
            logs: receipt.logs,
            eventName: "CustodianSetDefined",
          });
          if (!defined)
            throw new ConsentLedgerError(
              "The set was defined but its CustodianSetDefined event is missing from the receipt",
            );
          return Number(defined.args.setId);
        },
      ),
    assignRecord: (recordId, setId) =>
      send(
        contracts,
        wallet,
        "assign the record to the custodian set",
        call("assignRecord", [at(recordId), BigInt(setId)]),
        undefined,
        () => undefined,
      ),
    keyOf: (account) => contracts.keys.read.keyOf([at(account)]),
  };
}

/**
 * One account's view of a custodian set's gateways: as a provider's KeyCustodian, assigns each published
 * record to `setId` and deposits one share with each custodian; as a reader, gathers k shares of a
 * record's set and opens it (CustodianSetClientBase).
 */
export class CustodianSetClient extends CustodianSetClientBase {
  readonly wallet: WalletClient;

  constructor(
    readonly contracts: ViemLedgerContracts,
    wallet: WalletClient,
    gateways: Record<string, GatewayClientBase> | Map<string, GatewayClientBase>,
    setId?: number,
    options: CustodianSetClientOptions = {},
  ) {
    const checked = requireWallet(wallet);
    super(viemCustodianSetChain(contracts, checked), viemRecordOpener(contracts, checked), gateways, setId, options);
    this.wallet = checked;
  }
}

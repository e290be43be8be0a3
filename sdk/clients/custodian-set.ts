/**
 * The ethers entry's CustodianSetClient: the one k-of-n custody client (sdk/clients/custodian-set-core.ts)
 * with CustodianSets and KeyDirectory read and written through ethers, and this entry's ResearcherClient
 * to verify and open a record once its key is rebuilt.
 */
import type { Signer } from "ethers";

import type { LedgerContracts } from "../chain/connect";
import { send } from "../chain/transactions";
import { ConsentLedgerError } from "../errors";
import {
  CustodianSetClientBase,
  noCustodianSets,
  type CustodianSetChain,
  type CustodianSetClientOptions,
} from "./custodian-set-core";
import { ethersRecordOpener, type GatewayClientBase } from "./gateway";

export * from "./custodian-set-core";

/** CustodianSets and KeyDirectory through ethers, sending as `signer`. */
function ethersCustodianSetChain(contracts: LedgerContracts, signer: Signer): CustodianSetChain {
  const sets = contracts.custodianSets;
  if (!sets) throw noCustodianSets();
  return {
    async setOf(setId) {
      const set = await sets.setOf(setId);
      return { threshold: Number(set.threshold), custodians: [...set.custodians] };
    },
    async recordCustodians(recordId) {
      const [setId, set] = await sets.recordCustodians(recordId);
      return { setId: Number(setId), threshold: Number(set.threshold), custodians: [...set.custodians] };
    },
    custodianSetOf: async (recordId) => Number(await sets.custodianSetOf(recordId)),
    defineSet: (custodians, threshold) =>
      send(
        "define the custodian set",
        () => sets.connect(signer).defineSet([...custodians], threshold),
        (receipt) => {
          for (const log of receipt.logs) {
            try {
              const parsed = sets.interface.parseLog(log);
              if (parsed?.name === "CustodianSetDefined") return Number(parsed.args.setId);
            } catch {
              // another contract's event
            }
          }
          throw new ConsentLedgerError(
            "The set was defined but its CustodianSetDefined event is missing from the receipt",
          );
        },
      ),
    assignRecord: (recordId, setId) =>
      send(
        "assign the record to the custodian set",
        () => sets.connect(signer).assignRecord(recordId, setId),
        () => undefined,
      ),
    keyOf: (account) => contracts.keys.keyOf(account),
  };
}

/**
 * One account's view of a custodian set's gateways: as a provider's KeyCustodian, assigns each published
 * record to `setId` and deposits one share with each custodian; as a reader, gathers k shares of a
 * record's set and opens it (CustodianSetClientBase).
 */
export class CustodianSetClient extends CustodianSetClientBase {
  constructor(
    readonly contracts: LedgerContracts,
    readonly signer: Signer,
    gateways: Record<string, GatewayClientBase> | Map<string, GatewayClientBase>,
    setId?: number,
    options: CustodianSetClientOptions = {},
  ) {
    super(ethersCustodianSetChain(contracts, signer), ethersRecordOpener(contracts, signer), gateways, setId, options);
  }
}

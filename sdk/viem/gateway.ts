/**
 * The viem entry's GatewayClient: the one gateway client (sdk/clients/gateway-core.ts) with a viem
 * WalletClient for the login and this entry's ResearcherClient to verify and open what it fetches. The
 * same methods, results and errors as the ethers entry's.
 */
import type { WalletClient } from "viem";

import { GatewayClientBase, type GatewayClientOptions, type RecordOpener } from "../clients/gateway-core";
import type { ViemLedgerContracts } from "./connect";
import { verifyContextOnChain } from "./records";
import { ResearcherClient } from "./researcher";
import { requireWallet } from "./send";
import { viemTypedDataSigner } from "./signer";

/** This entry's record opener: the viem ResearcherClient's checks against the chain (sdk/viem/records.ts). */
export function viemRecordOpener(contracts: ViemLedgerContracts, wallet: WalletClient): RecordOpener {
  const researcher = new ResearcherClient(contracts, wallet);
  return {
    openRecord: (input) => researcher.openRecord(input),
    openRecordWithKey: (input) => researcher.openRecordWithKey(input),
    verifyContext: (recordId, context, options) => verifyContextOnChain(contracts, recordId, context, options),
  };
}

/** A custodian gateway, as one account (researcher, provider, patient) sees it. */
export class GatewayClient extends GatewayClientBase {
  /** The viem wallet client the client logs in with. */
  readonly wallet: WalletClient;

  constructor(
    baseUrl: string,
    wallet: WalletClient,
    readonly contracts: ViemLedgerContracts,
    options: GatewayClientOptions = {},
  ) {
    const checked = requireWallet(wallet);
    super(
      baseUrl,
      {
        signer: viemTypedDataSigner(checked),
        chain: contracts,
        opener: viemRecordOpener(contracts, checked),
      },
      options,
    );
    this.wallet = checked;
  }
}

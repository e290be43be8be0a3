/**
 * The ethers entry's GatewayClient: the one gateway client (sdk/clients/gateway-core.ts) with an ethers
 * signer for the login and this entry's ResearcherClient to verify and open what it fetches.
 */
import type { Signer } from "ethers";

import type { LedgerContracts } from "../chain/connect";
import { toSigner, type SignerInput } from "../chain/runner";
import { GatewayClientBase, type GatewayClientOptions, type RecordOpener } from "./gateway-core";
import { verifyContextOnChain } from "./records";
import { ResearcherClient } from "./researcher";

export * from "./gateway-core";

/** This entry's record opener: ResearcherClient's checks against the chain, read through ethers. */
export function ethersRecordOpener(contracts: LedgerContracts, signer: Signer): RecordOpener {
  const researcher = new ResearcherClient(contracts, signer);
  return {
    openRecord: (input) => researcher.openRecord(input),
    openRecordWithKey: (input) => researcher.openRecordWithKey(input),
    verifyContext: (recordId, context, options) => verifyContextOnChain(contracts, recordId, context, options),
  };
}

/** A custodian gateway, as one account (researcher, provider, patient) sees it. */
export class GatewayClient extends GatewayClientBase {
  /** The ethers signer the client logs in with (a viem WalletClient is wrapped as one). */
  readonly signer: Signer;

  constructor(
    baseUrl: string,
    signer: SignerInput,
    readonly contracts: LedgerContracts,
    options: GatewayClientOptions = {},
  ) {
    const ethersSigner = toSigner(signer);
    super(
      baseUrl,
      {
        signer: ethersSigner,
        chain: contracts,
        opener: ethersRecordOpener(contracts, ethersSigner),
      },
      options,
    );
    this.signer = ethersSigner;
  }
}

import type { WalletClient } from "viem";

import { requireAddress } from "../args";
import { consentLedgerAbi } from "../chain/abis";
import type { PendingTransaction } from "../chain/transactions";
import { accreditTerms } from "../clients/rules";
import type { RoleName } from "../codes";
import type { TransactionOverrides } from "../core/overrides";
import { InvalidArgumentError } from "../errors";
import type { ViemLedgerContracts } from "./connect";
import { requireWallet, send } from "./send";

/** The ethers entry's AdminClient for a viem WalletClient: accredit, suspend, reinstate. */
export class AdminClient {
  readonly wallet: WalletClient;

  constructor(
    readonly contracts: ViemLedgerContracts,
    wallet: WalletClient,
  ) {
    this.wallet = requireWallet(wallet);
  }

  private call(action: string, functionName: string, args: readonly unknown[], overrides?: TransactionOverrides) {
    const call = { address: this.contracts.deployment.ledger, abi: consentLedgerAbi, functionName, args };
    return <T>(decode: () => T) => send(this.contracts, this.wallet, action, call, overrides, decode);
  }

  async accredit(
    input: { party: string; roles: readonly RoleName[]; nonProfit?: boolean; accreditedUntil?: Date | number },
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ party: string; roles: number }>> {
    const { party, roles, nonProfit, until } = accreditTerms(input);
    return this.call("accredit", "accredit", [party, roles, nonProfit, until], overrides)(() => ({ party, roles }));
  }

  async suspend(
    party: string,
    reasonCode = 0,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ party: string }>> {
    const who = requireAddress(party, "party");
    if (!Number.isInteger(reasonCode) || reasonCode < 0 || reasonCode > 0xffff) {
      throw new InvalidArgumentError("reasonCode", "a whole number from 0 to 65535");
    }
    return this.call("suspend", "suspend", [who, reasonCode], overrides)(() => ({ party: who }));
  }

  async reinstate(party: string, overrides?: TransactionOverrides): Promise<PendingTransaction<{ party: string }>> {
    const who = requireAddress(party, "party");
    return this.call("reinstate", "reinstate", [who], overrides)(() => ({ party: who }));
  }
}

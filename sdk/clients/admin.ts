import type { Signer } from "ethers";

import { requireAddress } from "../args";
import type { RoleName } from "../codes";
import type { LedgerContracts } from "../chain/connect";
import { toSigner, withOverrides, type SignerInput, type TransactionOverrides } from "../chain/runner";
import { send, type PendingTransaction } from "../chain/transactions";
import { InvalidArgumentError } from "../errors";
import { accreditTerms } from "./rules";

/** What the administrator (a multisig in production) does: accredit, suspend, reinstate. */
export class AdminClient {
  /** The ethers signer the client writes with (a viem WalletClient is wrapped as one). */
  readonly signer: Signer;

  constructor(
    readonly contracts: LedgerContracts,
    signer: SignerInput,
  ) {
    this.signer = toSigner(signer);
  }

  async accredit(
    input: {
      party: string;
      roles: readonly RoleName[];
      nonProfit?: boolean;
      accreditedUntil?: Date | number;
    },
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ party: string; roles: number }>> {
    const { party, roles, nonProfit, until } = accreditTerms(input);
    return send(
      "accredit",
      () =>
        this.contracts.ledger.connect(withOverrides(this.signer, overrides)).accredit(party, roles, nonProfit, until),
      () => ({ party, roles }),
    );
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
    return send(
      "suspend",
      () => this.contracts.ledger.connect(withOverrides(this.signer, overrides)).suspend(who, reasonCode),
      () => ({ party: who }),
    );
  }

  async reinstate(party: string, overrides?: TransactionOverrides): Promise<PendingTransaction<{ party: string }>> {
    const who = requireAddress(party, "party");
    return send(
      "reinstate",
      () => this.contracts.ledger.connect(withOverrides(this.signer, overrides)).reinstate(who),
      () => ({ party: who }),
    );
  }
}

import type { ContractTransactionReceipt, ContractTransactionResponse } from "ethers";

import { ConsentLedgerError } from "../errors";
import { toLedgerError } from "./revert";

/**
 * A sent transaction. `wait()` resolves to what the call achieved (the new record, the request id,
 * the grant), decoded from the receipt, not to the receipt itself.
 */
export interface PendingTransaction<T> {
  readonly hash: string;
  wait(confirmations?: number): Promise<T>;
}

/** Sends a contract call and decodes its receipt with `decode`; every failure is a ConsentLedgerError. */
export async function send<T>(
  action: string,
  call: () => Promise<ContractTransactionResponse>,
  decode: (receipt: ContractTransactionReceipt) => T | Promise<T>,
): Promise<PendingTransaction<T>> {
  let response: ContractTransactionResponse;
  try {
    response = await call();
  } catch (error) {
    throw toLedgerError(error, action);
  }
  return {
    hash: response.hash,
    async wait(confirmations = 1) {
      let receipt: ContractTransactionReceipt | null;
      try {
        receipt = await response.wait(confirmations);
      } catch (error) {
        throw toLedgerError(error, action);
      }
      if (!receipt)
        throw new ConsentLedgerError(`The transaction to ${action} was dropped`, { details: response.hash });
      return decode(receipt);
    },
  };
}

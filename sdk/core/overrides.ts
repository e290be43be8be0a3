/**
 * Overrides on writes (gas, fees, nonce), checked once for both entries: the ethers entry applies them
 * through its signer, the viem entry passes them to writeContract.
 */
import { InvalidArgumentError, describeValue } from "../errors";

/** What a write may fix instead of letting the wallet and node choose: gas, fees, nonce. */
export interface TransactionOverrides {
  gasLimit?: bigint | number;
  /** Legacy gas price; give either this or the EIP-1559 fees. */
  gasPrice?: bigint | number;
  maxFeePerGas?: bigint | number;
  maxPriorityFeePerGas?: bigint | number;
  nonce?: number;
}

const OVERRIDE_KEYS = ["gasLimit", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas", "nonce"] as const;

/** Checks overrides' names and values, so a typo (gas instead of gasLimit) fails instead of being ignored. */
export function checkedOverrides(overrides: TransactionOverrides): TransactionOverrides {
  for (const [key, value] of Object.entries(overrides)) {
    if (!(OVERRIDE_KEYS as readonly string[]).includes(key)) {
      throw new InvalidArgumentError("overrides", `unknown field ${JSON.stringify(key)}`, {
        hint: `Use ${OVERRIDE_KEYS.join(", ")}.`,
      });
    }
    const ok =
      key === "nonce"
        ? Number.isSafeInteger(value) && (value as number) >= 0
        : (typeof value === "bigint" && value >= 0n) || (Number.isSafeInteger(value) && (value as number) >= 0);
    if (value !== undefined && !ok)
      throw new InvalidArgumentError(`overrides.${key}`, `expected a whole number >= 0, got ${describeValue(value)}`);
  }
  if (
    overrides.gasPrice !== undefined &&
    (overrides.maxFeePerGas !== undefined || overrides.maxPriorityFeePerGas !== undefined)
  ) {
    throw new InvalidArgumentError(
      "overrides",
      "gasPrice and EIP-1559 fees (maxFeePerGas, maxPriorityFeePerGas) exclude each other",
    );
  }
  return overrides;
}

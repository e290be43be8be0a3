/**
 * Pairing links on the viem entry: the one implementation (sdk/clients/pairing.ts, library-free, its
 * verifyPairingLink shared as it is), signed here by a viem LocalAccount or WalletClient.
 */
import type { LocalAccount, WalletClient } from "viem";

import { createPairingLink as createLink, type CreatePairingInput, type PairingLink } from "../clients/pairing";
import { viemTypedDataSigner } from "./signer";

/** Signs a pairing link as the pseudonym (its LocalAccount: pseudonymAccount); returns the payload to show and what it says. */
export function createPairingLink(
  pseudonym: LocalAccount | WalletClient,
  input: CreatePairingInput,
): Promise<{ payload: string; link: PairingLink }> {
  return createLink(viemTypedDataSigner(pseudonym), input);
}

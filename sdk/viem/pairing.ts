/**
 * Pairing links on the viem entry: the same rules (sdk/clients/pairing-core.ts), signed by a viem
 * LocalAccount or WalletClient and recovered with viem. verifyPairingLink is async here (viem recovers
 * asynchronously); it throws the same PairingError as the ethers entry's.
 */
import { recoverTypedDataAddress, type LocalAccount, type WalletClient } from "viem";

import {
  acceptPairingSignature,
  checkPairingLink,
  createPairingLink as createLink,
  type CreatePairingInput,
  type PairingLink,
  type VerifyPairingOptions,
} from "../clients/pairing-core";
import { viemTypedDataSigner } from "./signer";

/** Signs a pairing link as the pseudonym (its LocalAccount: pseudonymAccount); returns the payload to show and what it says. */
export function createPairingLink(
  pseudonym: LocalAccount | WalletClient,
  input: CreatePairingInput,
): Promise<{ payload: string; link: PairingLink }> {
  return createLink(viemTypedDataSigner(pseudonym), input);
}

/**
 * Decodes and checks a pairing link: its chain and ledger are the verifier's, it names this provider,
 * it is within its validity, and its signature recovers to the pseudonym it names. Throws PairingError.
 */
export async function verifyPairingLink(input: string, options: VerifyPairingOptions): Promise<PairingLink> {
  const { link, typedData } = checkPairingLink(input, options);
  let recovered: string | undefined;
  try {
    recovered = await recoverTypedDataAddress({
      domain: { ...typedData.domain, chainId: BigInt(typedData.domain.chainId as bigint) } as never,
      types: typedData.types,
      primaryType: "PatientPairing",
      message: typedData.message as never,
      signature: link.signature as `0x${string}`,
    });
  } catch {
    recovered = undefined;
  }
  return acceptPairingSignature(link, recovered);
}

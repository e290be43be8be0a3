/**
 * The ethers entry's pairing links: the rules are in sdk/clients/pairing-core.ts; ethers recovers the
 * signature.
 */
import { verifyTypedData } from "ethers";

import { acceptPairingSignature, checkPairingLink, type PairingLink, type VerifyPairingOptions } from "./pairing-core";

export {
  DEFAULT_PAIRING_TTL_SECONDS,
  MAX_PAIRING_TTL_SECONDS,
  PAIRING_DOMAIN_NAME,
  PAIRING_DOMAIN_VERSION,
  PAIRING_PREFIX,
  PAIRING_TYPES,
  PairingError,
  acceptPairingSignature,
  checkPairingLink,
  createPairingLink,
  encodePairingLink,
  pairingDomain,
  pairingUrl,
  parsePairingLink,
} from "./pairing-core";
export type {
  CreatePairingInput,
  PairingLink,
  PairingProblem,
  PairingTypedData,
  VerifyPairingOptions,
} from "./pairing-core";

/**
 * Decodes and checks a pairing link: its chain and ledger are the verifier's, it names this provider,
 * it is within its validity, and its signature recovers to the pseudonym it names. Throws PairingError.
 */
export function verifyPairingLink(input: string, options: VerifyPairingOptions): PairingLink {
  const { link, typedData } = checkPairingLink(input, options);
  let recovered: string | undefined;
  try {
    recovered = verifyTypedData(typedData.domain, typedData.types, typedData.message, link.signature);
  } catch {
    recovered = undefined;
  }
  return acceptPairingSignature(link, recovered);
}

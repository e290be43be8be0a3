import { verifyTypedData, type Signer, type TypedDataDomain, type TypedDataField } from "ethers";

import type { SignedConsent } from "./types";

/** The EIP-712 types of ISignedConsents, exactly as the contract hashes them. */
export const CONSENT_TYPES: Record<"Grant" | "Revoke" | "ApproveRequest" | "DenyRequest", TypedDataField[]> = {
  Grant: [
    { name: "signer", type: "address" },
    { name: "patient", type: "address" },
    { name: "grantee", type: "address" },
    { name: "dataClasses", type: "uint32" },
    { name: "purposes", type: "uint32" },
    { name: "validFrom", type: "uint40" },
    { name: "validUntil", type: "uint40" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  Revoke: [
    { name: "signer", type: "address" },
    { name: "patient", type: "address" },
    { name: "grantee", type: "address" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  ApproveRequest: [
    { name: "signer", type: "address" },
    { name: "requestId", type: "bytes32" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  DenyRequest: [
    { name: "signer", type: "address" },
    { name: "requestId", type: "bytes32" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

/** The ledger's EIP-712 domain: name, version, chain and contract, so a signature works nowhere else. */
export function consentDomain(chainId: bigint | number, ledger: string): TypedDataDomain {
  return { name: "ConsentLedger", version: "1", chainId: BigInt(chainId), verifyingContract: ledger };
}

export async function signConsentMessage(
  signer: Signer,
  domain: TypedDataDomain,
  primaryType: keyof typeof CONSENT_TYPES,
  message: Record<string, unknown>,
): Promise<string> {
  return signer.signTypedData(domain, { [primaryType]: CONSENT_TYPES[primaryType] }, message);
}

/** The primary type each kind of signed consent is signed as. */
export const SIGNED_CONSENT_PRIMARY_TYPES = { grant: "Grant", revoke: "Revoke", approve: "ApproveRequest", deny: "DenyRequest" } as const;

/**
 * The EIP-712 message a SignedConsent's signature covers, rebuilt from the SignedConsent alone (a relayer
 * checks who signed it before paying for it). `requestId` is the id of the request for approve/deny.
 */
export function signedConsentMessage(
  signed: Pick<SignedConsent, "kind" | "signer" | "nonce" | "deadline" | "patient" | "grant" | "grantee">,
  requestId?: string,
): { primaryType: keyof typeof CONSENT_TYPES; message: Record<string, unknown> } {
  const primaryType = SIGNED_CONSENT_PRIMARY_TYPES[signed.kind];
  const common = { signer: signed.signer, nonce: BigInt(signed.nonce), deadline: signed.deadline };
  switch (signed.kind) {
    case "grant":
      return { primaryType, message: { ...common, patient: signed.patient, ...signed.grant } };
    case "revoke":
      return { primaryType, message: { ...common, patient: signed.patient, grantee: signed.grantee } };
    default:
      return { primaryType, message: { ...common, requestId } };
  }
}

/** The address that signed `signed` (EIP-712 recovery), or undefined when the signature does not parse. */
export function recoverSignedConsentSigner(signed: SignedConsent, requestId?: string): string | undefined {
  const { primaryType, message } = signedConsentMessage(signed, requestId);
  try {
    return verifyTypedData(consentDomain(signed.chainId, signed.ledger), { [primaryType]: CONSENT_TYPES[primaryType] }, message, signed.signature);
  } catch {
    return undefined;
  }
}

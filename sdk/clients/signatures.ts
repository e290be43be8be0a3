import { verifyTypedData, type Signer, type TypedDataDomain } from "ethers";

import { CONSENT_TYPES, consentDomain } from "./consent-types";
import type { SignedConsent } from "./types";

export { CONSENT_TYPES, consentDomain } from "./consent-types";

export async function signConsentMessage(
  signer: Signer,
  domain: TypedDataDomain,
  primaryType: keyof typeof CONSENT_TYPES,
  message: Record<string, unknown>,
): Promise<string> {
  return signer.signTypedData(domain, { [primaryType]: CONSENT_TYPES[primaryType] }, message);
}

/** The primary type each kind of signed consent is signed as. */
export const SIGNED_CONSENT_PRIMARY_TYPES = {
  grant: "Grant",
  revoke: "Revoke",
  approve: "ApproveRequest",
  deny: "DenyRequest",
} as const;

/**
 * The EIP-712 message a SignedConsent's signature covers, rebuilt from the SignedConsent alone (a relayer
 * checks who signed it before paying for it). `requestId` is the id of the request for approve/deny.
 */
export function signedConsentMessage(
  signed: Pick<
    SignedConsent,
    "kind" | "signer" | "nonce" | "deadline" | "patient" | "grant" | "grantee" | "seenConsent"
  >,
  requestId?: string,
): { primaryType: keyof typeof CONSENT_TYPES; message: Record<string, unknown> } {
  const primaryType = SIGNED_CONSENT_PRIMARY_TYPES[signed.kind];
  const common = { signer: signed.signer, nonce: BigInt(signed.nonce), deadline: signed.deadline };
  // A grant and an approval also cover the consent their signer saw (0 when none).
  const seenConsent = BigInt(signed.seenConsent ?? "0");
  switch (signed.kind) {
    case "grant":
      return { primaryType, message: { ...common, patient: signed.patient, ...signed.grant, seenConsent } };
    case "revoke":
      return { primaryType, message: { ...common, patient: signed.patient, grantee: signed.grantee } };
    case "approve":
      return { primaryType, message: { ...common, requestId, seenConsent } };
    default:
      return { primaryType, message: { ...common, requestId } };
  }
}

/** The address that signed `signed` (EIP-712 recovery), or undefined when the signature does not parse. */
export function recoverSignedConsentSigner(signed: SignedConsent, requestId?: string): string | undefined {
  const { primaryType, message } = signedConsentMessage(signed, requestId);
  try {
    return verifyTypedData(
      consentDomain(signed.chainId, signed.ledger),
      { [primaryType]: CONSENT_TYPES[primaryType] },
      message,
      signed.signature,
    );
  } catch {
    return undefined;
  }
}

/**
 * The ledger's EIP-712 definitions as plain data, for the ethers and the viem entry alike (type-only
 * imports: nothing of ethers at run time).
 */
import type { TypedDataDomain, TypedDataField } from "ethers";

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
    // The consent the signer saw for (patient, grantee), packed as the ledger stores it; 0 for none.
    { name: "seenConsent", type: "uint256" },
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
    { name: "seenConsent", type: "uint256" },
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

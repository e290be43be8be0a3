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

/**
 * The types ISignedConsents.actBySig relays: the patient's own settings, signed for the signer's own
 * account. Every field is static; the fields between `signer` and `nonce` are the call's `args` (their
 * abi.encode), and are, in order, the parameters of the direct function.
 */
export const ACTION_TYPES: Record<SignedActionType, TypedDataField[]> = {
  SetPolicy: [
    { name: "signer", type: "address" },
    { name: "permission", type: "uint8" },
    { name: "modifiers", type: "uint64" },
    { name: "dataClasses", type: "uint32" },
    { name: "purposes", type: "uint16" },
    { name: "diseaseId", type: "uint32" },
    { name: "maxDuration", type: "uint40" },
    { name: "validUntil", type: "uint40" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  ClearPolicy: [
    { name: "signer", type: "address" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  AppointDelegate: [
    { name: "signer", type: "address" },
    { name: "delegate", type: "address" },
    { name: "validUntil", type: "uint40" },
    { name: "purposes", type: "uint32" },
    { name: "sensitiveClasses", type: "bool" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  RemoveDelegate: [
    { name: "signer", type: "address" },
    { name: "delegate", type: "address" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  SetEmergencyOptOut: [
    { name: "signer", type: "address" },
    { name: "optedOut", type: "bool" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  InvalidateNonces: [
    { name: "signer", type: "address" },
    { name: "word", type: "uint256" },
    { name: "mask", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

export type SignedActionType =
  "SetPolicy" | "ClearPolicy" | "AppointDelegate" | "RemoveDelegate" | "SetEmergencyOptOut" | "InvalidateNonces";

/** The SignedConsent kind of each actBySig type. */
export const SIGNED_ACTION_KINDS = {
  setPolicy: "SetPolicy",
  clearPolicy: "ClearPolicy",
  appointDelegate: "AppointDelegate",
  removeDelegate: "RemoveDelegate",
  setEmergencyOptOut: "SetEmergencyOptOut",
  invalidateNonces: "InvalidateNonces",
} as const satisfies Record<string, SignedActionType>;

export type SignedActionKind = keyof typeof SIGNED_ACTION_KINDS;

/** KeyDirectory's one signed type (IKeyDirectory.registerKeyBySig), in its own domain. */
export const KEY_DIRECTORY_TYPES: Record<"RegisterKey", TypedDataField[]> = {
  RegisterKey: [
    { name: "signer", type: "address" },
    { name: "publicKey", type: "bytes32" },
    // The key the signer saw registered (zero for none): KeyDirectory refuses the signature over any other.
    { name: "seenKey", type: "bytes32" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

/** KeyDirectory's EIP-712 domain. */
export function keyDirectoryDomain(chainId: bigint | number, keyDirectory: string): TypedDataDomain {
  return { name: "KeyDirectory", version: "1", chainId: BigInt(chainId), verifyingContract: keyDirectory };
}

/** The fields of an actBySig type between `signer` and `nonce`: what `args` encodes, in order. */
export function actionArgFields(type: SignedActionType): TypedDataField[] {
  return ACTION_TYPES[type].slice(1, -2);
}

/** EIP-712's encodeType of a type with no nested structs, e.g. "ClearPolicy(address signer,...)"; its keccak is the typehash. */
export function encodeTypeOf(primaryType: string, fields: readonly TypedDataField[]): string {
  return `${primaryType}(${fields.map((f) => `${f.type} ${f.name}`).join(",")})`;
}

/**
 * What a PatientClient (ethers or viem) signs for an actBySig kind, from the direct call's values
 * (`input` holds at least the type's fields between signer and nonce, by name): the primary type, the
 * typed-data message fields (integers as bigint) and the SignedConsent's JSON fields (as decimal strings).
 */
export function signedActionOf(
  kind: SignedActionKind,
  input: object,
): { type: SignedActionType; message: Record<string, unknown>; fields: Record<string, string | boolean> } {
  const type = SIGNED_ACTION_KINDS[kind];
  const values = input as Record<string, unknown>;
  const message: Record<string, unknown> = {};
  const fields: Record<string, string | boolean> = {};
  for (const field of actionArgFields(type)) {
    const value = values[field.name];
    if (field.type === "bool" || field.type === "address") {
      message[field.name] = value;
      fields[field.name] = value as string | boolean;
    } else {
      message[field.name] = BigInt(value as bigint | number);
      fields[field.name] = String(message[field.name]);
    }
  }
  return { type, message, fields };
}

/**
 * A delegate offer (sdk/clients/delegate-offer.ts): each of a delegate's per-pseudonym accounts signs that
 * it accepts to act for one patient pseudonym, so the patient appoints a distinct, unlinkable address on
 * each pseudonym and knows the delegate holds its key. Signed in its own domain (never the ledger's), so
 * an offer can never be relayed as a ledger action.
 */
export const DELEGATE_OFFER_TYPES: Record<"DelegateOffer", TypedDataField[]> = {
  DelegateOffer: [
    { name: "delegate", type: "address" },
    { name: "patient", type: "address" },
    { name: "issuedAt", type: "uint64" },
    { name: "expiresAt", type: "uint64" },
    { name: "nonce", type: "bytes32" },
  ],
};
export const DELEGATE_OFFER_DOMAIN_NAME = "ConsentLedger Delegate Offer";
export const DELEGATE_OFFER_DOMAIN_VERSION = "1";

/** The EIP-712 domain of delegate offers on one ledger. */
export function delegateOfferDomain(chainId: bigint | number, ledger: string): TypedDataDomain {
  return {
    name: DELEGATE_OFFER_DOMAIN_NAME,
    version: DELEGATE_OFFER_DOMAIN_VERSION,
    chainId: BigInt(chainId),
    verifyingContract: ledger,
  };
}

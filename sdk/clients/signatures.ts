import { AbiCoder, id, verifyTypedData, type Signer, type TypedDataDomain, type TypedDataField } from "ethers";

import {
  ACTION_TYPES,
  CONSENT_TYPES,
  KEY_DIRECTORY_KINDS,
  KEY_DIRECTORY_TYPES,
  SIGNED_ACTION_KINDS,
  actionArgFields,
  isKeyDirectoryKind,
  consentDomain,
  encodeTypeOf,
  keyDirectoryDomain,
  type KeyDirectoryType,
  type SignedActionKind,
  type SignedActionType,
} from "./consent-types";
import type { SignedConsent } from "./types";

export {
  ACTION_TYPES,
  CONSENT_TYPES,
  KEY_DIRECTORY_KINDS,
  KEY_DIRECTORY_TYPES,
  SIGNED_ACTION_KINDS,
  consentDomain,
  isKeyDirectoryKind,
  keyDirectoryDomain,
} from "./consent-types";

/** Every primary type the SDK signs, with its fields. */
const ALL_TYPES: Record<string, TypedDataField[]> = { ...CONSENT_TYPES, ...ACTION_TYPES, ...KEY_DIRECTORY_TYPES };

export async function signConsentMessage(
  signer: Signer,
  domain: TypedDataDomain,
  primaryType: keyof typeof CONSENT_TYPES | SignedActionType | KeyDirectoryType,
  message: Record<string, unknown>,
): Promise<string> {
  return signer.signTypedData(domain, { [primaryType]: ALL_TYPES[primaryType] }, message);
}

/** The primary type each kind of signed consent is signed as. */
export const SIGNED_CONSENT_PRIMARY_TYPES = {
  grant: "Grant",
  revoke: "Revoke",
  approve: "ApproveRequest",
  deny: "DenyRequest",
  ...SIGNED_ACTION_KINDS,
  ...KEY_DIRECTORY_KINDS,
} as const;

/** Whether `kind` is one of the settings the ledger's actBySig relays. */
export function isSignedActionKind(kind: string): kind is SignedActionKind {
  return Object.prototype.hasOwnProperty.call(SIGNED_ACTION_KINDS, kind);
}

/** The typehash of an actBySig type: its `action` argument. */
export function actionTypehash(type: SignedActionType): string {
  return id(encodeTypeOf(type, ACTION_TYPES[type]));
}

/** The `args` of actBySig for `type`: the abi.encode of its fields between signer and nonce, from `fields`. */
export function encodeActionArgs(type: SignedActionType, fields: Record<string, unknown>): string {
  const middle = actionArgFields(type);
  return AbiCoder.defaultAbiCoder().encode(
    middle.map((f) => f.type),
    middle.map((f) => fields[f.name]),
  );
}

/** A signed field as EIP-712 takes it: integers as bigint, the rest as they are. */
function typedFields(fields: TypedDataField[], values: Record<string, string | boolean> | undefined) {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = values?.[f.name];
    out[f.name] = /^u?int\d+$/.test(f.type) && typeof v === "string" ? BigInt(v) : v;
  }
  return out;
}

/**
 * The EIP-712 message a SignedConsent's signature covers, rebuilt from the SignedConsent alone (a relayer
 * checks who signed it before paying for it). `requestId` is the id of the request for approve/deny.
 */
export function signedConsentMessage(
  signed: Pick<
    SignedConsent,
    "kind" | "signer" | "nonce" | "deadline" | "patient" | "grant" | "grantee" | "seenConsent" | "fields"
  >,
  requestId?: string,
): { primaryType: (typeof SIGNED_CONSENT_PRIMARY_TYPES)[SignedConsent["kind"]]; message: Record<string, unknown> } {
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
    case "deny":
      return { primaryType, message: { ...common, requestId } };
    default: {
      const fields = ALL_TYPES[primaryType].slice(1, -2);
      return { primaryType, message: { ...common, ...typedFields(fields, signed.fields) } };
    }
  }
}

/** The domain a SignedConsent is signed in: the ledger's, or KeyDirectory's for a KeyDirectory kind. */
export function signedConsentDomain(signed: Pick<SignedConsent, "kind" | "chainId" | "ledger" | "keyDirectory">) {
  return isKeyDirectoryKind(signed.kind)
    ? keyDirectoryDomain(signed.chainId, signed.keyDirectory ?? "")
    : consentDomain(signed.chainId, signed.ledger);
}

/** The address that signed `signed` (EIP-712 recovery), or undefined when the signature does not parse. */
export function recoverSignedConsentSigner(signed: SignedConsent, requestId?: string): string | undefined {
  const { primaryType, message } = signedConsentMessage(signed, requestId);
  try {
    return verifyTypedData(
      signedConsentDomain(signed),
      { [primaryType]: ALL_TYPES[primaryType] },
      message,
      signed.signature,
    );
  } catch {
    return undefined;
  }
}

/**
 * EIP-712 helpers for the signed (gasless) forms of the ledger's patient actions
 * (contracts/interfaces/ISignedConsents.sol).
 *
 * Every `sign*` function returns the argument tuple of the matching `*BySig` call, ready to spread:
 *
 *   const args = await signGrant(ledger, patient, { patient: patient.address, terms, nonce: 0n, deadline });
 *   await ledger.connect(relayer).grantBySig(...args);
 *
 * `key` is whoever holds the signing key. `signer` is the account the contract checks: by default the
 * key's own address; for a contract wallet (ERC-1271) pass the wallet's address while its owner signs.
 * `domain` overrides fields of the ledger's domain, to make signatures for another chain or contract.
 */
import { time } from "@nomicfoundation/hardhat-network-helpers";
import {
  type AddressLike,
  type BigNumberish,
  type Signer,
  type TypedDataDomain,
  type TypedDataField,
  N as SECP256K1_N,
  Signature,
  AbiCoder,
  TypedDataEncoder,
  id,
  resolveAddress,
} from "ethers";

import type { IAccessRequests, IConsents } from "../../typechain-types/contracts/ConsentLedger";

/**
 * The signed types, field for field as in ISignedConsents.sol. Written out again on purpose, not imported
 * from the SDK (CONSENT_TYPES): an independent oracle, so a wrong SDK type fails the contract tests.
 */
export const SIGNED_CONSENT_TYPES = {
  Grant: [
    { name: "signer", type: "address" },
    { name: "patient", type: "address" },
    { name: "grantee", type: "address" },
    { name: "dataClasses", type: "uint32" },
    { name: "purposes", type: "uint32" },
    { name: "validFrom", type: "uint40" },
    { name: "validUntil", type: "uint40" },
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
} as const satisfies Record<string, readonly TypedDataField[]>;

/**
 * The types `actBySig` relays, field for field as in ISignedConsents.sol (again written out, not imported
 * from the SDK). Every field is static; the fields between `signer` and `nonce` are `args`.
 */
export const SIGNED_ACTION_TYPES = {
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
} as const satisfies Record<string, readonly TypedDataField[]>;

export type SignedActionType = keyof typeof SIGNED_ACTION_TYPES;
export type SignedConsentType = keyof typeof SIGNED_CONSENT_TYPES | SignedActionType;

const ALL_SIGNED_TYPES: Record<SignedConsentType, readonly TypedDataField[]> = {
  ...SIGNED_CONSENT_TYPES,
  ...SIGNED_ACTION_TYPES,
};

/** The EIP-712 typehash of `type`: the `action` of `actBySig`. */
export function typehashOf(type: SignedConsentType): string {
  return id(TypedDataEncoder.from({ [type]: [...ALL_SIGNED_TYPES[type]] }).encodeType(type));
}

/** How long a signature stays valid when no deadline is given. */
export const DEFAULT_SIGNATURE_LIFETIME = 60 * 60;

/** Anything that exposes the ledger's ERC-5267 domain (the ConsentLedger contract, typed or not). */
export interface Eip712DomainSource {
  eip712Domain(): Promise<{
    fields: string;
    name: string;
    version: string;
    chainId: bigint;
    verifyingContract: string;
    salt: string;
  }>;
}

/** Anything that shows the stored consent of a patient to a grantee (the ConsentLedger contract). */
export interface ConsentSource {
  consentOf(
    patient: AddressLike,
    grantee: AddressLike,
  ): Promise<{ dataClasses: bigint; purposes: bigint; validFrom: bigint; validUntil: bigint }>;
}

/**
 * The consent word a signer sees for (patient, grantee): the stored consent packed as ISignedConsents
 * documents it (dataClasses | purposes << 32 | validFrom << 64 | validUntil << 104), 0 when none.
 */
export async function seenConsentOf(
  ledger: ConsentSource,
  patient: AddressLike,
  grantee: AddressLike,
): Promise<bigint> {
  const c = await ledger.consentOf(patient, grantee);
  return c.dataClasses | (c.purposes << 32n) | (c.validFrom << 64n) | (c.validUntil << 104n);
}

/** Anything that can compute a request id the way the ledger does. */
export interface RequestIdSource {
  requestIdOf(request: IAccessRequests.AccessRequestStruct): Promise<string>;
}

/**
 * The ledger's EIP-712 domain, read from `eip712Domain()` (ERC-5267): only the fields its `fields`
 * bitmap declares (name 0x01, version 0x02, chainId 0x04, verifyingContract 0x08, salt 0x10).
 */
export async function domainOf(ledger: Eip712DomainSource): Promise<TypedDataDomain> {
  const d = await ledger.eip712Domain();
  const fields = Number(d.fields);
  const domain: TypedDataDomain = {};
  if (fields & 0x01) domain.name = d.name;
  if (fields & 0x02) domain.version = d.version;
  if (fields & 0x04) domain.chainId = d.chainId;
  if (fields & 0x08) domain.verifyingContract = d.verifyingContract;
  if (fields & 0x10) domain.salt = d.salt;
  return domain;
}

/** Options common to every signature. */
export interface SignOptions {
  /** The account the ledger verifies (an EOA or an ERC-1271 wallet); default: the key's address. */
  signer?: AddressLike;
  /** Unordered nonce (a bit in the signer's bitmap); default 0. */
  nonce?: BigNumberish;
  /** Last second at which the signature may be relayed; default: latest block + 1 hour. */
  deadline?: BigNumberish;
  /** Fields that replace the ledger's own domain, e.g. `{ chainId: 1n }`. */
  domain?: Partial<TypedDataDomain>;
}

/** The EIP-712 digest the ledger verifies for `message` of `type` (what an ERC-1271 wallet receives). */
export async function digestOf(
  ledger: Eip712DomainSource,
  type: SignedConsentType,
  message: Record<string, unknown>,
  domainOverrides: Partial<TypedDataDomain> = {},
): Promise<string> {
  const domain = { ...(await domainOf(ledger)), ...domainOverrides };
  return TypedDataEncoder.hash(domain, { [type]: [...ALL_SIGNED_TYPES[type]] }, message);
}

/** Signs `message` of `type` for `ledger` with `key`; returns the signature and the values signed. */
export async function signTyped(
  ledger: Eip712DomainSource,
  key: Signer,
  type: SignedConsentType,
  message: Record<string, unknown>,
  options: SignOptions = {},
): Promise<{ signer: string; nonce: bigint; deadline: bigint; signature: string }> {
  const signer = await resolveAddress(options.signer ?? key);
  const nonce = BigInt(options.nonce ?? 0n);
  const deadline = BigInt(options.deadline ?? (await time.latest()) + DEFAULT_SIGNATURE_LIFETIME);
  const domain = { ...(await domainOf(ledger)), ...options.domain };
  const signature = await key.signTypedData(
    domain,
    { [type]: [...ALL_SIGNED_TYPES[type]] },
    { signer, ...message, nonce, deadline },
  );
  return { signer, nonce, deadline, signature };
}

/** Terms of a grant with plain values (what `IConsents.GrantTerms` holds). */
export interface GrantTerms {
  grantee: AddressLike;
  dataClasses: BigNumberish;
  purposes: BigNumberish;
  validFrom: BigNumberish;
  validUntil: BigNumberish;
}

export type GrantBySigArgs = [
  patient: string,
  terms: IConsents.GrantTermsStruct,
  seenConsent: bigint,
  signer: string,
  nonce: bigint,
  deadline: bigint,
  signature: string,
];
export type RevokeBySigArgs = [
  patient: string,
  grantee: string,
  signer: string,
  nonce: bigint,
  deadline: bigint,
  signature: string,
];
export type ApproveBySigArgs = [
  request: IAccessRequests.AccessRequestStruct,
  seenConsent: bigint,
  signer: string,
  nonce: bigint,
  deadline: bigint,
  signature: string,
];
export type DecideBySigArgs = [
  request: IAccessRequests.AccessRequestStruct,
  signer: string,
  nonce: bigint,
  deadline: bigint,
  signature: string,
];

/**
 * Signs a Grant; returns the arguments of `grantBySig`. `seenConsent` defaults to the consent the ledger
 * holds now for (patient, grantee), as a signer who looked would have seen it.
 */
export async function signGrant(
  ledger: Eip712DomainSource & ConsentSource,
  key: Signer,
  grant: { patient: AddressLike; terms: GrantTerms; seenConsent?: BigNumberish },
  options: SignOptions = {},
): Promise<GrantBySigArgs> {
  const patient = await resolveAddress(grant.patient);
  const terms: IConsents.GrantTermsStruct = {
    grantee: await resolveAddress(grant.terms.grantee),
    dataClasses: BigInt(grant.terms.dataClasses),
    purposes: BigInt(grant.terms.purposes),
    validFrom: BigInt(grant.terms.validFrom),
    validUntil: BigInt(grant.terms.validUntil),
  };
  const seenConsent = BigInt(grant.seenConsent ?? (await seenConsentOf(ledger, patient, terms.grantee)));
  const { signer, nonce, deadline, signature } = await signTyped(
    ledger,
    key,
    "Grant",
    { patient, ...terms, seenConsent },
    options,
  );
  return [patient, terms, seenConsent, signer, nonce, deadline, signature];
}

/** Signs a Revoke; returns the arguments of `revokeBySig`. */
export async function signRevoke(
  ledger: Eip712DomainSource,
  key: Signer,
  revoke: { patient: AddressLike; grantee: AddressLike },
  options: SignOptions = {},
): Promise<RevokeBySigArgs> {
  const patient = await resolveAddress(revoke.patient);
  const grantee = await resolveAddress(revoke.grantee);
  const { signer, nonce, deadline, signature } = await signTyped(ledger, key, "Revoke", { patient, grantee }, options);
  return [patient, grantee, signer, nonce, deadline, signature];
}

/**
 * Signs an ApproveRequest over the request's id (asked of the ledger) and the consent its researcher holds
 * (`seenConsent`, default: read from the ledger now); returns the arguments of `approveRequestBySig`.
 */
export async function signApproveRequest(
  ledger: Eip712DomainSource & RequestIdSource & ConsentSource,
  key: Signer,
  request: IAccessRequests.AccessRequestStruct,
  options: SignOptions & { seenConsent?: BigNumberish } = {},
): Promise<ApproveBySigArgs> {
  const requestId = await ledger.requestIdOf(request);
  const seenConsent = BigInt(
    options.seenConsent ?? (await seenConsentOf(ledger, request.terms.patient, request.researcher)),
  );
  const { signer, nonce, deadline, signature } = await signTyped(
    ledger,
    key,
    "ApproveRequest",
    { requestId, seenConsent },
    options,
  );
  return [request, seenConsent, signer, nonce, deadline, signature];
}

/** Signs a DenyRequest over the request's id (asked of the ledger); returns the arguments of `denyRequestBySig`. */
export async function signDenyRequest(
  ledger: Eip712DomainSource & RequestIdSource,
  key: Signer,
  request: IAccessRequests.AccessRequestStruct,
  options: SignOptions = {},
): Promise<DecideBySigArgs> {
  const requestId = await ledger.requestIdOf(request);
  const { signer, nonce, deadline, signature } = await signTyped(ledger, key, "DenyRequest", { requestId }, options);
  return [request, signer, nonce, deadline, signature];
}

export type ActBySigArgs = [
  action: string,
  args: string,
  signer: string,
  nonce: bigint,
  deadline: bigint,
  signature: string,
];

/**
 * Signs one of the patient's own settings; returns the arguments of `actBySig`: the type's typehash, and
 * as `args` the abi.encode of its fields between `signer` and `nonce`, in order.
 */
export async function signAction(
  ledger: Eip712DomainSource,
  key: Signer,
  type: SignedActionType,
  fields: Record<string, unknown>,
  options: SignOptions = {},
): Promise<ActBySigArgs> {
  const { signer, nonce, deadline, signature } = await signTyped(ledger, key, type, fields, options);
  return [typehashOf(type), encodeActionArgs(type, fields), signer, nonce, deadline, signature];
}

/** The `args` of `actBySig` for `type`: the abi.encode of its fields between `signer` and `nonce`. */
export function encodeActionArgs(type: SignedActionType, fields: Record<string, unknown>): string {
  const middle = SIGNED_ACTION_TYPES[type].slice(1, -2);
  return AbiCoder.defaultAbiCoder().encode(
    middle.map((f) => f.type),
    middle.map((f) => fields[f.name]),
  );
}

/** Whether `signer` has used or cancelled `nonce`, read from the ledger's bitmap word that holds it. */
export async function isNonceUsed(
  ledger: { nonceBitmap(signer: AddressLike, word: BigNumberish): Promise<bigint> },
  signer: AddressLike,
  nonce: bigint,
): Promise<boolean> {
  return ((await ledger.nonceBitmap(signer, nonce >> 8n)) >> (nonce & 0xffn)) & 1n ? true : false;
}

/**
 * The other valid-looking form of an ECDSA signature: s replaced by n - s and the parity flipped. It
 * recovers the same address, so a verifier that accepts it lets one signature be submitted as two.
 */
export function malleate(signature: string): string {
  const sig = Signature.from(signature);
  const highS = SECP256K1_N - BigInt(sig.s);
  const v = sig.v === 27 ? 28 : 27;
  return "0x" + sig.r.slice(2) + highS.toString(16).padStart(64, "0") + v.toString(16).padStart(2, "0");
}

/**
 * The pairing link: how a patient gives a provider the pseudonym to file their records under, so a
 * provider cannot invent a patient address. The pseudonym signs (EIP-712) its address, its X25519
 * encryption key, the one provider it is for, the chain and ledger (the domain) and an expiry; the
 * provider checks all of it (verifyPairingLink) before filing anything under the pseudonym.
 *
 * The payload is URL-safe and QR-able: "clpair1." + base64url(JSON). It carries no secret, but it does
 * carry the pseudonym: show it to the one provider it names.
 */
import type { TypedDataDomain, TypedDataField } from "ethers";

import { recoverTypedDataAddress } from "../core/eip712";
import { getAddress } from "../core/hex";
import { ConsentLedgerError, describeValue } from "../errors";
import {
  base64UrlToBytes,
  bytesToBase64Url,
  bytesToHex,
  hexToBytes,
  isAllZero,
  randomBytes,
  utf8Decode,
  utf8Encode,
} from "../crypto/bytes";
import type { TypedDataSigner } from "./gateway-core";

export const PAIRING_PREFIX = "clpair1.";
export const PAIRING_DOMAIN_NAME = "ConsentLedger Pairing";
export const PAIRING_DOMAIN_VERSION = "1";
/** The EIP-712 type the pseudonym signs. */
export const PAIRING_TYPES: Record<"PatientPairing", TypedDataField[]> = {
  PatientPairing: [
    { name: "pseudonym", type: "address" },
    { name: "encryptionKey", type: "bytes32" },
    { name: "provider", type: "address" },
    { name: "issuedAt", type: "uint64" },
    { name: "expiresAt", type: "uint64" },
    { name: "nonce", type: "bytes32" },
  ],
};
/** How long a link is valid by default: a week, long enough to show it at the next appointment. */
export const DEFAULT_PAIRING_TTL_SECONDS = 7 * 24 * 3600;
/** The longest a link may be valid: a leaked link should not name a pseudonym forever. */
export const MAX_PAIRING_TTL_SECONDS = 90 * 24 * 3600;
/** Payloads longer than this are refused unread. */
const MAX_PAYLOAD_CHARS = 2048;

/** What a pairing link says, once decoded. */
export interface PairingLink {
  version: 1;
  chainId: number;
  ledger: string;
  /** The patient's pseudonym for this provider. */
  pseudonym: string;
  /** Its X25519 public key, 0x-hex 32 bytes. */
  encryptionKey: string;
  /** The one provider the link is for. */
  provider: string;
  issuedAt: number;
  expiresAt: number;
  /** 32 random bytes, so two links of one pseudonym differ. */
  nonce: string;
  signature: string;
}

export type PairingProblem =
  "Malformed" | "BadSignature" | "WrongProvider" | "WrongChain" | "WrongLedger" | "Expired" | "NotYetValid";

/** A pairing link was refused; `problem` says why (a stable code), the message what to do. */
export class PairingError extends ConsentLedgerError {
  override name = "PairingError";
  constructor(
    readonly problem: PairingProblem,
    shortMessage: string,
    options: { hint?: string; details?: string; cause?: unknown } = {},
  ) {
    super(shortMessage, options);
  }
}

/** The EIP-712 domain of pairing links on one ledger. */
export function pairingDomain(chainId: bigint | number, ledger: string): TypedDataDomain {
  return {
    name: PAIRING_DOMAIN_NAME,
    version: PAIRING_DOMAIN_VERSION,
    chainId: BigInt(chainId),
    verifyingContract: getAddress(ledger),
  };
}

export interface CreatePairingInput {
  /** The provider the link is for. */
  provider: string;
  /** The pseudonym's X25519 public key (Pseudonym.encryptionKeyPair.publicKey). */
  encryptionPublicKey: Uint8Array;
  chainId: bigint | number;
  ledger: string;
  /** Seconds the link is valid; defaults to a week, at most 90 days. */
  ttlSeconds?: number;
  /** Unix seconds now (defaults to the clock). */
  now?: number;
}

/** Signs a pairing link with the pseudonym's signer (an ethers Signer; on the viem entry, a LocalAccount); returns the payload to show (QR code or link) and what it says. */
export async function createPairingLink(
  pseudonym: TypedDataSigner,
  input: CreatePairingInput,
): Promise<{ payload: string; link: PairingLink }> {
  const ttl = input.ttlSeconds ?? DEFAULT_PAIRING_TTL_SECONDS;
  if (!Number.isSafeInteger(ttl) || ttl <= 0 || ttl > MAX_PAIRING_TTL_SECONDS)
    throw new PairingError(
      "Malformed",
      `A pairing link's lifetime must be 1 to ${MAX_PAIRING_TTL_SECONDS} seconds, got ${describeValue(ttl)}`,
    );
  if (
    !(input.encryptionPublicKey instanceof Uint8Array) ||
    input.encryptionPublicKey.length !== 32 ||
    isAllZero(input.encryptionPublicKey)
  )
    throw new PairingError("Malformed", "A pairing link needs the pseudonym's 32-byte X25519 public key");
  const issuedAt = input.now ?? Math.floor(Date.now() / 1000);
  const unsigned = {
    pseudonym: getAddress(await pseudonym.getAddress()),
    encryptionKey: bytesToHex(input.encryptionPublicKey),
    provider: checked(input.provider, "provider"),
    issuedAt,
    expiresAt: issuedAt + ttl,
    nonce: bytesToHex(randomBytes(32)),
  };
  const ledger = checked(input.ledger, "ledger");
  const signature = await pseudonym.signTypedData(pairingDomain(input.chainId, ledger), PAIRING_TYPES, unsigned);
  const link: PairingLink = { version: 1, chainId: Number(input.chainId), ledger, ...unsigned, signature };
  return { payload: encodePairingLink(link), link };
}

/** The URL-safe payload of a link. */
export function encodePairingLink(link: PairingLink): string {
  const json = JSON.stringify({
    v: link.version,
    c: link.chainId,
    l: link.ledger,
    p: link.pseudonym,
    k: link.encryptionKey,
    to: link.provider,
    i: link.issuedAt,
    e: link.expiresAt,
    n: link.nonce,
    s: link.signature,
  });
  return PAIRING_PREFIX + bytesToBase64Url(utf8Encode(json));
}

/** A page URL carrying the payload in its fragment (never sent to a server by a browser). */
export function pairingUrl(base: string, payload: string): string {
  return `${base.replace(/#.*$/, "")}#pair=${payload}`;
}

const malformed = (problem: string) =>
  new PairingError("Malformed", `Not a pairing link: ${problem}`, {
    hint: "Scan or paste the link the patient's dashboard shows, unchanged.",
  });

/** Decodes a payload (or a URL with #pair=…) without judging it; use verifyPairingLink to accept one. */
export function parsePairingLink(input: string): PairingLink {
  if (typeof input !== "string") throw malformed(`expected a string, got ${describeValue(input)}`);
  const payload = input.includes("#pair=") ? input.slice(input.indexOf("#pair=") + 6) : input.trim();
  if (payload.length > MAX_PAYLOAD_CHARS)
    throw malformed(`${payload.length} characters, more than ${MAX_PAYLOAD_CHARS}`);
  if (!payload.startsWith(PAIRING_PREFIX)) throw malformed(`it does not start with ${PAIRING_PREFIX}`);
  const body = payload.slice(PAIRING_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw malformed("it is not base64url");
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(utf8Decode(base64UrlToBytes(body))) as Record<string, unknown>;
  } catch (cause) {
    throw new PairingError("Malformed", "Not a pairing link: its body is not JSON", { cause });
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw malformed("its body is not an object");
  if (raw.v !== 1) throw malformed(`version ${describeValue(raw.v)} is not 1`);
  const whole = (value: unknown, name: string): number => {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0)
      throw malformed(`${name} is not a whole number`);
    return value;
  };
  const hex32 = (value: unknown, name: string): string => {
    if (typeof value !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(value))
      throw malformed(`${name} is not 32 bytes of hex`);
    return value.toLowerCase();
  };
  const address = (value: unknown, name: string): string => {
    try {
      return getAddress(value as string);
    } catch {
      throw malformed(`${name} is not an address`);
    }
  };
  if (typeof raw.s !== "string" || !/^0x([0-9a-fA-F]{2}){64,65}$/.test(raw.s))
    throw malformed("the signature is not 64 or 65 bytes of hex");
  const chainId = whole(raw.c, "chain id");
  if (chainId === 0) throw malformed("chain id 0");
  const encryptionKey = hex32(raw.k, "encryption key");
  if (isAllZero(hexToBytes(encryptionKey))) throw malformed("the encryption key is zero");
  return {
    version: 1,
    chainId,
    ledger: address(raw.l, "ledger"),
    pseudonym: address(raw.p, "pseudonym"),
    encryptionKey,
    provider: address(raw.to, "provider"),
    issuedAt: whole(raw.i, "issuedAt"),
    expiresAt: whole(raw.e, "expiresAt"),
    nonce: hex32(raw.n, "nonce"),
    signature: raw.s.toLowerCase(),
  };
}

export interface VerifyPairingOptions {
  /** The provider verifying: the link must name it. */
  provider: string;
  chainId: bigint | number;
  ledger: string;
  /** Unix seconds now (defaults to the clock). */
  now?: number;
}

/**
 * Decodes and checks a pairing link: its chain and ledger are the verifier's, it names this provider,
 * it is within its validity, and its signature recovers to the pseudonym it names. Throws PairingError.
 */
export function verifyPairingLink(input: string, options: VerifyPairingOptions): PairingLink {
  const link = parsePairingLink(input);
  if (BigInt(link.chainId) !== BigInt(options.chainId))
    throw new PairingError("WrongChain", `The pairing link is for chain ${link.chainId}, not ${options.chainId}`, {
      hint: "Ask the patient for a link made on this network.",
    });
  if (link.ledger !== getAddress(options.ledger))
    throw new PairingError(
      "WrongLedger",
      `The pairing link is for ledger ${link.ledger}, not ${getAddress(options.ledger)}`,
      {
        hint: "Ask the patient for a link made for this deployment.",
      },
    );
  const me = getAddress(options.provider);
  if (link.provider !== me)
    throw new PairingError("WrongProvider", `The pairing link is for provider ${link.provider}, not ${me}`, {
      hint: "A patient gives each provider its own pseudonym: ask the patient for a link made for you.",
    });
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (link.expiresAt <= link.issuedAt || link.expiresAt - link.issuedAt > MAX_PAIRING_TTL_SECONDS)
    throw new PairingError(
      "Malformed",
      `The pairing link's validity (${link.issuedAt} to ${link.expiresAt}) is not 1 s to ${MAX_PAIRING_TTL_SECONDS} s`,
    );
  if (now >= link.expiresAt)
    throw new PairingError("Expired", `The pairing link expired at ${new Date(link.expiresAt * 1000).toISOString()}`, {
      hint: "Ask the patient to show a fresh link.",
    });
  // A minute of slack for a patient's clock ahead of the provider's.
  if (link.issuedAt > now + 60)
    throw new PairingError("NotYetValid", `The pairing link was issued in the future (${link.issuedAt}, now ${now})`, {
      hint: "Check this computer's clock, or the patient's.",
    });
  let recovered: string | undefined;
  try {
    recovered = recoverTypedDataAddress(
      pairingDomain(link.chainId, link.ledger),
      PAIRING_TYPES,
      "PatientPairing",
      {
        pseudonym: link.pseudonym,
        encryptionKey: link.encryptionKey,
        provider: link.provider,
        issuedAt: link.issuedAt,
        expiresAt: link.expiresAt,
        nonce: link.nonce,
      },
      link.signature,
    );
  } catch {
    recovered = undefined;
  }
  if (recovered !== link.pseudonym)
    throw new PairingError(
      "BadSignature",
      `The pairing link is not signed by the pseudonym it names (${link.pseudonym})`,
      {
        hint: "The link was altered or forged: ask the patient to show it again from their dashboard.",
        details: `recovered ${recovered ?? "nothing"}`,
      },
    );
  return link;
}

function checked(value: string, name: string): string {
  try {
    return getAddress(value);
  } catch (cause) {
    throw new PairingError("Malformed", `The pairing link's ${name} ${describeValue(value)} is not an address`, {
      cause,
    });
  }
}

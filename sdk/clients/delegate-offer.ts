/**
 * The delegate offer: how a delegate (a carer, a parent) hands a patient one distinct address per patient
 * pseudonym, so that appointing "my carer" on every pseudonym puts no common address on chain. The
 * delegate derives one account per pseudonym from its own wallet (PseudonymRoot.forDelegation, id
 * "delegate:<patient pseudonym>"), and each account signs (EIP-712, DELEGATE_OFFER_TYPES) that it accepts
 * to act for that one pseudonym. The patient checks every entry (verifyDelegateOffer) before appointing
 * each address on its own pseudonym: a signature by another key, an entry for a pseudonym the patient
 * does not hold, or one address offered for two pseudonyms is refused with DelegateOfferError.
 *
 * The payload is "cldeleg1." + base64url(JSON). It carries no secret but names every patient pseudonym it
 * covers and the delegate's accounts: it passes only between the delegate and the patient.
 *
 * No ethers or viem at run time (type-only imports).
 */
import type { TypedDataField } from "ethers";

import { recoverTypedDataAddress } from "../core/eip712";
import { getAddress } from "../core/hex";
import { ConsentLedgerError, describeValue } from "../errors";
import { base64UrlToBytes, bytesToBase64Url, bytesToHex, randomBytes, utf8Decode, utf8Encode } from "../crypto/bytes";
import { DELEGATE_OFFER_TYPES, delegateOfferDomain } from "./consent-types";

export const DELEGATE_OFFER_PREFIX = "cldeleg1.";
/** How long an offer is valid by default: a week. */
export const DEFAULT_DELEGATE_OFFER_TTL_SECONDS = 7 * 24 * 3600;
/** The longest an offer may be valid. */
export const MAX_DELEGATE_OFFER_TTL_SECONDS = 90 * 24 * 3600;
/** The most pseudonyms one offer covers. */
export const MAX_DELEGATE_OFFER_ENTRIES = 64;
const MAX_PAYLOAD_CHARS = 64 * 400;

/** One delegate account's acceptance to act for one patient pseudonym. */
export interface DelegateOfferEntry {
  /** The patient pseudonym. */
  patient: string;
  /** The delegate's own account for it. */
  delegate: string;
  /** 32 random bytes, 0x-hex. */
  nonce: string;
  /** The delegate account's EIP-712 signature of DelegateOffer(delegate, patient, issuedAt, expiresAt, nonce). */
  signature: string;
}

/** A delegate offer, decoded. */
export interface DelegateOffer {
  version: 1;
  chainId: number;
  ledger: string;
  issuedAt: number;
  expiresAt: number;
  entries: DelegateOfferEntry[];
}

export type DelegateOfferProblem =
  | "Malformed"
  | "BadSignature"
  | "UnknownPseudonym"
  | "SharedDelegate"
  | "WrongChain"
  | "WrongLedger"
  | "Expired"
  | "NotYetValid";

/** A delegate offer was refused; `problem` says why (a stable code), `patient` names the entry if one. */
export class DelegateOfferError extends ConsentLedgerError {
  override name = "DelegateOfferError";
  constructor(
    readonly problem: DelegateOfferProblem,
    shortMessage: string,
    options: { hint?: string; details?: string; cause?: unknown; patient?: string } = {},
  ) {
    super(shortMessage, options);
    this.patient = options.patient;
  }
  readonly patient?: string;
}

/** What signs one entry: an ethers Signer, or anything with getAddress and signTypedData. */
export interface DelegateOfferSigner {
  getAddress(): Promise<string>;
  signTypedData(
    domain: ReturnType<typeof delegateOfferDomain>,
    types: Record<string, TypedDataField[]>,
    value: Record<string, unknown>,
  ): Promise<string>;
}

export interface CreateDelegateOfferInput {
  chainId: bigint | number;
  ledger: string;
  /** Seconds the offer is valid; a week by default, at most 90 days. */
  ttlSeconds?: number;
  /** Unix seconds now (defaults to the clock). */
  now?: number;
}

/** Signs an offer: `accounts` pairs each patient pseudonym with the delegate account that accepts to act for it. */
export async function createDelegateOffer(
  accounts: readonly { patient: string; signer: DelegateOfferSigner }[],
  input: CreateDelegateOfferInput,
): Promise<{ payload: string; offer: DelegateOffer }> {
  if (!Array.isArray(accounts) || accounts.length === 0 || accounts.length > MAX_DELEGATE_OFFER_ENTRIES)
    throw new DelegateOfferError(
      "Malformed",
      `A delegate offer covers 1 to ${MAX_DELEGATE_OFFER_ENTRIES} pseudonyms, got ${describeValue(accounts?.length)}`,
    );
  const ttl = input.ttlSeconds ?? DEFAULT_DELEGATE_OFFER_TTL_SECONDS;
  if (!Number.isSafeInteger(ttl) || ttl <= 0 || ttl > MAX_DELEGATE_OFFER_TTL_SECONDS)
    throw new DelegateOfferError(
      "Malformed",
      `A delegate offer's lifetime must be 1 to ${MAX_DELEGATE_OFFER_TTL_SECONDS} seconds, got ${describeValue(ttl)}`,
    );
  const ledger = address(input.ledger, "ledger");
  const issuedAt = input.now ?? Math.floor(Date.now() / 1000);
  const expiresAt = issuedAt + ttl;
  const domain = delegateOfferDomain(input.chainId, ledger);
  const entries: DelegateOfferEntry[] = [];
  for (const { patient, signer } of accounts) {
    const unsigned = {
      delegate: address(await signer.getAddress(), "delegate"),
      patient: address(patient, "patient pseudonym"),
      issuedAt,
      expiresAt,
      nonce: bytesToHex(randomBytes(32)),
    };
    const signature = await signer.signTypedData(domain, DELEGATE_OFFER_TYPES, unsigned);
    entries.push({ patient: unsigned.patient, delegate: unsigned.delegate, nonce: unsigned.nonce, signature });
  }
  const offer: DelegateOffer = { version: 1, chainId: Number(input.chainId), ledger, issuedAt, expiresAt, entries };
  return { payload: encodeDelegateOffer(offer), offer };
}

/** The URL-safe payload of an offer. */
export function encodeDelegateOffer(offer: DelegateOffer): string {
  const json = JSON.stringify({
    v: offer.version,
    c: offer.chainId,
    l: offer.ledger,
    i: offer.issuedAt,
    e: offer.expiresAt,
    d: offer.entries.map((entry) => [entry.patient, entry.delegate, entry.nonce, entry.signature]),
  });
  return DELEGATE_OFFER_PREFIX + bytesToBase64Url(utf8Encode(json));
}

const malformed = (problem: string) =>
  new DelegateOfferError("Malformed", `Not a delegate offer: ${problem}`, {
    hint: "Paste the offer the delegate's app produced, unchanged.",
  });

/** Decodes a payload without judging it; use verifyDelegateOffer to accept one. */
export function parseDelegateOffer(input: string): DelegateOffer {
  if (typeof input !== "string") throw malformed(`expected a string, got ${describeValue(input)}`);
  const payload = input.trim();
  if (payload.length > MAX_PAYLOAD_CHARS)
    throw malformed(`${payload.length} characters, more than ${MAX_PAYLOAD_CHARS}`);
  if (!payload.startsWith(DELEGATE_OFFER_PREFIX)) throw malformed(`it does not start with ${DELEGATE_OFFER_PREFIX}`);
  const body = payload.slice(DELEGATE_OFFER_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw malformed("it is not base64url");
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(utf8Decode(base64UrlToBytes(body))) as Record<string, unknown>;
  } catch (cause) {
    throw new DelegateOfferError("Malformed", "Not a delegate offer: its body is not JSON", { cause });
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw malformed("its body is not an object");
  if (raw.v !== 1) throw malformed(`version ${describeValue(raw.v)} is not 1`);
  if (!Array.isArray(raw.d) || raw.d.length === 0 || raw.d.length > MAX_DELEGATE_OFFER_ENTRIES)
    throw malformed(`it must list 1 to ${MAX_DELEGATE_OFFER_ENTRIES} entries`);
  const chainId = whole(raw.c, "chain id");
  if (chainId === 0) throw malformed("chain id 0");
  return {
    version: 1,
    chainId,
    ledger: parsedAddress(raw.l, "ledger"),
    issuedAt: whole(raw.i, "issuedAt"),
    expiresAt: whole(raw.e, "expiresAt"),
    entries: raw.d.map((item: unknown, i: number) => {
      if (!Array.isArray(item) || item.length !== 4)
        throw malformed(`entry ${i} is not [patient, delegate, nonce, signature]`);
      const [patient, delegate, nonce, signature] = item as unknown[];
      if (typeof nonce !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(nonce))
        throw malformed(`entry ${i}'s nonce is not 32 bytes of hex`);
      if (typeof signature !== "string" || !/^0x([0-9a-fA-F]{2}){64,65}$/.test(signature))
        throw malformed(`entry ${i}'s signature is not 64 or 65 bytes of hex`);
      return {
        patient: parsedAddress(patient, `entry ${i}'s patient`),
        delegate: parsedAddress(delegate, `entry ${i}'s delegate`),
        nonce: nonce.toLowerCase(),
        signature: signature.toLowerCase(),
      };
    }),
  };
}

export interface VerifyDelegateOfferOptions {
  /** The patient's pseudonyms: every entry must name one of them. */
  pseudonyms: readonly string[];
  chainId: bigint | number;
  ledger: string;
  /** Unix seconds now (defaults to the clock). */
  now?: number;
}

/**
 * Decodes (if a payload) and checks an offer: this chain and ledger, within its validity, every entry
 * for one of `pseudonyms`, at most one entry per pseudonym, no delegate address twice (a shared address
 * would link the pseudonyms on chain), and every entry signed by the delegate address it names for the
 * pseudonym it names. Throws DelegateOfferError.
 */
export function verifyDelegateOffer(input: string | DelegateOffer, options: VerifyDelegateOfferOptions): DelegateOffer {
  const offer = typeof input === "string" ? parseDelegateOffer(input) : input;
  if (BigInt(offer.chainId) !== BigInt(options.chainId))
    throw new DelegateOfferError(
      "WrongChain",
      `The delegate offer is for chain ${offer.chainId}, not ${options.chainId}`,
    );
  const ledger = address(options.ledger, "ledger");
  if (address(offer.ledger, "offer ledger") !== ledger)
    throw new DelegateOfferError("WrongLedger", `The delegate offer is for ledger ${offer.ledger}, not ${ledger}`);
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (offer.expiresAt <= offer.issuedAt || offer.expiresAt - offer.issuedAt > MAX_DELEGATE_OFFER_TTL_SECONDS)
    throw new DelegateOfferError(
      "Malformed",
      `The delegate offer's validity (${offer.issuedAt} to ${offer.expiresAt}) is not 1 s to ${MAX_DELEGATE_OFFER_TTL_SECONDS} s`,
    );
  if (now >= offer.expiresAt)
    throw new DelegateOfferError(
      "Expired",
      `The delegate offer expired at ${new Date(offer.expiresAt * 1000).toISOString()}`,
      {
        hint: "Ask the delegate for a fresh offer.",
      },
    );
  if (offer.issuedAt > now + 60)
    throw new DelegateOfferError(
      "NotYetValid",
      `The delegate offer was issued in the future (${offer.issuedAt}, now ${now})`,
    );
  const mine = new Set(options.pseudonyms.map((pseudonym) => address(pseudonym, "pseudonym")));
  const patients = new Set<string>();
  const delegates = new Set<string>();
  const domain = delegateOfferDomain(offer.chainId, ledger);
  for (const entry of offer.entries) {
    const patient = address(entry.patient, "entry patient");
    const delegate = address(entry.delegate, "entry delegate");
    if (!mine.has(patient))
      throw new DelegateOfferError(
        "UnknownPseudonym",
        `The delegate offer names ${patient}, which is not one of your pseudonyms`,
        {
          hint: "Give the delegate the pseudonyms to cover from your own dashboard, and ask for an offer made for them.",
          patient,
        },
      );
    if (patients.has(patient))
      throw new DelegateOfferError("Malformed", `The delegate offer names pseudonym ${patient} twice`, { patient });
    patients.add(patient);
    if (delegates.has(delegate) || mine.has(delegate))
      throw new DelegateOfferError(
        "SharedDelegate",
        `The delegate offer gives the address ${delegate} for more than one pseudonym: appointing it would link them on chain`,
        {
          hint: "The delegate's app derives one account per pseudonym (DelegateIdentity); ask for an offer made with it.",
          patient,
        },
      );
    delegates.add(delegate);
    let recovered: string | undefined;
    try {
      recovered = recoverTypedDataAddress(
        domain,
        DELEGATE_OFFER_TYPES,
        "DelegateOffer",
        { delegate, patient, issuedAt: offer.issuedAt, expiresAt: offer.expiresAt, nonce: entry.nonce },
        entry.signature,
      );
    } catch {
      recovered = undefined;
    }
    if (recovered !== delegate)
      throw new DelegateOfferError(
        "BadSignature",
        `The delegate offer's entry for ${patient} is not signed by the delegate account it names (${delegate})`,
        {
          hint: "The offer was altered or forged: ask the delegate to make it again.",
          details: `recovered ${recovered ?? "nothing"}`,
          patient,
        },
      );
  }
  return offer;
}

function whole(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0)
    throw malformed(`${name} is not a whole number`);
  return value;
}

function parsedAddress(value: unknown, name: string): string {
  try {
    return getAddress(value as string);
  } catch {
    throw malformed(`${name} is not an address`);
  }
}

function address(value: unknown, name: string): string {
  try {
    return getAddress(value as string);
  } catch (cause) {
    throw new DelegateOfferError("Malformed", `The ${name} ${describeValue(value)} is not an address`, { cause });
  }
}

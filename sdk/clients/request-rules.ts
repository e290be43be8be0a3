/**
 * A research request's rules, once for the ethers and the viem entry (no import of either): the terms
 * from a researcher's input, the request's id as the ledger computes it, the struct the contract takes,
 * and the request rebuilt from its RequestOpened event's arguments.
 */
import {
  dataClassMask,
  duoModifierMask,
  purposeCode,
  requireAddress,
  requireBytes32,
  researchCategoryCode,
  toDurationSeconds,
} from "../args";
import { Purpose, RESEARCH_PURPOSES } from "../codes";
import { ZERO_HASH, isHexString, keccak256, keccak256Utf8 } from "../core/hex";
import { hexToBytes } from "../crypto/bytes";
import { InvalidArgumentError } from "../errors";
import type { AccessRequest, RequestInput, RequestTerms, SignedConsent } from "./types";

/**
 * The id the ledger gives a request: keccak256(abi.encode(request)). Every field of the request is a
 * static type (address, uint, bytes32), so its ABI encoding is its 11 fields as 32-byte words in order,
 * with no offsets: written out here so both entries compute it without an ABI coder.
 */
export function requestIdOf(request: AccessRequest): string {
  const t = request.terms;
  const words = [
    addressWord(request.researcher, "researcher"),
    uintWord(request.openedAt, 40, "openedAt"),
    addressWord(t.patient, "terms.patient"),
    uintWord(t.dataClasses, 32, "terms.dataClasses"),
    uintWord(t.purpose, 8, "terms.purpose"),
    uintWord(t.researchCategory, 8, "terms.researchCategory"),
    uintWord(t.diseaseId, 32, "terms.diseaseId"),
    uintWord(t.acceptedObligations, 64, "terms.acceptedObligations"),
    uintWord(t.duration, 40, "terms.duration"),
    requireBytes32(t.studyId, "terms.studyId").slice(2),
    requireBytes32(t.protocolHash, "terms.protocolHash").slice(2),
  ];
  return keccak256(hexToBytes(`0x${words.join("")}`));
}

function addressWord(value: string, argument: string): string {
  return requireAddress(value, argument, { allowZero: true }).slice(2).toLowerCase().padStart(64, "0");
}

function uintWord(value: number | bigint, bits: number, argument: string): string {
  const big = BigInt(value);
  if (big < 0n || big >= 1n << BigInt(bits)) throw new InvalidArgumentError(argument, `not a uint${bits}: ${big}`);
  return big.toString(16).padStart(64, "0");
}

/** Hash of a document (a protocol, an ethics approval) as sent on-chain: keccak256 of its bytes. */
export function hashDocument(contents: Uint8Array | string): string {
  return typeof contents === "string" ? keccak256Utf8(contents) : keccak256(contents);
}

/** A study id on-chain: a 32-byte value as given, else keccak256 of the text (never the text itself). */
export function studyIdOf(studyId: string): string {
  if (isHexString(studyId, 32)) return studyId.toLowerCase();
  if (studyId.trim() === "") throw new InvalidArgumentError("studyId", "empty");
  return keccak256Utf8(studyId.trim());
}

/** Turns a researcher's named request into the ledger's terms, checking what can be checked off-chain. */
export function toRequestTerms(input: RequestInput): RequestTerms {
  const purpose = purposeCode(input.purpose);
  // The ledger takes requests for research purposes only: their consents need the researcher's live
  // accreditation at every access. Other purposes are the patient's to grant directly.
  if (!RESEARCH_PURPOSES.some((name) => Purpose[name] === purpose)) {
    throw new InvalidArgumentError(
      "purpose",
      `requests are for research purposes only (${RESEARCH_PURPOSES.join(", ")}), got ${String(input.purpose)}`,
      { hint: "Ask the patient to grant other purposes directly." },
    );
  }
  if (input.researchCategory === undefined) {
    throw new InvalidArgumentError("researchCategory", "research purposes need a DUO research category", {
      hint: "Pass GRU, HMB, DS (with a diseaseId) or POA.",
    });
  }
  const researchCategory = researchCategoryCode(input.researchCategory);
  return {
    patient: requireAddress(input.patient, "patient"),
    dataClasses: dataClassMask(input.dataClasses),
    purpose,
    researchCategory,
    diseaseId: input.diseaseId ?? 0,
    acceptedObligations: duoModifierMask(input.acceptedObligations, true),
    duration: toDurationSeconds(input.duration, "duration"),
    studyId: studyIdOf(input.studyId),
    protocolHash: input.protocolHash === undefined ? ZERO_HASH : requireBytes32(input.protocolHash, "protocolHash"),
  };
}

/** The request struct in the shape ethers encodes. */
export function toAbiRequest(request: AccessRequest) {
  const t = request.terms;
  return {
    researcher: request.researcher,
    openedAt: request.openedAt,
    terms: {
      patient: t.patient,
      dataClasses: t.dataClasses,
      purpose: t.purpose,
      researchCategory: t.researchCategory,
      diseaseId: t.diseaseId,
      acceptedObligations: t.acceptedObligations,
      duration: t.duration,
      studyId: t.studyId,
      protocolHash: t.protocolHash,
    },
  };
}

type Numeric = bigint | number;

/** RequestOpened's arguments as either library decodes them. */
export interface RequestOpenedArgs {
  researcher: string;
  openedAt: Numeric;
  terms: {
    patient: string;
    dataClasses: Numeric;
    purpose: Numeric;
    researchCategory: Numeric;
    diseaseId: Numeric;
    acceptedObligations: Numeric;
    duration: Numeric;
    studyId: string;
    protocolHash: string;
  };
}

/** Rebuilds the request from its RequestOpened event's arguments. */
export function requestFromArgs(args: RequestOpenedArgs): AccessRequest {
  const terms = args.terms;
  return {
    researcher: args.researcher,
    openedAt: Number(args.openedAt),
    terms: {
      patient: terms.patient,
      dataClasses: Number(terms.dataClasses),
      purpose: Number(terms.purpose),
      researchCategory: Number(terms.researchCategory),
      diseaseId: Number(terms.diseaseId),
      acceptedObligations: BigInt(terms.acceptedObligations),
      duration: Number(terms.duration),
      studyId: terms.studyId,
      protocolHash: terms.protocolHash,
    },
  };
}

/** A request as a signed approval or denial carries it: JSON-safe (the obligations mask as a decimal string). */
export function jsonRequest(request: AccessRequest): NonNullable<SignedConsent["request"]> {
  return { ...request, terms: { ...request.terms, acceptedObligations: request.terms.acceptedObligations.toString() } };
}

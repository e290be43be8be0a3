/**
 * A signed consent action (PatientClient.sign*) checked before a relayer submits it: one parser for the
 * ethers and the viem entry (no import of either).
 */
import { requireAddress, requireBytes32 } from "../args";
import { InvalidArgumentError, describeValue } from "../errors";
import {
  ACTION_TYPES,
  KEY_DIRECTORY_KINDS,
  KEY_DIRECTORY_TYPES,
  SIGNED_ACTION_KINDS,
  isKeyDirectoryKind,
  type SignedActionKind,
} from "./consent-types";
import type { SignedConsent } from "./types";

/** One signed field, checked against its EIP-712 type: integers as decimal strings within range. */
function parseField(value: unknown, type: string, name: string, fail: (problem: string) => never): string | boolean {
  if (type === "bool") {
    if (typeof value !== "boolean") fail(`${name} must be true or false`);
    return value as boolean;
  }
  if (type === "address") return requireAddress(value, name, { allowZero: true });
  if (type === "bytes32") return requireBytes32(value, name);
  const bits = /^uint(\d+)$/.exec(type);
  if (!bits) fail(`${name} has a type the SDK does not sign (${type})`);
  if (typeof value !== "string" || !/^\d{1,78}$/.test(value) || BigInt(value) >= 2n ** BigInt(bits![1])) {
    fail(`${name} must be a decimal ${type} string`);
  }
  return value as string;
}

/** Parses a SignedConsent read from a file or a network, so a relayer never submits garbage. */
export function parseSignedConsent(value: unknown): SignedConsent {
  const fail = (problem: string): never => {
    throw new InvalidArgumentError("signed consent", problem, {
      hint: "Use the file `patient sign` (or PatientClient.sign*) wrote, unchanged.",
    });
  };
  const input = value as Record<string, unknown> | null;
  if (!input || typeof input !== "object" || Array.isArray(input)) fail("not a signed consent object");
  const kind = input!.kind;
  const settings = typeof kind === "string" && Object.prototype.hasOwnProperty.call(SIGNED_ACTION_KINDS, kind);
  const keyKind = isKeyDirectoryKind(kind);
  if (kind !== "grant" && kind !== "revoke" && kind !== "approve" && kind !== "deny" && !settings && !keyKind) {
    const kinds = [
      "grant",
      "revoke",
      "approve",
      "deny",
      ...Object.keys(SIGNED_ACTION_KINDS),
      ...Object.keys(KEY_DIRECTORY_KINDS),
    ];
    fail(`kind must be ${kinds.slice(0, -1).join(", ")} or ${kinds.at(-1)}, got ${describeValue(kind)}`);
  }
  const isUint = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  // 64 bytes at least: a compact ECDSA signature; ERC-1271 wallets sign longer, never shorter.
  if (typeof input!.signature !== "string" || !/^0x([0-9a-fA-F]{2}){64,}$/.test(input!.signature)) {
    fail("signature must be 0x-hex bytes, 64 or more");
  }
  const signer = requireAddress(input!.signer, "signer");
  const ledger = requireAddress(input!.ledger, "ledger");
  if (typeof input!.nonce !== "string" || !/^\d{1,78}$/.test(input!.nonce) || BigInt(input!.nonce) >= 2n ** 256n) {
    fail("nonce must be a decimal uint256 string");
  }
  if (!isUint(input!.deadline) || !isUint(input!.chainId) || input!.chainId === 0) {
    fail("deadline and chainId must be whole numbers (chainId not 0)");
  }
  const common = {
    kind: kind as SignedConsent["kind"],
    chainId: input!.chainId as number,
    ledger,
    signer,
    nonce: input!.nonce as string,
    deadline: input!.deadline as number,
    signature: input!.signature as string,
  };
  // The patient's settings (actBySig) and KeyDirectory's messages: typed fields, each checked against its type.
  if (settings || keyKind) {
    const types = keyKind
      ? KEY_DIRECTORY_TYPES[KEY_DIRECTORY_KINDS[kind]]
      : ACTION_TYPES[SIGNED_ACTION_KINDS[kind as SignedActionKind]];
    const given = input!.fields as Record<string, unknown> | null | undefined;
    if (types.length > 3 && (!given || typeof given !== "object" || Array.isArray(given)))
      fail(`a ${String(kind)} needs its fields`);
    const fields: Record<string, string | boolean> = {};
    for (const field of types.slice(1, -2)) {
      fields[field.name] = parseField(given![field.name], field.type, `fields.${field.name}`, fail);
    }
    const extra = given ? Object.keys(given).find((name) => !(name in fields)) : undefined;
    if (extra !== undefined) fail(`a ${String(kind)} has no field ${extra}`);
    if (keyKind) return { ...common, fields, keyDirectory: requireAddress(input!.keyDirectory, "keyDirectory") };
    return { ...common, fields };
  }
  // A grant or an approval names the consent its signer saw; the ledger refuses it over any other.
  let seenConsent: string | undefined;
  if (kind === "grant" || kind === "approve") {
    const seen = input!.seenConsent;
    if (typeof seen !== "string" || !/^\d{1,78}$/.test(seen) || BigInt(seen) >= 2n ** 256n) {
      fail(`a ${String(kind)} needs seenConsent, the consent word its signer saw, as a decimal uint256 string`);
    }
    seenConsent = seen as string;
  }
  if (kind === "grant" || kind === "revoke") {
    const patient = requireAddress(input!.patient, "patient");
    if (kind === "revoke") return { ...common, patient, grantee: requireAddress(input!.grantee, "grantee") };
    const grant = input!.grant as Record<string, unknown> | null;
    if (!grant || typeof grant !== "object") fail("a grant needs its terms");
    for (const field of ["dataClasses", "purposes", "validFrom", "validUntil"]) {
      if (!isUint(grant![field])) fail(`grant.${field} must be a whole number`);
    }
    return {
      ...common,
      patient,
      seenConsent,
      grant: {
        grantee: requireAddress(grant!.grantee, "grant.grantee"),
        dataClasses: grant!.dataClasses as number,
        purposes: grant!.purposes as number,
        validFrom: grant!.validFrom as number,
        validUntil: grant!.validUntil as number,
      },
    };
  }
  const request = input!.request as Record<string, unknown> | null;
  if (!request || typeof request !== "object" || !request.terms || typeof request.terms !== "object") {
    fail(`a ${String(kind)} needs its request with terms`);
  }
  const terms = request!.terms as Record<string, unknown>;
  if (!isUint(request!.openedAt)) fail("request.openedAt must be a whole number");
  for (const field of ["dataClasses", "purpose", "researchCategory", "diseaseId", "duration"]) {
    if (!isUint(terms[field])) fail(`request.terms.${field} must be a whole number`);
  }
  if (typeof terms.acceptedObligations !== "string" || !/^\d{1,20}$/.test(terms.acceptedObligations)) {
    fail("request.terms.acceptedObligations must be a decimal string");
  }
  return {
    ...common,
    ...(seenConsent === undefined ? {} : { seenConsent }),
    request: {
      researcher: requireAddress(request!.researcher, "request.researcher"),
      openedAt: request!.openedAt as number,
      terms: {
        patient: requireAddress(terms.patient, "request.terms.patient"),
        dataClasses: terms.dataClasses as number,
        purpose: terms.purpose as number,
        researchCategory: terms.researchCategory as number,
        diseaseId: terms.diseaseId as number,
        acceptedObligations: terms.acceptedObligations as string,
        duration: terms.duration as number,
        studyId: requireBytes32(terms.studyId, "request.terms.studyId"),
        protocolHash: requireBytes32(terms.protocolHash, "request.terms.protocolHash"),
      },
    },
  };
}

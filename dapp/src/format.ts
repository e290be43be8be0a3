/**
 * Words for codes, addresses and times. The names come from the SDK's code tables; only the phrasing is
 * the page's.
 */
import {
  codesOf,
  dataClassName,
  duoName,
  purposeName,
  PurposeDisplay,
  Role,
  type AuditAction,
  type AuditBasis,
  type DuoName,
} from "consent-ledger";

export { dataClassName, duoName, purposeName };

/** LAB_RESULT → "Lab result". */
export function prettyName(name: string): string {
  const words = name.toLowerCase().replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** "Lab result, Condition" for a bitmask of data classes. */
export function dataClassList(mask: number | undefined): string {
  if (mask === undefined) return "";
  return codesOf(mask)
    .map((code) => prettyName(dataClassName(code) ?? `class ${code}`))
    .join(", ");
}

/** "healthcare research (HRESCH)". */
export function purposeText(code: number): string {
  const name = purposeName(code);
  return name ? `${PurposeDisplay[name]} (${name})` : `purpose ${code}`;
}

/** "healthcare research, clinical trial research" for a bitmask of purposes. */
export function purposeList(mask: number | undefined): string {
  if (mask === undefined) return "";
  return codesOf(mask)
    .map((code) => {
      const name = purposeName(code);
      return name ? PurposeDisplay[name] : `purpose ${code}`;
    })
    .join(", ");
}

/** GA4GH Data Use Ontology terms, as a patient reads them. */
export const DUO_TEXT: Readonly<Record<DuoName, string>> = {
  NRES: "no restriction",
  GRU: "general research use",
  HMB: "health, medical or biomedical research",
  DS: "research on a specific disease",
  POA: "population or ancestry research",
  PUB: "results must be published",
  COL: "collaboration with the data's source required",
  IRB: "ethics approval required",
  MOR: "publication moratorium",
  TS: "time limit on use",
  RTN: "results returned to the data's source",
  NPOA: "no population or ancestry research",
  NPU: "not-for-profit use only",
  NCU: "non-commercial use only",
};

/** "health, medical or biomedical research (HMB)". */
export function duoText(code: number): string {
  const name = duoName(code);
  return name ? `${DUO_TEXT[name]} (${name})` : `DUO:${String(code).padStart(7, "0")}`;
}

/** DUO terms of a uint64 bitmask (obligations, modifiers). */
export function duoList(mask: bigint | number): string[] {
  return codesOf(mask).map(duoText);
}

export function roleNames(roles: number): string[] {
  return Object.entries(Role)
    .filter(([, bit]) => (roles & bit) !== 0)
    .map(([name]) => prettyName(name));
}

export function shortAddress(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}

export function shortHash(hash: string): string {
  return `${hash.slice(0, 10)}…`;
}

const dateFormat = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short" });
const dayFormat = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium" });

export function dateTime(unixSeconds: number): string {
  return dateFormat.format(new Date(unixSeconds * 1000));
}

export function day(unixSeconds: number): string {
  return dayFormat.format(new Date(unixSeconds * 1000));
}

/** "90 days", "1 year", "3 hours". */
export function duration(seconds: number): string {
  const units: [number, string][] = [
    [365 * 86400, "year"],
    [30 * 86400, "month"],
    [86400, "day"],
    [3600, "hour"],
    [60, "minute"],
  ];
  for (const [size, unit] of units) {
    if (seconds >= size && seconds % size === 0) {
      const count = seconds / size;
      return `${count} ${unit}${count === 1 ? "" : "s"}`;
    }
  }
  if (seconds >= 86400) return `${Math.round(seconds / 86400)} days`;
  return `${seconds} seconds`;
}

const relativeFormat = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

/** "in 3 months", "2 hours ago", measured from the chain's time `now`. */
export function relative(unixSeconds: number, now: number): string {
  const delta = unixSeconds - now;
  const units: [number, Intl.RelativeTimeFormatUnit][] = [
    [365 * 86400, "year"],
    [30 * 86400, "month"],
    [86400, "day"],
    [3600, "hour"],
    [60, "minute"],
  ];
  for (const [size, unit] of units) {
    if (Math.abs(delta) >= size) return relativeFormat.format(Math.round(delta / size), unit);
  }
  return relativeFormat.format(delta, "second");
}

export const ACTION_TEXT: Readonly<Record<AuditAction, string>> = {
  "record-anchored": "Record added",
  "record-amended": "Record amended (new version)",
  "consent-granted": "Access granted",
  "consent-revoked": "Access revoked",
  "request-opened": "Access requested",
  "request-approved": "Request approved",
  "request-denied": "Request denied",
  "request-cancelled": "Request withdrawn",
  "key-released": "Key released: record opened",
  "emergency-opened": "Emergency access opened",
  "emergency-closed": "Emergency access closed",
  "emergency-opt-out-set": "Emergency opt-out changed",
  "delegate-appointed": "Delegate appointed",
  "delegate-removed": "Delegate removed",
  "policy-set": "Standing policy set",
  "policy-cleared": "Standing policy cleared",
};

export const BASIS_TEXT: Readonly<Record<AuditBasis, string>> = {
  patient: "by you",
  delegate: "by your delegate",
  signature: "by your signature, relayed",
  policy: "by your standing policy",
  request: "on a request you approved",
  consent: "under your consent",
  emergency: "emergency access",
  provider: "by the provider",
  researcher: "by the researcher",
};

const CHAIN_NAMES: Record<string, string> = {
  "1": "Ethereum",
  "10": "OP Mainnet",
  "137": "Polygon",
  "8453": "Base",
  "42161": "Arbitrum One",
  "11155111": "Sepolia",
  "31337": "Hardhat local",
  "1337": "local dev chain",
};

/** "chain 31337 (Hardhat local)". */
export function chainText(chainId: bigint | number): string {
  const name = CHAIN_NAMES[String(chainId)];
  return name ? `chain ${chainId} (${name})` : `chain ${chainId}`;
}

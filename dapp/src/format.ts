/**
 * Words for codes, addresses and times. The names come from the SDK's code tables; only the phrasing is
 * the page's.
 */
import {
  dataClassName,
  dataClassText,
  describeConsentChange,
  duoName,
  purposeMaskText,
  purposeName,
  Role,
  type AuditAction,
  type AuditBasis,
  type AuditLine,
  type Consent,
} from "consent-ledger";

export { dataClassName, duoName, purposeName };

/** LAB_RESULT → "Lab result". */
export function prettyName(name: string): string {
  const words = name.toLowerCase().replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** "Lab results, Conditions (diagnoses)" for a bitmask of data classes (the SDK's words). */
export function dataClassList(mask: number | undefined): string {
  return mask === undefined ? "" : dataClassText(mask);
}

/** "healthcare research, clinical trial research" for a bitmask of purposes. */
export function purposeList(mask: number | undefined): string {
  return mask === undefined ? "" : purposeMaskText(mask);
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
  "release-batch-unverifiable": "Unverifiable release batch",
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
  custodian: "by a custodian",
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

/** Who an audit entry affected and what it changed, for each entry of a trail in chronological order. */
export function auditChange(
  trail: readonly AuditLine[],
  nameOf: (address: string) => string,
): { affected: string; what: string }[] {
  // The consent each grantee held before each entry: a grant replaces it, a revocation ends it.
  const held = new Map<string, Consent>();
  return trail.map((entry) => {
    const party = entry.counterparty ? nameOf(entry.counterparty) : "you";
    const key = entry.counterparty?.toLowerCase() ?? "";
    const classes = entry.dataClasses !== undefined ? dataClassText(entry.dataClasses) : "your records";
    switch (entry.action) {
      case "consent-granted": {
        // An older entry whose block was not read has no time: its change is told without one.
        const time = entry.time ?? 0;
        const consent: Consent = {
          patient: entry.patient,
          grantee: entry.counterparty as string,
          dataClasses: entry.dataClasses ?? 0,
          purposes: entry.purposes ?? 0,
          validFrom: time,
          validUntil: entry.validUntil ?? time,
        };
        const change = describeConsentChange(
          { kind: "grant", ...consent },
          { now: time, consent: held.get(key) },
          { nameOf, dayOf: day },
        );
        held.set(key, consent);
        const lost = change.lost.dataClasses ? ` No longer: ${dataClassText(change.lost.dataClasses)}.` : "";
        return { affected: party, what: `${change.before.replace(/\.$/, "")} → ${change.after}${lost}` };
      }
      case "consent-revoked": {
        const before = held.get(key);
        held.delete(key);
        return {
          affected: party,
          what: before
            ? `access to ${dataClassText(before.dataClasses)} ended; data already released stays released.`
            : "access ended.",
        };
      }
      case "key-released":
        return {
          affected: "you",
          what:
            entry.verified === false
              ? `the custodian ${nameOf(entry.actor)} claims ${party} received the key to your ${classes} record; the chain does not confirm it.`
              : `${party} received the key to your ${classes} record.`,
        };
      case "release-batch-unverifiable":
        return {
          affected: "perhaps you",
          what: `the custodian ${nameOf(entry.actor)} logged a batch of key releases that cannot be checked; it may or may not concern your records.`,
        };
      case "record-anchored":
        return { affected: "you", what: `a new ${classes} record was added by ${nameOf(entry.actor)}.` };
      case "record-amended":
        return {
          affected: "you",
          what: `a new version of your ${classes} record replaces the old one (the old one stays linked).`,
        };
      case "request-opened":
        return {
          affected: "you",
          what: `${party} asked to see ${classes}${entry.purposes !== undefined ? ` for ${purposeMaskText(entry.purposes)}` : ""}.`,
        };
      case "request-approved":
        return { affected: party, what: "the request was approved: they get the access granted below it." };
      case "request-denied":
        return { affected: party, what: "the request was closed; nothing was shared." };
      case "request-cancelled":
        return { affected: party, what: "the researcher withdrew the request." };
      case "emergency-opened":
        return {
          affected: "you",
          what: `${party} may read all your records for treatment until ${entry.validUntil ? dateTime(entry.validUntil) : "the window ends"}.`,
        };
      case "emergency-closed":
        return { affected: "you", what: `${party}'s emergency window ended.` };
      case "emergency-opt-out-set":
        return {
          affected: "you",
          what:
            entry.optedOut === undefined
              ? "your emergency access setting changed."
              : entry.optedOut
                ? "emergency access: allowed → opted out."
                : "emergency access: opted out → allowed.",
        };
      case "delegate-appointed":
        return {
          affected: party,
          what: `may decide for you until ${entry.validUntil ? day(entry.validUntil) : "further notice"}.`,
        };
      case "delegate-removed":
        return { affected: party, what: "can no longer decide for you." };
      case "policy-set":
        return {
          affected: "you",
          what: `requests for ${classes}${entry.purposes !== undefined ? ` (${purposeMaskText(entry.purposes)})` : ""} that fit your policy are approved without asking you.`,
        };
      case "policy-cleared":
        return { affected: "you", what: "no standing policy: every request waits for you." };
    }
  });
}

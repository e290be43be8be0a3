/**
 * Turning what a user typed into values the SDK takes, checked before anything touches the chain or the
 * disk. Every mistake is a CliError naming the option and saying what is expected; code names are
 * checked against the SDK's tables (an unknown one is the SDK's UnknownCodeError, listing the names).
 */
import { getAddress, isHexString, ZeroAddress } from "ethers";

import {
  dataClassCode,
  Duo,
  DUO_MODIFIERS,
  DUO_OBLIGATIONS,
  duoPermissionCode,
  nameOrCode,
  purposeCode,
  researchCategoryCode,
  Role,
  UnknownCodeError,
} from "../sdk/tables";
import type { DuoName, RoleName } from "../sdk/index";
import { CliError } from "./errors";

/** A checksummed address; `option` names where it came from (e.g. "--grantee"). */
export function parseAddress(value: string, option: string): string {
  let address: string;
  try {
    address = getAddress(value.trim());
  } catch {
    throw new CliError(
      `${option} ${JSON.stringify(value)} is not an address: pass 0x followed by 40 hex digits (in mixed case only with a valid checksum)`,
    );
  }
  if (address === ZeroAddress) throw new CliError(`${option} is the zero address: name a real account`);
  return address;
}

/** A 0x-prefixed 32-byte id (a request id, a record id). */
export function parseBytes32(value: string, option: string): string {
  if (!isHexString(value.trim(), 32)) {
    throw new CliError(
      `${option} ${JSON.stringify(value)} is not an id: pass 0x followed by 64 hex digits, as the listing commands print it`,
    );
  }
  return value.trim().toLowerCase();
}

function splitList(value: string, option: string): string[] {
  const items = value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
  if (items.length === 0)
    throw new CliError(`${option} is empty: name at least one code, e.g. ${option} LAB_RESULT,IMAGING`);
  return items;
}

function unique(codes: number[]): number[] {
  return [...new Set(codes)];
}

/** Data classes by name (LAB_RESULT,IMAGING) or code, as codes. */
export function parseDataClasses(value: string, option = "--classes"): number[] {
  return unique(splitList(value, option).map((item) => dataClassCode(numberOrName(item))));
}

export function parseDataClass(value: string): number {
  return dataClassCode(numberOrName(value));
}

/** Purposes of use (HL7 PurposeOfUse: TREAT, HRESCH, ...), as codes. */
export function parsePurposes(value: string, option = "--purposes"): number[] {
  return unique(splitList(value, option).map((item) => purposeCode(numberOrName(item))));
}

export function parsePurpose(value: string): number {
  return purposeCode(numberOrName(value));
}

export function parseResearchCategory(value: string): number {
  return researchCategoryCode(numberOrName(value));
}

export function parsePermission(value: string): number {
  return duoPermissionCode(numberOrName(value));
}

/** DUO modifiers (or only obligations) by name, as names the SDK takes. */
export function parseDuoList(value: string, obligationsOnly: boolean): DuoName[] {
  const allowed = obligationsOnly ? DUO_OBLIGATIONS : DUO_MODIFIERS;
  const table = obligationsOnly ? "DUO obligation" : "DUO modifier";
  return [
    ...new Set(
      splitList(value, obligationsOnly ? "--obligations" : "--modifiers").map((item) => {
        const key = item.toUpperCase() as DuoName;
        if (!allowed.includes(key)) throw new UnknownCodeError(table, item, allowed);
        return key;
      }),
    ),
  ];
}

export function parseRoles(value: string): RoleName[] {
  return [
    ...new Set(
      splitList(value, "--roles").map((item) => {
        const key = item.toUpperCase() as RoleName;
        if (!(key in Role)) throw new UnknownCodeError("role", item, Object.keys(Role));
        return key;
      }),
    ),
  ];
}

/** A MONDO disease id: MONDO:0005148, 0005148 or 5148. */
export function parseDiseaseId(value: string): number {
  const digits = value.trim().replace(/^MONDO[:_]/i, "");
  if (!/^\d{1,10}$/.test(digits) || Number(digits) === 0 || Number(digits) > 0xffffffff) {
    throw new CliError(`--disease ${JSON.stringify(value)} is not a MONDO id: pass e.g. MONDO:0005148`);
  }
  return Number(digits);
}

export function parseInteger(value: string, option: string, min: number, max: number): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
    throw new CliError(`${option} ${JSON.stringify(value)} is not a whole number from ${min} to ${max}`);
  }
  return Number(value);
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 7 * 86_400, y: 365 * 86_400 };

/** A duration: 3600s, 90m, 12h, 90d, 2w, 1y (or bare seconds); in seconds. */
export function parseDuration(value: string, option: string): number {
  const match = /^(\d+)\s*([smhdwy]?)$/i.exec(value.trim());
  const seconds = match ? Number(match[1]) * UNIT_SECONDS[(match[2] || "s").toLowerCase()] : NaN;
  if (!match || !Number.isSafeInteger(seconds) || seconds <= 0 || seconds >= 2 ** 40) {
    throw new CliError(
      `${option} ${JSON.stringify(value)} is not a duration: use a number and a unit, e.g. 3600s, 12h, 90d or 1y`,
    );
  }
  return seconds;
}

function isDuration(value: string): boolean {
  return /^\d+\s*[smhdwy]$/i.test(value.trim());
}

/**
 * A point in time: a duration from `now` (30d), an ISO date or date-time (2027-01-31, 2027-01-31T12:00Z,
 * dates are midnight UTC), or unix seconds. Must be after `now`.
 */
export function parseTime(value: string, option: string, now: number): number {
  const text = value.trim();
  let seconds: number;
  if (isDuration(text)) {
    seconds = now + parseDuration(text, option);
  } else if (/^\d+$/.test(text)) {
    seconds = Number(text);
  } else if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/i.test(text)) {
    const iso = /^\d{4}-\d{2}-\d{2}$/.test(text)
      ? `${text}T00:00:00Z`
      : /(Z|[+-]\d{2}:?\d{2})$/i.test(text)
        ? text
        : `${text}Z`;
    seconds = Math.floor(Date.parse(iso.replace(" ", "T")) / 1000);
  } else {
    seconds = NaN;
  }
  if (!Number.isSafeInteger(seconds) || seconds < 0 || seconds >= 2 ** 40) {
    throw new CliError(
      `${option} ${JSON.stringify(value)} is not a time: use a date (2027-01-31), a date-time (2027-01-31T12:00Z) or a duration from now (90d)`,
    );
  }
  if (seconds <= now) {
    throw new CliError(
      `${option} ${JSON.stringify(value)} is in the past (${new Date(seconds * 1000).toISOString()}): choose a time after now`,
    );
  }
  return seconds;
}

/** Checks a time option's syntax before the chain's "now" is known (a duration or a date). */
export function checkTimeSyntax(value: string, option: string): void {
  parseTime(value, option, 0);
}

function numberOrName(item: string): string | number {
  return /^\d+$/.test(item) ? Number(item) : item;
}

/** The DUO name of a code, or the number. */
export function duoName(code: number): string {
  return nameOrCode(Duo, code);
}

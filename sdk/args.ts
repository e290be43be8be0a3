/**
 * Normalising what callers pass: addresses, code names or numbers, times. Every bad input becomes an
 * InvalidArgumentError that names the argument and says what is expected.
 */
import { getAddress, isHexString, ZERO_ADDRESS as ZeroAddress } from "./core/hex";

import {
  DataClass,
  type DataClassName,
  Duo,
  type DuoName,
  Purpose,
  type PurposeName,
  DUO_OBLIGATIONS,
  DUO_RESEARCH_CATEGORIES,
  DUO_PERMISSIONS,
  DUO_MODIFIERS,
  maskOf,
} from "./codes";
import { InvalidArgumentError, UnknownCodeError, describeValue } from "./errors";

/** A checksummed address; rejects malformed strings and, unless allowed, the zero address. */
export function requireAddress(value: unknown, argument: string, options: { allowZero?: boolean } = {}): string {
  if (typeof value !== "string") {
    throw new InvalidArgumentError(argument, `expected a 0x-prefixed 20-byte address, got ${typeof value}`);
  }
  let address: string;
  try {
    address = getAddress(value);
  } catch (cause) {
    throw new InvalidArgumentError(argument, `${describeValue(value)} is not an address`, {
      hint: "Pass a 0x-prefixed 40-hex-digit account address (mixed case must be a valid checksum).",
      cause,
    });
  }
  if (!options.allowZero && address === ZeroAddress) throw new InvalidArgumentError(argument, "the zero address");
  return address;
}

/** A 0x-prefixed 32-byte hex value. */
export function requireBytes32(value: unknown, argument: string): string {
  if (typeof value !== "string" || !isHexString(value, 32)) {
    throw new InvalidArgumentError(argument, `expected 0x followed by 64 hex digits, got ${describeValue(value)}`);
  }
  return value.toLowerCase();
}

function codeOf<T extends Record<string, number>>(table: T, tableName: string, value: unknown): number {
  if (typeof value === "number" && Object.values(table).includes(value)) return value;
  if (typeof value === "string") {
    const key = value
      .trim()
      .toUpperCase()
      .replace(/[\s-]+/g, "_");
    if (key in table) return table[key as keyof T] as number;
  }
  throw new UnknownCodeError(tableName, value as string | number, Object.keys(table));
}

export function dataClassCode(value: DataClassName | number | string): number {
  return codeOf(DataClass, "data class", value);
}

export function purposeCode(value: PurposeName | number | string): number {
  return codeOf(Purpose, "purpose", value);
}

function duoCode(value: unknown, allowed: readonly DuoName[], tableName: string): number {
  const subset = Object.fromEntries(allowed.map((name) => [name, Duo[name]]));
  return codeOf(subset, tableName, value);
}

export function duoPermissionCode(value: DuoName | number | string): number {
  return duoCode(value, DUO_PERMISSIONS, "DUO permission");
}

export function researchCategoryCode(value: DuoName | number | string): number {
  return duoCode(value, DUO_RESEARCH_CATEGORIES, "DUO research category");
}

/** A set given as a bitmask, or a list of names/codes; never empty. */
function maskFrom(value: unknown, argument: string, toCode: (v: never) => number): number {
  if (typeof value === "number") {
    if (!Number.isInteger(value) || value <= 0 || value > 0xffffffff) {
      throw new InvalidArgumentError(argument, `bitmask ${value} is not a non-empty uint32`);
    }
    return value;
  }
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidArgumentError(argument, "expected a non-empty list of codes");
  }
  return maskOf(value.map((item) => toCode(item as never)));
}

export function dataClassMask(value: readonly (DataClassName | number)[] | number): number {
  return maskFrom(value, "data classes", dataClassCode as (v: never) => number);
}

export function purposeMask(value: readonly (PurposeName | number)[] | number): number {
  return maskFrom(value, "purposes", purposeCode as (v: never) => number);
}

/** A DUO modifier bitmask from names (PUB, IRB, NPU, ...); an empty list is allowed. */
export function duoModifierMask(
  value: readonly (DuoName | number)[] | bigint | undefined,
  obligationsOnly = false,
): bigint {
  if (value === undefined) return 0n;
  if (typeof value === "bigint") return value;
  const allowed = obligationsOnly ? DUO_OBLIGATIONS : DUO_MODIFIERS;
  let mask = 0n;
  for (const item of value)
    mask |= 1n << BigInt(duoCode(item, allowed, obligationsOnly ? "DUO obligation" : "DUO modifier"));
  return mask;
}

/** Unix seconds from a Date, seconds, or undefined (→ fallback). */
export function toUnixSeconds(value: Date | number | bigint | undefined, argument: string, fallback = 0): number {
  if (value === undefined) return fallback;
  const seconds =
    value instanceof Date
      ? Math.floor(value.getTime() / 1000)
      : typeof value === "number" || typeof value === "bigint"
        ? Number(value)
        : Number.NaN;
  if (!Number.isSafeInteger(seconds) || seconds < 0 || seconds >= 2 ** 40) {
    throw new InvalidArgumentError(argument, `${describeValue(value)} is not a time (unix seconds or a Date)`);
  }
  return seconds;
}

/** A positive whole number of seconds below 2^40. */
export function toDurationSeconds(value: number | bigint, argument: string): number {
  const seconds = typeof value === "number" || typeof value === "bigint" ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(seconds) || seconds <= 0 || seconds >= 2 ** 40) {
    throw new InvalidArgumentError(argument, `${describeValue(value)} is not a positive number of seconds`);
  }
  return seconds;
}

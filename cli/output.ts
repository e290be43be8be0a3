/**
 * What the CLI prints. Results go to stdout: a table or a few "key  value" lines for people, or JSON
 * with --json. Progress lines for slow steps go to stderr (never mixed into a result; --quiet hides them).
 */
import { codesOf, DataClass, nameOrCode, Purpose } from "../sdk/tables";
import type { DataClassName, PurposeName } from "../sdk/index";

/** 0x1234…abcd. */
export function shortAddress(address: string | undefined): string {
  if (!address) return "-";
  return address.length > 12 ? `${address.slice(0, 6)}…${address.slice(-4)}` : address;
}

/** Unix seconds as an ISO 8601 UTC time without milliseconds; "-" for 0/undefined. */
export function isoTime(seconds: number | undefined): string {
  if (!seconds) return "-";
  return new Date(seconds * 1000).toISOString().replace(/\.000Z$/, "Z");
}

export function dataClassName(code: number): DataClassName | string {
  return nameOrCode(DataClass, code);
}

export function purposeName(code: number): PurposeName | string {
  return nameOrCode(Purpose, code);
}

/** Names of the data classes in a bitmask. */
export function dataClassNames(mask: number | undefined): string[] {
  return mask === undefined ? [] : codesOf(mask).map(dataClassName);
}

export function purposeNames(mask: number | undefined): string[] {
  return mask === undefined ? [] : codesOf(mask).map(purposeName);
}

/** JSON with bigints as strings and bytes as 0x-hex. */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, item: unknown) => {
      if (typeof item === "bigint") return item.toString();
      if (item instanceof Uint8Array) return `0x${Buffer.from(item).toString("hex")}`;
      return item;
    },
    2,
  );
}

/** Columns aligned with two spaces; a header line first. */
export function table(columns: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((column, index) =>
    Math.max(column.length, ...rows.map((row) => (row[index] ?? "").length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, index) => (index === cells.length - 1 ? cell : (cell ?? "").padEnd(widths[index])))
      .join("  ")
      .trimEnd();
  return [line(columns.map((column) => column.toUpperCase())), ...rows.map(line)].join("\n");
}

/** "key  value" lines, keys aligned. */
export function fields(entries: readonly (readonly [string, string])[]): string {
  const width = Math.max(...entries.map(([key]) => key.length));
  return entries.map(([key, value]) => `${key.padEnd(width)}  ${value}`).join("\n");
}

export class Output {
  constructor(
    readonly json: boolean,
    private readonly quiet: boolean,
  ) {}

  /** Prints a result: `data` as JSON with --json, else `human()`. */
  result(data: unknown, human: () => string): void {
    process.stdout.write(`${this.json ? toJson(data) : human()}\n`);
  }

  /**
   * A result when stdout carries data (e.g. `fetch --out -`): the summary goes to stderr instead, as
   * one JSON line with --json, and not at all with --quiet.
   */
  resultBeside(data: unknown, human: () => string): void {
    if (this.quiet) return;
    process.stderr.write(`${this.json ? JSON.stringify(JSON.parse(toJson(data))) : human()}\n`);
  }

  /** A progress line on stderr, for a step that takes a while. */
  progress(line: string): void {
    if (!this.quiet) process.stderr.write(`${line}\n`);
  }
}

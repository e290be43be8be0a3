/**
 * A patient's audit trail as a table a person reads: time, actor, action, data class, purpose, basis.
 * Shared by the demo and the CLI (`patient audit`).
 */
import { DataClass, Purpose, codesOf } from "../../sdk/codes";
import type { AuditEntry } from "../../sdk/clients/audit";

const namesOf = (table: Record<string, number>, mask: number | undefined): string =>
  mask === undefined
    ? ""
    : codesOf(mask)
        .map((code) => Object.keys(table).find((name) => table[name] === code) ?? String(code))
        .join(",");

/** 0x1234…abcd, or a name when `names` knows the address. */
export function shortAddress(address: string, names: ReadonlyMap<string, string> = new Map()): string {
  return names.get(address.toLowerCase()) ?? `${address.slice(0, 6)}…${address.slice(-4)}`;
}

export function auditRows(entries: readonly AuditEntry[], names: ReadonlyMap<string, string> = new Map()): string[][] {
  return entries.map((entry) => [
    new Date(entry.time * 1000).toISOString().replace("T", " ").slice(0, 19),
    shortAddress(entry.actor, names),
    entry.counterparty && entry.counterparty !== entry.actor
      ? `${entry.action} → ${shortAddress(entry.counterparty, names)}`
      : entry.action,
    namesOf(DataClass, entry.dataClasses),
    namesOf(Purpose, entry.purposes),
    entry.basis,
  ]);
}

/** Renders rows under headers with aligned columns. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => row[column]?.length ?? 0)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]))
      .join("  ")
      .trimEnd();
  return [line(headers), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)].join("\n");
}

export function renderAuditTable(
  entries: readonly AuditEntry[],
  names: ReadonlyMap<string, string> = new Map(),
): string {
  return renderTable(["time (UTC)", "actor", "action", "data class", "purpose", "basis"], auditRows(entries, names));
}

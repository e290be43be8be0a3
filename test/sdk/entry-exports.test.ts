/**
 * The entries' export lists are written once: what the ethers entry ("consent-ledger") and the viem entry
 * ("consent-ledger/viem") share comes from sdk/shared.ts (which takes the tables from sdk/tables.ts), so a
 * name both entries list themselves must be each entry's own implementation (its connect, its clients),
 * never the same thing listed twice.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

import { expect } from "chai";
import ts from "typescript";

import * as ethersEntry from "../../sdk/index";
import * as shared from "../../sdk/shared";
import * as tables from "../../sdk/tables";
import * as viemEntry from "../../sdk/viem";

const ROOT = path.resolve(__dirname, "../..");

/** The names a file lists in its own `export { ... } from` statements (not what `export *` brings). */
function listedNames(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(path.join(ROOT, file), "utf8"), ts.ScriptTarget.Latest);
  return source.statements.flatMap((statement) =>
    ts.isExportDeclaration(statement) && statement.exportClause && ts.isNamedExports(statement.exportClause)
      ? statement.exportClause.elements.map((element) => element.name.text)
      : [],
  );
}

describe("the SDK entries' export lists", function () {
  it("list what they share once (sdk/shared.ts, sdk/tables.ts) and only their own implementations themselves", function () {
    const entries = { "sdk/index.ts": ethersEntry, "sdk/viem.ts": viemEntry } as Record<
      string,
      Record<string, unknown>
    >;
    const sharedNames = new Set([...listedNames("sdk/shared.ts"), ...listedNames("sdk/tables.ts")]);
    for (const [file, entry] of Object.entries(entries)) {
      const relisted = listedNames(file).filter((name) => sharedNames.has(name));
      expect(relisted, `${file} lists names sdk/shared.ts exports`).to.deep.equal([]);
      for (const name of Object.keys(shared)) {
        expect(entry[name], `${file} exports ${name} from sdk/shared.ts`).to.equal(
          (shared as Record<string, unknown>)[name],
        );
      }
    }
    const both = listedNames("sdk/index.ts").filter((name) => listedNames("sdk/viem.ts").includes(name));
    for (const name of both) {
      const a = (ethersEntry as Record<string, unknown>)[name];
      if (a === undefined) continue; // a type
      expect(a, `${name}: listed by both entries, so it must be each entry's own`).to.not.equal(
        (viemEntry as Record<string, unknown>)[name],
      );
    }
    expect(Object.keys(tables).every((name) => name in shared)).to.equal(true);
  });
});

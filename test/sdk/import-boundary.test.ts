import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

import { expect } from "chai";
import ts from "typescript";

const ROOT = path.resolve(__dirname, "../..");
/** The SDK's public entry points: what the package exports as "consent-ledger", "/node", "/tables" and "/viem". */
const ENTRY_POINTS = new Set(
  ["sdk/index.ts", "sdk/node.ts", "sdk/tables.ts", "sdk/viem.ts"].map((file) => path.join(ROOT, file)),
);
const PACKAGE_SPECIFIERS = new Set(["consent-ledger", "consent-ledger/node", "consent-ledger/tables"]);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (name === "node_modules" || name === "dist") return [];
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return /\.(ts|tsx|mts|cts)$/.test(name) && !name.endsWith(".d.ts") ? [full] : [];
  });
}

/** Every module specifier a file names: imports and exports (type-only ones too), require() and import(). */
function specifiersOf(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push(node.moduleSpecifier.text);
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      found.push(node.argument.literal.text);
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === "require")) &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      found.push(node.arguments[0].text);
    } else if (
      ts.isImportEqualsDeclaration(node) &&
      ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)
    ) {
      found.push(node.moduleReference.expression.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The specifiers in `file` that reach into the SDK other than through an entry point. */
function internalSdkImports(file: string, text = readFileSync(file, "utf8")): string[] {
  return specifiersOf(file, text).filter((specifier) => {
    if (specifier.startsWith("consent-ledger/")) return !PACKAGE_SPECIFIERS.has(specifier);
    if (!specifier.startsWith(".")) return false;
    const target = path.resolve(path.dirname(file), specifier);
    if (!(target + path.sep).startsWith(path.join(ROOT, "sdk") + path.sep) && target !== path.join(ROOT, "sdk"))
      return false;
    const candidates = [target, `${target}.ts`, path.join(target, "index.ts")];
    return !candidates.some((candidate) => ENTRY_POINTS.has(candidate));
  });
}

describe("the SDK's import boundary", function () {
  for (const part of ["gateway", "cli", "dapp/src"]) {
    it(`${part}/ imports the SDK only through its entry points (sdk/index.ts, sdk/node.ts, sdk/tables.ts)`, function () {
      const files = sourceFiles(path.join(ROOT, part));
      expect(files.length, `no sources under ${part}`).to.be.greaterThan(0);
      const offenders = files.flatMap((file) =>
        internalSdkImports(file).map((specifier) => `${path.relative(ROOT, file)}: ${specifier}`),
      );
      expect(offenders, offenders.join("\n")).to.deep.equal([]);
    });
  }

  it("notices an internal path, a type-only one, a require and a package subpath", function () {
    const probe = path.join(ROOT, "gateway", "probe.ts");
    const text = [
      'import { connect } from "../sdk/index";',
      'import type { LedgerContracts } from "../sdk/chain/connect";',
      'const codes = require("../sdk/codes");',
      'import { FsBlobStore } from "../sdk/node";',
      'import { x } from "consent-ledger/dist/sdk/args";',
    ].join("\n");
    const found = internalSdkImports(probe, text);
    expect(found).to.deep.equal(["../sdk/chain/connect", "../sdk/codes", "consent-ledger/dist/sdk/args"]);
  });
});

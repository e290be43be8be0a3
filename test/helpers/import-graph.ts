/**
 * Walks the runtime import graph of some entry files, the way a browser bundler would, and reports every
 * path that reaches a Node built-in module (node:*, fs, path, crypto, buffer, os, child_process, ...).
 *
 * - TypeScript sources are parsed with the TypeScript compiler: static imports, `export ... from`,
 *   `import x = require()`, `require("x")` and `import("x")` count; type-only imports and exports
 *   (`import type`, `import { type A }` with only type elements) do not, since they vanish at runtime.
 *   An import used only as a type but not marked `type` is counted: mark it `type`.
 * - JavaScript files (in packages) are scanned with ts.preProcessFile (imports, exports, require, import()).
 * - Packages are followed into node_modules (unless `followPackages: false`), resolving `exports` with the
 *   browser conditions ["browser", "import", "module", "default"] and applying package.json `browser`
 *   field substitutions (nearest package.json first, as bundlers do). A module the browser field maps to
 *   `false` is an empty module. So `ethers`, whose Node build imports `crypto` but whose browser field
 *   swaps in crypto-browser.js, passes, while `multiformats/hashes/sha2` without its browser field would not.
 * - A specifier that cannot be resolved is reported too, so the check never passes by skipping a file.
 *
 * Usage: `const graph = walkImportGraph([abs("sdk/index.ts")]); expect(graph.violations, formatViolations(graph)).to.be.empty;`
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";

import ts from "typescript";

export interface ImportViolation {
  /** The offending specifier as written. */
  specifier: string;
  reason: "node-builtin" | "forbidden" | "unresolved";
  /** Entry file first, importing file last (absolute paths). */
  chain: string[];
}

export interface ImportGraph {
  /** Every file reached (absolute paths), entries included. */
  files: string[];
  /** Every package reached (names). */
  packages: string[];
  violations: ImportViolation[];
}

export interface ImportGraphOptions {
  /** Follow bare specifiers into node_modules (default true); when false, only first-party files are walked. */
  followPackages?: boolean;
  /** Export conditions, in priority order: default ["browser", "import", "module", "default"]. */
  conditions?: readonly string[];
  /** Apply package.json `browser` field substitutions (default true, as browser bundlers do). */
  browserField?: boolean;
  /** Extra specifiers to forbid, e.g. (s) => s === "ethers/providers". */
  forbid?: (specifier: string) => boolean;
}

const BUILTINS = new Set(builtinModules.flatMap((name) => [name, name.replace(/^node:/, "")]));

/** Whether `specifier` names a Node built-in module (node:fs, fs, fs/promises, crypto, buffer, ...). */
export function isNodeBuiltin(specifier: string): boolean {
  if (specifier.startsWith("node:")) return true;
  return BUILTINS.has(specifier) || BUILTINS.has(specifier.split("/")[0]);
}

const TS_EXTENSIONS = [".ts", ".tsx", ".mts", ".cts"];
const JS_EXTENSIONS = [".js", ".mjs", ".cjs", ".jsx"];

function isTypeScript(file: string): boolean {
  return TS_EXTENSIONS.some((ext) => file.endsWith(ext)) && !file.endsWith(".d.ts");
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The runtime module specifiers of a TypeScript source. */
function typeScriptSpecifiers(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const literal = (node: ts.Node | undefined): string | undefined =>
    node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) ? node.text : undefined;
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((element) => element.isTypeOnly)));
      const specifier = literal(node.moduleSpecifier);
      if (!typeOnly && specifier !== undefined) found.push(specifier);
      return;
    }
    if (ts.isExportDeclaration(node)) {
      const typeOnly =
        node.isTypeOnly ||
        (node.exportClause !== undefined &&
          ts.isNamedExports(node.exportClause) &&
          node.exportClause.elements.length > 0 &&
          node.exportClause.elements.every((element) => element.isTypeOnly));
      const specifier = literal(node.moduleSpecifier);
      if (!typeOnly && specifier !== undefined) found.push(specifier);
      return;
    }
    if (ts.isImportEqualsDeclaration(node)) {
      if (!node.isTypeOnly && ts.isExternalModuleReference(node.moduleReference)) {
        const specifier = literal(node.moduleReference.expression);
        if (specifier !== undefined) found.push(specifier);
      }
      return;
    }
    if (ts.isCallExpression(node) && node.arguments.length >= 1) {
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === "require";
      const isDynamicImport = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const specifier = literal(node.arguments[0]);
      if ((isRequire || isDynamicImport) && specifier !== undefined) found.push(specifier);
    }
    if (ts.isTypeNode(node)) return; // import("x").T in a type is not a runtime import
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The module specifiers of a JavaScript file. */
function javaScriptSpecifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((ref) => ref.fileName);
}

interface PackageJson {
  name?: string;
  main?: string;
  module?: string;
  browser?: string | Record<string, string | false>;
  exports?: unknown;
}

const packageJsonCache = new Map<string, PackageJson | undefined>();

function readPackageJson(directory: string): PackageJson | undefined {
  const file = path.join(directory, "package.json");
  if (!packageJsonCache.has(file)) {
    packageJsonCache.set(file, isFile(file) ? (JSON.parse(readFileSync(file, "utf8")) as PackageJson) : undefined);
  }
  return packageJsonCache.get(file);
}

/** The root directory of the package (directly under node_modules) holding `file`, if any. */
function packageRootOf(file: string): string | undefined {
  const parts = file.split(path.sep);
  const index = parts.lastIndexOf("node_modules");
  if (index < 0 || index + 1 >= parts.length) return undefined;
  const length = parts[index + 1].startsWith("@") ? 3 : 2;
  return parts.slice(0, index + length).join(path.sep);
}

/** package.json files with a browser map that apply to `file`, nearest first (within its package). */
function browserMapsFor(file: string, enabled: boolean): { directory: string; map: Record<string, string | false> }[] {
  if (!enabled) return [];
  const root = packageRootOf(file);
  if (root === undefined) return [];
  const maps: { directory: string; map: Record<string, string | false> }[] = [];
  for (let directory = path.dirname(file); ; directory = path.dirname(directory)) {
    const browser = readPackageJson(directory)?.browser;
    if (browser !== undefined && typeof browser === "object") maps.push({ directory, map: browser });
    if (directory === root || directory === path.dirname(directory)) break;
  }
  return maps;
}

/** A resolved file after the browser field: the substitute file, `false` for an empty module. */
function applyBrowserFile(file: string, enabled: boolean): string | false {
  for (const { directory, map } of browserMapsFor(file, enabled)) {
    const relative = `./${path.relative(directory, file).split(path.sep).join("/")}`;
    for (const key of [relative, relative.replace(/\.js$/, "")]) {
      if (key in map) {
        const target = map[key];
        return target === false ? false : path.resolve(directory, target);
      }
    }
  }
  return file;
}

function resolveExportTarget(
  target: unknown,
  conditions: readonly string[],
  star: string | undefined,
): string | null | undefined {
  if (typeof target === "string") return star === undefined ? target : target.split("*").join(star);
  if (target === null) return null;
  if (Array.isArray(target)) {
    for (const item of target) {
      const resolved = resolveExportTarget(item, conditions, star);
      if (resolved !== undefined) return resolved;
    }
    return undefined;
  }
  if (typeof target === "object") {
    for (const [key, value] of Object.entries(target as Record<string, unknown>)) {
      if (key !== "default" && !conditions.includes(key)) continue;
      const resolved = resolveExportTarget(value, conditions, star);
      if (resolved !== undefined) return resolved;
    }
  }
  return undefined;
}

/** The file `subpath` ("." or "./x") of a package maps to through `exports`; null/undefined when none. */
function resolveExports(
  exportsField: unknown,
  subpath: string,
  conditions: readonly string[],
): string | null | undefined {
  const isSubpathMap =
    typeof exportsField === "object" &&
    exportsField !== null &&
    !Array.isArray(exportsField) &&
    Object.keys(exportsField).some((key) => key.startsWith("."));
  const map = (isSubpathMap ? exportsField : { ".": exportsField }) as Record<string, unknown>;
  if (subpath in map) return resolveExportTarget(map[subpath], conditions, undefined);
  let best: { key: string; star: string } | undefined;
  for (const key of Object.keys(map)) {
    const starAt = key.indexOf("*");
    if (starAt < 0) continue;
    const prefix = key.slice(0, starAt);
    const suffix = key.slice(starAt + 1);
    if (subpath.startsWith(prefix) && subpath.endsWith(suffix) && subpath.length >= key.length - 1) {
      if (!best || prefix.length > best.key.indexOf("*"))
        best = { key, star: subpath.slice(prefix.length, subpath.length - suffix.length) };
    }
  }
  return best ? resolveExportTarget(map[best.key], conditions, best.star) : undefined;
}

function resolveFileCandidates(base: string, fromTypeScript: boolean): string | undefined {
  const candidates = fromTypeScript
    ? [
        ...TS_EXTENSIONS.map((ext) => base + ext),
        ...(base.endsWith(".js") ? [base.replace(/\.js$/, ".ts")] : []),
        ...TS_EXTENSIONS.map((ext) => path.join(base, `index${ext}`)),
        base,
        ...JS_EXTENSIONS.map((ext) => base + ext),
      ]
    : [
        base,
        ...JS_EXTENSIONS.map((ext) => base + ext),
        `${base}.json`,
        ...JS_EXTENSIONS.map((ext) => path.join(base, `index${ext}`)),
      ];
  return candidates.find((candidate) => !candidate.endsWith(".d.ts") && isFile(candidate));
}

function splitBareSpecifier(specifier: string): { name: string; subpath: string } {
  const parts = specifier.split("/");
  const length = specifier.startsWith("@") ? 2 : 1;
  const name = parts.slice(0, length).join("/");
  const rest = parts.slice(length).join("/");
  return { name, subpath: rest ? `./${rest}` : "." };
}

function findPackageDirectory(name: string, fromDirectory: string): string | undefined {
  for (let directory = fromDirectory; ; directory = path.dirname(directory)) {
    const candidate = path.join(directory, "node_modules", name);
    if (existsSync(path.join(candidate, "package.json"))) return candidate;
    if (directory === path.dirname(directory)) return undefined;
  }
}

type Resolution = { kind: "file"; file: string } | { kind: "empty" } | { kind: "builtin" } | { kind: "unresolved" };

interface ResolveOptions {
  conditions: readonly string[];
  browserField: boolean;
}

function resolveBare(specifier: string, from: string, options: ResolveOptions): Resolution {
  const { name, subpath } = splitBareSpecifier(specifier);
  const directory = findPackageDirectory(name, path.dirname(from));
  if (directory === undefined) return { kind: "unresolved" };
  const manifest = readPackageJson(directory) ?? {};
  let target: string | null | undefined;
  if (manifest.exports !== undefined) {
    target = resolveExports(manifest.exports, subpath, options.conditions);
    if (target === null || target === undefined) return { kind: "unresolved" };
    const file = path.resolve(directory, target);
    if (!isFile(file)) return { kind: "unresolved" };
    return finishFile(file, options);
  }
  if (subpath === ".") {
    const browserMain = options.browserField && typeof manifest.browser === "string" ? manifest.browser : undefined;
    target = browserMain ?? manifest.module ?? manifest.main ?? "index.js";
  } else {
    target = subpath;
  }
  const file = resolveFileCandidates(path.resolve(directory, target), false);
  return file === undefined ? { kind: "unresolved" } : finishFile(file, options);
}

function finishFile(file: string, options: ResolveOptions): Resolution {
  const mapped = applyBrowserFile(file, options.browserField);
  return mapped === false ? { kind: "empty" } : { kind: "file", file: mapped };
}

function resolveSpecifier(specifier: string, from: string, options: ResolveOptions): Resolution {
  // A package's browser field may replace a bare module (e.g. "crypto": false) for files inside it.
  if (!specifier.startsWith(".") && !path.isAbsolute(specifier)) {
    for (const { directory, map } of browserMapsFor(from, options.browserField)) {
      if (specifier in map) {
        const target = map[specifier];
        if (target === false) return { kind: "empty" };
        return target.startsWith(".")
          ? finishFile(path.resolve(directory, target), options)
          : resolveSpecifier(target, from, options);
      }
    }
    if (isNodeBuiltin(specifier)) return { kind: "builtin" };
    return resolveBare(specifier, from, options);
  }
  const base = path.resolve(path.dirname(from), specifier);
  const file = resolveFileCandidates(base, isTypeScript(from));
  return file === undefined ? { kind: "unresolved" } : finishFile(file, options);
}

/** Walks the import graph of `entries` (file paths) and reports every route to a Node built-in. */
export function walkImportGraph(entries: readonly string[], options: ImportGraphOptions = {}): ImportGraph {
  const followPackages = options.followPackages ?? true;
  const resolveOptions: ResolveOptions = {
    conditions: options.conditions ?? ["browser", "import", "module", "default"],
    browserField: options.browserField ?? true,
  };
  const parent = new Map<string, string | undefined>();
  const packages = new Set<string>();
  const violations: ImportViolation[] = [];
  const queue: string[] = [];

  const chainTo = (file: string): string[] => {
    const chain: string[] = [];
    for (let current: string | undefined = file; current !== undefined; current = parent.get(current))
      chain.unshift(current);
    return chain;
  };

  for (const entry of entries) {
    const file = path.resolve(entry);
    if (!isFile(file)) throw new Error(`import graph entry ${file} does not exist`);
    if (!parent.has(file)) {
      parent.set(file, undefined);
      queue.push(file);
    }
  }

  while (queue.length > 0) {
    const file = queue.shift() as string;
    if (file.endsWith(".json")) continue;
    const text = readFileSync(file, "utf8");
    const specifiers = isTypeScript(file) ? typeScriptSpecifiers(file, text) : javaScriptSpecifiers(text);
    for (const specifier of specifiers) {
      if (options.forbid?.(specifier)) {
        violations.push({ specifier, reason: "forbidden", chain: chainTo(file) });
        continue;
      }
      const isBare = !specifier.startsWith(".") && !path.isAbsolute(specifier);
      if (isBare && !isNodeBuiltin(specifier)) {
        packages.add(splitBareSpecifier(specifier).name);
        if (!followPackages) continue;
      }
      const resolution = resolveSpecifier(specifier, file, resolveOptions);
      if (resolution.kind === "builtin") violations.push({ specifier, reason: "node-builtin", chain: chainTo(file) });
      else if (resolution.kind === "unresolved")
        violations.push({ specifier, reason: "unresolved", chain: chainTo(file) });
      else if (resolution.kind === "file" && !parent.has(resolution.file)) {
        parent.set(resolution.file, file);
        queue.push(resolution.file);
      }
    }
  }
  return { files: [...parent.keys()], packages: [...packages].sort(), violations };
}

/** One line per violation, paths relative to `root`: for an assertion message. */
export function formatViolations(graph: ImportGraph, root = process.cwd()): string {
  return graph.violations
    .map((violation) => {
      const chain = violation.chain.map((file) => path.relative(root, file)).join(" -> ");
      const what = {
        "node-builtin": "imports Node built-in",
        forbidden: "imports forbidden",
        unresolved: "cannot resolve",
      }[violation.reason];
      return `${what} "${violation.specifier}": ${chain}`;
    })
    .join("\n");
}

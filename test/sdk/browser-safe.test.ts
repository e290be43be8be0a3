import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { expect } from "chai";

import { formatViolations, isNodeBuiltin, walkImportGraph } from "../helpers/import-graph";

const ROOT = path.resolve(__dirname, "../..");
const at = (file: string): string => path.join(ROOT, file);

/** The browser-safe core: everything in sdk/crypto, the blob store interface, errors and codes. */
const CORE_ENTRIES = [
  ...readdirSync(at("sdk/crypto"))
    .filter((name) => name.endsWith(".ts"))
    .map((name) => `sdk/crypto/${name}`),
  "sdk/storage/blob-store.ts",
  "sdk/errors.ts",
  "sdk/codes.ts",
].map(at);

describe("browser safety of the SDK core", function () {
  it("no import path from sdk/crypto, sdk/storage/blob-store, errors or codes reaches a Node built-in", function () {
    const graph = walkImportGraph(CORE_ENTRIES);
    expect(graph.violations, formatViolations(graph, ROOT)).to.deep.equal([]);
    // The walk really went through the packages, and took their browser builds.
    for (const reached of [
      "node_modules/@noble/curves/ed25519.js",
      "node_modules/@noble/hashes/hkdf.js",
      "node_modules/multiformats/dist/src/cid.js",
    ]) {
      expect(graph.files, reached).to.include(at(reached));
    }
    expect(graph.packages).to.include.members(["@noble/curves", "@noble/hashes", "multiformats"]);
    // The crypto core (keys, pseudonyms, envelopes) needs neither wallet library: both entries share it.
    expect(graph.packages).to.not.include("ethers");
    expect(graph.packages).to.not.include("viem");
    // Where the SDK does reach ethers, the walk takes its browser build.
    const withEthers = walkImportGraph([at("sdk/clients/signatures.ts")]);
    expect(withEthers.violations, formatViolations(withEthers, ROOT)).to.deep.equal([]);
    expect(withEthers.files).to.include(at("node_modules/ethers/lib.esm/crypto/crypto-browser.js"));
    expect(withEthers.files).to.not.include(at("node_modules/ethers/lib.esm/crypto/crypto.js"));
  });

  it("the checker catches Node-only modules: fs-blob-store, and a package walked without its browser field", function () {
    const fsStore = walkImportGraph([at("sdk/storage/fs-blob-store.ts")]);
    expect(fsStore.violations.map((v) => v.specifier)).to.include.members(["node:fs/promises", "node:path"]);

    // ethers' Node build imports "crypto"; only its browser field makes it browser-safe.
    const nodeBuild = walkImportGraph([at("sdk/clients/signatures.ts")], {
      browserField: false,
      conditions: ["node", "require", "default"],
    });
    expect(
      nodeBuild.violations.some((v) => v.specifier === "crypto" && v.reason === "node-builtin"),
      formatViolations(nodeBuild, ROOT),
    ).to.equal(true);
  });

  describe("the checker on fixtures", function () {
    let dir: string;
    before(function () {
      dir = mkdtempSync(path.join(os.tmpdir(), "import-graph-"));
      symlinkSync(at("node_modules"), path.join(dir, "node_modules"), "dir");
      const files: Record<string, string> = {
        "entry.ts": [
          'import { a } from "./a";',
          'import type { Stats } from "node:fs";', // type-only: erased
          'import { type Dirent } from "fs";', // only type elements: erased
          'export type { ParsedPath } from "path";',
          'import { sha256 } from "multiformats/hashes/sha2";', // browser field -> sha2-browser.js
          "export const x: Stats | Dirent | undefined = undefined;",
          "export { a, sha256 };",
        ].join("\n"),
        "a.ts": 'import { b } from "./b.js";\nexport const a = b;\n', // ESM-style .js specifier of a .ts file
        "b.ts":
          'export const b = 1;\nexport function later() { return import("child_process"); }\nconst os = require("os");\nexport { os };\n',
        "c.ts": 'export * from "path";\nexport { Buffer } from "node:buffer";\nimport x = require("./missing");\n',
        "d.js": 'const w = require("worker_threads");\nexport { default as z } from "node:zlib";\n',
      };
      for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    });
    after(function () {
      rmSync(dir, { recursive: true, force: true });
    });

    it("follows relative, dynamic and require imports; ignores type-only ones", function () {
      const graph = walkImportGraph([path.join(dir, "entry.ts")]);
      const found = graph.violations
        .map((v) => `${v.reason}:${v.specifier}:${path.basename(v.chain[v.chain.length - 1])}`)
        .sort();
      expect(found).to.deep.equal(["node-builtin:child_process:b.ts", "node-builtin:os:b.ts"]);
      const chain = graph.violations[0].chain.map((file) => path.basename(file));
      expect(chain).to.deep.equal(["entry.ts", "a.ts", "b.ts"]);
      expect(
        graph.files.some((file) =>
          file.endsWith(path.join("multiformats", "dist", "src", "hashes", "sha2-browser.js")),
        ),
      ).to.equal(true);
      expect(formatViolations(graph, dir)).to.contain('imports Node built-in "os": entry.ts -> a.ts -> b.ts');
    });

    it("reports re-exports of built-ins, unresolvable files, JavaScript requires, and Node builds of packages", function () {
      const graph = walkImportGraph([path.join(dir, "c.ts"), path.join(dir, "d.js")]);
      const found = graph.violations.map((v) => `${v.reason}:${v.specifier}`).sort();
      expect(found).to.deep.equal([
        "node-builtin:node:buffer",
        "node-builtin:node:zlib",
        "node-builtin:path",
        "node-builtin:worker_threads",
        "unresolved:./missing",
      ]);
      const nodeBuild = walkImportGraph([path.join(dir, "entry.ts")], {
        browserField: false,
        conditions: ["node", "import", "default"],
      });
      expect(nodeBuild.violations.map((v) => v.specifier)).to.include("node:crypto"); // multiformats' Node sha2
      const forbidden = walkImportGraph([path.join(dir, "entry.ts")], { forbid: (s) => s.startsWith("multiformats") });
      expect(forbidden.violations.map((v) => `${v.reason}:${v.specifier}`)).to.include(
        "forbidden:multiformats/hashes/sha2",
      );
    });

    it("knows Node's built-in names", function () {
      for (const name of [
        "fs",
        "fs/promises",
        "node:fs",
        "path",
        "crypto",
        "buffer",
        "os",
        "child_process",
        "node:test",
        "stream/web",
      ])
        expect(isNodeBuiltin(name), name).to.equal(true);
      for (const name of ["ethers", "@noble/curves/ed25519.js", "multiformats/cid", "./fs", "fs-extra"])
        expect(isNodeBuiltin(name), name).to.equal(false);
    });
  });
});

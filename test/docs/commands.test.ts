/**
 * The commands in the documentation are run, so the docs cannot drift from the code.
 *
 * Every shell block (```bash, ```sh, ...) of README.md, SECURITY.md and docs/*.md carries, on the line
 * right above its fence, one marker saying how it is held to the code:
 *
 *   <!-- docs-command: run -->              executed here with bash -euo pipefail, from the repository
 *                                           root, `consent-ledger` on the PATH being the bundled CLI;
 *   <!-- docs-command: ci -->               every command of it is a command of .ci/run;
 *   <!-- docs-command: syntax -->           every `consent-ledger` (or `npm run cli --`) line names a
 *                                           command the CLI has, with options its --help lists;
 *   <!-- docs-command: not-run: <reason> --> not runnable here (a remote network, a browser, a server
 *                                           that runs until stopped, placeholders), with the reason.
 *
 * A block without a marker fails the test. The README's TypeScript example runs against a fresh suite.
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";

import { expect } from "chai";

import { buildCli, deployCliSuite, type CliSuite } from "../helpers/cli";
import { sharedLocalNode } from "../helpers/local-node";
import { REPO_ROOT, SHELL_LANGUAGES, docFiles, fencedBlocks, type FencedBlock } from "./markdown";

const KINDS = ["run", "ci", "syntax", "not-run"] as const;
type Kind = (typeof KINDS)[number];

function kindOf(block: FencedBlock): Kind | undefined {
  if (block.marker === undefined) return undefined;
  if (/^not-run:\s*\S/.test(block.marker)) return "not-run";
  return (KINDS as readonly string[]).includes(block.marker) ? (block.marker as Kind) : undefined;
}

const shellBlocks = docFiles().flatMap((file) => fencedBlocks(file).filter((b) => SHELL_LANGUAGES.has(b.language)));
const where = (block: FencedBlock) => `${block.file}:${block.line}`;

/** The block's commands: continuation lines joined, comments and blank lines dropped. */
function commandsOf(body: string): string[] {
  const joined = body.replace(/\\\n\s*/g, " ");
  return joined
    .split("\n")
    .map((line) => line.replace(/(^|\s)#.*$/, "").trim())
    .filter((line) => line !== "");
}

/** The CLI arguments of a `consent-ledger ...` or `[VAR=value ...] npm run cli -- ...` line, else null. */
function cliArguments(command: string): string[] | null {
  const words = command.split("|")[0].trim().split(/\s+/);
  while (words.length > 0 && /^[A-Z_][A-Z0-9_]*=/.test(words[0])) words.shift();
  if (words[0] === "consent-ledger") return words.slice(1);
  if (words.slice(0, 4).join(" ") === "npm run cli --") return words.slice(4);
  return null;
}

/** Whether a repository path, possibly with `*` in its last part, names at least one existing file. */
function globMatches(file: string): boolean {
  const dir = path.join(REPO_ROOT, path.dirname(file));
  const base = path.basename(file);
  if (!base.includes("*")) return existsSync(path.join(REPO_ROOT, file));
  if (!existsSync(dir)) return false;
  const pattern = new RegExp(`^${base.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
  return readdirSync(dir).some((name) => pattern.test(name));
}

const GLOBAL_WITH_VALUE = new Set(["--rpc", "--deployment", "--store", "--key-source", "--keystore", "--account"]);

describe("the documentation's commands", function () {
  this.timeout(600_000);

  it("every shell block says how it is checked (run, ci, syntax, or not-run with a reason)", function () {
    const unmarked = shellBlocks
      .filter((b) => kindOf(b) === undefined)
      .map((b) => `${where(b)} (marker: ${b.marker ?? "none"})`);
    const counts = Object.fromEntries(KINDS.map((k) => [k, shellBlocks.filter((b) => kindOf(b) === k).length]));
    console.log(
      `      ${shellBlocks.length} shell blocks: ${counts.run} run here, ${counts.ci} by .ci/run, ` +
        `${counts.syntax} checked against the CLI's --help, ${counts["not-run"]} not runnable here:`,
    );
    for (const b of shellBlocks.filter((x) => kindOf(x) === "not-run")) console.log(`        ${where(b)}: ${b.marker}`);
    expect(unmarked, "shell blocks without a <!-- docs-command: ... --> marker above their fence").to.deep.equal([]);
    expect(counts.run + counts.ci + counts.syntax).to.be.greaterThan(0);
  });

  it("the commands of the blocks marked ci are commands of .ci/run", function () {
    const ci = readFileSync(path.join(REPO_ROOT, ".ci", "run"), "utf8")
      .split("\n")
      .map((line) => line.replace(/(^|\s)#.*$/, "").trim());
    const missing: string[] = [];
    for (const block of shellBlocks.filter((b) => kindOf(b) === "ci")) {
      for (const command of commandsOf(block.body).flatMap((c) => c.split("&&").map((part) => part.trim()))) {
        if (!ci.some((line) => line === command || line.startsWith(`${command} `)))
          missing.push(`${where(block)}: ${command}`);
      }
    }
    expect(missing, "commands the docs say CI runs, absent from .ci/run").to.deep.equal([]);
  });

  it("every block, run or not, names only npm scripts and repository files that exist", function () {
    const scripts = (
      JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }
    ).scripts;
    const problems: string[] = [];
    for (const block of shellBlocks) {
      for (const command of commandsOf(block.body)) {
        for (const [, script] of command.matchAll(/\bnpm run (?:--silent )?([\w:-]+)/g)) {
          if (!(script in scripts)) problems.push(`${where(block)}: npm run ${script}: no such script in package.json`);
        }
        // `cp <from> <to>` creates its destination: only the source must exist.
        const paths = [
          ...command.matchAll(
            /(?<![\w/.~-])(?:test|bench|scripts|ignition|contracts|sdk|cli|gateway|dapp|\.ci)\/[\w./*-]+/g,
          ),
        ].map((m) => m[0]);
        for (const file of command.startsWith("cp ") ? paths.slice(0, 1) : paths) {
          if (!globMatches(file)) problems.push(`${where(block)}: ${file}: no such file in the repository`);
        }
      }
    }
    expect(problems).to.deep.equal([]);
  });

  describe("CLI lines: commands and options the CLI has", function () {
    let cli: string;
    const helpCache = new Map<string, { status: number | null; text: string }>();
    const help = (words: string[]) => {
      const key = words.join(" ");
      if (!helpCache.has(key)) {
        const result = spawnSync(process.execPath, [cli, ...words, "--help"], { encoding: "utf8", timeout: 60_000 });
        helpCache.set(key, { status: result.status, text: `${result.stdout}${result.stderr}` });
      }
      return helpCache.get(key)!;
    };
    before(function () {
      cli = buildCli();
    });

    // Blocks marked syntax are checked only so; CLI lines in the other blocks (not-run ones included) too.
    for (const block of shellBlocks.filter(
      (b) => kindOf(b) === "syntax" || commandsOf(b.body).some((c) => cliArguments(c)),
    )) {
      it(`${where(block)} (${kindOf(block)})`, function () {
        const problems: string[] = [];
        const lines = commandsOf(block.body)
          .map((command) => ({ command, args: cliArguments(command) }))
          .filter((c): c is { command: string; args: string[] } => c.args !== null);
        expect(lines, "a syntax block with no consent-ledger command").to.not.be.empty;
        const root = help([]).text;
        for (const { command, args } of lines) {
          const tokens = args.map((t) => t.replace(/^\[|\]$/g, "")).filter((t) => t !== "" && t !== "...");
          let i = 0;
          while (i < tokens.length && tokens[i].startsWith("-")) i += GLOBAL_WITH_VALUE.has(tokens[i]) ? 2 : 1;
          const words: string[] = [];
          while (i < tokens.length && /^[a-z][a-z-]*$/.test(tokens[i])) words.push(tokens[i++]);
          const sub = help(words);
          const usage = /^Usage: consent-ledger (.*)$/m.exec(sub.text)?.[1] ?? "";
          const named = words.length === 0 || usage === words.join(" ") || usage.startsWith(`${words.join(" ")} `);
          if (sub.status !== 0 || !named) {
            problems.push(
              `${command}: \`consent-ledger ${words.join(" ")}\` is not a command (its --help shows "${usage}")`,
            );
            continue;
          }
          for (const option of tokens.filter((t) => /^--[a-z]/.test(t)).map((t) => t.split("=")[0])) {
            const listed = new RegExp(`(^|[\\s,])${option}(\\s|,|$)`, "m");
            if (!listed.test(sub.text) && !listed.test(root))
              problems.push(`${command}: ${option} is not an option of it`);
          }
        }
        expect(problems).to.deep.equal([]);
      });
    }
  });

  describe("blocks marked run", function () {
    let shims: string;
    before(function () {
      // `consent-ledger` as the package installs it: the bundled CLI (bin: dist/cli/main.js).
      shims = mkdtempSync(path.join(os.tmpdir(), "docs-commands-bin-"));
      const bin = path.join(shims, "consent-ledger");
      writeFileSync(bin, `#!/bin/sh\nexec "${process.execPath}" "${buildCli()}" "$@"\n`);
      chmodSync(bin, 0o755);
    });
    after(function () {
      rmSync(shims, { recursive: true, force: true });
    });

    for (const block of shellBlocks.filter((b) => kindOf(b) === "run")) {
      it(`${where(block)}`, function () {
        const before = spawnSync("git", ["status", "--porcelain"], { cwd: REPO_ROOT, encoding: "utf8" }).stdout;
        const result = spawnSync("bash", ["-euo", "pipefail", "-c", block.body], {
          cwd: REPO_ROOT,
          encoding: "utf8",
          timeout: 300_000,
          env: { ...process.env, PATH: `${shims}${path.delimiter}${process.env.PATH}`, HARDHAT_NETWORK: undefined },
        });
        expect(result.status, `${block.body}\nexited ${result.status}:\n${result.stderr}`).to.equal(0);
        const after = spawnSync("git", ["status", "--porcelain"], { cwd: REPO_ROOT, encoding: "utf8" }).stdout;
        expect(after, "the commands changed files of the repository").to.equal(before);
      });
    }
  });

  describe("the README's SDK example", function () {
    let suite: CliSuite;
    let dir: string;
    before(async function () {
      suite = await deployCliSuite(await sharedLocalNode());
      dir = mkdtempSync(path.join(os.tmpdir(), "docs-readme-example-"));
    });
    after(function () {
      suite?.cleanup();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("runs against a fresh suite, importing the package name consent-ledger", function () {
      const examples = fencedBlocks("README.md").filter((b) => b.language === "ts");
      expect(examples, "README.md has one TypeScript example").to.have.length(1);
      const example = examples[0].body;
      expect(example.split("\n").length, "the example's lines").to.be.at.most(25);
      expect(example).to.match(/from "consent-ledger"/);
      expect(example, "the example imports the package, not a repository path").to.not.match(/from "\.{1,2}\//);

      // A project where `consent-ledger` resolves to this repository's SDK sources (the entry points
      // the package exports: sdk/index.ts and sdk/node.ts), and `ethers` to the repository's copy.
      const modules = path.join(dir, "node_modules");
      mkdirSync(path.join(modules, "consent-ledger"), { recursive: true });
      writeFileSync(
        path.join(modules, "consent-ledger", "package.json"),
        JSON.stringify({ name: "consent-ledger", exports: { ".": "./index.js", "./node": "./node.js" } }),
      );
      writeFileSync(
        path.join(modules, "consent-ledger", "index.js"),
        `module.exports = require(${JSON.stringify(path.join(REPO_ROOT, "sdk", "index.ts"))});\n`,
      );
      writeFileSync(
        path.join(modules, "consent-ledger", "node.js"),
        `module.exports = require(${JSON.stringify(path.join(REPO_ROOT, "sdk", "node.ts"))});\n`,
      );
      symlinkSync(path.join(REPO_ROOT, "node_modules", "ethers"), path.join(modules, "ethers"));
      writeFileSync(
        path.join(dir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: { module: "commonjs", target: "es2022", esModuleInterop: true, skipLibCheck: true },
        }),
      );
      mkdirSync(path.join(dir, "deployments"));
      writeFileSync(
        path.join(dir, "deployments", "31337.json"),
        readFileSync(path.join(suite.deploymentsDir, "31337.json")),
      );
      writeFileSync(path.join(dir, "example.ts"), example);

      const result = spawnSync(
        process.execPath,
        ["-r", require.resolve("ts-node/register/transpile-only", { paths: [REPO_ROOT] }), "example.ts"],
        {
          cwd: dir,
          encoding: "utf8",
          timeout: 120_000,
          env: {
            ...process.env,
            TS_NODE_PROJECT: path.join(dir, "tsconfig.json"),
            RPC_URL: suite.node.url,
            ADMIN_KEY: suite.key.admin,
            PATIENT_KEY: suite.key.patient,
            CONSENT_LEDGER_DEPLOYMENTS: undefined,
          },
        },
      );
      expect(result.status, `the example exited ${result.status}:\n${result.stderr}`).to.equal(0);
      expect(result.stdout.trim().split("\n")).to.deep.equal([
        "may read: true",
        'decrypted: {"resourceType":"Observation"}',
      ]);
    });

    it("type-checks under strict TypeScript against the SDK's entry points", function () {
      const checkDir = path.join(dir, "typecheck");
      mkdirSync(checkDir);
      writeFileSync(
        path.join(checkDir, "example.ts"),
        fencedBlocks("README.md").filter((b) => b.language === "ts")[0].body,
      );
      const sdk = (entry: string) => [path.join(REPO_ROOT, "sdk", entry)];
      writeFileSync(
        path.join(checkDir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            module: "commonjs",
            target: "es2022",
            lib: ["es2023", "dom"],
            strict: true,
            esModuleInterop: true,
            skipLibCheck: true,
            noEmit: true,
            types: ["node"],
            typeRoots: [path.join(REPO_ROOT, "node_modules", "@types")],
            paths: {
              "consent-ledger": sdk("index.ts"),
              "consent-ledger/node": sdk("node.ts"),
              ethers: [path.join(REPO_ROOT, "node_modules", "ethers")],
            },
          },
          files: ["example.ts"],
        }),
      );
      const tsc = require.resolve("typescript/bin/tsc", { paths: [REPO_ROOT] });
      const result = spawnSync(process.execPath, [tsc, "-p", path.join(checkDir, "tsconfig.json")], {
        encoding: "utf8",
        timeout: 180_000,
      });
      expect(result.status, `tsc:\n${result.stdout}${result.stderr}`).to.equal(0);
    });
  });
});

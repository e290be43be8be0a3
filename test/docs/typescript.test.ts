/**
 * The TypeScript in docs/ is type-checked, so a renamed method or a changed argument fails here and not in
 * a reader's editor. Every ```ts block of docs/*.md is compiled under strict TypeScript against the SDK's
 * public entry points (`consent-ledger`, `/node`, `/tables`, `/viem`, resolved to the
 * sources the package builds from) with ethers, viem and jose as a dApp has them. A block that cannot be
 * checked says so with a reason on the line right above its fence, as shell blocks do:
 *
 *   <!-- docs-typescript: not-checked: <reason> -->
 *
 * Snippets use names the prose around them introduces (a connected `contracts`, a `patient` address): they
 * are declared once below, in CONTEXT, with the SDK's types, so a snippet that misuses one fails too. A
 * name a snippet defines itself shadows the declaration (each snippet is a module of its own).
 * README's example is checked and run by commands.test.ts.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { expect } from "chai";

import { REPO_ROOT, docFiles, fencedBlocks, type FencedBlock } from "./markdown";

const TYPESCRIPT_LANGUAGES = new Set(["ts", "typescript", "tsx"]);

/** The names the docs' snippets use without defining them, typed as the prose describes them. */
const CONTEXT = `
import type { AuditClient, BlobStore, DataUsePolicy, Deployment, EncryptionKeyPair, FhirResource, GatewayClient,
  LedgerContracts, PatientClient, ResearcherClient } from "consent-ledger";
import type { Eip1193Provider, Provider, Wallet } from "ethers";

declare global {
  interface Window { ethereum: Eip1193Provider }
  /** A suite's deployment (deployments/<chainId>.json) and the contracts connect() bound to it. */
  const deployment: Deployment;
  const contracts: LedgerContracts;
  const providerContracts: LedgerContracts;
  const researcherContracts: LedgerContracts;
  const relayerContracts: LedgerContracts;
  /** Wallets (ethers Signers with an address). */
  const signer: Wallet;
  const wallet: Wallet;
  const reader: Wallet;
  const hospital: Wallet;
  const providerSigner: Wallet;
  const patientSigner: Wallet;
  const researcherSigner: Wallet;
  const relayerSigner: Wallet;
  const provider: Provider;
  /** Accounts by address. */
  const patient: string;
  const doctor: string;
  const guardian: string;
  const lab: string;
  const clinic: string;
  const clinicAddress: string;
  /** Clients built elsewhere in the guide. */
  const patientClient: PatientClient;
  const auditClient: AuditClient;
  const researcher: ResearcherClient;
  const readerGateways: Record<string, GatewayClient>;
  const store: BlobStore;
  const manifestStore: BlobStore;
  const keyPair: EncryptionKeyPair;
  /** Values. */
  const chainId: number;
  const ledger: string;
  const relayerUrl: string;
  const gateway: string;
  const gatewayUrl: string;
  const url1: string;
  const url2: string;
  const url3: string;
  const c1: string;
  const c2: string;
  const c3: string;
  const setId: number;
  const recordId: string;
  const observation: FhirResource;
  const vitals: FhirResource;
  const protocolPdfBytes: Uint8Array;
  const policyFromLedger: DataUsePolicy;
  const visa: string;
  const datasetId: string;
}
export {};
`;

const where = (block: FencedBlock) => `${block.file}:${block.line}`;
const notChecked = (block: FencedBlock) => /^not-checked:\s*\S/.test(block.typescriptMarker ?? "");

/** The snippet file of a block: its file and fence line in the name, so tsc's messages point at the doc. */
const snippetName = (block: FencedBlock) => `${block.file.replace(/[/.]/g, "_")}_L${block.line}.ts`;

/**
 * Type-checks `blocks` in one tsc run; the problems, each as `<doc>:<line>: <tsc message>` with the line
 * of the doc itself. Empty when every block compiles.
 */
function typeCheck(blocks: FencedBlock[]): string[] {
  const dir = mkdtempSync(path.join(os.tmpdir(), "docs-typescript-"));
  try {
    // The repository's node_modules: ethers, viem, jose and @types/node as a dApp installs them.
    symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
    mkdirSync(path.join(dir, "snippets"));
    const files = new Map<string, FencedBlock>();
    for (const block of blocks) {
      const name = snippetName(block);
      files.set(name, block);
      // `export {}` makes every snippet a module: its own scope, top-level await allowed.
      writeFileSync(path.join(dir, "snippets", name), `${block.body}\nexport {};\n`);
    }
    writeFileSync(path.join(dir, "context.ts"), CONTEXT);
    const sdk = (entry: string) => [path.join(REPO_ROOT, "sdk", entry)];
    writeFileSync(
      path.join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "esnext",
          moduleResolution: "bundler",
          target: "es2022",
          lib: ["es2023", "dom"],
          strict: true,
          esModuleInterop: true,
          skipLibCheck: true,
          noEmit: true,
          types: ["node"],
          paths: {
            "consent-ledger": sdk("index.ts"),
            "consent-ledger/node": sdk("node.ts"),
            "consent-ledger/tables": sdk("tables.ts"),
            "consent-ledger/viem": sdk("viem.ts"),
          },
        },
        files: ["context.ts", ...[...files.keys()].map((name) => `snippets/${name}`)],
      }),
    );
    const tsc = require.resolve("typescript/bin/tsc", { paths: [REPO_ROOT] });
    const result = spawnSync(process.execPath, [tsc, "-p", path.join(dir, "tsconfig.json"), "--pretty", "false"], {
      cwd: dir,
      encoding: "utf8",
      timeout: 300_000,
    });
    if (result.status === 0) return [];
    const problems: string[] = [];
    for (const line of `${result.stdout}${result.stderr}`.split("\n").filter(Boolean)) {
      const at = /^snippets\/([^(]+)\((\d+),(\d+)\): (.*)$/.exec(line);
      const block = at ? files.get(at[1]) : undefined;
      // The fence is line `block.line`; the snippet's first line is the doc's next one.
      if (at && block) problems.push(`${block.file}:${block.line + Number(at[2])}:${at[3]}: ${at[4]}`);
      else if (!/^\s/.test(line) || problems.length === 0) problems.push(line);
      else problems[problems.length - 1] += `\n${line}`;
    }
    return problems.length > 0 ? problems : [`tsc exited ${result.status}`];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("the TypeScript in docs/", function () {
  this.timeout(600_000);
  const blocks = docFiles()
    .filter((file) => file.startsWith("docs/"))
    .flatMap((file) => fencedBlocks(file).filter((b) => TYPESCRIPT_LANGUAGES.has(b.language)));

  it("marks every block it does not check, with a reason", function () {
    const unchecked = blocks.filter((b) => b.typescriptMarker !== undefined && !notChecked(b));
    expect(
      unchecked.map((b) => `${where(b)}: <!-- docs-typescript: ${b.typescriptMarker} -->`),
      "a docs-typescript marker must read `not-checked: <reason>`",
    ).to.deep.equal([]);
    console.log(`      ${blocks.length} TypeScript blocks, ${blocks.filter(notChecked).length} not checked:`);
    for (const b of blocks.filter(notChecked)) console.log(`        ${where(b)}: ${b.typescriptMarker}`);
  });

  it("type-checks every other block under strict TypeScript against the SDK's public entry points", function () {
    const checked = blocks.filter((b) => !notChecked(b));
    expect(checked.length).to.be.greaterThan(10);
    expect(typeCheck(checked)).to.deep.equal([]);
  });

  it("fails on a snippet that misuses the SDK, naming the doc and line", function () {
    // The checker itself, on a snippet with a wrong argument: it must not pass everything.
    const broken: FencedBlock = {
      file: "docs/broken.md",
      line: 10,
      language: "ts",
      body: 'import { PatientClient } from "consent-ledger";\n\nawait new PatientClient(contracts, patientSigner).revoke(42);',
      marker: undefined,
      typescriptMarker: undefined,
    };
    const problems = typeCheck([broken]);
    expect(problems).to.have.length(1);
    expect(problems[0]).to.match(/^docs\/broken\.md:13:\d+: error TS2345: Argument of type 'number'/);
  });
});

import { execFileSync } from "node:child_process";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

import { expect } from "chai";
import { JsonRpcProvider, Wallet } from "ethers";

import {
  AccessLog__factory,
  ConsentLedger__factory,
  KeyDirectory__factory,
  RecordRegistry__factory,
} from "../../typechain-types";
import { startLocalNode, type LocalNode } from "../helpers/local-node";
import { tempDirectory } from "../helpers/sdk";

// Hardhat's first two well-known development accounts (public test keys, never used on a real chain).
const ADMIN_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const PATIENT_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

/**
 * What a dApp developer writes after `npm install consent-ledger-<version>.tgz` (see docs/sdk.md): the same flow
 * once with ethers wallets and once with viem wallet clients (LIBRARY=ethers|viem); every line after
 * `wallets()` is the same for both.
 */
const CONSUMER_EXAMPLE = `
const { connect, AdminClient, PatientClient, ProviderClient, ResearcherClient, MemoryBlobStore, sealRecord, openRecord, consentLedgerAbi, DataClass } = require("consent-ledger");
const { loadDeployment } = require("consent-ledger/node");

async function wallets() {
  if (process.env.LIBRARY === "viem") {
    const { createPublicClient, createWalletClient, http } = require("viem");
    const { privateKeyToAccount } = require("viem/accounts");
    const transport = http(process.env.RPC_URL);
    const reader = createPublicClient({ transport });
    const chainId = await reader.getChainId();
    const chain = { id: chainId, name: "local", nativeCurrency: { name: "ETH", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [process.env.RPC_URL] } } };
    const wallet = (key) => createWalletClient({ account: privateKeyToAccount(key), chain, transport });
    return { chainId, admin: wallet(process.env.ADMIN_KEY), patient: wallet(process.env.PATIENT_KEY), address: (w) => w.account.address,
      now: async () => Number((await reader.getBlock()).timestamp) };
  }
  const { JsonRpcProvider, Wallet } = require("ethers");
  // No response cache: one account sends transactions back to back, each must see the last nonce.
  const provider = new JsonRpcProvider(process.env.RPC_URL, undefined, { cacheTimeout: -1 });
  const { chainId } = await provider.getNetwork();
  return { chainId, admin: new Wallet(process.env.ADMIN_KEY, provider), patient: new Wallet(process.env.PATIENT_KEY, provider),
    address: (w) => w.address, now: async () => (await provider.getBlock("latest")).timestamp };
}

async function main() {
  const { chainId, admin, patient, address, now } = await wallets();
  const deployment = await loadDeployment(chainId);
  const ledger = await connect(patient, deployment);

  await (await new AdminClient(await connect(admin, deployment), admin).accredit({ party: address(admin), roles: ["PROVIDER"] })).wait();
  const start = await now();
  const consent = await (await new PatientClient(ledger, patient).grant({
    grantee: address(admin), dataClasses: ["LAB_RESULT"], purposes: ["TREAT"], validUntil: start + 3600,
  })).wait();
  const allowed = await ledger.ledger.hasAccess(address(patient), address(admin), DataClass.LAB_RESULT, 0);
  let refused;
  try {
    await (await new AdminClient(ledger, patient).accredit({ party: address(patient), roles: ["RESEARCHER"] })).wait();
  } catch (error) {
    refused = { name: error.name, errorName: error.errorName, args: error.args.map(String) };
  }

  const store = new MemoryBlobStore();
  const context = { chainId: Number(chainId), registry: deployment.records, patient: address(patient), provider: address(admin),
    dataClass: DataClass.LAB_RESULT, version: 1, previousRecordId: "0x" + "00".repeat(32) };
  const sealed = await sealRecord(new TextEncoder().encode('{"resourceType":"Observation"}'), context);
  const cid = await store.put(sealed.envelope);
  const opened = await openRecord(await store.get(cid), sealed.dataKey, { recordId: sealed.recordId });

  // The admin anchors a record as a provider, then reads it as the grantee: its key, wrapped to it, opens it.
  const adminLedger = await connect(admin, deployment);
  const grantee = new ResearcherClient(adminLedger, admin);
  const keys = await grantee.deriveEncryptionKey();
  await (await grantee.registerEncryptionKey(keys)).wait();
  const provider = new ProviderClient(adminLedger, admin, store);
  const record = await (await provider.publish({ patient: address(patient), dataClass: "LAB_RESULT",
    payload: { resourceType: "Observation", status: "final", code: { text: "HbA1c" } } })).wait();
  const { wrappedKey } = await provider.shareKey(record, address(admin), "TREAT");
  const anchored = await grantee.openRecord({ envelope: await store.get(record.cid), wrappedKey, keyPair: keys, expectedRecordId: record.recordId });
  console.log(JSON.stringify({ allowed, lasts: consent.validUntil - start, refused, text: new TextDecoder().decode(opened.plaintext),
    abiEntries: consentLedgerAbi.length, anchored: { version: anchored.version, superseded: anchored.superseded, code: anchored.resource.code.text } }));
}
main().catch((error) => { console.error(error.message); process.exit(1); });
`;

/**
 * The same flow for a dApp on viem alone, through "consent-ledger/viem" (no ethers on its import graph): its
 * contracts are viem contract instances, so the one read of a contract differs; everything else matches.
 */
const CONSUMER_VIEM_ENTRY = `
import { createPublicClient, createWalletClient, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { connect, AdminClient, PatientClient, ProviderClient, ResearcherClient, MemoryBlobStore, sealRecord, openRecord, consentLedgerAbi, DataClass } from "consent-ledger/viem";
import { loadDeployment } from "consent-ledger/node";

const transport = http(process.env.RPC_URL);
const reader = createPublicClient({ transport });
const chainId = await reader.getChainId();
const chain = { id: chainId, name: "local", nativeCurrency: { name: "ETH", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [process.env.RPC_URL] } } };
const wallet = (key) => createWalletClient({ account: privateKeyToAccount(key), chain, transport });
const admin = wallet(process.env.ADMIN_KEY);
const patient = wallet(process.env.PATIENT_KEY);
const deployment = await loadDeployment(chainId);
const ledger = await connect(patient, deployment);

await (await new AdminClient(await connect(admin, deployment), admin).accredit({ party: admin.account.address, roles: ["PROVIDER"] })).wait();
const start = Number((await reader.getBlock()).timestamp);
const consent = await (await new PatientClient(ledger, patient).grant({
  grantee: admin.account.address, dataClasses: ["LAB_RESULT"], purposes: ["TREAT"], validUntil: start + 3600,
})).wait();
const allowed = await ledger.ledger.read.hasAccess([patient.account.address, admin.account.address, DataClass.LAB_RESULT, 0]);
let refused;
try {
  await (await new AdminClient(ledger, patient).accredit({ party: patient.account.address, roles: ["RESEARCHER"] })).wait();
} catch (error) {
  refused = { name: error.name, errorName: error.errorName, args: error.args.map(String) };
}
const store = new MemoryBlobStore();
const context = { chainId, registry: deployment.records, patient: patient.account.address, provider: admin.account.address,
  dataClass: DataClass.LAB_RESULT, version: 1, previousRecordId: "0x" + "00".repeat(32) };
const sealed = await sealRecord(new TextEncoder().encode('{"resourceType":"Observation"}'), context);
const cid = await store.put(sealed.envelope);
const opened = await openRecord(await store.get(cid), sealed.dataKey, { recordId: sealed.recordId });

const adminLedger = await connect(admin, deployment);
const grantee = new ResearcherClient(adminLedger, admin);
const keys = await grantee.deriveEncryptionKey();
await (await grantee.registerEncryptionKey(keys)).wait();
const provider = new ProviderClient(adminLedger, admin, store);
const record = await (await provider.publish({ patient: patient.account.address, dataClass: "LAB_RESULT",
  payload: { resourceType: "Observation", status: "final", code: { text: "HbA1c" } } })).wait();
const { wrappedKey } = await provider.shareKey(record, admin.account.address, "TREAT");
const anchored = await grantee.openRecord({ envelope: await store.get(record.cid), wrappedKey, keyPair: keys, expectedRecordId: record.recordId });
console.log(JSON.stringify({ allowed, lasts: consent.validUntil - start, refused, text: new TextDecoder().decode(opened.plaintext),
  abiEntries: consentLedgerAbi.length, anchored: { version: anchored.version, superseded: anchored.superseded, code: anchored.resource.code.text } }));
`;

describe("the packed SDK", function () {
  this.timeout(900_000);
  let node: LocalNode;
  let project: { dir: string; cleanup: () => Promise<void> };

  before(async function () {
    node = await startLocalNode();
    project = await tempDirectory("consumer");
  });
  after(async function () {
    await node?.stop();
    await project?.cleanup();
  });

  /** Deploys a fresh suite to the node as `npm run deploy` would, and writes its deployment file there. */
  async function deploySuite(): Promise<void> {
    // No response cache: consecutive deployments must each see the nonce the previous one used.
    const provider = new JsonRpcProvider(node.url, undefined, { cacheTimeout: -1 });
    const admin = new Wallet(ADMIN_KEY, provider);
    const ledger = await (
      await new ConsentLedger__factory(admin).deploy(admin.address, 86400, 86400 * 365, 3600)
    ).waitForDeployment();
    const ledgerAddress = await ledger.getAddress();
    const records = await (await new RecordRegistry__factory(admin).deploy(ledgerAddress)).waitForDeployment();
    const accessLog = await (await new AccessLog__factory(admin).deploy(ledgerAddress)).waitForDeployment();
    const keys = await (await new KeyDirectory__factory(admin).deploy()).waitForDeployment();
    await mkdir(path.join(project.dir, "deployments"), { recursive: true });
    await writeFile(
      path.join(project.dir, "deployments", "31337.json"),
      JSON.stringify({
        chainId: 31337,
        ledger: ledgerAddress,
        records: await records.getAddress(),
        accessLog: await accessLog.getAddress(),
        keys: await keys.getAddress(),
      }),
    );
    provider.destroy();
  }

  /** Builds `page` as a dApp with Vite's defaults (no resolve conditions, no aliases); the bundle's code, all chunks. */
  async function viteBuild(name: string, page: string[]): Promise<string> {
    const dir = path.join(project.dir, name);
    await mkdir(dir, { recursive: true });
    await writeFile(
      path.join(dir, "index.html"),
      '<!doctype html><html><body><script type="module" src="./page.js"></script></body></html>\n',
    );
    await writeFile(path.join(dir, "page.js"), page.join("\n"));
    execFileSync("node", [path.join(root, "node_modules/vite/bin/vite.js"), "build", "--logLevel", "error"], {
      cwd: dir,
      stdio: "pipe",
      timeout: 300_000,
    });
    // viem splits lazily loaded parts (ccip, secp256k1) into chunks of their own: read them all.
    const assets = path.join(dir, "dist", "assets");
    const chunks = (await readdir(assets)).filter((file) => file.endsWith(".js"));
    return (await Promise.all(chunks.map((file) => readFile(path.join(assets, file), "utf8")))).join("\n");
  }

  const root = path.resolve(__dirname, "../..");
  const VIEM_MARKER = /["'`]walletClient["'`]/;
  const versionOf = async (name: string) =>
    JSON.parse(await readFile(path.join(project.dir, "node_modules", name, "package.json"), "utf8")).version as string;
  /** How many times a library's version string stands in a bundle: each copy of the library holds it once. */
  const copies = (code: string, version: string) =>
    code.split(new RegExp(`["'\`]${version.replaceAll(".", "\\.")}["'\`]`)).length - 1;

  it("installs from `npm pack` into an empty project and runs the README example there, with ethers and with viem, and the shipped CLI", async function () {
    // Bounded, so that a hung npm fails this test instead of blocking the whole run.
    execFileSync("npm", ["pack", "--pack-destination", project.dir], { cwd: root, stdio: "pipe", timeout: 300_000 });
    const tarball = (await readdir(project.dir)).find((file) => file.endsWith(".tgz"));
    expect(tarball, "npm pack wrote no tarball").to.be.a("string");
    const packed = JSON.parse(await readFile(path.join(root, "package.json"), "utf8"));
    expect(packed.dependencies.ethers, "ethers is the dApp's own (a peer), not a second copy").to.equal(undefined);
    expect(packed.peerDependencies.ethers).to.be.a("string");
    await writeFile(path.join(project.dir, "package.json"), JSON.stringify({ name: "consumer", private: true }));
    // ethers comes in as the package's peer dependency; viem is what a viem dApp adds itself.
    const viemVersion = JSON.parse(await readFile(path.join(root, "node_modules/viem/package.json"), "utf8")).version;
    execFileSync(
      "npm",
      ["install", "--no-audit", "--no-fund", "--prefer-offline", `./${tarball}`, `viem@${viemVersion}`],
      {
        cwd: project.dir,
        stdio: "pipe",
        timeout: 300_000,
      },
    );
    await writeFile(path.join(project.dir, "example.cjs"), CONSUMER_EXAMPLE);
    await writeFile(path.join(project.dir, "example-viem-entry.mjs"), CONSUMER_VIEM_ENTRY);

    const results: Record<string, unknown> = {};
    for (const library of ["ethers", "viem", "viem-entry"]) {
      await deploySuite();
      const output = execFileSync("node", [library === "viem-entry" ? "example-viem-entry.mjs" : "example.cjs"], {
        cwd: project.dir,
        env: { ...process.env, RPC_URL: node.url, ADMIN_KEY, PATIENT_KEY, LIBRARY: library },
        encoding: "utf8",
        timeout: 120_000,
      });
      results[library] = JSON.parse(output.trim().split("\n").pop() as string);
    }
    const result = results.ethers as Record<string, unknown>;
    expect(result.allowed).to.equal(true);
    expect(result.lasts).to.equal(3600);
    expect(result.text).to.equal('{"resourceType":"Observation"}');
    expect(result.refused).to.deep.include({ name: "ContractRevertError", errorName: "OwnableUnauthorizedAccount" });
    expect(result.abiEntries).to.be.greaterThan(50);
    expect(result.anchored).to.deep.equal({ version: 1, superseded: false, code: "HbA1c" });
    expect(results.viem, "the viem dApp sees what the ethers dApp sees").to.deep.equal(result);
    expect(results["viem-entry"], "the dApp on consent-ledger/viem sees what the ethers dApp sees").to.deep.equal(
      result,
    );

    // The CLI the package ships (bin: dist/cli/main.js), as `npm install` links it: help, a read, a write,
    // on the suite the last run deployed (its patient granted the admin lab results).
    const bin = path.join(project.dir, "node_modules", ".bin", "consent-ledger");
    const provider = new JsonRpcProvider(node.url, undefined, { cacheTimeout: -1 });
    const admin = new Wallet(ADMIN_KEY).address;
    const patient = new Wallet(PATIENT_KEY).address;
    const deployed = JSON.parse(await readFile(path.join(project.dir, "deployments", "31337.json"), "utf8"));
    const ledger = ConsentLedger__factory.connect(deployed.ledger, provider);
    const cli = (args: string[], key?: string) =>
      execFileSync(bin, args, {
        cwd: project.dir,
        env: {
          ...process.env,
          CONSENT_LEDGER_RPC: node.url,
          CONSENT_LEDGER_DEPLOYMENTS: path.join(project.dir, "deployments"),
          CONSENT_LEDGER_PRIVATE_KEY: key,
        },
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        timeout: 60_000,
      });
    expect(
      await readFile(path.join(project.dir, "node_modules", "consent-ledger", "dist", "cli", "main.js"), "utf8"),
    ).to.match(/^#!\/usr\/bin\/env node\n/);
    expect(cli(["--help"]))
      .to.match(/consent-ledger/)
      .and.match(/patient/)
      .and.match(/researcher/);
    const listed = JSON.parse(cli(["--json", "patient", "consents", "--for", patient])) as { grantee: string }[];
    expect(listed.map((c) => c.grantee)).to.deep.equal([admin]);
    cli(["patient", "revoke", "--grantee", admin], PATIENT_KEY);
    const revoked = await ledger.queryFilter(ledger.filters.ConsentRevoked(patient, admin));
    expect(revoked.map((event) => event.args.actor)).to.deep.equal([patient]);
    expect(JSON.parse(cli(["--json", "patient", "consents", "--for", patient]))).to.deep.equal([]);
    provider.destroy();

    // An ES-module consumer imports the same (CommonJS) package by name, core and Node entry points.
    await writeFile(
      path.join(project.dir, "esm.mjs"),
      [
        'import { AccessDeniedError, AccessNotConfirmedError, PatientClient, sealRecord } from "consent-ledger";',
        'import { FsBlobStore } from "consent-ledger/node";',
        "console.log(JSON.stringify([typeof PatientClient, typeof sealRecord, typeof FsBlobStore,",
        '  new AccessNotConfirmedError("x") instanceof AccessDeniedError]));',
      ].join("\n"),
    );
    const esm = execFileSync("node", ["esm.mjs"], { cwd: project.dir, encoding: "utf8", timeout: 60_000 });
    expect(JSON.parse(esm.trim())).to.deep.equal(["function", "function", "function", true]);

    // Browser dApps bundle it with Vite's defaults: the "module" export is the ES-module build, tree-shaken.
    const ethersVersion = await versionOf("ethers");
    const withEthers = await viteBuild("ethers-dapp", [
      'import { BrowserProvider } from "ethers";',
      'import { PatientClient, connect, openRecord, cidOf } from "consent-ledger";',
      "console.log(BrowserProvider, PatientClient, connect, openRecord, cidOf);",
    ]);
    expect(copies(withEthers, ethersVersion), "copies of ethers in the ethers dApp").to.equal(1);
    // viem's marker: the type name its createWalletClient gives every wallet client.
    expect(withEthers, "viem in the ethers dApp").to.not.match(VIEM_MARKER);
    expect(withEthers.length).to.be.below(600_000); // about 390 kB (the CommonJS build did not bundle at all)

    const withViem = await viteBuild("viem-dapp", [
      'import { createWalletClient, custom } from "viem";',
      'import { PatientClient, connect, openRecord, cidOf } from "consent-ledger";',
      "console.log(createWalletClient, custom, PatientClient, connect, openRecord, cidOf);",
    ]);
    expect(withViem.match(new RegExp(VIEM_MARKER, "g")), "copies of viem in the viem dApp").to.have.length(1);
    // Through the main entry the contract layer is ethers: a viem dApp using it carries one copy, never two.
    expect(copies(withViem, ethersVersion), "copies of ethers in the viem dApp on the main entry").to.equal(1);

    // Through consent-ledger/viem, a viem dApp bundles viem once and no ethers at all.
    const viemOnly = await viteBuild("viem-entry-dapp", [
      'import { createWalletClient, custom } from "viem";',
      'import { PatientClient, AdminClient, ProviderClient, ResearcherClient, connect, policyOf, openRecord, sealRecord, cidOf } from "consent-ledger/viem";',
      'import { GatewayClient, CustodianSetClient, RelayerClient, PatientIdentity, createPairingLink, verifyPairingLink, derivePseudonymRoot } from "consent-ledger/viem";',
      "console.log(createWalletClient, custom, PatientClient, AdminClient, ProviderClient, ResearcherClient, connect, policyOf, openRecord, sealRecord, cidOf);",
      "console.log(GatewayClient, CustodianSetClient, RelayerClient, PatientIdentity, createPairingLink, verifyPairingLink, derivePseudonymRoot);",
    ]);
    expect(
      viemOnly.match(new RegExp(VIEM_MARKER, "g")),
      "copies of viem in the consent-ledger/viem dApp",
    ).to.have.length(1);
    expect(copies(viemOnly, ethersVersion), "copies of ethers in the consent-ledger/viem dApp").to.equal(0);
    // ethers' own words, in case its version string were ever minified away.
    expect(viemOnly, "ethers in the consent-ledger/viem dApp").to.not.match(
      /could not coalesce error|invalid BytesLike value/,
    );
    expect(withEthers, "ethers' words are what the check looks for").to.match(
      /could not coalesce error|invalid BytesLike value/,
    );
    console.log(
      `      Vite bundles: ethers dApp ${withEthers.length} B, viem dApp on the main entry ${withViem.length} B, viem dApp on consent-ledger/viem ${viemOnly.length} B`,
    );
  });
});

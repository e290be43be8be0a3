import { execFileSync } from "node:child_process";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

import { expect } from "chai";
import { JsonRpcProvider, Wallet } from "ethers";

import { AccessLog__factory, ConsentLedger__factory, KeyDirectory__factory, RecordRegistry__factory } from "../../typechain-types";
import { startLocalNode, type LocalNode } from "../helpers/local-node";
import { tempDirectory } from "../helpers/sdk";

// Hardhat's first two well-known development accounts (public test keys, never used on a real chain).
const ADMIN_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const PATIENT_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

/** What a dApp developer writes after `npm install consent-ledger-<version>.tgz` (see docs/sdk.md). */
const CONSUMER_EXAMPLE = `
const { JsonRpcProvider, Wallet } = require("ethers");
const { connect, AdminClient, PatientClient, MemoryBlobStore, sealRecord, openRecord, consentLedgerAbi, DataClass } = require("consent-ledger");
const { loadDeployment } = require("consent-ledger/node");

async function main() {
  const provider = new JsonRpcProvider(process.env.RPC_URL);
  const { chainId } = await provider.getNetwork();
  const deployment = await loadDeployment(chainId);
  const admin = new Wallet(process.env.ADMIN_KEY, provider);
  const patient = new Wallet(process.env.PATIENT_KEY, provider);
  const ledger = await connect(patient, deployment);

  await (await new AdminClient(await connect(admin, deployment), admin).accredit({ party: admin.address, roles: ["PROVIDER"] })).wait();
  const now = (await provider.getBlock("latest")).timestamp;
  const consent = await (await new PatientClient(ledger, patient).grant({
    grantee: admin.address, dataClasses: ["LAB_RESULT"], purposes: ["TREAT"], validUntil: now + 3600,
  })).wait();
  const allowed = await ledger.ledger.hasAccess(patient.address, admin.address, DataClass.LAB_RESULT, 0);

  const store = new MemoryBlobStore();
  const context = { chainId, registry: deployment.records, patient: patient.address, provider: admin.address,
    dataClass: DataClass.LAB_RESULT, version: 1, previousRecordId: "0x" + "00".repeat(32) };
  const sealed = await sealRecord(new TextEncoder().encode('{"resourceType":"Observation"}'), context);
  const cid = await store.put(sealed.envelope);
  const opened = await openRecord(await store.get(cid), sealed.dataKey, { recordId: sealed.recordId });
  console.log(JSON.stringify({ allowed, validUntil: consent.validUntil, text: new TextDecoder().decode(opened.plaintext),
    abiEntries: consentLedgerAbi.length }));
}
main().catch((error) => { console.error(error.message); process.exit(1); });
`;

describe("the packed SDK and CLI", function () {
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

  it("installs from `npm pack` into an empty project and runs the README example and the shipped CLI there", async function () {
    const root = path.resolve(__dirname, "../..");
    // Bounded, so that a hung npm fails this test instead of blocking the whole run.
    execFileSync("npm", ["pack", "--pack-destination", project.dir], { cwd: root, stdio: "pipe", timeout: 300_000 });
    const tarball = (await readdir(project.dir)).find((file) => file.endsWith(".tgz"));
    expect(tarball, "npm pack wrote no tarball").to.be.a("string");
    await writeFile(path.join(project.dir, "package.json"), JSON.stringify({ name: "consumer", private: true }));
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", `./${tarball}`], {
      cwd: project.dir,
      stdio: "pipe",
      timeout: 300_000,
    });

    // Deploy a suite to the node as `npm run deploy` would, and write its deployment file there.
    // No response cache: consecutive deployments must each see the nonce the previous one used.
    const provider = new JsonRpcProvider(node.url, undefined, { cacheTimeout: -1 });
    const admin = new Wallet(ADMIN_KEY, provider);
    const patient = new Wallet(PATIENT_KEY);
    const ledger = await (await new ConsentLedger__factory(admin).deploy(admin.address, 86400, 86400 * 365, 3600)).waitForDeployment();
    const ledgerAddress = await ledger.getAddress();
    const records = await (await new RecordRegistry__factory(admin).deploy(ledgerAddress)).waitForDeployment();
    const accessLog = await (await new AccessLog__factory(admin).deploy(ledgerAddress)).waitForDeployment();
    const keys = await (await new KeyDirectory__factory(admin).deploy()).waitForDeployment();
    await mkdir(path.join(project.dir, "deployments"));
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
    await writeFile(path.join(project.dir, "example.cjs"), CONSUMER_EXAMPLE);
    const output = execFileSync("node", ["example.cjs"], {
      cwd: project.dir,
      env: { ...process.env, RPC_URL: node.url, ADMIN_KEY, PATIENT_KEY },
      encoding: "utf8",
    });
    const result = JSON.parse(output.trim().split("\n").pop() as string);
    expect(result.allowed).to.equal(true);
    expect(result.text).to.equal('{"resourceType":"Observation"}');
    expect(result.abiEntries).to.be.greaterThan(50);

    // The CLI the package ships (bin: dist/cli/main.js), as `npm install` links it: help, a read, a write.
    const bin = path.join(project.dir, "node_modules", ".bin", "consent-ledger");
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
    expect(await readFile(path.join(project.dir, "node_modules", "consent-ledger", "dist", "cli", "main.js"), "utf8")).to.match(/^#!\/usr\/bin\/env node\n/);
    expect(cli(["--help"])).to.match(/consent-ledger/).and.match(/patient/).and.match(/researcher/);
    const listed = JSON.parse(cli(["--json", "patient", "consents", "--for", patient.address])) as { grantee: string }[];
    expect(listed.map((c) => c.grantee)).to.deep.equal([admin.address]);
    cli(["patient", "revoke", "--grantee", admin.address], PATIENT_KEY);
    const revoked = await ledger.queryFilter(ledger.filters.ConsentRevoked(patient.address, admin.address));
    expect(revoked.map((event) => event.args.actor)).to.deep.equal([patient.address]);
    expect(JSON.parse(cli(["--json", "patient", "consents", "--for", patient.address]))).to.deep.equal([]);

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

    // A browser dApp bundles it with Vite's defaults (no resolve conditions, no aliases): the "module"
    // export is the ES-module build, so the bundle holds one ethers, the page's own, and is tree-shaken.
    await writeFile(
      path.join(project.dir, "index.html"),
      '<!doctype html><html><body><script type="module" src="./page.js"></script></body></html>\n',
    );
    await writeFile(
      path.join(project.dir, "page.js"),
      [
        'import { BrowserProvider } from "ethers";',
        'import { PatientClient, openRecord, cidOf } from "consent-ledger";',
        "console.log(BrowserProvider, PatientClient, openRecord, cidOf);",
      ].join("\n"),
    );
    execFileSync("node", [path.join(root, "node_modules/vite/bin/vite.js"), "build", "--logLevel", "error"], {
      cwd: project.dir,
      stdio: "pipe",
      timeout: 300_000,
    });
    const assets = path.join(project.dir, "dist", "assets");
    const [bundle] = (await readdir(assets)).filter((file) => file.endsWith(".js"));
    const code = await readFile(path.join(assets, bundle), "utf8");
    const ethersVersion = JSON.parse(
      await readFile(path.join(project.dir, "node_modules", "ethers", "package.json"), "utf8"),
    ).version as string;
    expect(code.split(`"${ethersVersion}"`).length - 1, "copies of ethers in the bundle").to.equal(1);
    expect(code.length).to.be.below(600_000); // about 390 kB (the CommonJS build did not bundle at all)
  });
});

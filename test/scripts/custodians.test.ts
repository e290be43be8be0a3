import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

import { expect } from "chai";

import { CustodianSets__factory } from "../../typechain-types";
import { setupLedger, type LedgerSetup } from "../helpers/gateway-harness";
import { deployCustodianSets } from "../helpers/custodian-set-harness";
import { exited, freePort, killGroup, killOnExit, sharedLocalNode } from "../helpers/local-node";

const REPO_ROOT = path.resolve(__dirname, "..", "..");

describe("npm run custodians (a local custodian set)", function () {
  this.timeout(180_000);
  let setup: LedgerSetup;

  before(async function () {
    setup = await setupLedger(await sharedLocalNode());
    await deployCustodianSets(setup);
  });
  after(() => setup?.cleanup());

  it("starts n real gateways, one per custodian, defines the k-of-n set on chain, and stops on SIGINT", async function () {
    const deployments = path.join(setup.tempDir, "deployments");
    mkdirSync(deployments, { recursive: true });
    writeFileSync(path.join(deployments, "31337.json"), JSON.stringify(setup.deployment));
    const basePort = await freePort();
    const child = spawn(
      process.execPath,
      [
        "-r",
        "ts-node/register/transpile-only",
        "scripts/custodians.ts",
        "--n",
        "3",
        "--k",
        "2",
        "--rpc",
        setup.node.url,
        "--base-port",
        String(basePort),
        "--data-dir",
        path.join(setup.tempDir, "custodians"),
      ],
      { cwd: REPO_ROOT, env: { ...process.env, CONSENT_LEDGER_DEPLOYMENTS: deployments }, detached: true },
    );
    killOnExit(child);
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    try {
      for (let waited = 0; !/custodian set \d+: 2 of 3/.test(output); waited += 200) {
        if (waited > 120_000 || child.exitCode !== null) throw new Error(`the helper did not start: ${output}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const printed = JSON.parse(output.slice(output.indexOf("{"), output.lastIndexOf("}") + 1)) as {
        setId: number;
        threshold: number;
        custodians: { custodian: string; url: string }[];
      };
      const sets = CustodianSets__factory.connect(setup.deployment.custodianSets!, setup.provider);
      const onChain = await sets.setOf(printed.setId);
      expect(Number(onChain.threshold)).to.equal(2);
      expect(onChain.custodians).to.deep.equal(printed.custodians.map((entry) => entry.custodian));
      for (const [i, entry] of printed.custodians.entries()) {
        expect(entry.url).to.equal(`http://127.0.0.1:${basePort + i}`);
        const health = (await (await fetch(`${entry.url}/health`)).json()) as { custodian: string };
        expect(health.custodian).to.equal(entry.custodian);
        // Shares are wrapped to each custodian's registered key: the helper registered them.
        expect(await setup.contracts.keys.keyOf(entry.custodian)).to.not.match(/^0x0+$/);
      }
      process.kill(-child.pid!, "SIGINT");
      await exited(child);
      expect(child.exitCode).to.equal(0);
    } finally {
      killGroup(child);
    }
  });
});

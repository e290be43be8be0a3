/**
 * `npm run deploy -- --network localhost` as README ("Local node") shows it for a node on another port
 * than 8545: CONSENT_LEDGER_LOCALHOST_URL points the `localhost` network at it, and the script says it is
 * compiling before the (up to a minute) first compile. Deployment file and Ignition journal go to places
 * of the test's own, removed afterwards.
 */
import { execFile } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

import { expect } from "chai";
import { JsonRpcProvider } from "ethers";

import { startLocalNode, type LocalNode } from "../helpers/local-node";
import { tempDirectory } from "../helpers/sdk";

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, "..", "..");

describe("npm run deploy on a local node at another port", function () {
  this.timeout(300_000);
  const deploymentId = `test-deploy-localhost-${process.pid}`;
  let node: LocalNode;
  let out: { dir: string; cleanup: () => Promise<void> };

  before(async function () {
    out = await tempDirectory("deploy-localhost");
    node = await startLocalNode();
  });
  after(async function () {
    await node?.stop();
    await out?.cleanup();
    await rm(path.join(ROOT, "ignition", "deployments", deploymentId), { recursive: true, force: true });
  });

  it("deploys to the node CONSENT_LEDGER_LOCALHOST_URL names, after a line saying it compiles", async function () {
    expect(new URL(node.url).port).to.not.equal("8545");
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CONSENT_LEDGER_LOCALHOST_URL: node.url,
      CONSENT_LEDGER_DEPLOYMENTS: out.dir,
      CONSENT_LEDGER_DEPLOYMENT_ID: deploymentId,
    };
    delete env.HARDHAT_NETWORK; // `hardhat test` sets it, and it would override --network
    const { stdout, stderr } = await run("npm", ["run", "deploy", "--", "--network", "localhost"], {
      cwd: ROOT,
      env,
      maxBuffer: 16 * 1024 * 1024,
    });
    expect(stderr).to.match(/Compiling the contracts .*up to a minute/);
    expect(stdout).to.match(/ConsentLedger\s+0x[0-9a-fA-F]{40}/);
    const deployment = JSON.parse(await readFile(path.join(out.dir, "31337.json"), "utf8"));
    const provider = new JsonRpcProvider(node.url, undefined, { staticNetwork: true });
    try {
      expect(await provider.getCode(deployment.ledger)).to.not.equal("0x");
    } finally {
      provider.destroy();
    }
  });
});

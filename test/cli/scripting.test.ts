/**
 * The CLI as a script drives it: failures as one JSON object on stderr under --json, reads that need no
 * key, the deployment found the way `npm run deploy` and `npm run dapp` leave it, and a start quick
 * enough to call in a loop. Child processes of the bundled CLI against a real `hardhat node`.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { expect } from "chai";
import { Wallet } from "ethers";

import { buildCli, deployCliSuite, runCli, type CliResult, type CliSuite } from "../helpers/cli";
import { freePort, sharedLocalNode } from "../helpers/local-node";

interface ErrorObject {
  code: string;
  message: string;
  hint: string | null;
  exitCode: number;
}

/** The one JSON object a failure printed on stderr, checked to be alone there and stdout empty. */
function jsonError(result: CliResult, exitCode = 1): ErrorObject {
  expect(result.code, `exit code; stderr:\n${result.stderr}`).to.equal(exitCode);
  expect(result.stdout).to.equal("");
  const lines = result.stderr.trim().split("\n");
  expect(lines, result.stderr).to.have.length(1);
  const parsed = JSON.parse(lines[0]) as { error: ErrorObject };
  expect(Object.keys(parsed)).to.deep.equal(["error"]);
  expect(parsed.error.exitCode).to.equal(exitCode);
  return parsed.error;
}

function ok(result: CliResult): CliResult {
  expect(result.code, `exit code; stderr:\n${result.stderr}`).to.equal(0);
  return result;
}

describe("consent-ledger CLI for scripts", function () {
  this.timeout(120_000);

  let suite: CliSuite;
  let work: string;

  before(async function () {
    suite = await deployCliSuite(await sharedLocalNode());
    work = suite.workDir("scripting");
  });

  after(function () {
    suite?.cleanup();
  });

  describe("--json errors", function () {
    it("prints a usage mistake as one JSON object with code USAGE and exit code 2", async function () {
      const error = jsonError(await suite.run("patient", ["--json", "patient", "consents", "--bogus"]), 2);
      expect(error.code).to.equal("USAGE");
      expect(error.message).to.equal("unknown option '--bogus'");
    });

    it("prints a refused secret flag the same way", async function () {
      const error = jsonError(await suite.run(null, ["--json", "--private-key", "0x01", "patient", "consents"]), 2);
      expect(error.code).to.equal("USAGE");
      expect(error.message).to.match(/^--private-key is not an option: keys are never taken on the command line/);
      expect(error.hint).to.match(/^keys are never taken on the command line/);
    });

    it("splits a bad value's line into message and hint", async function () {
      const error = jsonError(
        await suite.run("patient", [
          "--json",
          "patient",
          "grant",
          "--grantee",
          "0x1234",
          "--classes",
          "LAB_RESULT",
          "--purposes",
          "HRESCH",
          "--until",
          "30d",
        ]),
      );
      expect(error).to.deep.equal({
        code: "INVALID_INPUT",
        message:
          '--grantee "0x1234" is not an address: pass 0x followed by 40 hex digits (in mixed case only with a valid checksum)',
        hint: "pass 0x followed by 40 hex digits (in mixed case only with a valid checksum)",
        exitCode: 1,
      });
    });

    it("names the ledger's custom error as the code of a refusal", async function () {
      const stranger = Wallet.createRandom().address;
      const error = jsonError(await suite.run("patient", ["--json", "patient", "revoke", "--grantee", stranger]));
      expect(error.code).to.equal("ConsentNotFound");
      expect(error.message).to.include(`ConsentNotFound(${suite.address.patient}, ${stranger})`);
      expect(error.hint).to.equal("There is no consent from this patient to this grantee.");
    });

    it("says NODE_UNREACHABLE when nothing answers at --rpc", async function () {
      const port = await freePort();
      const error = jsonError(
        await suite.run("patient", ["--json", "patient", "consents"], {
          env: { CONSENT_LEDGER_RPC: `http://127.0.0.1:${port}` },
        }),
      );
      expect(error.code).to.equal("NODE_UNREACHABLE");
      expect(error.hint).to.match(/^start one \(npx hardhat node\) or pass --rpc <url>/);
    });

    it("keeps plain one-line errors without --json", async function () {
      const result = await suite.run("patient", ["patient", "consents", "--bogus"]);
      expect(result.code).to.equal(2);
      expect(result.stderr.trim()).to.equal("error: unknown option '--bogus'");
    });
  });

  describe("reads without a key", function () {
    it("lists a researcher's requests and consents with --researcher and no key anywhere", async function () {
      const [requests, grants] = await Promise.all([
        suite.run(null, ["--json", "researcher", "requests", "--researcher", suite.address.researcher], { cwd: work }),
        suite.run(null, ["--json", "researcher", "grants", "--researcher", suite.address.researcher], { cwd: work }),
      ]);
      expect(JSON.parse(ok(requests).stdout)).to.be.an("array");
      expect(JSON.parse(ok(grants).stdout)).to.be.an("array");
    });

    it("reads a patient's consents, policy and audit trail with --for and no key", async function () {
      const results = await Promise.all(
        [
          ["patient", "consents"],
          ["patient", "policy", "show"],
          ["patient", "audit"],
        ].map((args) => suite.run(null, ["--json", ...args, "--for", suite.address.patient], { cwd: work })),
      );
      for (const result of results) JSON.parse(ok(result).stdout);
    });

    it("says which flag reads without a key when there is neither a key nor the flag", async function () {
      const [researcher, patient] = await Promise.all([
        suite.run(null, ["--json", "researcher", "requests"], { cwd: work }),
        suite.run(null, ["patient", "consents"], { cwd: work }),
      ]);
      const error = jsonError(researcher);
      expect(error.code).to.equal("NO_KEY");
      expect(error.message).to.match(/^no account to read for: pass --researcher <address> \(reading needs no key\)/);
      expect(patient.code).to.equal(1);
      expect(patient.stderr).to.match(/^error: no account to read for: pass --for <address> \(reading needs no key\)/);
    });
  });

  describe("finding the deployment", function () {
    /** A folder laid out as a clone in which `npm run deploy` or `npm run dapp` ran. */
    const clone = (files: Record<string, unknown>): string => {
      const dir = path.join(suite.root, "clones", Math.random().toString(36).slice(2));
      for (const [name, value] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        writeFileSync(path.join(dir, name), JSON.stringify(value));
      }
      mkdirSync(dir, { recursive: true });
      return dir;
    };
    const withoutVariable = { CONSENT_LEDGER_DEPLOYMENTS: undefined };
    const policyOf = (result: CliResult) => JSON.parse(ok(result).stdout) as { patient: string };
    const read = ["--json", "patient", "policy", "show", "--for"];

    it("uses deployments/<chainId>.json, as `npm run deploy` writes it", async function () {
      const cwd = clone({ "deployments/31337.json": suite.deployment });
      const result = await suite.run(null, [...read, suite.address.patient], { cwd, env: withoutVariable });
      expect(policyOf(result).patient).to.equal(suite.address.patient);
      expect(result.stderr).to.include(`Using the deployment in ${path.join("deployments", "31337.json")}`);
    });

    it("uses the dashboard's .dapp/<port>/deployments when deployments/ names a ledger the node no longer has", async function () {
      const stale = { ...suite.deployment, ledger: Wallet.createRandom().address };
      const cwd = clone({
        "deployments/31337.json": stale,
        ".dapp/5173/deployments/31337.json": suite.deployment,
      });
      const result = await suite.run(null, [...read, suite.address.patient], { cwd, env: withoutVariable });
      expect(policyOf(result).patient).to.equal(suite.address.patient);
      expect(result.stderr).to.include(
        `Using the deployment in ${path.join(".dapp", "5173", "deployments", "31337.json")}`,
      );
    });

    it("takes the file from CONSENT_LEDGER_DEPLOYMENT", async function () {
      const cwd = clone({ "elsewhere/suite.json": suite.deployment });
      const result = await suite.run(null, [...read, suite.address.patient], {
        cwd,
        env: { ...withoutVariable, CONSENT_LEDGER_DEPLOYMENT: path.join(cwd, "elsewhere", "suite.json") },
      });
      expect(policyOf(result).patient).to.equal(suite.address.patient);
    });

    it("names every place it looked and the flag and variables to set when there is none", async function () {
      const cwd = clone({});
      const error = jsonError(await suite.run(null, [...read, suite.address.patient], { cwd, env: withoutVariable }));
      expect(error.code).to.equal("DEPLOYMENT_NOT_FOUND");
      expect(error.message).to.equal(
        `no Consent Ledger deployment for chain 31337 (looked for ${path.join("deployments", "31337.json")} and .dapp/*/deployments/31337.json): deploy with \`npm run deploy -- --network <name>\`, or pass --deployment <file> (or set CONSENT_LEDGER_DEPLOYMENT to the file, or CONSENT_LEDGER_DEPLOYMENTS to its folder)`,
      );
    });

    it("says the found files are stale when none names a ledger with code", async function () {
      const stale = { ...suite.deployment, ledger: Wallet.createRandom().address };
      const cwd = clone({ "deployments/31337.json": stale });
      const error = jsonError(await suite.run(null, [...read, suite.address.patient], { cwd, env: withoutVariable }));
      expect(error.code).to.equal("DEPLOYMENT_NOT_FOUND");
      expect(error.message).to.match(
        /^no deployment on chain 31337 has contracts on this node \(.*deployments\/31337\.json name a ledger with no code/,
      );
    });
  });

  describe("the built command", function () {
    it("is one file that runs --help with no node_modules beside it", async function () {
      const alone = mkdtempSync(path.join(os.tmpdir(), "consent-ledger-alone-"));
      try {
        copyFileSync(buildCli(), path.join(alone, "consent-ledger.js"));
        const result = await runCli(["--help"], {
          cwd: alone,
          command: [process.execPath, path.join(alone, "consent-ledger.js")],
        });
        expect(ok(result).stdout).to.match(/^Usage: consent-ledger \[options\] \[command\]/);
      } finally {
        rmSync(alone, { recursive: true, force: true });
      }
    });
  });
});

/**
 * The patient, provider, relayer, administrator and key commands of the CLI, run as child processes
 * against a real `hardhat node`, each result checked on chain or on disk.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

import { expect } from "chai";
import type { Command } from "commander";
import { Wallet } from "ethers";

import { buildProgram } from "../../cli/main";
import { Role } from "../../sdk/codes";
import { cidFromRecordId } from "../../sdk/storage/blob-store";
import { ConsentLedger__factory, CustodianSets__factory, RecordRegistry__factory } from "../../typechain-types";
import {
  cliCommand,
  deployCliSuite,
  labObservation,
  REPO_ROOT,
  runCli,
  type CliResult,
  type CliSuite,
} from "../helpers/cli";
import { sharedLocalNode } from "../helpers/local-node";

function ok(result: CliResult): CliResult {
  expect(result.code, `exit code; stderr:\n${result.stderr}`).to.equal(0);
  return result;
}

function json<T = Record<string, unknown>>(result: CliResult): T {
  return JSON.parse(ok(result).stdout) as T;
}

function failed(result: CliResult, code = 1): string {
  expect(result.code, `exit code; stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).to.equal(code);
  expect(result.errorLines, result.stderr).to.have.length(1);
  return result.errorLines[0];
}

const DATA_CLASS = { LAB_RESULT: 0, IMAGING: 2, MEDICATION: 3 };
const PURPOSE = { TREAT: 0, HRESCH: 3, CLINTRCH: 5 };

describe("consent-ledger CLI commands", function () {
  this.timeout(120_000);

  let suite: CliSuite;
  let work: string;

  before(async function () {
    suite = await deployCliSuite(await sharedLocalNode());
    work = suite.workDir("commands");
  });

  after(function () {
    suite?.cleanup();
  });

  const ledger = async () => ConsentLedger__factory.connect(suite.deployment.ledger, suite.provider);

  describe("help", function () {
    it("runs `npm run cli -- --help` from the repository, as the README says", async function () {
      const result = await runCli(["--help"], {
        command: ["npm", "run", "--silent", "cli", "--"],
        cwd: REPO_ROOT,
      });
      expect(result.code).to.equal(0);
      expect(result.stdout).to.include("Usage: consent-ledger");
      for (const group of ["researcher", "patient", "provider", "admin", "relay", "keys"])
        expect(result.stdout).to.include(group);
    });

    it("has a description and --help on every command", function () {
      const leaves: string[] = [];
      const walk = (command: Command, words: string[]) => {
        const help = command.helpInformation();
        expect(help, words.join(" ")).to.match(
          new RegExp(`^Usage: consent-ledger${words.length ? " " + words.join(" ") : ""}`),
        );
        expect(command.description(), `description of ${words.join(" ")}`).to.not.equal("");
        if (command.commands.length === 0) leaves.push(words.join(" "));
        for (const sub of command.commands) walk(sub, [...words, sub.name()]);
      };
      walk(buildProgram(), []);
      expect(leaves).to.include.members([
        "researcher fetch",
        "patient sign approve",
        "patient policy set",
        "provider publish-batch",
        "admin accredit",
        "relay",
        "keys create-keystore",
      ]);
    });

    it("run from its sources before the contracts are compiled, prints help and says to compile for the rest", async function () {
      // The built CLI carries the bindings inside it; started from the sources through ts-node
      // (CLI_TEST_RUNNER=ts-node, or a developer's editor), it finds none in a fresh clone.
      // A fresh clone has no typechain-types/ until `hardhat compile`: hide them from the child.
      const blocker = path.join(work, "no-typechain.js");
      writeFileSync(
        blocker,
        `const Module = require("module"); const resolve = Module._resolveFilename;
         Module._resolveFilename = function (request, ...rest) {
           if (request.includes("typechain-types")) { const e = new Error("Cannot find module '" + request + "'"); e.code = "MODULE_NOT_FOUND"; throw e; }
           return resolve.call(this, request, ...rest);
         };`,
      );
      const [node, ...script] = cliCommand("ts-node");
      const command = [node, "-r", blocker, ...script];
      const [top, nested, withoutBindings] = await Promise.all([
        suite.run(null, ["--help"], { command, cwd: work }),
        suite.run(null, ["patient", "sign", "approve", "--help"], { command, cwd: work }),
        suite.run("patient", ["patient", "records"], { command, cwd: work }),
      ]);
      expect(ok(top).stdout).to.match(/^Usage: consent-ledger \[options\] \[command\]/);
      expect(ok(nested).stdout).to.match(/^Usage: consent-ledger patient sign approve \[options\] <requestId>/);
      expect(failed(withoutBindings)).to.equal(
        "error: the contract bindings (typechain-types/) are missing: run `npx hardhat compile` once in this clone, then try again.",
      );
    });
  });

  describe("provider", function () {
    let first: { recordId: string; cid: string };

    it("publishes a FHIR file: ciphertext in --store, data key wrapped in a 0600 key file", async function () {
      writeFileSync(path.join(work, "obs.json"), JSON.stringify(labObservation("a", 5.1)));
      first = json(
        await suite.run(
          "lab",
          [
            "--json",
            "provider",
            "publish",
            "--patient",
            suite.address.patient,
            "--class",
            "LAB_RESULT",
            "--file",
            "obs.json",
          ],
          { cwd: work },
        ),
      );
      expect(first.cid).to.equal(cidFromRecordId(first.recordId));
      const shard = first.cid.slice(-3, -1);
      expect(existsSync(path.join(work, ".consent-ledger", "store", shard, first.cid))).to.equal(true);
      const keyFile = path.join(work, ".consent-ledger", "keys", `31337-${suite.address.lab}.json`);
      expect(statSync(keyFile).mode & 0o777).to.equal(0o600);
      const keys = JSON.parse(readFileSync(keyFile, "utf8"));
      expect(keys.records[first.recordId].wrappedKey).to.match(/^0x[0-9a-f]{192}$/);
    });

    it("amends a record into version 2, and the patient sees both versions", async function () {
      writeFileSync(path.join(work, "obs-corrected.json"), JSON.stringify(labObservation("a", 5.3)));
      const amended = json<{ version: number; previousRecordId: string; recordId: string }>(
        await suite.run(
          "lab",
          ["--json", "provider", "amend", "--record", first.recordId, "--file", "obs-corrected.json"],
          { cwd: work },
        ),
      );
      expect(amended).to.include({ version: 2, previousRecordId: first.recordId });
      const table = ok(await suite.run("patient", ["patient", "records"], { cwd: work })).stdout;
      expect(table).to.match(new RegExp(`${first.recordId}\\s+LAB_RESULT\\s+1\\s+0x3C44…93BC\\s+superseded`));
      expect(table).to.match(new RegExp(`${amended.recordId}\\s+LAB_RESULT\\s+2\\s+0x3C44…93BC\\s+current`));
    });

    it("publishes a folder as one batch, by file names or by a CSV manifest", async function () {
      const byName = path.join(work, "batch-names");
      mkdirSync(byName);
      writeFileSync(
        path.join(byName, `${suite.address.patient}.LAB_RESULT.json`),
        JSON.stringify(labObservation("b1", 6.0)),
      );
      writeFileSync(
        path.join(byName, `${suite.address.otherPatient}.VITAL_SIGNS.morning.json`),
        JSON.stringify({ resourceType: "Observation", status: "final" }),
      );
      const batch = json<{ root: string; records: { patient: string; dataClass: string; batch: { root: string } }[] }>(
        await suite.run("lab", ["--json", "provider", "publish-batch", "--dir", "batch-names"], { cwd: work }),
      );
      expect(batch.records.map((r) => [r.patient, r.dataClass])).to.have.deep.members([
        [suite.address.patient, "LAB_RESULT"],
        [suite.address.otherPatient, "VITAL_SIGNS"],
      ]);
      const stored = await RecordRegistry__factory.connect(suite.deployment.records, suite.provider).batchOf(
        batch.root,
      );
      expect(stored.recordCount).to.equal(2n);

      const byCsv = path.join(work, "batch-csv");
      mkdirSync(byCsv);
      writeFileSync(
        path.join(byCsv, "x.json"),
        JSON.stringify({ resourceType: "MedicationStatement", status: "active" }),
      );
      writeFileSync(path.join(byCsv, "map.csv"), `file,patient,class\nx.json,${suite.address.patient},MEDICATION\n`);
      const csv = json<{ records: { dataClass: string }[] }>(
        await suite.run(
          "lab",
          ["--json", "provider", "publish-batch", "--dir", "batch-csv", "--manifest", "batch-csv/map.csv"],
          { cwd: work },
        ),
      );
      expect(csv.records.map((r) => r.dataClass)).to.deep.equal(["MEDICATION"]);
    });
  });

  describe("patient", function () {
    it("grants, lists and revokes a consent", async function () {
      const granted = ok(
        await suite.run(
          "patient",
          [
            "patient",
            "grant",
            "--grantee",
            suite.address.otherResearcher,
            "--classes",
            "LAB_RESULT,IMAGING",
            "--purposes",
            "TREAT,HRESCH",
            "--until",
            "30d",
          ],
          { cwd: work },
        ),
      );
      expect(granted.stdout).to.match(/classes\s+LAB_RESULT,IMAGING/);
      expect(
        await (
          await ledger()
        ).hasAccess(suite.address.patient, suite.address.otherResearcher, DATA_CLASS.IMAGING, PURPOSE.HRESCH),
      ).to.equal(true);
      const consents = ok(await suite.run("patient", ["patient", "consents"], { cwd: work })).stdout;
      expect(consents).to.match(/0x15d3…6A65\s+LAB_RESULT,IMAGING\s+TREAT,HRESCH/);
      ok(await suite.run("patient", ["patient", "revoke", "--grantee", suite.address.otherResearcher], { cwd: work }));
      expect(
        await (
          await ledger()
        ).hasAccess(suite.address.patient, suite.address.otherResearcher, DATA_CLASS.IMAGING, PURPOSE.HRESCH),
      ).to.equal(false);
    });

    it("prints what a grant replaces as it sends, and records it in the result", async function () {
      const grant = (classes: string) => [
        "patient",
        "grant",
        "--grantee",
        suite.address.otherResearcher,
        "--classes",
        classes,
        "--purposes",
        "TREAT",
        "--until",
        "30d",
      ];
      const first = ok(await suite.run("patient", grant("LAB_RESULT,IMAGING"), { cwd: work }));
      expect(first.stderr).to.match(/New consent for 0x15d3…6A65: LAB_RESULT,IMAGING for TREAT, now → /);
      expect(first.stdout).to.match(/replaced\s+nothing in force/);

      const second = ok(await suite.run("patient", ["--json", ...grant("IMAGING")], { cwd: work }));
      expect(second.stderr).to.match(
        /Replaces 0x15d3…6A65's consent: LAB_RESULT,IMAGING for TREAT, .* → .*\n\s+with: IMAGING for TREAT, now → /,
      );
      const result = JSON.parse(second.stdout) as { dataClasses: string[]; replaced: { dataClasses: string[] } | null };
      expect(result.dataClasses).to.deep.equal(["IMAGING"]);
      expect(result.replaced?.dataClasses).to.deep.equal(["LAB_RESULT", "IMAGING"]);
      ok(await suite.run("patient", ["patient", "revoke", "--grantee", suite.address.otherResearcher], { cwd: work }));
    });

    it("lets a delegate act --for the patient, until the patient removes the delegate", async function () {
      ok(
        await suite.run("patient", ["patient", "delegate", "add", suite.address.delegate, "--until", "7d"], {
          cwd: work,
        }),
      );
      const args = [
        "patient",
        "grant",
        "--for",
        suite.address.patient,
        "--grantee",
        suite.address.hospital,
        "--classes",
        "MEDICATION",
        "--purposes",
        "TREAT",
        "--until",
        "2d",
      ];
      ok(await suite.run("delegate", args, { cwd: work }));
      expect(
        await (
          await ledger()
        ).hasAccess(suite.address.patient, suite.address.hospital, DATA_CLASS.MEDICATION, PURPOSE.TREAT),
      ).to.equal(true);
      // The default scope (TREAT, ETREAT, CAREMGT, no sensitive classes) is listed, and bites: no PATRQT,
      // no substance use, nothing past the appointment.
      const delegates = json<{ delegate: string; purposes: string[]; sensitiveClasses: boolean }[]>(
        await suite.run(null, ["--json", "patient", "delegate", "list", "--for", suite.address.patient], { cwd: work }),
      );
      expect(
        delegates.map(({ delegate, purposes, sensitiveClasses }) => ({ delegate, purposes, sensitiveClasses })),
      ).to.deep.equal([
        { delegate: suite.address.delegate, purposes: ["TREAT", "ETREAT", "CAREMGT"], sensitiveClasses: false },
      ]);
      const outOfScope = args.map((arg) => (arg === "TREAT" ? "PATRQT" : arg === "MEDICATION" ? "SUBSTANCE_USE" : arg));
      expect(failed(await suite.run("delegate", outOfScope, { cwd: work }))).to.match(
        /^error: The ledger refused: DelegateScopeExceeded\(.*did not let this delegate/,
      );
      const tooLong = args.map((arg) => (arg === "2d" ? "30d" : arg));
      expect(failed(await suite.run("delegate", tooLong, { cwd: work }))).to.match(
        /^error: The ledger refused: DelegateGrantOutlivesAppointment\(/,
      );
      const listed = json<{ grantee: string }[]>(
        await suite.run(null, ["--json", "patient", "consents", "--for", suite.address.patient], { cwd: work }),
      );
      expect(listed.map((c) => c.grantee)).to.include(suite.address.hospital);
      ok(await suite.run("patient", ["patient", "delegate", "remove", suite.address.delegate], { cwd: work }));
      expect(failed(await suite.run("delegate", args, { cwd: work }))).to.match(
        /^error: The ledger refused: NotPatientOrDelegate\(.*Only the patient or a delegate/,
      );
    });

    it("sets, shows and clears a standing policy", async function () {
      ok(
        await suite.run(
          "patient",
          [
            "patient",
            "policy",
            "set",
            "--permission",
            "HMB",
            "--modifiers",
            "NPU,IRB",
            "--classes",
            "LAB_RESULT,VITAL_SIGNS",
            "--max-duration",
            "1y",
          ],
          { cwd: work },
        ),
      );
      const shown = json<{ policy: { permission: string; modifiers: string[]; dataClasses: string[] } }>(
        await suite.run("patient", ["--json", "patient", "policy", "show"], { cwd: work }),
      );
      expect(shown.policy).to.deep.include({ permission: "HMB", dataClasses: ["LAB_RESULT", "VITAL_SIGNS"] });
      expect(shown.policy.modifiers).to.have.members(["IRB", "NPU", "TS"]); // --max-duration adds TS, the time limit
      // A non-profit researcher who accepts the IRB obligation, names an approved protocol and asks within
      // the time limit is approved at once; asking for longer waits for the patient.
      writeFileSync(path.join(work, "irb-approval.txt"), "IRB approval 2026-42\n");
      const request = [
        "researcher",
        "request",
        "--patient",
        suite.address.patient,
        "--classes",
        "VITAL_SIGNS",
        "--purpose",
        "HRESCH",
        "--category",
        "HMB",
        "--obligations",
        "IRB",
        "--protocol",
        "irb-approval.txt",
        "--study",
        "bp-2026",
      ];
      const matched = ok(await suite.run("researcher", [...request, "--duration", "180d"], { cwd: work }));
      expect(matched.stdout).to.match(/status\s+Approved at once by the patient's standing policy/);
      const tooLong = json<{ status: string }>(
        await suite.run("researcher", ["--json", ...request, "--duration", "2y"], { cwd: work }),
      );
      expect(tooLong.status).to.equal("Pending");
      ok(await suite.run("patient", ["patient", "policy", "clear"], { cwd: work }));
      expect(ok(await suite.run("patient", ["patient", "policy", "show"], { cwd: work })).stdout).to.include(
        "No standing policy",
      );
    });

    it("opts out of emergency access and back in", async function () {
      ok(await suite.run("patient", ["patient", "emergency", "opt-out"], { cwd: work }));
      expect(await (await ledger()).emergencyOptedOut(suite.address.patient)).to.equal(true);
      expect(
        ok(await suite.run(null, ["patient", "emergency", "status", "--for", suite.address.patient], { cwd: work }))
          .stdout,
      ).to.match(/refused/);
      ok(await suite.run("patient", ["patient", "emergency", "opt-in"], { cwd: work }));
      expect(await (await ledger()).emergencyOptedOut(suite.address.patient)).to.equal(false);
    });

    it("signs a grant to a file that a relayer submits, so the patient pays no gas", async function () {
      const before = await suite.provider.getBalance(suite.address.patient);
      const signed = ok(
        await suite.run(
          "patient",
          [
            "patient",
            "sign",
            "grant",
            "--grantee",
            suite.address.otherResearcher,
            "--classes",
            "MEDICATION",
            "--purposes",
            "CLINTRCH",
            "--until",
            "10d",
            "--out",
            "signed-grant.json",
          ],
          {
            cwd: work,
          },
        ),
      );
      expect(signed.stdout).to.include("consent-ledger relay signed-grant.json");
      const file = JSON.parse(readFileSync(path.join(work, "signed-grant.json"), "utf8"));
      expect(file).to.include({ kind: "grant", signer: suite.address.patient });
      const relayed = ok(await suite.run("relayer", ["relay", "signed-grant.json"], { cwd: work }));
      expect(relayed.stdout).to.match(/relayed\s+grant/);
      expect(await suite.provider.getBalance(suite.address.patient)).to.equal(before);
      expect(
        await (
          await ledger()
        ).hasAccess(suite.address.patient, suite.address.otherResearcher, DATA_CLASS.MEDICATION, PURPOSE.CLINTRCH),
      ).to.equal(true);
      // A signature is good once.
      expect(failed(await suite.run("relayer", ["relay", "signed-grant.json"], { cwd: work }))).to.match(
        /NonceAlreadyUsed.*ask the signer for a new one/,
      );
    });

    it("signs a denial of a request for a relayer", async function () {
      const request = json<{ requestId: string }>(
        await suite.run(
          "researcher",
          [
            "--json",
            "researcher",
            "request",
            "--patient",
            suite.address.patient,
            "--classes",
            "IMAGING",
            "--purpose",
            "CLINTRCH",
            "--category",
            "GRU",
            "--duration",
            "30d",
            "--study",
            "trial-7",
          ],
          {
            cwd: work,
          },
        ),
      );
      ok(
        await suite.run(
          "patient",
          ["patient", "sign", "deny", request.requestId, "--out", "signed-deny.json", "--deadline", "2h"],
          { cwd: work },
        ),
      );
      ok(await suite.run("relayer", ["relay", "signed-deny.json"], { cwd: work }));
      const all = json<{ requestId: string; status: string }[]>(
        await suite.run("patient", ["--json", "patient", "requests", "--all"], { cwd: work }),
      );
      expect(all.find((view) => view.requestId === request.requestId)?.status).to.equal("Denied");
    });

    it("writes the audit trail as JSON and as a FHIR Bundle of AuditEvents", async function () {
      const result = ok(await suite.run("patient", ["patient", "audit", "--out-dir", "audit"], { cwd: work }));
      const trail = JSON.parse(readFileSync(path.join(work, "audit", "audit.json"), "utf8")) as {
        action: string;
        timeIso: string;
      }[];
      const bundle = JSON.parse(readFileSync(path.join(work, "audit", "audit.fhir.json"), "utf8"));
      expect(bundle).to.include({ resourceType: "Bundle", type: "collection" });
      expect(bundle.entry).to.have.length(trail.length);
      expect(
        bundle.entry.every(
          (entry: { resource: { resourceType: string } }) => entry.resource.resourceType === "AuditEvent",
        ),
      ).to.equal(true);
      expect(trail.map((entry) => entry.action)).to.include.members([
        "record-anchored",
        "record-amended",
        "consent-granted",
        "consent-revoked",
        "delegate-appointed",
        "policy-set",
        "request-denied",
      ]);
      expect(result.stdout.split("\n").length).to.equal(trail.length + 2); // header, rows, final newline
    });
  });

  describe("admin", function () {
    it("accredits, suspends, shows and reinstates a party", async function () {
      const party = Wallet.createRandom().address;
      ok(
        await suite.run("admin", ["admin", "accredit", party, "--roles", "PROVIDER,CUSTODIAN", "--until", "1y"], {
          cwd: work,
        }),
      );
      expect(await (await ledger()).isAccredited(party, Role.CUSTODIAN)).to.equal(true);
      ok(await suite.run("admin", ["admin", "suspend", party, "--reason", "7"], { cwd: work }));
      expect(ok(await suite.run(null, ["admin", "show", party], { cwd: work })).stdout).to.match(/status\s+suspended/);
      ok(await suite.run("admin", ["admin", "reinstate", party], { cwd: work }));
      const shown = json<{ roles: string[]; active: boolean }>(
        await suite.run(null, ["--json", "admin", "show", party], { cwd: work }),
      );
      expect(shown).to.deep.include({ roles: ["PROVIDER", "CUSTODIAN"], active: true });
    });

    it("refuses a non-administrator with the ledger's decoded error", async function () {
      expect(failed(await suite.run("stranger", ["admin", "suspend", suite.address.lab], { cwd: work }))).to.match(
        /OwnableUnauthorizedAccount.*Only the administrator/,
      );
    });
  });

  describe("key sources", function () {
    it("encrypts the environment's key into a keystore, then signs with the keystore alone", async function () {
      const env = { CONSENT_LEDGER_KEYSTORE_PASSWORD: "correct horse battery staple" };
      const created = json<{ address: string }>(
        await suite.run("patient", ["--json", "keys", "create-keystore", "--out", "patient.keystore.json"], {
          cwd: work,
          env,
        }),
      );
      expect(created.address).to.equal(suite.address.patient);
      expect(statSync(path.join(work, "patient.keystore.json")).mode & 0o777).to.equal(0o600);
      const viaKeystore = json<{ address: string; source: string }>(
        await suite.run(null, ["--json", "--keystore", "patient.keystore.json", "keys", "address"], { cwd: work, env }),
      );
      expect(viaKeystore).to.deep.equal({ address: suite.address.patient, source: "keystore" });
      // And a transaction signed with it.
      ok(
        await suite.run(null, ["--keystore", "patient.keystore.json", "patient", "emergency", "opt-in"], {
          cwd: work,
          env,
        }),
      );

      const wrong = await suite.run(null, ["--keystore", "patient.keystore.json", "keys", "address"], {
        cwd: work,
        env: { CONSENT_LEDGER_KEYSTORE_PASSWORD: "wrong" },
      });
      expect(failed(wrong)).to.equal(
        "error: wrong password for keystore patient.keystore.json: check CONSENT_LEDGER_KEYSTORE_PASSWORD",
      );
      const existing = await suite.run("patient", ["keys", "create-keystore", "--out", "patient.keystore.json"], {
        cwd: work,
        env,
      });
      expect(failed(existing)).to.match(/exists already: choose another file, or add --force/);
    });

    it("reads a key set with `npx hardhat vars set CONSENT_LEDGER_KEY_<ACCOUNT>`", async function () {
      const configHome = path.join(suite.root, "xdg-config");
      const hardhat = require.resolve("hardhat/internal/cli/cli.js", { paths: [REPO_ROOT] });
      const set = await runCli(["vars", "set", "CONSENT_LEDGER_KEY_RELAYER", suite.key.relayer], {
        command: [process.execPath, hardhat],
        cwd: REPO_ROOT,
        env: { XDG_CONFIG_HOME: configHome },
      });
      expect(set.code, set.stderr).to.equal(0);
      const viaVar = json<{ address: string; source: string }>(
        await suite.run(null, ["--json", "--account", "relayer", "keys", "address"], { cwd: work }),
      );
      expect(viaVar).to.deep.equal({ address: suite.address.relayer, source: "hardhat-var" });
      expect(failed(await suite.run(null, ["--account", "nobody", "keys", "address"], { cwd: work }))).to.equal(
        "error: no Hardhat variable CONSENT_LEDGER_KEY_NOBODY: set it with `npx hardhat vars set CONSENT_LEDGER_KEY_NOBODY`",
      );
    });
  });

  describe("custodians", function () {
    let custodians: string[];

    before(async function () {
      // CustodianSets beside the suite, named in the deployment file the CLI reads.
      const sets = await (
        await new CustodianSets__factory(suite.signer.admin).deploy(suite.deployment.ledger, suite.deployment.records)
      ).waitForDeployment();
      suite.deployment.custodianSets = await sets.getAddress();
      writeFileSync(path.join(suite.deploymentsDir, "31337.json"), JSON.stringify(suite.deployment, null, 2));
      custodians = [suite.address.hospital, Wallet.createRandom().address, Wallet.createRandom().address];
      for (const custodian of custodians.slice(1))
        await (await (await ledger()).connect(suite.signer.admin).accredit(custodian, Role.CUSTODIAN, false, 0)).wait();
    });

    it("defines a set as a provider, shows it, and says which set guards a record", async function () {
      const defined = json<{ setId: number; threshold: number; custodians: string[]; transactionHash: string }>(
        await suite.run(
          "hospital",
          ["--json", "custodians", "define", "--custodians", custodians.join(","), "--threshold", "2"],
          { cwd: work },
        ),
      );
      expect([defined.threshold, defined.custodians]).to.deep.equal([2, custodians]);
      const sets = CustodianSets__factory.connect(suite.deployment.custodianSets!, suite.provider);
      expect((await sets.setOf(defined.setId)).custodians).to.deep.equal(custodians);
      expect(ok(await suite.run(null, ["custodians", "show", String(defined.setId)], { cwd: work })).stdout).to.match(
        /threshold\s+2 of 3/,
      );

      const recordId = `0x${"ab".repeat(32)}`;
      const registry = RecordRegistry__factory.connect(suite.deployment.records, suite.signer.hospital);
      await (
        await registry.anchorRecord(
          suite.address.patient,
          recordId,
          DATA_CLASS.LAB_RESULT,
          new TextEncoder().encode("ipfs://x"),
        )
      ).wait();
      expect(json(await suite.run(null, ["--json", "custodians", "record", recordId], { cwd: work }))).to.deep.equal({
        recordId,
        setId: null,
        threshold: null,
        custodians: [],
      });
      await (await sets.connect(suite.signer.hospital).assignRecord(recordId, defined.setId)).wait();
      expect(json(await suite.run(null, ["--json", "custodians", "record", recordId], { cwd: work }))).to.deep.equal({
        recordId,
        setId: defined.setId,
        threshold: 2,
        custodians,
      });
    });

    it("refuses a bad threshold, a repeated custodian and an unknown set in one line, and a non-provider's set on chain", async function () {
      const list = custodians.join(",");
      expect(
        failed(
          await suite.run("hospital", ["custodians", "define", "--custodians", list, "--threshold", "1"], {
            cwd: work,
          }),
        ),
      ).to.contain("--threshold");
      expect(
        failed(
          await suite.run(
            "hospital",
            ["custodians", "define", "--custodians", `${list},${custodians[1]}`, "--threshold", "2"],
            { cwd: work },
          ),
        ),
      ).to.contain("twice");
      expect(failed(await suite.run(null, ["custodians", "show", "999"], { cwd: work }))).to.contain(
        "no custodian set 999",
      );
      expect(
        failed(
          await suite.run("researcher", ["custodians", "define", "--custodians", list, "--threshold", "2"], {
            cwd: work,
          }),
        ),
      ).to.match(/accredit|PROVIDER/i);
    });
  });
});

/**
 * Every mistake a CLI user can make ends the same way: one line on stderr that says what went wrong and
 * what to do, exit code 1 (2 when commander cannot parse the command line), nothing on stdout, and
 * nothing changed on chain or on disk. The cases run as child processes against a real `hardhat node`,
 * all at once; the chain's block number and the working folder are compared before and after.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

import { expect } from "chai";
import { Wallet } from "ethers";

import { Role } from "../../sdk/codes";
import { ConsentLedger__factory } from "../../typechain-types";
import {
  deployCliSuite,
  labObservation,
  snapshotTree,
  type CastName,
  type CliResult,
  type CliSuite,
} from "../helpers/cli";
import { freePort, sharedLocalNode } from "../helpers/local-node";

interface Case {
  who: CastName | null;
  args: string[];
  env?: Record<string, string | undefined>;
  /** The whole stderr line, or a pattern for it. */
  expected: string | RegExp;
  code?: number;
}

describe("consent-ledger CLI errors", function () {
  this.timeout(120_000);

  let suite: CliSuite;
  let work: string;
  let decidedRequestId: string;
  const brokeProvider = Wallet.createRandom();
  const brokePatient = Wallet.createRandom();
  const results = new Map<string, CliResult>();
  let blockBefore: number;
  let blockAfter: number;
  let diskBefore: string[];
  let diskAfter: string[];
  let deadPort: number;

  const cases = (): Record<string, Case> => {
    const grant = [
      "patient",
      "grant",
      "--grantee",
      suite.address.researcher,
      "--classes",
      "LAB_RESULT",
      "--purposes",
      "HRESCH",
      "--until",
      "30d",
    ];
    const request = [
      "researcher",
      "request",
      "--patient",
      suite.address.patient,
      "--classes",
      "LAB_RESULT",
      "--purpose",
      "HRESCH",
      "--category",
      "HMB",
      "--duration",
      "90d",
      "--study",
      "s1",
    ];
    const publish = [
      "provider",
      "publish",
      "--patient",
      suite.address.patient,
      "--class",
      "LAB_RESULT",
      "--file",
      "obs.json",
    ];
    const replace = (args: string[], option: string, value: string) =>
      args.map((arg, i) => (args[i - 1] === option ? value : arg));
    return {
      "a bad address": {
        who: "patient",
        args: replace(grant, "--grantee", "0x1234"),
        expected:
          'error: --grantee "0x1234" is not an address: pass 0x followed by 40 hex digits (in mixed case only with a valid checksum)',
      },
      "an unknown purpose": {
        who: "patient",
        args: replace(grant, "--purposes", "RESEARCH"),
        expected:
          'error: unknown purpose "RESEARCH": use one of TREAT, ETREAT, CAREMGT, HRESCH, BIORCH, CLINTRCH, PUBHLTH, HPAYMT, HOPERAT, PATRQT',
      },
      "an unknown data class": {
        who: "researcher",
        args: replace(request, "--classes", "LAB_RESULT,LABS"),
        expected: /^error: unknown data class "LABS": use one of LAB_RESULT, VITAL_SIGNS, IMAGING, .*, SUBSTANCE_USE$/,
      },
      "a research purpose without a DUO category": {
        who: "researcher",
        args: request.filter((arg, i) => arg !== "--category" && request[i - 1] !== "--category"),
        expected: "error: --purpose HRESCH is a research purpose: add --category GRU, HMB, DS (with --disease) or POA",
      },
      "a request for a purpose that is not research": {
        who: "researcher",
        args: replace(request, "--purpose", "PATRQT"),
        expected:
          "error: --purpose PATRQT: requests are for research purposes only (HRESCH, BIORCH or CLINTRCH); ask the patient to grant other purposes directly",
      },
      "a duration without a unit it knows": {
        who: "researcher",
        args: replace(request, "--duration", "90x"),
        expected: 'error: --duration "90x" is not a duration: use a number and a unit, e.g. 3600s, 12h, 90d or 1y',
      },
      "an end in the past": {
        who: "patient",
        args: replace(grant, "--until", "2020-01-01"),
        expected: 'error: --until "2020-01-01" is in the past (2020-01-01T00:00:00.000Z): choose a time after now',
      },
      "a file that is not FHIR JSON": {
        who: "lab",
        args: replace(publish, "--file", "not-fhir.json"),
        expected:
          'error: not-fhir.json is not FHIR JSON: resourceType missing; a FHIR resource names its type, e.g. "resourceType": "Observation"',
      },
      "a file that is not JSON at all": {
        who: "lab",
        args: replace(publish, "--file", "notes.txt"),
        expected:
          'error: notes.txt is not FHIR JSON: it is not JSON at all; pass a FHIR R4 resource such as {"resourceType": "Observation", ...}',
      },
      "a file that does not exist": {
        who: "lab",
        args: replace(publish, "--file", "missing.json"),
        expected: "error: missing.json does not exist: check the path",
      },
      "a deployment of another chain (wrong network)": {
        who: "patient",
        args: ["--deployment", "chain-1.json", ...grant],
        expected:
          "error: Connected to chain 31337, but the deployment is on chain 1. Switch the wallet or --rpc URL to the deployment's network.",
      },
      "no deployment on this chain": {
        who: "patient",
        args: ["patient", "requests"],
        env: { CONSENT_LEDGER_DEPLOYMENTS: path.join(suite.root, "no-deployments") },
        expected: `error: no Consent Ledger deployment for chain 31337 (${path.join(suite.root, "no-deployments", "31337.json")} does not exist, in CONSENT_LEDGER_DEPLOYMENTS): deploy with \`npm run deploy -- --network <name>\`, or pass --deployment <file>, or unset CONSENT_LEDGER_DEPLOYMENTS to look in deployments/ and the dashboard's .dapp/`,
      },
      "no node at --rpc": {
        who: "patient",
        args: ["--rpc", `http://127.0.0.1:${deadPort}`, "patient", "requests"],
        expected: `error: no node answers at http://127.0.0.1:${deadPort} (ECONNREFUSED): start one (npx hardhat node) or pass --rpc <url> (or set CONSENT_LEDGER_RPC)`,
      },
      "insufficient funds (a patient with no ETH)": {
        who: null,
        args: grant,
        env: { CONSENT_LEDGER_PRIVATE_KEY: brokePatient.privateKey },
        expected: `error: not enough ETH in ${brokePatient.address} to pay for gas: fund the account; a patient can instead sign with \`consent-ledger patient sign ...\` and have anyone submit it with \`consent-ledger relay\``,
      },
      "insufficient funds (a provider with no ETH: nothing encrypted or stored)": {
        who: null,
        args: publish,
        env: { CONSENT_LEDGER_PRIVATE_KEY: brokeProvider.privateKey },
        expected: new RegExp(
          `^error: not enough funds in ${brokeProvider.address} to pay for gas to anchor the record \\(needs about [\\d.]+ ETH, has 0\\.0\\): fund the account first$`,
        ),
      },
      "a revert: approving a request already decided": {
        who: "patient",
        args: ["patient", "approve", "<decided>"],
        expected: /^error: The ledger refused: Request(NotFound|NotPending)\(0x[0-9a-f]{64}(, \d)?\)\. .+\.$/,
      },
      "a revert found before anything is written: publishing without accreditation": {
        who: "stranger",
        args: publish,
        expected:
          /^error: The ledger refused: PartyNotAccredited\(0xa0Ee7A142d267C1f36714E4a8F75612F20a79720, 1\)\. Ask the administrator to accredit this account for that role\.$/,
      },
      "no signing key": {
        who: null,
        args: grant,
        expected:
          "error: no signing key: set CONSENT_LEDGER_PRIVATE_KEY, or use --keystore <file>, or --account <name> for a Hardhat variable (keys are never taken on the command line)",
      },
      "a malformed private key": {
        who: null,
        args: grant,
        env: { CONSENT_LEDGER_PRIVATE_KEY: "0xnot-a-key" },
        expected: "error: CONSENT_LEDGER_PRIVATE_KEY is not a private key: it must be 0x followed by 64 hex digits",
      },
      "an output file that exists": {
        who: "patient",
        args: ["patient", "sign", "revoke", "--grantee", suite.address.researcher, "--out", "existing.json"],
        expected: "error: --out existing.json exists already: choose another file, or add --force to replace it",
      },
      "a signed consent file that is not one": {
        who: "relayer",
        args: ["relay", "existing.json"],
        expected:
          "error: existing.json is not a signed consent (kind must be grant, revoke, approve, deny, setPolicy, clearPolicy, appointDelegate, removeDelegate, setEmergencyOptOut, invalidateNonces, registerKey, withdrawKey or invalidateKeyNonces, got undefined): pass a file written by `consent-ledger patient sign ... --out <file>`",
      },
      "a request id that is not one": {
        who: "patient",
        args: ["patient", "deny", "42"],
        expected:
          'error: <requestId> "42" is not an id: pass 0x followed by 64 hex digits, as the listing commands print it',
      },
      "a key on the command line (usage)": {
        who: "patient",
        args: ["--private-key", "0x01", ...grant],
        code: 2,
        expected:
          "error: --private-key is not an option: keys are never taken on the command line (anyone on the machine can read it): set CONSENT_LEDGER_PRIVATE_KEY, or use --keystore <file> or --account <name>",
      },
      "an unknown option (usage)": {
        who: "patient",
        args: [...grant, "--colour"],
        code: 2,
        expected: "error: unknown option '--colour'",
      },
      "a missing required option (usage)": {
        who: "patient",
        args: grant.slice(0, 4),
        code: 2,
        expected: "error: required option '--classes <list>' not specified",
      },
      "an unknown command (usage)": {
        who: "patient",
        args: ["patient", "aprove", "0x00"],
        code: 2,
        expected: "error: unknown command 'aprove' (did you mean approve?)",
      },
    };
  };

  before(async function () {
    this.timeout(600_000);
    suite = await deployCliSuite(await sharedLocalNode());
    work = suite.workDir("errors");
    deadPort = await freePort();
    writeFileSync(path.join(work, "obs.json"), JSON.stringify(labObservation("x", 5)));
    writeFileSync(path.join(work, "not-fhir.json"), JSON.stringify({ status: "final", valueQuantity: { value: 5 } }));
    writeFileSync(path.join(work, "notes.txt"), "Hb A1c 5%\n");
    writeFileSync(path.join(work, "existing.json"), '{"keep": "me"}\n');
    writeFileSync(path.join(work, "chain-1.json"), JSON.stringify({ ...suite.deployment, chainId: 1 }));

    // A request the patient has decided already, and a provider that is accredited but has no ETH.
    const run = (who: CastName, args: string[]) => suite.run(who, args, { cwd: suite.workDir("errors-setup") });
    const opened = await run("researcher", [
      "--json",
      "researcher",
      "request",
      "--patient",
      suite.address.patient,
      "--classes",
      "IMAGING",
      "--purpose",
      "HRESCH",
      "--category",
      "GRU",
      "--duration",
      "7d",
      "--study",
      "s0",
    ]);
    decidedRequestId = JSON.parse(opened.stdout).requestId;
    expect((await run("patient", ["patient", "approve", decidedRequestId])).code).to.equal(0);
    const ledger = ConsentLedger__factory.connect(suite.deployment.ledger, suite.signer.admin);
    await (await ledger.accredit(brokeProvider.address, Role.PROVIDER, false, 0)).wait();

    blockBefore = await suite.provider.getBlockNumber();
    diskBefore = snapshotTree(work);
    // Four at a time: a few dozen Node processes at once on a small, busy machine can each take longer
    // than the CLI's kill timeout just to start.
    const queue = Object.entries(cases());
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          const [name, c] = next;
          const args = c.args.map((arg) => (arg === "<decided>" ? decidedRequestId : arg));
          results.set(name, await suite.run(c.who, args, { cwd: work, env: c.env }));
        }
      }),
    );
    blockAfter = await suite.provider.getBlockNumber();
    diskAfter = snapshotTree(work);
  });

  after(function () {
    suite?.cleanup();
  });

  it("changes nothing on chain: no transaction was sent by any of them", function () {
    expect(blockAfter).to.equal(blockBefore);
  });

  it("changes nothing on disk: no store, key file or output file was written", function () {
    expect(diskAfter).to.deep.equal(diskBefore);
    expect(readFileSync(path.join(work, "existing.json"), "utf8")).to.equal('{"keep": "me"}\n');
  });

  // One test per case, named after it; the cases are listed once, above.
  const names = [
    "a bad address",
    "an unknown purpose",
    "an unknown data class",
    "a research purpose without a DUO category",
    "a request for a purpose that is not research",
    "a duration without a unit it knows",
    "an end in the past",
    "a file that is not FHIR JSON",
    "a file that is not JSON at all",
    "a file that does not exist",
    "a deployment of another chain (wrong network)",
    "no deployment on this chain",
    "no node at --rpc",
    "insufficient funds (a patient with no ETH)",
    "insufficient funds (a provider with no ETH: nothing encrypted or stored)",
    "a revert: approving a request already decided",
    "a revert found before anything is written: publishing without accreditation",
    "no signing key",
    "a malformed private key",
    "an output file that exists",
    "a signed consent file that is not one",
    "a request id that is not one",
    "a key on the command line (usage)",
    "an unknown option (usage)",
    "a missing required option (usage)",
    "an unknown command (usage)",
  ];
  for (const name of names) {
    it(`says what to do about ${name}, on one line`, function () {
      const c = cases()[name];
      const result = results.get(name) as CliResult;
      expect(result, name).to.not.equal(undefined);
      expect(result.code, result.stderr).to.equal(c.code ?? 1);
      expect(result.stdout).to.equal("");
      const stderr = result.stderr.replace(/\n$/, "");
      if (typeof c.expected === "string") expect(stderr).to.equal(c.expected);
      else {
        expect(stderr.split("\n"), stderr).to.have.length(1);
        expect(stderr).to.match(c.expected);
      }
    });
  }

  it("lists every case it runs", function () {
    expect(Object.keys(cases())).to.have.members(names);
  });

  it("prints the stack trace only with --debug", async function () {
    const result = await suite.run(
      "patient",
      [
        "--debug",
        "patient",
        "grant",
        "--grantee",
        "0x1234",
        "--classes",
        "LAB_RESULT",
        "--purposes",
        "TREAT",
        "--until",
        "1d",
      ],
      { cwd: work },
    );
    expect(result.code).to.equal(1);
    const lines = result.stderr.split("\n");
    expect(lines[0]).to.match(/^error: --grantee "0x1234" is not an address/);
    expect(lines[1]).to.match(/^CliError: /);
    expect(result.stderr).to.match(/\n\s+at /);
  });
});

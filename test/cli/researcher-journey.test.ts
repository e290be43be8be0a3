/**
 * The researcher's whole journey through the CLI, as users run it (child processes, keys in the
 * environment) against a real `hardhat node` and a real custodian gateway: a provider publishes a record
 * and deposits its key, the researcher registers a key and asks, the patient approves, the researcher
 * sees the approval and the grant, fetches the record to a file, and the patient's audit shows it all.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

import { expect } from "chai";
import { randomBytes } from "ethers";

import { startGateway, type RunningGateway } from "../../gateway/start";
import type { GatewayConfig } from "../../gateway/config";
import { deployCliSuite, labObservation, type CliResult, type CliSuite } from "../helpers/cli";
import { sharedLocalNode } from "../helpers/local-node";

function ok(result: CliResult): CliResult {
  expect(result.code, `exit code; stderr:\n${result.stderr}`).to.equal(0);
  return result;
}

function json<T = Record<string, unknown>>(result: CliResult): T {
  return JSON.parse(ok(result).stdout) as T;
}

/**
 * The protocol the researcher names, and its keccak256 (the hash that goes on chain, docs/cli.md): computed
 * once with @noble/hashes, never by the SDK's hashDocument, which the CLI itself uses.
 */
const PROTOCOL = "Diabetes cohort protocol v1, IRB approval 2026-117\n";
const PROTOCOL_KECCAK256 = "0xb84672e59465f9a61223bf6d92889830769d972b003fd69f16d27c62edf212d9";

describe("consent-ledger CLI: a researcher's journey", function () {
  this.timeout(120_000);

  let suite: CliSuite;
  let gateway: RunningGateway;
  let work: string;
  const original = labObservation("hba1c-1", 6.4);
  const state: { recordId?: string; requestId?: string } = {};

  before(async function () {
    suite = await deployCliSuite(await sharedLocalNode());
    work = suite.workDir("journey");
    const config: GatewayConfig = {
      rpcUrl: suite.node.url,
      host: "127.0.0.1",
      port: 0,
      dataDir: suite.workDir("gateway-data"),
      deploymentFile: path.join(suite.deploymentsDir, "31337.json"),
      privateKey: suite.key.hospital,
      masterKey: randomBytes(32),
      logBatchSize: 1,
      logIntervalMs: 200,
      challengeTtlSeconds: 300,
      sessionTtlSeconds: 900,
      providers: [suite.address.lab],
      logLevel: "silent",
    };
    gateway = await startGateway(config, { logger: false, receiptTimeoutMs: 10_000 });
    writeFileSync(path.join(work, "obs.json"), JSON.stringify(original, null, 2));
    writeFileSync(path.join(work, "protocol.txt"), PROTOCOL);
  });

  after(async function () {
    await gateway?.close({ flush: true, flushTimeoutMs: 5000 });
    suite?.cleanup();
  });

  it("lets the provider publish a FHIR file and deposit its key at the gateway", async function () {
    const published = json<{ recordId: string; version: number; keyKept: string }>(
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
          "--gateway",
          gateway.url,
        ],
        {
          cwd: work,
        },
      ),
    );
    expect(published.version).to.equal(1);
    expect(published.keyKept).to.include(gateway.url);
    expect(existsSync(path.join(work, ".consent-ledger", "keys", `31337-${suite.address.lab}.json`))).to.equal(true);
    state.recordId = published.recordId;
  });

  it("registers the researcher's encryption key once, and says so when it is already there", async function () {
    const first = json<{ changed: boolean; publicKey: string }>(
      await suite.run("researcher", ["--json", "researcher", "register-key"], { cwd: work }),
    );
    expect(first.changed).to.equal(true);
    const again = ok(await suite.run("researcher", ["researcher", "register-key"], { cwd: work }));
    expect(again.stdout).to.include("already registered");
    expect(again.stdout).to.include(first.publicKey);
  });

  it("opens a request whose protocol hash is the file's keccak256, pending the patient's decision", async function () {
    const request = json<{ requestId: string; status: string; protocolHash: string; dataClasses: string[] }>(
      await suite.run(
        "researcher",
        [
          "--json",
          "researcher",
          "request",
          "--patient",
          suite.address.patient,
          "--classes",
          "LAB_RESULT,IMAGING",
          "--purpose",
          "HRESCH",
          "--category",
          "HMB",
          "--obligations",
          "PUB,IRB",
          "--duration",
          "90d",
          "--study",
          "diabetes-cohort-2026",
          "--protocol",
          "protocol.txt",
        ],
        { cwd: work },
      ),
    );
    expect(request).to.include({
      status: "Pending",
      protocolHash: PROTOCOL_KECCAK256,
    });
    expect(request.dataClasses).to.deep.equal(["LAB_RESULT", "IMAGING"]);
    state.requestId = request.requestId;

    const table = ok(await suite.run("researcher", ["researcher", "requests"], { cwd: work })).stdout;
    expect(table.split("\n")[0]).to.match(/^REQUEST ID\s+PATIENT\s+CLASSES\s+PURPOSE\s+STATUS/);
    expect(table).to.match(new RegExp(`${state.requestId}\\s+0x9965…A4dc\\s+LAB_RESULT,IMAGING\\s+HRESCH\\s+Pending`));
  });

  it("shows the request to the patient, who approves it", async function () {
    const [listed, table] = await Promise.all([
      suite.run("patient", ["--json", "patient", "requests"], { cwd: work }),
      suite.run("patient", ["patient", "requests"], { cwd: work }),
    ]);
    const pending = json<{ requestId: string; researcher: string }[]>(listed);
    expect(pending.map((view) => view.requestId)).to.deep.equal([state.requestId]);
    expect(pending[0].researcher).to.equal(suite.address.researcher);
    expect(ok(table).stdout.split("\n")[0]).to.match(/^REQUEST ID\s+RESEARCHER\s+CLASSES/);
    expect(table.stdout).to.match(
      new RegExp(`${state.requestId}\\s+0x90F7…b906\\s+LAB_RESULT,IMAGING\\s+HRESCH\\s+Pending`),
    );

    const approved = ok(await suite.run("patient", ["patient", "approve", state.requestId as string], { cwd: work }));
    expect(approved.stdout).to.match(/decision\s+approved/);
    expect(approved.stdout).to.match(/classes\s+LAB_RESULT,IMAGING/);
    expect(approved.stderr).to.match(/transaction 0x[0-9a-f]{64} sent, waiting for it to be mined/);
  });

  it("shows the researcher the request approved and the grant in force", async function () {
    const [requests, granted] = await Promise.all([
      suite.run("researcher", ["researcher", "requests"], { cwd: work }),
      suite.run("researcher", ["researcher", "grants"], { cwd: work }),
    ]);
    expect(ok(requests).stdout).to.match(new RegExp(`${state.requestId}.*Approved \\(in force\\)`));
    const grants = ok(granted).stdout;
    expect(grants).to.match(/0x9965…A4dc\s+LAB_RESULT,IMAGING\s+HRESCH\s+\d{4}-\d\d-\d\dT[\d:]+Z\s+\d{4}-/);
  });

  it("fetches the record through the gateway into a file equal to the original FHIR JSON", async function () {
    const result = ok(
      await suite.run(
        "researcher",
        [
          "researcher",
          "fetch",
          "--record",
          state.recordId as string,
          "--purpose",
          "HRESCH",
          "--gateway",
          gateway.url,
          "--out",
          "fetched/obs.json",
        ],
        {
          cwd: work,
        },
      ),
    );
    expect(result.stdout).to.match(/verified\s+against the chain's anchor/);
    expect(JSON.parse(readFileSync(path.join(work, "fetched", "obs.json"), "utf8"))).to.deep.equal(original);
  });

  it("fetches the record to standard output with --out -, the summary on stderr, for a pipe", async function () {
    const args = ["researcher", "fetch", "--record", state.recordId as string, "--purpose", "HRESCH"];
    const [plain, asJson] = await Promise.all([
      suite.run("researcher", [...args, "--gateway", gateway.url, "--out", "-"], { cwd: work }),
      suite.run("researcher", ["--json", ...args, "--gateway", gateway.url, "--out", "-", "--raw"], { cwd: work }),
    ]);
    expect(JSON.parse(ok(plain).stdout)).to.deep.equal(original);
    expect(plain.stderr).to.match(/written to\s+standard output/);
    expect(JSON.parse(ok(asJson).stdout)).to.deep.equal(original);
    const summary = JSON.parse(asJson.stderr.trim().split("\n").at(-1) as string) as Record<string, unknown>;
    expect(summary).to.include({ recordId: state.recordId, out: "-", basis: "Consent" });
    expect(existsSync(path.join(work, "-"))).to.equal(false);
  });

  it("lets the provider deposit keys it kept locally later, and the researcher fetch a batched record", async function () {
    const batchDir = path.join(work, "batch");
    mkdirSync(batchDir);
    const batched = labObservation("hba1c-batched", 7.1);
    writeFileSync(path.join(batchDir, `${suite.address.patient}.LAB_RESULT.json`), JSON.stringify(batched));
    writeFileSync(
      path.join(batchDir, `${suite.address.otherPatient}.LAB_RESULT.json`),
      JSON.stringify(labObservation("other", 5.0)),
    );
    const batch = json<{ records: { recordId: string; patient: string; keyKept: string }[] }>(
      await suite.run("lab", ["--json", "provider", "publish-batch", "--dir", "batch"], { cwd: work }),
    );
    expect(batch.records[0].keyKept).to.include("not deposited at a gateway");
    const mine = batch.records.find((record) => record.patient === suite.address.patient) as { recordId: string };
    const deposited = json<{ deposited: string[] }>(
      await suite.run("lab", ["--json", "provider", "deposit", "--gateway", gateway.url, "--record", mine.recordId], {
        cwd: work,
      }),
    );
    expect(deposited.deposited).to.deep.equal([mine.recordId]);
    ok(
      await suite.run(
        "researcher",
        [
          "researcher",
          "fetch",
          "--record",
          mine.recordId,
          "--purpose",
          "HRESCH",
          "--gateway",
          gateway.url,
          "--out",
          "batched.json",
        ],
        { cwd: work },
      ),
    );
    expect(JSON.parse(readFileSync(path.join(work, "batched.json"), "utf8"))).to.deep.equal(batched);
  });

  it("refuses to fetch for a purpose the patient did not grant, and writes no file", async function () {
    const result = await suite.run(
      "researcher",
      [
        "researcher",
        "fetch",
        "--record",
        state.recordId as string,
        "--purpose",
        "TREAT",
        "--gateway",
        gateway.url,
        "--out",
        "denied.json",
      ],
      { cwd: work },
    );
    expect(result.code).to.equal(1);
    expect(result.errorLines).to.have.length(1);
    expect(result.errorLines[0]).to.match(/^error: .*TREAT.*ask the patient/i);
    expect(existsSync(path.join(work, "denied.json"))).to.equal(false);
  });

  it("gives the patient an audit trail with the request, the approval, the grant and the key release", async function () {
    // The gateway logs the release on chain shortly after it: wait for it.
    let trail: { action: string; actor: string }[] = [];
    for (let attempt = 0; attempt < 50; attempt++) {
      trail = json<{ action: string; actor: string }[]>(
        await suite.run("patient", ["--json", "patient", "audit", "--gateway", gateway.url], { cwd: work }),
      );
      if (trail.some((entry) => entry.action === "key-released")) break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(trail.map((entry) => entry.action)).to.include.members([
      "record-anchored",
      "request-opened",
      "request-approved",
      "consent-granted",
      "key-released",
    ]);
    const release = trail.find((entry) => entry.action === "key-released");
    expect(release?.actor).to.equal(suite.address.hospital);

    const table = ok(await suite.run("patient", ["patient", "audit"], { cwd: work })).stdout;
    expect(table.split("\n")[0]).to.match(/^TIME\s+ACTOR\s+ACTION\s+WITH\s+CLASS\s+PURPOSE\s+BASIS$/);
    expect(table).to.match(
      /\d{4}-\d\d-\d\dT[\d:]+Z\s+0x9965…A4dc \(patient\)\s+request-approved\s+-\s+LAB_RESULT,IMAGING\s+HRESCH\s+patient/,
    );
  });

  it("shows the approved request as revoked once the patient revokes, and as replaced after a new grant", async function () {
    const fate = async () => {
      const views = json<{ requestId: string; status: string; consent: string | null }[]>(
        await suite.run(null, ["--json", "researcher", "requests", "--researcher", suite.address.researcher], {
          cwd: work,
        }),
      );
      return views.find((view) => view.requestId === state.requestId);
    };
    expect(await fate()).to.include({ status: "Approved", consent: "InForce" });
    ok(await suite.run("patient", ["patient", "revoke", "--grantee", suite.address.researcher], { cwd: work }));
    expect(await fate()).to.include({ status: "Approved", consent: "Revoked" });
    const table = ok(await suite.run("researcher", ["researcher", "requests"], { cwd: work })).stdout;
    expect(table).to.match(new RegExp(`${state.requestId}.*Approved \\(revoked since\\)`));
    ok(
      await suite.run(
        "patient",
        [
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
        ],
        { cwd: work },
      ),
    );
    expect(await fate()).to.include({ status: "Approved", consent: "Replaced" });
  });
});

import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

import { expect } from "chai";

import { hasSignedForm } from "../../sdk/index";
import { tempDirectory } from "../helpers/sdk";

const run = promisify(execFile);

interface TrailEntry {
  action: string;
  basis: string;
  actor: string;
  counterparty?: string;
  time: number;
}

describe("npm run demo (the main job)", function () {
  this.timeout(180_000);
  let out: { dir: string; cleanup: () => Promise<void> };
  let stdout: string;
  const trail = async (patient: string): Promise<TrailEntry[]> =>
    JSON.parse(await readFile(path.join(out.dir, `patient-${patient}-audit.json`), "utf8"));

  before(async function () {
    out = await tempDirectory("demo");
    ({ stdout } = await run("npx", ["hardhat", "run", "scripts/demo.ts"], {
      cwd: path.resolve(__dirname, "../.."),
      env: { ...process.env, DEMO_OUT: out.dir },
      maxBuffer: 16 * 1024 * 1024,
    }));
  });
  after(async () => out?.cleanup());

  it("tells the story and ends well", function () {
    expect(stdout).to.include("matches the original");
    // Refused by the gateway's 403 AccessDenied naming who, what and why: the demo prints nothing else as a refusal.
    expect(stdout).to.match(
      /university fetching patient B's HbA1c: refused \(AccessDenied\) — no consent or emergency window lets 0x[0-9a-fA-F]{40} read LAB_RESULT for HRESCH \(checked at block \d+\)/,
    );
    expect(stdout).to.match(/inside the window: medication list released \(Emergency\)/);
    expect(stdout).to.match(
      /an hour later, the same fetch: refused \(AccessDenied\) — no consent or emergency window lets 0x[0-9a-fA-F]{40} read MEDICATION for ETREAT \(checked at block \d+\)/,
    );
    expect(stdout).to.match(/one flipped bit .* failed its integrity check/);
    expect(stdout).to.match(
      /C-ct-study +IMAGING +for patient C +0x[0-9a-f]{16}… +256 MiB in 1 MiB segments, sealed, stored and deposited by stream in [\d.]+ s/,
    );
    expect(stdout).to.match(
      /university read 64 KiB at offset \d+ \(2 of 256 segments fetched, verified against the anchor\): matches the original/,
    );
    expect(stdout).to.include("Done in");
  });

  it("ends with patient D's pseudonyms: paired, relayed, one view, and an observer who links nothing on chain", function () {
    expect(stdout).to.match(
      /the hospital checked D's pairing link \(\d+ characters, one QR code\) and filed a record under 0x[0-9a-fA-F]{40}/,
    );
    expect(stdout).to.match(/D's one view: 1 record, 2 consents, \d+ audit entries, across 2 pseudonyms/);
    expect(stdout).to.match(
      /an observer of the chain: 0 transactions name two of patient D's accounts; the wallet appears in 0;/,
    );
    expect(stdout).to.match(
      /the hospital pseudonym in [1-9]\d*, the study pseudonym in [1-9]\d*; pseudonyms sent 0 and hold 0 wei;/,
    );
  });

  it("pairs every patient with the hospital under a pseudonym and sends their signed decisions through the relayer", function () {
    for (const label of ["A", "B", "C"])
      expect(stdout).to.match(
        new RegExp(
          `patient ${label}: wallet 0x[0-9a-fA-F]{40} → pseudonym at the hospital 0x[0-9a-fA-F]{40} \\(pairing link checked\\)`,
        ),
      );
    expect(stdout).to.match(/A-hba1c +LAB_RESULT +for patient A@hospital/);
    expect(stdout).to.match(/university → patient A@hospital LAB_RESULT,CONDITION: approved by policy/);
    expect(stdout).to.include("patient B approves the university's request by hand (signed; the relayer sends it)");
    expect(stdout).to.match(/consent relayer at http:\/\/127\.0\.0\.1:\d+, sending from 0x[0-9a-fA-F]{40}/);
  });

  it("ends with what an observer of the whole chain can and cannot link, patient by patient", function () {
    expect(stdout).to.include("== What an observer of the whole chain can and cannot link");
    expect(stdout).to.match(/read \d+ blocks and \d+ transactions .* looking for 4 wallets and 5 pseudonyms/);
    for (const label of ["A", "B", "C", "D"])
      expect(stdout).to.match(
        new RegExp(
          `patient ${label}: 0 transactions name two of its accounts; its wallet appears in 0; its \\d pseudonyms? appear in [1-9]\\d*`,
        ),
      );
    expect(stdout).to.include("transactions naming accounts of two different patients: 0");
    expect(stdout).to.include("It cannot link any patient's pseudonyms to each other or to the wallet they come from.");
    // A standing policy has no signed form yet: A's pseudonym pays its own gas, from a faucet, and the observer sees it.
    if (hasSignedForm("setPolicy")) expect(stdout).to.include("funding trail: none");
    else
      expect(stdout).to.match(
        /funding trail: patient A@hospital received \d+ wei from admin: an action with no signed form yet/,
      );
    expect(stdout).to.match(/patient B: .* sent 0 themselves/);
  });

  it("reads a record split 2 of 3 across three custodians, with one stopped, and one patched custodian gives no key", async function () {
    expect(stdout).to.match(/custodian set \d+: 2 of 3, defined on chain by the hospital/);
    expect(stdout).to.match(
      /university reads with all three custodians up: shares from .* custodian and .* custodian; .*matches the original/,
    );
    expect(stdout).to.match(
      /the foundation's custodian is stopped; university reads again: .*matches the original; not answering: foundation custodian \(GatewayUnreachable\)/,
    );
    expect(stdout).to.match(
      /patched to release to anyone.*1 share and a guess rebuild no key the record accepts \(KeyCommitmentError\)/,
    );
  });

  it("shows each custodian's share release in patient A's on-chain trail, under the custodian that made it", async function () {
    const releases = (await trail("A")).filter((entry) => entry.action === "key-released");
    // One custodian's whole-key release before the set, then one share per custodian per read (2 reads, 2 shares each,
    // plus whatever the third custodian answered after the first two): three distinct custodians in all.
    expect(new Set(releases.map((entry) => entry.actor)).size).to.equal(3);
  });

  it("records patient A's policy approving the non-profit's request, and the release it allowed", async function () {
    const entries = await trail("A");
    const approved = entries.find((entry) => entry.action === "request-approved");
    expect(approved?.basis).to.equal("policy");
    expect(entries.filter((entry) => entry.action === "request-opened")).to.have.length(2);
    expect(entries.some((entry) => entry.action === "key-released" && entry.basis === "consent")).to.equal(true);
  });

  it("records patient B's decisions by hand, the revocation, and only releases made before it", async function () {
    const entries = await trail("B");
    const actions = entries.map((entry) => entry.action);
    expect(actions).to.include.members([
      "record-amended",
      "request-approved",
      "request-denied",
      "consent-revoked",
      "key-released",
    ]);
    const revokedAt = entries.find((entry) => entry.action === "consent-revoked")!.time;
    const releases = entries.filter((entry) => entry.action === "key-released");
    expect(releases).to.have.length(1);
    expect(releases.every((release) => release.time <= revokedAt)).to.equal(true);
  });

  it("records patient C's relayed signature and the emergency access with its release", async function () {
    const entries = await trail("C");
    expect(entries.find((entry) => entry.action === "consent-granted")?.basis).to.equal("signature");
    const opened = entries.findIndex((entry) => entry.action === "emergency-opened");
    const emergencyRelease = entries.findIndex(
      (entry) => entry.action === "key-released" && entry.basis === "emergency",
    );
    expect(opened).to.be.greaterThan(-1);
    expect(emergencyRelease).to.be.greaterThan(opened);
  });

  it("exports each trail as a FHIR Bundle of AuditEvents, one per entry", async function () {
    for (const patient of ["A", "B", "C"]) {
      const bundle = JSON.parse(await readFile(path.join(out.dir, `patient-${patient}-audit.fhir.json`), "utf8"));
      expect(bundle.resourceType).to.equal("Bundle");
      expect(bundle.entry.length).to.equal((await trail(patient)).length);
      expect(
        bundle.entry.every((e: { resource: { resourceType: string } }) => e.resource.resourceType === "AuditEvent"),
      ).to.equal(true);
    }
    const consents = JSON.parse(await readFile(path.join(out.dir, "patient-C-consents.fhir.json"), "utf8"));
    expect(consents.entry[0].resource).to.include({ resourceType: "Consent", status: "active" });
  });
});

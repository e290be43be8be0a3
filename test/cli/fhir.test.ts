/**
 * `consent-ledger fhir import-consent`, run as a child process against a real `hardhat node`: it shows the
 * patient what a hospital's FHIR Consent becomes, signs only with --yes, and refuses what the ledger
 * cannot hold with the element and the reason.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";

import { expect } from "chai";

import { ConsentLedger__factory } from "../../typechain-types";
import { deployCliSuite, type CliSuite } from "../helpers/cli";
import { sharedLocalNode } from "../helpers/local-node";

describe("consent-ledger fhir import-consent", function () {
  this.timeout(120_000);
  let suite: CliSuite;
  let work: string;

  before(async function () {
    suite = await deployCliSuite(await sharedLocalNode());
    work = suite.workDir("fhir");
  });
  after(() => suite?.cleanup());

  function consentFile(name: string, grantee: string, until: number, provision: Record<string, unknown> = {}): string {
    const file = path.join(work, name);
    writeFileSync(
      file,
      JSON.stringify({
        resourceType: "Consent",
        status: "active",
        scope: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/consentscope", code: "patient-privacy" }] },
        category: [{ coding: [{ system: "http://loinc.org", code: "59284-0" }] }],
        policyRule: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/v3-ActCode", code: "OPTIN" }] },
        provision: {
          type: "permit",
          period: { end: new Date(until * 1000).toISOString() },
          actor: [
            {
              reference: {
                identifier: { system: "https://chainagnostic.org/CAIPs/caip-10", value: `eip155:31337:${grantee}` },
              },
            },
          ],
          purpose: [{ system: "http://terminology.hl7.org/CodeSystem/v3-ActReason", code: "TREAT" }],
          class: [{ system: "http://hl7.org/fhir/resource-types", code: "Condition" }],
          ...provision,
        },
      }),
    );
    return file;
  }

  it("shows what the Consent becomes and signs nothing without --yes, then signs it with --yes", async function () {
    const ledger = ConsentLedger__factory.connect(suite.deployment.ledger, suite.provider);
    const until = (await suite.provider.getBlock("latest"))!.timestamp + 86_400;
    const file = consentFile("conditions.json", suite.address.lab, until);

    const preview = await suite.run("patient", ["fhir", "import-consent", file], { cwd: work });
    expect(preview.code, preview.stderr).to.equal(0);
    expect(preview.stdout).to.contain(`Let ${suite.address.lab} read your condition`).and.contain("Nothing signed");
    expect((await ledger.consentOf(suite.address.patient, suite.address.lab)).validUntil).to.equal(0n);

    const signed = await suite.run("patient", ["--json", "fhir", "import-consent", file, "--yes"], { cwd: work });
    expect(signed.code, signed.stderr).to.equal(0);
    expect(JSON.parse(signed.stdout)).to.deep.include({ signed: true });
    const stored = await ledger.consentOf(suite.address.patient, suite.address.lab);
    expect([stored.dataClasses, stored.purposes, stored.validUntil]).to.deep.equal([1n << 4n, 1n, BigInt(until)]);
  });

  it("refuses per-record data with the element and the reason, signing nothing", async function () {
    const until = (await suite.provider.getBlock("latest"))!.timestamp + 86_400;
    const file = consentFile("per-record.json", suite.address.hospital, until, {
      data: [{ meaning: "instance", reference: { reference: "Observation/1" } }],
    });
    const result = await suite.run("patient", ["fhir", "import-consent", file, "--yes"], { cwd: work });
    expect(result.code).to.equal(1);
    expect(result.errorLines.join("\n")).to.contain("Consent.provision.data: names individual records");
  });
});

import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";

import * as core from "../../sdk/index";
import * as node from "../../sdk/node";
import {
  AccessBasis,
  CARE_DELEGATE_SCOPE,
  CODE_TABLES,
  ConsentLedgerError,
  DataClass,
  Duo,
  InvalidArgumentError,
  PatientClient,
  Purpose,
  ResearcherClient,
  Role,
  UnknownCodeError,
  accreditationOf,
  codeOf,
  delegatesOf,
  maskOf,
  nameOf,
  namesOf,
  nonceWordOf,
  policyOf,
  requestsOf,
  roleMask,
  roleNames,
  usedNonces,
} from "../../sdk/index";
import { DAY, deployLedgerFixture } from "../helpers/fixtures";
import { sdkContracts } from "../helpers/sdk";

async function readsFixture() {
  const suite = await deployLedgerFixture();
  const patient = new PatientClient(await sdkContracts(suite, suite.patient), suite.patient);
  const researcher = new ResearcherClient(await sdkContracts(suite, suite.university), suite.university);
  // A read-only view, as a dashboard has before a wallet connects.
  const reader = await sdkContracts(suite, ethers.provider as never);
  return { ...suite, patientClient: patient, researcher, reader };
}

describe("the SDK's reads", function () {
  it("policyOf: undefined without a policy, the policy as set, undefined again once cleared", async function () {
    const f = await loadFixture(readsFixture);
    expect(await policyOf(f.reader, f.patient.address)).to.equal(undefined);
    const validUntil = (await time.latest()) + 365 * DAY;
    const set = await (
      await f.patientClient.setPolicy({
        permission: "DS",
        modifiers: ["IRB", "TS"],
        diseaseId: 4992,
        maxDuration: 90 * DAY,
        dataClasses: ["LAB_RESULT", "GENOMIC"],
        purposes: ["HRESCH"],
        validUntil,
      })
    ).wait();
    const read = await policyOf(f.reader, f.patient.address);
    expect(read).to.deep.equal(set);
    expect(read).to.deep.include({ permission: Duo.DS, diseaseId: 4992, maxDuration: 90 * DAY, validUntil });
    expect(namesOf(Duo, read!.modifiers)).to.deep.equal(["IRB", "TS"]);
    await (await f.patientClient.clearPolicy()).wait();
    expect(await policyOf(f.reader, f.patient.address)).to.equal(undefined);
  });

  it("delegatesOf: the delegates in office with their scope, not the removed or expired ones", async function () {
    const f = await loadFixture(readsFixture);
    const now = await time.latest();
    const scope = { purposes: ["TREAT", "PATRQT"] as const, sensitiveClasses: true };
    const appointed = await (await f.patientClient.appointDelegate(f.delegate.address, now + 30 * DAY, scope)).wait();
    const purposes = maskOf([Purpose.TREAT, Purpose.PATRQT]);
    expect(appointed).to.deep.equal({
      delegate: f.delegate.address,
      validUntil: now + 30 * DAY,
      purposes,
      sensitiveClasses: true,
    });
    await (await f.patientClient.appointDelegate(f.stranger.address, now + 10, CARE_DELEGATE_SCOPE)).wait();
    await (await f.patientClient.appointDelegate(f.relayer.address, now + 30 * DAY, CARE_DELEGATE_SCOPE)).wait();
    await (await f.patientClient.removeDelegate(f.relayer.address)).wait();
    await time.increase(20);
    expect(await delegatesOf(f.reader, f.patient.address)).to.deep.equal([
      { delegate: f.delegate.address, validUntil: now + 30 * DAY, purposes, sensitiveClasses: true },
    ]);
  });

  it("appointDelegate: refuses a missing scope or an unknown purpose before sending", async function () {
    const f = await loadFixture(readsFixture);
    const until = (await time.latest()) + DAY;
    await expect(f.patientClient.appointDelegate(f.delegate.address, until, undefined as never)).to.be.rejectedWith(
      InvalidArgumentError,
      /scope/,
    );
    await expect(
      f.patientClient.appointDelegate(f.delegate.address, until, {
        purposes: ["CURE" as never],
        sensitiveClasses: false,
      }),
    ).to.be.rejectedWith(InvalidArgumentError);
  });

  it("requestsOf: by patient and by researcher, pending by default, all on request", async function () {
    const f = await loadFixture(readsFixture);
    const ask = (studyId: string) =>
      f.researcher.requestAccess({
        patient: f.patient.address,
        dataClasses: ["LAB_RESULT"],
        purpose: "HRESCH",
        researchCategory: "HMB",
        duration: 30 * DAY,
        studyId,
      });
    const first = await (await ask("study-one")).wait();
    const second = await (await ask("study-two")).wait();
    await (await f.patientClient.deny(first.requestId)).wait();
    const byPatient = await requestsOf(f.reader, { patient: f.patient.address });
    const byResearcher = await requestsOf(f.reader, { researcher: f.university.address });
    expect(byPatient.map((view) => view.requestId)).to.deep.equal([second.requestId]);
    expect(byResearcher).to.deep.equal(byPatient);
    const all = await requestsOf(f.reader, { researcher: f.university.address }, { all: true });
    expect(all.map((view) => [view.requestId, view.status])).to.deep.equal([
      [first.requestId, "Denied"],
      [second.requestId, "Pending"],
    ]);
    expect(await requestsOf(f.reader, { patient: f.otherPatient.address })).to.deep.equal([]);
  });

  it("nonceWordOf: a cancelled nonce's bit is set in its word", async function () {
    const f = await loadFixture(readsFixture);
    expect(await nonceWordOf(f.reader, f.patient.address)).to.equal(0n);
    await (await f.patientClient.cancelSignature(3n)).wait();
    await (await f.patientClient.cancelSignature(256n + 7n)).wait();
    const word0 = await nonceWordOf(f.reader, f.patient.address, 0);
    const word1 = await nonceWordOf(f.reader, f.patient.address, 1n);
    expect(usedNonces(0, word0)).to.deep.equal([3n]);
    expect(usedNonces(1, word1)).to.deep.equal([263n]);
    expect(await f.patientClient.nextNonce()).to.equal(0n);
    await expect(nonceWordOf(f.reader, f.patient.address, -1)).to.be.rejectedWith(InvalidArgumentError, /word/);
  });

  it("accreditationOf: roles, status and end date by value", async function () {
    const f = await loadFixture(readsFixture);
    const hospital = await accreditationOf(f.reader, f.hospital.address);
    expect(roleNames(hospital.roles)).to.deep.equal(["PROVIDER", "CUSTODIAN"]);
    expect(hospital).to.deep.include({ suspended: false });
    expect(await accreditationOf(f.reader, f.stranger.address)).to.deep.include({ roles: 0 });
  });
});

describe("the SDK's writes take overrides", function () {
  it("sends with the gas limit and nonce given", async function () {
    const f = await loadFixture(readsFixture);
    const nonce = await ethers.provider.getTransactionCount(f.patient.address);
    const pending = await f.patientClient.grant(
      {
        grantee: f.lab.address,
        dataClasses: ["LAB_RESULT"],
        purposes: ["TREAT"],
        validUntil: (await time.latest()) + DAY,
      },
      {},
      { gasLimit: 400_000n, nonce },
    );
    await pending.wait();
    const sent = await ethers.provider.getTransaction(pending.hash);
    expect(sent?.gasLimit).to.equal(400_000n);
    expect(sent?.nonce).to.equal(nonce);
  });

  it("refuses an unknown or malformed override before sending, and a gas limit too low fails as a ConsentLedgerError", async function () {
    const f = await loadFixture(readsFixture);
    await expect(f.patientClient.clearPolicy({ gas: 1 } as never)).to.be.rejectedWith(
      InvalidArgumentError,
      /unknown field "gas"/,
    );
    await expect(f.patientClient.clearPolicy({ nonce: -1 })).to.be.rejectedWith(
      InvalidArgumentError,
      /overrides.nonce/,
    );
    await expect(f.patientClient.clearPolicy({ gasPrice: 1n, maxFeePerGas: 2n })).to.be.rejectedWith(
      InvalidArgumentError,
      /exclude/,
    );
    await expect(
      f.patientClient
        .appointDelegate(f.delegate.address, (await time.latest()) + DAY, CARE_DELEGATE_SCOPE, { gasLimit: 21_000n })
        .then((pending) => pending.wait()),
    ).to.be.rejectedWith(ConsentLedgerError);
  });
});

describe("the SDK's code tables", function () {
  it("turns every code of every table into its name and back", function () {
    for (const [tableName, table] of Object.entries(CODE_TABLES)) {
      for (const [name, code] of Object.entries(table)) {
        expect(nameOf(table, code), `${tableName} ${code}`).to.equal(name);
        expect(codeOf(table, name), `${tableName} ${name}`).to.equal(code);
        expect(codeOf(table, name.toLowerCase().replace(/_/g, "-"))).to.equal(code);
      }
    }
    expect(nameOf(DataClass, 31)).to.equal(undefined);
    expect(nameOf(AccessBasis, 1n)).to.equal("Consent");
    expect(() => codeOf(DataClass, "LAB_RESULTS")).to.throw(UnknownCodeError, /data class/);
    expect(roleMask(["provider", "CUSTODIAN"])).to.equal(Role.PROVIDER | Role.CUSTODIAN);
    expect(() => roleMask(["ADMIN"])).to.throw(UnknownCodeError, /role/);
  });
});

describe("the SDK's error classes", function () {
  it("are every one exported from an entry point", function () {
    const root = path.resolve(__dirname, "../../sdk");
    const files = (function walk(dir: string): string[] {
      return readdirSync(dir).flatMap((name) => {
        const full = path.join(dir, name);
        return statSync(full).isDirectory() ? walk(full) : full.endsWith(".ts") ? [full] : [];
      });
    })(root);
    const declared = files.flatMap((file) =>
      [...readFileSync(file, "utf8").matchAll(/export class (\w+) extends \w*Error\b/g)].map((m) => m[1]),
    );
    expect(declared.length).to.be.greaterThan(15);
    const exported = { ...core, ...node } as Record<string, unknown>;
    expect(declared.filter((name) => typeof exported[name] !== "function")).to.deep.equal([]);
  });
});

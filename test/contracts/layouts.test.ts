/**
 * Pins the layout of every packed storage word (docs/contracts.md, "Packed words"). Each word is written
 * through the contracts' public functions, read raw with eth_getStorageAt, and taken apart with the
 * tables below, which are written from the docs and share nothing with contracts/types/*.sol: a field
 * moved, widened or added in the contracts (or in the struct whose layout the compiler derives) fails
 * here. The SDK decodes one packed word, the consent's, as a signed grant or approval names it
 * (`seenConsent`: consentWordOf/consentOfWord); test/sdk/consent-preview.test.ts holds it to the ledger.
 */
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { AbiCoder, id, keccak256, solidityPackedKeccak256, sha256, toUtf8Bytes } from "ethers";
import { ethers } from "hardhat";

import { DataClass, Duo, EmergencyReason, Purpose, RequestStatus, Role, maskOf } from "../../sdk/codes";
import { openResearchRequest } from "../helpers/consent-behaviours";
import { DAY, LEDGER_PARAMS, YEAR, deployLedgerFixture } from "../helpers/fixtures";
import { DIABETES, minedAt } from "../helpers/requests";

interface Field {
  name: string;
  offset: number;
  bits: number;
}
type Layout = readonly Field[];

/** The tables of docs/contracts.md, "Packed words". */
const CONSENT: Layout = [
  { name: "dataClasses", offset: 0, bits: 32 },
  { name: "purposes", offset: 32, bits: 32 },
  { name: "validFrom", offset: 64, bits: 40 },
  { name: "validUntil", offset: 104, bits: 40 },
  { name: "revoked", offset: 255, bits: 1 },
];
const PARTY: Layout = [
  { name: "roles", offset: 0, bits: 8 },
  { name: "nonProfit", offset: 8, bits: 8 },
  { name: "suspended", offset: 16, bits: 8 },
  { name: "accreditedUntil", offset: 24, bits: 40 },
  { name: "index", offset: 64, bits: 32 },
  { name: "suspensions", offset: 96, bits: 16 },
];
const REQUEST: Layout = [
  { name: "status", offset: 0, bits: 8 },
  { name: "expiresAt", offset: 8, bits: 40 },
];
const RECORD: Layout = [
  { name: "patient", offset: 0, bits: 160 },
  { name: "providerIndex", offset: 160, bits: 32 },
  { name: "version", offset: 192, bits: 32 },
  { name: "dataClass", offset: 224, bits: 8 },
  { name: "superseded", offset: 232, bits: 8 },
];
const PATIENT_SETTINGS: Layout = [
  { name: "permission", offset: 0, bits: 8 },
  { name: "modifiers", offset: 8, bits: 64 },
  { name: "dataClasses", offset: 72, bits: 32 },
  { name: "purposes", offset: 104, bits: 16 },
  { name: "diseaseId", offset: 120, bits: 32 },
  { name: "maxDuration", offset: 152, bits: 40 },
  { name: "validUntil", offset: 192, bits: 40 },
  { name: "emergencyOptOut", offset: 232, bits: 8 },
  { name: "emergencyEpoch", offset: 240, bits: 16 },
];
const EMERGENCY_WINDOW: Layout = [
  { name: "until", offset: 0, bits: 40 },
  { name: "epoch", offset: 40, bits: 16 },
  { name: "suspensions", offset: 56, bits: 16 },
  { name: "periodStart", offset: 72, bits: 40 },
];

const DELEGATION: Layout = [
  { name: "validUntil", offset: 0, bits: 40 },
  { name: "purposes", offset: 40, bits: 32 },
  { name: "sensitiveClasses", offset: 72, bits: 8 },
];

const mask = (bits: number) => (1n << BigInt(bits)) - 1n;

/** Every field of `word` under `layout`; throws if a bit outside every field is set. */
function decode(word: bigint, layout: Layout): Record<string, bigint> {
  let rest = word;
  const fields: Record<string, bigint> = {};
  for (const { name, offset, bits } of layout) {
    fields[name] = (word >> BigInt(offset)) & mask(bits);
    rest &= ~(mask(bits) << BigInt(offset));
  }
  if (rest !== 0n) throw new Error(`bits outside the documented fields are set: 0x${rest.toString(16)}`);
  return fields;
}

/**
 * `word` holds exactly `expected` (fields not named are zero). An address may be given as its hex string:
 * BigInt reads it as the 160-bit number the slot holds.
 */
function expectWord(word: bigint, layout: Layout, expected: Record<string, bigint | number | boolean | string>) {
  const want = Object.fromEntries(layout.map(({ name }) => [name, BigInt(expected[name] ?? 0)]));
  expect(decode(word, layout)).to.deep.equal(want);
}

const abi = AbiCoder.defaultAbiCoder();
/** Solidity's slot of `mapping[key]` for a mapping at `base`: keccak256(abi.encode(key, base)). */
const mappingSlot = (keyType: string, key: unknown, base: bigint | string) =>
  keccak256(abi.encode([keyType, "uint256"], [key, base]));

async function storageAt(contract: { getAddress(): Promise<string> }, slot: string): Promise<bigint> {
  return BigInt(await ethers.provider.getStorage(await contract.getAddress(), slot));
}

/** The one base slot (of the first 64) under which `slotOf(base)` holds a non-zero word. */
async function baseOf(contract: { getAddress(): Promise<string> }, slotOf: (base: bigint) => string): Promise<bigint> {
  const found: bigint[] = [];
  for (let base = 0n; base < 64n; base++) if ((await storageAt(contract, slotOf(base))) !== 0n) found.push(base);
  if (found.length !== 1) throw new Error(`expected one mapping base holding the word, found [${found.join(", ")}]`);
  return found[0];
}

describe("packed storage words (docs/contracts.md, Packed words)", function () {
  it("the documented tables: fields in order, none overlapping, all inside one word", function () {
    for (const layout of [CONSENT, PARTY, REQUEST, RECORD, PATIENT_SETTINGS, EMERGENCY_WINDOW, DELEGATION]) {
      let next = 0;
      for (const { offset, bits } of layout) {
        expect(offset).to.be.at.least(next);
        next = offset + bits;
      }
      expect(next).to.be.at.most(256);
    }
  });

  it("consent: classes, purposes, validFrom, validUntil; a revocation leaves bit 255 alone", async function () {
    const f = await loadFixture(deployLedgerFixture);
    const slot = solidityPackedKeccak256(["address", "address"], [f.patient.address, f.hospital.address]);
    const dataClasses = maskOf([DataClass.LAB_RESULT, DataClass.MEDICATION, DataClass.SUBSTANCE_USE]);
    const purposes = maskOf([Purpose.ETREAT, Purpose.PATRQT]);
    const validUntil = (await time.latest()) + 30 * DAY;
    await f.ledger
      .connect(f.patient)
      .grant(f.patient.address, f.hospital.address, dataClasses, purposes, 7, validUntil);
    expectWord(await storageAt(f.ledger, slot), CONSENT, { dataClasses, purposes, validFrom: 7, validUntil });

    await f.ledger.connect(f.patient).revoke(f.patient.address, f.hospital.address);
    expectWord(await storageAt(f.ledger, slot), CONSENT, { revoked: 1 });
  });

  it("party: roles, nonProfit, suspended, accreditedUntil, index, suspensions (the struct's compiled layout)", async function () {
    const f = await loadFixture(deployLedgerFixture);
    const until = (await time.latest()) + YEAR;
    await f.ledger.connect(f.admin).accredit(f.stranger.address, Role.PROVIDER | Role.CUSTODIAN, true, until);
    const base = await baseOf(f.ledger, (b) => mappingSlot("address", f.stranger.address, b));
    const slot = mappingSlot("address", f.stranger.address, base);
    // The fixture accredits four parties; this is the fifth.
    const accredited = { roles: Role.PROVIDER | Role.CUSTODIAN, nonProfit: 1, accreditedUntil: until, index: 5 };
    expectWord(await storageAt(f.ledger, slot), PARTY, accredited);

    // The access check's assembly reads the raw word at PartyWordLibrary's offsets: each of its three
    // fields must be the one the struct wrote.
    expect(await f.ledger.isAccredited(f.stranger.address, Role.CUSTODIAN)).to.be.true;
    expect(await f.ledger.isAccredited(f.stranger.address, Role.RESEARCHER)).to.be.false;

    await f.ledger.connect(f.admin).suspend(f.stranger.address, 3);
    expectWord(await storageAt(f.ledger, slot), PARTY, { ...accredited, suspended: 1, suspensions: 1 });
    expect(await f.ledger.isAccredited(f.stranger.address, Role.CUSTODIAN)).to.be.false;
    await f.ledger.connect(f.admin).reinstate(f.stranger.address);
    expectWord(await storageAt(f.ledger, slot), PARTY, { ...accredited, suspensions: 1 });
    expect(await f.ledger.isAccredited(f.stranger.address, Role.CUSTODIAN)).to.be.true;

    await time.increaseTo(until);
    expect(await f.ledger.isAccredited(f.stranger.address, Role.CUSTODIAN)).to.be.false;
  });

  it("delegation: validUntil, purposes, sensitiveClasses (the struct's compiled layout); cleared when removed", async function () {
    const f = await loadFixture(deployLedgerFixture);
    const until = (await time.latest()) + 30 * DAY;
    const purposes = maskOf([Purpose.TREAT, Purpose.PATRQT]);
    await f.ledger.connect(f.patient).appointDelegate(f.delegate.address, until, purposes, true);
    // mapping(patient => mapping(delegate => Delegation)): the inner mapping's base is the outer slot.
    const slotOf = (base: bigint) =>
      mappingSlot("address", f.delegate.address, mappingSlot("address", f.patient.address, base));
    const base = await baseOf(f.ledger, slotOf);
    expectWord(await storageAt(f.ledger, slotOf(base)), DELEGATION, {
      validUntil: until,
      purposes,
      sensitiveClasses: 1,
    });

    await f.ledger.connect(f.patient).appointDelegate(f.delegate.address, until + 1, maskOf([Purpose.TREAT]), false);
    expectWord(await storageAt(f.ledger, slotOf(base)), DELEGATION, {
      validUntil: until + 1,
      purposes: maskOf([Purpose.TREAT]),
    });
    await f.ledger.connect(f.patient).removeDelegate(f.delegate.address);
    expect(await storageAt(f.ledger, slotOf(base))).to.equal(0n);
  });

  it("request: status, expiresAt; cleared when decided", async function () {
    const f = await loadFixture(deployLedgerFixture);
    const { request, requestId } = await openResearchRequest(f);
    const base = await baseOf(f.ledger, (b) => mappingSlot("bytes32", requestId, b));
    const slot = mappingSlot("bytes32", requestId, base);
    const expiresAt = request.openedAt + LEDGER_PARAMS.requestTtl;
    expectWord(await storageAt(f.ledger, slot), REQUEST, { status: RequestStatus.Pending, expiresAt });

    await f.ledger.connect(f.patient).denyRequest(request);
    expect(await storageAt(f.ledger, slot)).to.equal(0n);
  });

  it("patient settings: the policy's seven fields, the emergency opt-out and its epoch (SettingsWord)", async function () {
    const f = await loadFixture(deployLedgerFixture);
    const validUntil = (await time.latest()) + YEAR;
    const policy = {
      permission: Duo.DS,
      modifiers: (1n << BigInt(Duo.TS)) | (1n << BigInt(Duo.PUB)) | (1n << BigInt(Duo.NCU)),
      dataClasses: maskOf([DataClass.LAB_RESULT, DataClass.GENOMIC]),
      purposes: maskOf([Purpose.BIORCH, Purpose.CLINTRCH]),
      diseaseId: DIABETES,
      maxDuration: 90 * DAY,
      validUntil,
    };
    await f.ledger.connect(f.patient).setEmergencyOptOut(true);
    await f.ledger.connect(f.patient).setPolicy(policy);
    const base = await baseOf(f.ledger, (b) => mappingSlot("address", f.patient.address, b));
    const slot = mappingSlot("address", f.patient.address, base);
    expectWord(await storageAt(f.ledger, slot), PATIENT_SETTINGS, {
      ...policy,
      emergencyOptOut: 1,
      emergencyEpoch: 1,
    });

    await f.ledger.connect(f.patient).setEmergencyOptOut(false);
    await f.ledger.connect(f.patient).clearPolicy();
    expectWord(await storageAt(f.ledger, slot), PATIENT_SETTINGS, { emergencyEpoch: 1 });
  });

  it("emergency window: until, the patient's epoch, the provider's suspensions, the period's start; closing clears until only", async function () {
    const f = await loadFixture(deployLedgerFixture);
    await f.ledger.connect(f.patient).setEmergencyOptOut(true);
    await f.ledger.connect(f.patient).setEmergencyOptOut(false);
    await f.ledger.connect(f.admin).suspend(f.lab.address, 1);
    await f.ledger.connect(f.admin).suspend(f.lab.address, 1);
    await f.ledger.connect(f.admin).reinstate(f.lab.address);
    const duration = 2 * 60 * 60;
    const openedAt = await minedAt(
      await f.ledger
        .connect(f.lab)
        .openEmergencyAccess(f.patient.address, EmergencyReason.PATIENT_UNRESPONSIVE, duration),
    );
    // mapping(patient => mapping(provider => word)): the inner mapping's base is the outer entry's slot.
    const base = await baseOf(f.ledger, (b) =>
      mappingSlot("address", f.lab.address, mappingSlot("address", f.patient.address, b)),
    );
    const slot = mappingSlot("address", f.lab.address, mappingSlot("address", f.patient.address, base));
    const open = { until: openedAt + duration, epoch: 1, suspensions: 2, periodStart: openedAt };
    expectWord(await storageAt(f.ledger, slot), EMERGENCY_WINDOW, open);

    await f.ledger.connect(f.lab).closeEmergencyAccess(f.patient.address);
    expectWord(await storageAt(f.ledger, slot), EMERGENCY_WINDOW, { ...open, until: 0 });
  });

  it("record: patient, providerIndex, version, dataClass, superseded; for anchored and batched records", async function () {
    const f = await loadFixture(deployLedgerFixture);
    const v1 = sha256(toUtf8Bytes("layout: version 1"));
    const v2 = sha256(toUtf8Bytes("layout: version 2"));
    const pointer = "0x";
    const labIndex = (await f.ledger.partyOf(f.lab.address)).index;
    expect(labIndex).to.equal(2n);
    await f.records.connect(f.lab).anchorRecord(f.patient.address, v1, DataClass.IMAGING, pointer);
    const base = await baseOf(f.records, (b) => mappingSlot("bytes32", v1, b));
    const record = { patient: f.patient.address, providerIndex: labIndex, version: 1, dataClass: DataClass.IMAGING };
    expectWord(await storageAt(f.records, mappingSlot("bytes32", v1, base)), RECORD, record);

    await f.records.connect(f.lab).amendRecord(v1, v2, pointer);
    expectWord(await storageAt(f.records, mappingSlot("bytes32", v1, base)), RECORD, { ...record, superseded: 1 });
    expectWord(await storageAt(f.records, mappingSlot("bytes32", v2, base)), RECORD, { ...record, version: 2 });

    // A batched record's word, stored when it is amended: same layout, in the provider's own namespace.
    const leaf = sha256(toUtf8Bytes("layout: batched"));
    const hashed = keccak256(
      keccak256(abi.encode(["bytes32", "address", "uint8"], [leaf, f.otherPatient.address, DataClass.GENOMIC])),
    );
    // A batch of one: the root is the leaf's hash and the proof is empty.
    await f.records.connect(f.lab).anchorBatch(hashed, 1, pointer);
    const batched = { contentHash: leaf, patient: f.otherPatient.address, dataClass: DataClass.GENOMIC };
    await f.records.connect(f.lab).amendBatchedRecord(hashed, batched, [], id("layout: batched v2"), pointer);
    const batchedBase = await baseOf(f.records, (b) =>
      mappingSlot("bytes32", leaf, mappingSlot("uint32", labIndex, b)),
    );
    expectWord(
      await storageAt(f.records, mappingSlot("bytes32", leaf, mappingSlot("uint32", labIndex, batchedBase))),
      RECORD,
      {
        patient: f.otherPatient.address,
        providerIndex: labIndex,
        version: 1,
        dataClass: DataClass.GENOMIC,
        superseded: 1,
      },
    );
  });
});

/**
 * The SDK's bounded reads of one patient (sdk/clients/patient-events.ts) on a real Hardhat chain: the
 * events in a fixed number of log queries, remembered by block; the state in one eth_call through
 * ReadBatch's creation code; the audit trail with block times and senders for the newest entries only.
 * Calls are counted on the real provider (each still goes to the node).
 */
import { loadFixture, mine, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers } from "hardhat";

import {
  AuditClient,
  CARE_DELEGATE_SCOPE,
  ConsentLedgerError,
  InvalidArgumentError,
  PatientClient,
  PatientEventReader,
  Purpose,
  ResearcherClient,
  accreditationOf,
  delegatesOf,
  maskOf,
  patientState,
  policyOf,
  readBatch,
  requestsOf,
} from "../../sdk/index";
import { DAY, deployLedgerFixture } from "../helpers/fixtures";
import { sdkContracts } from "../helpers/sdk";

async function patientFixture() {
  const suite = await deployLedgerFixture();
  const patient = new PatientClient(await sdkContracts(suite, suite.patient), suite.patient);
  const researcher = new ResearcherClient(await sdkContracts(suite, suite.university), suite.university);
  const reader = await sdkContracts(suite, ethers.provider as never);
  const now = await time.latest();
  await (
    await patient.grant({
      grantee: suite.hospital.address,
      dataClasses: ["LAB_RESULT"],
      purposes: ["TREAT"],
      validUntil: now + 30 * DAY,
    })
  ).wait();
  await (await patient.appointDelegate(suite.delegate.address, now + 60 * DAY, CARE_DELEGATE_SCOPE)).wait();
  await (
    await patient.setPolicy({
      permission: "HMB",
      modifiers: ["TS"],
      dataClasses: ["LAB_RESULT"],
      purposes: ["HRESCH"],
      maxDuration: 90 * DAY,
      validUntil: now + 365 * DAY,
    })
  ).wait();
  for (const studyId of ["bounded-reads-1", "bounded-reads-2"]) {
    await (
      await researcher.requestAccess({
        patient: suite.patient.address,
        dataClasses: ["GENOMIC"],
        purpose: "HRESCH",
        researchCategory: "HMB",
        duration: 30 * DAY,
        studyId,
      })
    ).wait();
  }
  return { ...suite, patientClient: patient, researcher, reader };
}

/** Counts the JSON-RPC methods the provider sends from now on (the calls still reach the node). */
function countCalls(): { counts: Map<string, number>; stop: () => void } {
  // Every read of ethers' Hardhat provider goes through the network provider's send.
  const provider = (
    ethers.provider as unknown as {
      _hardhatProvider: { send: (method: string, params?: unknown[]) => Promise<unknown> };
    }
  )._hardhatProvider;
  const send = provider.send.bind(provider);
  const counts = new Map<string, number>();
  provider.send = (method: string, params?: unknown[]) => {
    counts.set(method, (counts.get(method) ?? 0) + 1);
    return send(method, params);
  };
  return { counts, stop: () => (provider.send = send) };
}

describe("the SDK's bounded reads of a patient", function () {
  it("readBatch: many view calls in one eth_call at one block, a failing one reported, nothing deployed", async function () {
    const f = await loadFixture(patientFixture);
    const ledger = await f.ledger.getAddress();
    const iface = f.reader.ledger.interface;
    const block = await ethers.provider.getBlock("latest");
    const calls = countCalls();
    let batch;
    try {
      batch = await readBatch(
        f.reader,
        [
          { target: ledger, data: iface.encodeFunctionData("delegateUntil", [f.patient.address, f.delegate.address]) },
          { target: ledger, data: iface.encodeFunctionData("emergencyOptedOut", [f.patient.address]) },
          // Not a function of the ledger: reverts, without failing the batch.
          { target: ledger, data: "0xdeadbeef" },
        ],
        f.patient.address,
        block!.number,
      );
    } finally {
      calls.stop();
    }
    expect(Object.fromEntries(calls.counts)).to.deep.equal({ eth_call: 1 });
    expect(batch.blockNumber).to.equal(block!.number);
    expect(batch.timestamp).to.equal(block!.timestamp);
    expect(batch.balance).to.equal(await ethers.provider.getBalance(f.patient.address, block!.number));
    expect(batch.results.map((result) => result.success)).to.deep.equal([true, true, false]);
    expect(Number(iface.decodeFunctionResult("delegateUntil", batch.results[0].returnData)[0])).to.equal(
      Number(await f.ledger.delegateUntil(f.patient.address, f.delegate.address)),
    );
  });

  it("readBatch: refuses an answer from another block than the one asked for", async function () {
    const f = await loadFixture(patientFixture);
    const asked = await ethers.provider.getBlockNumber();
    await mine(3);
    // A real node behind a relay that drops the block asked for (a load balancer, a careless proxy): it
    // answers at the latest block instead.
    const relay = new Proxy(f.reader.provider, {
      get(target, property, receiver) {
        if (property === "call") return (tx: object) => target.call({ ...tx, blockTag: "latest" });
        return Reflect.get(target, property, receiver) as unknown;
      },
    });
    const iface = f.reader.ledger.interface;
    const call = {
      target: await f.ledger.getAddress(),
      data: iface.encodeFunctionData("emergencyOptedOut", [f.patient.address]),
    };
    const error = await readBatch({ ...f.reader, provider: relay }, [call], f.patient.address, asked).catch(
      (caught: unknown) => caught,
    );
    expect(error).to.be.instanceOf(ConsentLedgerError);
    expect((error as ConsentLedgerError).shortMessage).to.equal(
      `The node answered a batch of reads asked at block ${asked} at block ${asked + 3}`,
    );
    // The honest node answers at the block asked for.
    expect((await readBatch(f.reader, [call], f.patient.address, asked)).blockNumber).to.equal(asked);
  });

  it("PatientEventReader: four log queries (five with records) from the deployment, none again at the same block, four for new blocks", async function () {
    const f = await loadFixture(patientFixture);
    const reader = new PatientEventReader(f.reader);
    const calls = countCalls();
    try {
      const first = await reader.read(f.patient.address);
      expect(calls.counts.get("eth_getLogs")).to.equal(4);
      expect(first.granted).to.have.length(1);
      expect(first.appointed).to.have.length(1);
      expect(first.policySet).to.have.length(1);
      expect(first.opened).to.have.length(2);
      calls.counts.clear();
      const again = await reader.read(f.patient.address, first.toBlock);
      expect(again).to.equal(first);
      expect(calls.counts.get("eth_getLogs") ?? 0, "a read at the same block makes no log query").to.equal(0);
    } finally {
      calls.stop();
    }
    // Twenty more events: the same number of queries, and the same events as a reader with no memory.
    const now = await time.latest();
    for (let index = 0; index < 10; index++) {
      const grantee = ethers.Wallet.createRandom().address;
      await (
        await f.patientClient.grant({
          grantee,
          dataClasses: ["VITAL_SIGNS"],
          purposes: ["TREAT"],
          validUntil: now + 30 * DAY,
        })
      ).wait();
      await (await f.patientClient.revoke(grantee)).wait();
    }
    const more = countCalls();
    let grown;
    try {
      grown = await reader.read(f.patient.address);
      expect(more.counts.get("eth_getLogs")).to.equal(4);
    } finally {
      more.stop();
    }
    const fresh = await new PatientEventReader(f.reader).read(f.patient.address, grown.toBlock);
    for (const family of ["granted", "revoked", "opened", "appointed", "policySet"] as const) {
      expect(
        grown[family].map((event) => `${event.transactionHash}:${event.index}`),
        family,
      ).to.deep.equal(fresh[family].map((event) => `${event.transactionHash}:${event.index}`));
    }
    expect(grown.granted).to.have.length(11);
    expect(grown.revoked).to.have.length(10);
    // A node that limits a log query's range: the same events, read in windows.
    const windowed = await new PatientEventReader(f.reader, { maxBlockRange: 5 }).read(
      f.patient.address,
      grown.toBlock,
    );
    for (const family of ["granted", "revoked", "opened", "appointed", "policySet"] as const) {
      expect(
        windowed[family].map((event) => `${event.transactionHash}:${event.index}`),
        family,
      ).to.deep.equal(fresh[family].map((event) => `${event.transactionHash}:${event.index}`));
    }
    expect(() => new PatientEventReader(f.reader, { maxBlockRange: 0 })).to.throw(
      InvalidArgumentError,
      "maxBlockRange",
    );
  });

  it("patientState: what the SDK's single reads say, in one eth_call", async function () {
    const f = await loadFixture(patientFixture);
    const events = await new PatientEventReader(f.reader).read(f.patient.address);
    const calls = countCalls();
    let state;
    try {
      state = await patientState(f.reader, f.patient.address, events);
    } finally {
      calls.stop();
    }
    expect(Object.fromEntries(calls.counts)).to.deep.equal({ eth_call: 1 });
    expect(state.policy).to.deep.equal(await policyOf(f.reader, f.patient.address));
    expect(state.consents.map((consent) => consent.grantee)).to.deep.equal([f.hospital.address]);
    expect(state.consents[0]).to.deep.equal(await f.patientClient.consentTo(f.hospital.address));
    // The same batched read gives each delegate's scope as delegatesOf does.
    expect(state.delegates).to.deep.equal(await delegatesOf(f.reader, f.patient.address));
    expect(state.delegates).to.deep.equal([
      {
        delegate: f.delegate.address,
        validUntil: Number(await f.ledger.delegateUntil(f.patient.address, f.delegate.address)),
        purposes: maskOf([Purpose.TREAT, Purpose.ETREAT, Purpose.CAREMGT]),
        sensitiveClasses: false,
      },
    ]);
    const pending = await requestsOf(f.reader, { patient: f.patient.address });
    expect(state.requests.map((view) => view.requestId)).to.deep.equal(pending.map((view) => view.requestId));
    expect(state.requests[0].party).to.deep.equal(await accreditationOf(f.reader, f.university.address));
    expect(state.optedOut).to.equal(false);
    expect(state.balance).to.equal(await ethers.provider.getBalance(f.patient.address));
    // A decided request is no longer pending.
    await (await f.patientClient.deny(pending[0].request)).wait();
    const later = await patientState(
      f.reader,
      f.patient.address,
      await new PatientEventReader(f.reader).read(f.patient.address),
    );
    expect(later.requests.map((view) => view.requestId)).to.deep.equal([pending[1].requestId]);
  });

  it("AuditClient.trail: block times and senders for the newest entries only; history has them all", async function () {
    const f = await loadFixture(patientFixture);
    const audit = new AuditClient(f.reader);
    const full = await new AuditClient(f.reader).history(f.patient.address);
    const calls = countCalls();
    let trail;
    try {
      trail = await audit.trail(f.patient.address, { details: 2 });
    } finally {
      calls.stop();
    }
    expect(trail).to.have.length(full.length);
    expect(trail.filter((entry) => entry.time !== undefined)).to.have.length(2);
    expect(trail.slice(-2).every((entry) => entry.time !== undefined)).to.equal(true);
    expect(
      (calls.counts.get("eth_getBlockByHash") ?? 0) + (calls.counts.get("eth_getBlockByNumber") ?? 0),
    ).to.be.at.most(2);
    expect(calls.counts.get("eth_getTransactionByHash") ?? 0).to.be.at.most(2);
    // The grant's basis needs its sender: unknown until asked for, then the patient's own.
    const grant = trail.find((entry) => entry.action === "consent-granted");
    expect(grant?.basis).to.equal(undefined);
    expect(full.find((entry) => entry.action === "consent-granted")?.basis).to.equal("patient");
    expect(await audit.history(f.patient.address)).to.deep.equal(full);
  });
});

/**
 * The patient's page against spam, on a real Hardhat chain: any accredited party can emit events naming
 * a patient (a provider anchoring records for it, a researcher opening requests), and everything they
 * name is read. The reads must stay bounded per query and per call (record ids in log topic lists and
 * view calls in readBatch eth_calls, MAX_PER_QUERY each), and requests of researchers who are no longer
 * live must not reach the page. Before chunking, the one readBatch of 155 calls returned more than a
 * contract's code may be (EIP-170) and the node refused it: the page failed.
 */
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { AbiCoder, dataSlice, sha256, toUtf8Bytes } from "ethers";
import { ethers } from "hardhat";

import {
  AuditClient,
  MAX_CALLS_PER_BATCH,
  MAX_PER_QUERY,
  PatientEventReader,
  ResearcherClient,
  patientState,
} from "../../sdk/index";
import { Purpose } from "../../sdk/codes";
import { ReadBatch__factory } from "../../typechain-types/factories/contracts/lens/ReadBatch__factory";
import { DAY, deployLedgerFixture } from "../helpers/fixtures";
import { sdkContracts } from "../helpers/sdk";

const SPAM = 150;

async function spamFixture() {
  const suite = await deployLedgerFixture();
  const spammer = new ResearcherClient(await sdkContracts(suite, suite.pharma), suite.pharma);
  const honest = new ResearcherClient(await sdkContracts(suite, suite.university), suite.university);
  // A provider anchors SPAM records for the patient; a researcher opens SPAM requests, then is suspended.
  for (let i = 0; i < SPAM; i++) {
    await suite.records
      .connect(suite.lab)
      .anchorRecord(suite.patient.address, sha256(toUtf8Bytes(`spam ${i}`)), 0, toUtf8Bytes("cid"));
  }
  for (let i = 0; i < SPAM; i++) {
    await spammer.requestAccess({
      patient: suite.patient.address,
      dataClasses: ["LAB_RESULT"],
      purpose: "HRESCH",
      researchCategory: "HMB",
      duration: 30 * DAY,
      studyId: `spam-${i}`,
    });
  }
  await suite.ledger.connect(suite.admin).suspend(suite.pharma.address, 1);
  await (
    await honest.requestAccess({
      patient: suite.patient.address,
      dataClasses: ["LAB_RESULT"],
      purpose: "HRESCH",
      researchCategory: "HMB",
      duration: 30 * DAY,
      studyId: "honest",
    })
  ).wait();
  // One release of a spam record, logged by the hospital.
  await suite.accessLog
    .connect(suite.hospital)
    .logRelease(sha256(toUtf8Bytes(`spam ${SPAM - 1}`)), suite.university.address, Purpose.HRESCH, 1);
  return { ...suite, reader: await sdkContracts(suite, ethers.provider as never) };
}

/** Records every eth_getLogs and eth_call the provider sends from now on (each still reaches the node). */
function recordCalls(): { logs: unknown[][]; calls: string[]; stop: () => void } {
  const provider = (
    ethers.provider as unknown as {
      _hardhatProvider: { send: (method: string, params?: unknown[]) => Promise<unknown> };
    }
  )._hardhatProvider;
  const send = provider.send.bind(provider);
  const seen = { logs: [] as unknown[][], calls: [] as string[] };
  provider.send = (method: string, params?: unknown[]) => {
    if (method === "eth_getLogs") seen.logs.push(((params?.[0] as { topics?: unknown[] }).topics ?? []) as unknown[]);
    if (method === "eth_call") seen.calls.push((params?.[0] as { data: string }).data);
    return send(method, params);
  };
  return { ...seen, stop: () => (provider.send = send) };
}

/** How many view calls one readBatch eth_call carries (its constructor's targets). */
function callsIn(data: string): number {
  const args = dataSlice(data, (ReadBatch__factory.bytecode.length - 2) / 2);
  return (AbiCoder.defaultAbiCoder().decode(["address[]", "bytes[]", "address"], args)[0] as string[]).length;
}

describe("The patient's page against spam", function () {
  it(`reads ${SPAM} spammed records and ${SPAM} spammed requests in bounded chunks`, async function () {
    const f = await loadFixture(spamFixture);
    const block = await ethers.provider.getBlockNumber();
    const seen = recordCalls();
    let state: Awaited<ReturnType<typeof patientState>>;
    try {
      const events = await new PatientEventReader(f.reader).read(f.patient.address, block);
      expect(events.anchored).to.have.length(SPAM);
      expect(events.opened).to.have.length(SPAM + 1);
      expect(events.released).to.have.length(1);
      state = await patientState(f.reader, f.patient.address, events);
    } finally {
      seen.stop();
    }
    // Each log query names at most MAX_PER_QUERY record ids; each eth_call carries at most MAX_PER_QUERY calls.
    const idLists = seen.logs.map((topics) => (Array.isArray(topics[1]) ? (topics[1] as unknown[]).length : 1));
    expect(Math.max(...idLists)).to.be.at.most(MAX_PER_QUERY);
    expect(seen.logs.length).to.equal(4 + Math.ceil(SPAM / MAX_PER_QUERY));
    const sizes = seen.calls.map(callsIn);
    expect(Math.max(...sizes)).to.be.at.most(MAX_CALLS_PER_BATCH);
    expect(sizes).to.have.length(Math.ceil((2 + SPAM + 1 + 2) / MAX_CALLS_PER_BATCH));
    // policy, opt-out, SPAM + 1 request statuses and 2 researchers (no consents, delegates or windows).
    expect(sizes.reduce((a, b) => a + b, 0)).to.equal(2 + SPAM + 1 + 2);
    expect(state.blockNumber).to.equal(block);
    expect(state.unread).to.deep.equal([]);
    // Only the live researcher's request is shown.
    expect(state.requests.map((request) => request.request.researcher)).to.deep.equal([f.university.address]);
  });

  it("builds the trail over the spam", async function () {
    const f = await loadFixture(spamFixture);
    const trail = await new AuditClient(f.reader).trail(f.patient.address, { details: 10 });
    expect(trail.filter((entry) => entry.action === "record-anchored")).to.have.length(SPAM);
    expect(trail.filter((entry) => entry.action === "key-released")).to.have.length(1);
  });
});

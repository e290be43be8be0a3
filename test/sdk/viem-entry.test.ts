/**
 * The viem entry ("consent-ledger/viem") against the ethers entry ("consent-ledger") as the oracle: the
 * same patient and administrator flow, once through each entry on a fresh copy of the same suite, must
 * give deep-equal results and errors (names, arguments with their JavaScript types, messages, hints).
 * The viem run uses a local account (the patient, like an embedded wallet) and the node's JSON-RPC
 * accounts (the others, like a browser wallet).
 */
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { ethers, network } from "hardhat";
import { createPublicClient, custom } from "viem";

import * as ethersEntry from "../../sdk/index";
import * as viemEntry from "../../sdk/viem";
import { DAY, deployLedgerFixture } from "../helpers/fixtures";
import { deploymentOf, failure, hardhatChain as chain, typed, viemWallet } from "../helpers/viem";

// Fixed times, so that the two runs (seconds apart) store the same values.
const UNTIL = 2_000_000_000;
const DEADLINE = 1_990_000_000;

type Suite = Awaited<ReturnType<typeof deployLedgerFixture>>;

/** What each entry's clients do for a patient and an administrator; the same lines for both. */
interface Entry {
  connect(who: "admin" | "patient" | "delegate" | "researcher" | "reader"): Promise<unknown>;
  patient(contracts: unknown): ethersEntry.PatientClient | viemEntry.PatientClient;
  researcher(contracts: unknown): ethersEntry.ResearcherClient | viemEntry.ResearcherClient;
  admin(contracts: unknown, who: "admin" | "patient"): ethersEntry.AdminClient | viemEntry.AdminClient;
  reads: Pick<
    typeof ethersEntry,
    "policyOf" | "accreditationOf" | "delegatesOf" | "nonceWordOf" | "usedNonces" | "requestsOf"
  >;
  /** Relays a signed consent with the relayer's account, through the entry under test. */
  relay(signed: ethersEntry.SignedConsent): Promise<unknown>;
}

async function flow(suite: Suite, entry: Entry) {
  const base = (await ethers.provider.getBlock("latest"))!.timestamp + 100_000;
  const patient = entry.patient(await entry.connect("patient"));
  const admin = entry.admin(await entry.connect("admin"), "admin");
  const reader = (await entry.connect("reader")) as never;
  const grant = {
    grantee: suite.lab.address,
    dataClasses: ["LAB_RESULT", "MEDICATION"] as const,
    purposes: ["TREAT"] as const,
    validFrom: 0,
    validUntil: UNTIL,
  };

  const preview = await patient.previewGrant({
    ...grant,
    dataClasses: [...grant.dataClasses],
    purposes: [...grant.purposes],
  });
  const granted = await (
    await patient.grant({ ...grant, dataClasses: [...grant.dataClasses], purposes: [...grant.purposes] })
  ).wait();
  const batch = await (
    await patient.grantBatch([
      {
        grantee: suite.hospital.address,
        dataClasses: ["VITAL_SIGNS"],
        purposes: ["TREAT", "CAREMGT"],
        validFrom: 0,
        validUntil: UNTIL,
      },
      { grantee: suite.pharma.address, dataClasses: [0, 1], purposes: ["HPAYMT"], validFrom: 0, validUntil: UNTIL },
    ])
  ).wait();
  const consentsAfterGrants = await patient.consents();
  const revoked = await (await patient.revoke(suite.hospital.address)).wait();
  const consentTo = {
    lab: await patient.consentTo(suite.lab.address),
    hospital: await patient.consentTo(suite.hospital.address),
  };
  const policy = await (
    await patient.setPolicy({
      permission: "HMB",
      modifiers: ["NPU", "IRB"],
      dataClasses: ["LAB_RESULT", "CONDITION"],
      validUntil: UNTIL,
    })
  ).wait();
  const storedPolicy = await entry.reads.policyOf(reader, suite.patient.address);
  const appointed = await (
    await patient.appointDelegate(suite.delegate.address, UNTIL, {
      purposes: ["TREAT", "CAREMGT"],
      sensitiveClasses: false,
    })
  ).wait();
  const delegates = await entry.reads.delegatesOf(reader, suite.patient.address);
  const optOut = await (await patient.setEmergencyOptOut(true)).wait();
  const signed = await patient.signGrant(
    {
      grantee: suite.university.address,
      dataClasses: ["IMAGING"],
      purposes: ["HRESCH"],
      validFrom: 0,
      validUntil: UNTIL,
    },
    { deadline: DEADLINE },
  );
  const relayedGrant = await entry.relay(signed);
  const nextNonce = await patient.nextNonce();
  const cancelled = await (await patient.cancelSignature(5n)).wait();
  const word = await entry.reads.nonceWordOf(reader, suite.patient.address, 0);
  const removed = await (await patient.removeDelegate(suite.delegate.address)).wait();
  const cleared = await (await patient.clearPolicy()).wait();
  const accredited = await (
    await admin.accredit({
      party: suite.stranger.address,
      roles: ["PROVIDER", "CUSTODIAN"],
      nonProfit: true,
      accreditedUntil: UNTIL,
    })
  ).wait();
  const suspended = await (await admin.suspend(suite.stranger.address, 7)).wait();
  const accreditation = await entry.reads.accreditationOf(reader, suite.stranger.address);

  // Research requests, each transaction at a fixed time so that request ids and consents match.
  const at = async (offset: number) => time.setNextBlockTimestamp(base + offset);
  const researcher = entry.researcher(await entry.connect("researcher"));
  const ask = (studyId: string) =>
    researcher.requestAccess({
      patient: suite.patient.address,
      dataClasses: ["LAB_RESULT", "IMAGING"],
      purpose: "HRESCH",
      researchCategory: "HMB",
      duration: 30 * DAY,
      studyId,
    });
  await at(100);
  const opened = await (await ask("viem entry, approved")).wait();
  await at(200);
  const approvedRequest = await (await patient.approve(opened.requestId)).wait();
  const decision = await researcher.waitForDecision(opened.requestId, { timeoutMs: 1000 });
  await at(300);
  const toDeny = await (await ask("viem entry, denied")).wait();
  await at(400);
  const denied = await (await patient.deny(toDeny.request)).wait();
  await at(500);
  const toRelay = await (await ask("viem entry, relayed")).wait();
  // Signed over the consent the preview showed (the researcher's, from the first approval).
  const approvalPreview = await patient.previewApproval(toRelay.requestId);
  const signedApproval = await patient.signApprove(toRelay.requestId, {
    deadline: DEADLINE,
    nonce: 9n,
    seenConsent: approvalPreview.seenConsent,
  });
  await at(600);
  const relayedApproval = await entry.relay(signedApproval);
  await at(700);
  const toCancel = await (await ask("viem entry, cancelled")).wait();
  await at(800);
  const withdrawn = await (await researcher.cancel(toCancel.requestId)).wait();
  const outcomes = await Promise.all(
    [toDeny, toRelay, toCancel].map((r) => researcher.waitForDecision(r.requestId, { timeoutMs: 1000 })),
  );
  // Listed with what became of the consents: in force or replaced, then revoked; pending ones by default.
  await at(900);
  const pendingOne = await (await ask("viem entry, pending")).wait();
  const listedBefore = await patient.requests({ all: true });
  await at(1000);
  await (await patient.revoke(suite.university.address)).wait();
  const listedAfter = await entry.reads.requestsOf(reader, { patient: suite.patient.address }, { all: true });
  const byResearcher = await entry.reads.requestsOf(reader, { researcher: suite.university.address });
  const research = {
    pendingOne,
    listedBefore,
    listedAfter,
    byResearcher,
    opened,
    approvedRequest,
    decision,
    toDeny,
    denied,
    toRelay,
    approvalPreview,
    signedApproval,
    relayedApproval,
    toCancel,
    withdrawn,
    outcomes,
  };

  const refusals = {
    decided: await failure(async () => (await patient.approve(toDeny.request)).wait()),
    noRequest: await failure(() => researcher.waitForDecision(`0x${"ab".repeat(32)}`)),
    // The ledger refuses: not the administrator; not a delegate; a data class bit no table has (a uint32 argument).
    notAdmin: await failure(async () =>
      (
        await entry
          .admin(await entry.connect("patient"), "patient")
          .accredit({ party: suite.stranger.address, roles: ["PROVIDER"] })
      ).wait(),
    ),
    noDelegate: await failure(async () => (await patient.removeDelegate(suite.stranger.address)).wait()),
    unknownClass: await failure(async () =>
      (await patient.grant({ ...grant, dataClasses: 1 << 30, purposes: ["TREAT"] })).wait(),
    ),
    replayed: await failure(() => entry.relay(signed)),
    // Signed over a consent other than the one in force: the ledger refuses the relay.
    consentChanged: await failure(async () =>
      entry.relay(
        await patient.signGrant(
          { ...grant, dataClasses: [...grant.dataClasses], purposes: [...grant.purposes] },
          { deadline: DEADLINE, seenConsent: 1n },
        ),
      ),
    ),
    // The SDK refuses before sending.
    badAddress: await failure(() => patient.revoke("0x1234")),
    emptyBatch: await failure(() => patient.grantBatch([])),
    badOverride: await failure(() => patient.setEmergencyOptOut(false, { gas: 1 } as never)),
  };
  return {
    preview,
    granted,
    batch,
    consentsAfterGrants,
    revoked,
    consentTo,
    policy,
    storedPolicy,
    appointed,
    delegates,
    optOut,
    signed,
    relayedGrant,
    nextNonce,
    cancelled,
    word,
    used: entry.reads.usedNonces(0, word),
    removed,
    cleared,
    accredited,
    suspended,
    accreditation,
    research,
    refusals,
  };
}

describe("the viem entry (consent-ledger/viem)", function () {
  it("gives the ethers entry's results and errors, value for value", async function () {
    const withEthers = await (async () => {
      const suite = await loadFixture(deployLedgerFixture);
      const deployment = await deploymentOf(suite);
      const signers = {
        admin: suite.admin,
        patient: suite.patient,
        delegate: suite.delegate,
        researcher: suite.university,
      };
      return flow(suite, {
        connect: (who) => ethersEntry.connect(who === "reader" ? ethers.provider : signers[who], deployment),
        patient: (contracts) => new ethersEntry.PatientClient(contracts as ethersEntry.LedgerContracts, suite.patient),
        researcher: (contracts) =>
          new ethersEntry.ResearcherClient(contracts as ethersEntry.LedgerContracts, suite.university),
        admin: (contracts, who) => new ethersEntry.AdminClient(contracts as ethersEntry.LedgerContracts, signers[who]),
        reads: ethersEntry,
        relay: async (signed) =>
          (
            await ethersEntry.relaySignedConsent(
              await ethersEntry.connect(suite.relayer, deployment),
              suite.relayer,
              signed,
            )
          ).wait(),
      });
    })();
    const withViem = await (async () => {
      const suite = await loadFixture(deployLedgerFixture);
      const deployment = await deploymentOf(suite);
      const wallets = {
        admin: viemWallet(suite.admin.address, 0, false),
        patient: viemWallet(suite.patient.address, 5, true),
        delegate: viemWallet(suite.delegate.address, 7, false),
        researcher: viemWallet(suite.university.address, 3, false),
      };
      const reader = createPublicClient({ chain, transport: custom(network.provider) });
      const relayer = viemWallet(suite.relayer.address, 8, false);
      return flow(suite, {
        connect: (who) => viemEntry.connect(who === "reader" ? reader : wallets[who], deployment),
        patient: (contracts) =>
          new viemEntry.PatientClient(contracts as viemEntry.ViemLedgerContracts, wallets.patient),
        researcher: (contracts) =>
          new viemEntry.ResearcherClient(contracts as viemEntry.ViemLedgerContracts, wallets.researcher),
        admin: (contracts, who) => new viemEntry.AdminClient(contracts as viemEntry.ViemLedgerContracts, wallets[who]),
        reads: viemEntry as unknown as Entry["reads"],
        relay: async (signed) =>
          (await viemEntry.relaySignedConsent(await viemEntry.connect(relayer, deployment), relayer, signed)).wait(),
      });
    })();
    expect(withEthers.consentsAfterGrants).to.have.length(3);
    expect(withEthers.refusals.notAdmin).to.include({
      name: "ContractRevertError",
      errorName: "OwnableUnauthorizedAccount",
    });
    expect(withEthers.refusals.unknownClass.name).to.equal("ContractRevertError");
    expect(withEthers.refusals.badAddress.name).to.equal("InvalidArgumentError");
    expect(withEthers.used).to.include(5n);
    expect(withEthers.research.decision).to.equal("Approved");
    expect(withEthers.research.outcomes).to.deep.equal(["Denied", "Approved", "Cancelled"]);
    expect(withEthers.refusals.decided).to.include({ errorName: "RequestNotFound" });
    expect(withEthers.refusals.replayed).to.include({ errorName: "NonceAlreadyUsed" });
    expect(withEthers.refusals.consentChanged).to.include({ errorName: "ConsentChanged" });
    // The delegate's scope, as appointed and as read back.
    const scope = {
      validUntil: UNTIL,
      purposes: ethersEntry.purposeMask(["TREAT", "CAREMGT"]),
      sensitiveClasses: false,
    };
    expect(withEthers.appointed).to.deep.equal({ delegate: withEthers.appointed.delegate, ...scope });
    expect(withEthers.delegates).to.deep.equal([{ delegate: withEthers.appointed.delegate, ...scope }]);
    expect(withEthers.signed.seenConsent).to.equal("0");
    expect(withEthers.research.approvalPreview.seenConsent).to.not.equal(0n);
    expect(withEthers.research.signedApproval.seenConsent).to.equal(
      withEthers.research.approvalPreview.seenConsent.toString(),
    );
    expect(withEthers.research.listedBefore.map((view) => [view.status, view.consent])).to.deep.equal([
      // The relayed approval gave the same researcher a new consent: the first one's is replaced.
      ["Approved", "Replaced"],
      ["Denied", undefined],
      ["Approved", "InForce"],
      ["Cancelled", undefined],
      ["Pending", undefined],
    ]);
    expect(withEthers.research.listedAfter.map((view) => view.consent)).to.deep.equal([
      "Revoked",
      undefined,
      "Revoked",
      undefined,
      undefined,
    ]);
    expect(withEthers.research.byResearcher.map((view) => view.requestId)).to.deep.equal([
      withEthers.research.pendingOne.requestId,
    ]);
    // Strictly: hardhat-chai-matchers' deep.equal takes 5n and 5 as equal; a dApp's code does not.
    expect(typed(withViem)).to.deep.equal(typed(withEthers));
  });

  it("signs the patient's settings exactly as the ethers entry does, and the ledger takes them relayed", async function () {
    const suite = await loadFixture(deployLedgerFixture);
    const deployment = await deploymentOf(suite);
    const wallet = viemWallet(suite.patient.address, 5, true);
    const viemPatient = new viemEntry.PatientClient(await viemEntry.connect(wallet, deployment), wallet);
    const ethersPatient = new ethersEntry.PatientClient(
      await ethersEntry.connect(suite.patient, deployment),
      suite.patient,
    );
    const at = (nonce: bigint) => ({ nonce, deadline: DEADLINE });
    const sign = (p: typeof viemPatient | typeof ethersPatient) =>
      Promise.all([
        p.signSetPolicy({ permission: "GRU", dataClasses: ["LAB_RESULT"] }, at(1n)),
        p.signAppointDelegate(suite.delegate.address, UNTIL, ethersEntry.CARE_DELEGATE_SCOPE, at(2n)),
        p.signEmergencyOptOut(true, at(3n)),
        p.signRemoveDelegate(suite.delegate.address, at(4n)),
        p.signClearPolicy(at(5n)),
        p.signCancelSignature(300n, at(6n)),
      ]);
    const byViem = await sign(viemPatient);
    expect(byViem).to.deep.equal(await sign(ethersPatient));

    const relayer = await ethersEntry.connect(suite.relayer, deployment);
    for (const signed of byViem.slice(0, 3))
      await (await ethersEntry.relaySignedConsent(relayer, suite.relayer, signed)).wait();
    expect((await suite.ledger.policyOf(suite.patient.address)).permission).to.equal(42n);
    expect(await suite.ledger.delegateUntil(suite.patient.address, suite.delegate.address)).to.equal(BigInt(UNTIL));
    expect(await suite.ledger.emergencyOptedOut(suite.patient.address)).to.equal(true);
    for (const signed of byViem.slice(3))
      await (await ethersEntry.relaySignedConsent(relayer, suite.relayer, signed)).wait();
    expect(await suite.ledger.delegateUntil(suite.patient.address, suite.delegate.address)).to.equal(0n);
    expect((await suite.ledger.policyOf(suite.patient.address)).permission).to.equal(0n);
    expect(((await suite.ledger.nonceBitmap(suite.patient.address, 1n)) >> 44n) & 1n).to.equal(1n);
  });

  it("sends a write with the overrides given (gas limit, nonce, EIP-1559 fees)", async function () {
    const suite = await loadFixture(deployLedgerFixture);
    const wallet = viemWallet(suite.patient.address, 5, true);
    const patient = new viemEntry.PatientClient(await viemEntry.connect(wallet, await deploymentOf(suite)), wallet);
    const nonce = await ethers.provider.getTransactionCount(suite.patient.address);
    const { maxFeePerGas } = await ethers.provider.getFeeData();
    const overrides = {
      gasLimit: 300_000n,
      nonce,
      maxFeePerGas: maxFeePerGas! * 2n,
      maxPriorityFeePerGas: 1_000_000_007n,
    };
    const pending = await patient.setEmergencyOptOut(true, overrides);
    await pending.wait();
    expect(await ethers.provider.getTransaction(pending.hash)).to.deep.include(overrides);
  });

  it("refuses a PublicClient where a signature is needed, and a wrong chain or address at connect", async function () {
    const suite = await loadFixture(deployLedgerFixture);
    const reader = createPublicClient({ chain, transport: custom(network.provider) });
    const deployment = await deploymentOf(suite);
    const contracts = await viemEntry.connect(reader, deployment);
    expect(() => new viemEntry.PatientClient(contracts, reader as never)).to.throw(
      viemEntry.InvalidArgumentError,
      /PublicClient cannot sign/,
    );
    const wrongChain = await viemEntry.connect(reader, { ...deployment, chainId: 1 }).catch((error: unknown) => error);
    expect(wrongChain).to.be.instanceOf(viemEntry.NetworkMismatchError);
    const noCode = await viemEntry
      .connect(reader, { ...deployment, ledger: suite.stranger.address })
      .catch((error: unknown) => error);
    expect(noCode).to.be.instanceOf(viemEntry.DeploymentNotFoundError);
    // The contracts are viem contract instances, typed from the ABI.
    expect(
      await contracts.ledger.read.hasAccess([
        suite.patient.address as `0x${string}`,
        suite.lab.address as `0x${string}`,
        0,
        0,
      ]),
    ).to.equal(false);
    expect(DAY).to.equal(86_400);
  });
});

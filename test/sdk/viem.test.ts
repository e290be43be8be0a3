import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import type { Signer } from "ethers";
import { ethers } from "hardhat";

import {
  AdminClient,
  AuditClient,
  ContractRevertError,
  PatientClient,
  ResearcherClient,
  connect,
  relaySignedConsent,
  type SignerInput,
} from "../../sdk/index";
import { bytesToHex } from "../../sdk/crypto/bytes";
import { DAY, deployLedgerFixture } from "../helpers/fixtures";
import { deploymentOf, viemReader, viemWallet as walletAt } from "../helpers/viem";

type Suite = Awaited<ReturnType<typeof deployLedgerFixture>>;

/** A viem wallet for one of the fixture's accounts: a local account (own key) or the node's JSON-RPC account. */
const viemWallet = (signer: { address: string }, index: number, local: boolean) =>
  walletAt(signer.address, index, local);

/**
 * The same dApp flow, given how to make each party's wallet: grant by relayed signature, research request
 * and approval, a key derived from a signature, an audit read through a read-only client, and a refusal.
 * Returns what a dApp would show, without block times (the two runs happen at different times).
 */
async function dappFlow(
  suite: Suite,
  walletOf: (signer: Signer & { address: string }, index: number) => SignerInput,
  reader: Parameters<typeof connect>[0],
) {
  const deployment = await deploymentOf(suite);
  const patientWallet = walletOf(suite.patient, 5);
  const researcherWallet = walletOf(suite.university, 3);
  const patient = new PatientClient(await connect(patientWallet, deployment), patientWallet);
  const researcher = new ResearcherClient(await connect(researcherWallet, deployment), researcherWallet);

  const keyPair = await researcher.deriveEncryptionKey();
  const registered = await (await researcher.registerEncryptionKey(keyPair)).wait();

  const { requestId, approved } = await (
    await researcher.requestAccess({
      patient: suite.patient.address,
      dataClasses: ["LAB_RESULT", "IMAGING"],
      purpose: "HRESCH",
      researchCategory: "HMB",
      duration: 30 * DAY,
      studyId: "viem-and-ethers",
    })
  ).wait();
  const pending = (await patient.requests()).map((view) => ({
    status: view.status,
    same: view.requestId === requestId,
  }));
  const { consent } = await (await patient.approve(requestId)).wait();
  const decision = await researcher.waitForDecision(requestId, { timeoutMs: 1000 });

  const now = (await ethers.provider.getBlock("latest"))!.timestamp;
  const signed = await patient.signGrant({
    grantee: suite.lab.address,
    dataClasses: ["VITAL_SIGNS"],
    purposes: ["TREAT"],
    validUntil: now + DAY,
  });
  const relayerWallet = walletOf(suite.relayer, 8);
  await (await relaySignedConsent(await connect(relayerWallet, deployment), relayerWallet, signed)).wait();
  const relayed = await patient.consentTo(suite.lab.address);

  // A patient is no administrator: the ledger refuses, and the error says so with its values.
  let refusal: unknown;
  try {
    const admin = new AdminClient(await connect(patientWallet, deployment), patientWallet);
    await (await admin.accredit({ party: suite.stranger.address, roles: ["PROVIDER"] })).wait();
  } catch (error) {
    refusal = error;
  }
  expect(refusal, String(refusal) + String((refusal as Error).cause)).to.be.instanceOf(ContractRevertError);
  const revert = refusal as ContractRevertError;

  const history = await new AuditClient(await connect(reader, deployment)).history(suite.patient.address);
  return {
    publicKey: bytesToHex(keyPair.publicKey),
    registered: registered.publicKey,
    approved,
    pending,
    decision,
    consent: {
      grantee: consent.grantee,
      dataClasses: consent.dataClasses,
      purposes: consent.purposes,
      length: consent.validUntil - consent.validFrom,
    },
    relayed: relayed && {
      grantee: relayed.grantee,
      dataClasses: relayed.dataClasses,
      purposes: relayed.purposes,
      validUntil: relayed.validUntil === signed.grant?.validUntil,
    },
    signedBy: signed.signer,
    refusal: { name: revert.name, errorName: revert.errorName, args: revert.args.map(String) },
    audit: history.map((entry) => ({ action: entry.action, actor: entry.actor, counterparty: entry.counterparty })),
  };
}

describe("the SDK with viem or ethers", function () {
  it("gives the same results and errors to an ethers dApp and a viem dApp (local and JSON-RPC accounts)", async function () {
    const withEthers = await dappFlow(await loadFixture(deployLedgerFixture), (signer) => signer, ethers.provider);
    const publicClient = viemReader();
    // The patient signs with a local key (like a dApp's embedded wallet), the others through the node (like MetaMask).
    const withViem = await dappFlow(
      await loadFixture(deployLedgerFixture),
      (signer, index) => viemWallet(signer, index, index === 5),
      publicClient,
    );
    expect(withEthers.decision).to.equal("Approved");
    expect(withEthers.relayed).to.not.equal(undefined);
    expect(withEthers.audit.length).to.be.greaterThan(2);
    expect(withViem).to.deep.equal(withEthers);
  });

  it("sends a viem wallet's write with the overrides given (gas limit, nonce, EIP-1559 fees)", async function () {
    const suite = await loadFixture(deployLedgerFixture);
    const wallet = viemWallet(suite.patient, 5, true);
    const patient = new PatientClient(await connect(wallet, await deploymentOf(suite)), wallet);
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
    const sent = await ethers.provider.getTransaction(pending.hash);
    expect(sent).to.deep.include(overrides);
    expect(await suite.ledger.emergencyOptedOut(suite.patient.address)).to.equal(true);
  });

  it("refuses a viem PublicClient where a signature is needed, with a typed error", async function () {
    const suite = await loadFixture(deployLedgerFixture);
    const publicClient = viemReader();
    const contracts = await connect(publicClient, await deploymentOf(suite));
    expect(() => new PatientClient(contracts, publicClient as unknown as SignerInput)).to.throw(
      /PublicClient cannot sign/,
    );
  });
});

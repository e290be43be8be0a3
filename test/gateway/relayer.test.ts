import { expect } from "chai";
import { parseEther, Wallet, type JsonRpcProvider } from "ethers";

import {
  NoSignedFormError,
  PatientClient,
  PatientIdentity,
  RelayerClient,
  RelayerError,
  derivePseudonymRoot,
  pseudonymSigner,
  type LedgerContracts,
  type Pseudonym,
  type SignedConsent,
} from "../../sdk/index";
import { startRelayer, type RelayerLimits, type RunningRelayer } from "../../gateway/relayer";
import { chainNow, DAY, setupLedger, type LedgerSetup } from "../helpers/gateway-harness";
import { sharedLocalNode } from "../helpers/local-node";

describe("the consent relayer (real HTTP, real hardhat node)", function () {
  this.timeout(120_000);
  let setup: LedgerSetup;
  let relayerKey: { address: string; privateKey: string };
  const running: RunningRelayer[] = [];
  let pseudonyms: Pseudonym[];

  async function relayerWith(limits: Partial<RelayerLimits> = {}) {
    const relayer = await startRelayer({
      rpcUrl: setup.node.url,
      privateKey: relayerKey.privateKey,
      deployment: setup.deployment,
      limits,
    });
    running.push(relayer);
    return relayer;
  }

  function patientOf(pseudonym: Pseudonym, relayer: RunningRelayer): PatientClient {
    return new PatientClient(setup.contracts, pseudonymSigner(pseudonym, setup.provider), {
      relayer: new RelayerClient(relayer.url),
    });
  }

  /** What a refusal must leave alone: no transaction from the relayer, no block. */
  async function chainState(provider: JsonRpcProvider) {
    return { sent: await provider.getTransactionCount(relayerKey.address), block: await provider.getBlockNumber() };
  }

  async function refusedWith(code: string, action: () => Promise<unknown>): Promise<RelayerError> {
    const before = await chainState(setup.provider);
    let caught: unknown;
    try {
      await action();
    } catch (error) {
      caught = error;
    }
    expect(caught, `expected ${code}`).to.be.instanceOf(RelayerError);
    expect((caught as RelayerError).code, (caught as Error).message).to.equal(code);
    expect(await chainState(setup.provider), "a refused message sends no transaction").to.deep.equal(before);
    return caught as RelayerError;
  }

  before(async function () {
    setup = await setupLedger(await sharedLocalNode());
    // The relayer's own account: funded once, from the operator's.
    relayerKey = Wallet.createRandom();
    await (await setup.signers.admin.sendTransaction({ to: relayerKey.address, value: parseEther("10") })).wait();
    const root = await derivePseudonymRoot(Wallet.createRandom(), {
      domain: "localhost",
      chainId: 31337,
      ledger: setup.deployment.ledger,
    });
    pseudonyms = [
      root.forProvider(setup.signers.hospital.address),
      root.forProvider(setup.signers.lab.address),
      root.forStudy("relayer-test"),
    ];
    root.destroy();
  });

  after(async function () {
    for (const relayer of running) await relayer.close();
    setup?.cleanup();
  });

  it("a pseudonym with no ether grants and revokes through the relayer, and never holds ether", async function () {
    const relayer = await relayerWith();
    const [atHospital] = pseudonyms;
    const patient = patientOf(atHospital, relayer);
    const until = (await chainNow(setup.provider)) + 30 * DAY;
    const hospital = setup.signers.hospital.address;

    const granted = await patient.grant({
      grantee: hospital,
      dataClasses: ["LAB_RESULT"],
      purposes: ["TREAT"],
      validUntil: until,
    });
    const consent = await granted.wait();
    expect(consent).to.include({ patient: atHospital.address, grantee: hospital, validUntil: until });
    expect((await setup.contracts.ledger.consentOf(atHospital.address, hospital)).validUntil).to.equal(BigInt(until));
    const tx = await setup.provider.getTransaction(granted.hash);
    expect(tx!.from).to.equal(relayer.relayer);

    await (await patient.revoke(hospital)).wait();
    const after = await setup.contracts.ledger.consentOf(atHospital.address, hospital);
    expect(after.validUntil).to.be.at.most(BigInt(await chainNow(setup.provider)));

    expect(await setup.provider.getBalance(atHospital.address)).to.equal(0n);
    expect(await setup.provider.getTransactionCount(atHospital.address)).to.equal(0);
    const info = await new RelayerClient(relayer.url).info();
    expect(info).to.include({ relayer: relayerKey.address, chainId: 31337, ledger: setup.deployment.ledger });
  });

  it("refuses a bad signature, an expired deadline, a used nonce and a call that would revert, without a transaction", async function () {
    const relayer = await relayerWith();
    const client = new RelayerClient(relayer.url);
    const [, atLab] = pseudonyms;
    const patient = patientOf(atLab, relayer);
    const lab = setup.signers.lab.address;
    const now = await chainNow(setup.provider);
    const grant = {
      grantee: lab,
      dataClasses: ["LAB_RESULT" as const],
      purposes: ["TREAT" as const],
      validUntil: now + DAY,
    };

    // Altered after signing: a longer consent than the patient signed, or a signature by another key.
    const signed = await patient.signGrant(grant);
    await refusedWith("InvalidSignature", () =>
      client.submit({ ...signed, grant: { ...signed.grant!, validUntil: now + 365 * DAY } }),
    );
    const other = new PatientClient(setup.contracts, Wallet.createRandom());
    const byOther = await other.signGrant(grant, { patient: atLab.address });
    await refusedWith("InvalidSignature", () => client.submit({ ...byOther, signer: atLab.address }));

    const expired = await patient.signGrant(grant, { deadline: now - 1 });
    await refusedWith("SignatureExpired", () => client.submit(expired));

    await relaySigned(client, signed, setup.contracts);
    await refusedWith("NonceAlreadyUsed", () => client.submit(signed));

    // Revoking a consent the pseudonym never gave: the ledger would refuse, so the relayer does not pay for it.
    const revoke = await patient.signRevoke(setup.signers.clinician.address);
    const refusal = await refusedWith("WouldRevert", () => client.submit(revoke));
    expect(refusal.details).to.match(/ConsentNotFound/);

    await refusedWith("WrongChain", () => client.submit({ ...signed, chainId: 1 }));
    await refusedWith("InvalidRequest", () => client.submit({ ...signed, kind: "burn" } as unknown as SignedConsent));
  });

  it("limits each signer, each IP, the body size, the gas per message and the gas per day", async function () {
    const [, , forStudy] = pseudonyms;
    const researcher = setup.signers.researcher.address;
    const now = await chainNow(setup.provider);
    const grantN = (patient: PatientClient, nonce: bigint) =>
      patient.signGrant(
        {
          grantee: researcher,
          dataClasses: ["LAB_RESULT"],
          purposes: ["HRESCH"],
          validUntil: now + DAY + Number(nonce),
        },
        { nonce },
      );

    // Per signer: the fourth valid message within a minute is refused.
    const bySigner = await relayerWith({ perSignerPerMinute: 3 });
    const patient = patientOf(forStudy, bySigner);
    const client = new RelayerClient(bySigner.url);
    for (const nonce of [10n, 11n, 12n]) await client.submit(await grantN(patient, nonce));
    const limited = await refusedWith("RateLimited", async () => client.submit(await grantN(patient, 13n)));
    expect(limited.retryAfterSeconds).to.be.greaterThan(0);

    // Per IP: every request counts, valid or not.
    const byIp = await relayerWith({ perIpPerMinute: 2 });
    const ipClient = new RelayerClient(byIp.url);
    await ipClient.submit(await grantN(patient, 20n));
    await refusedWith("SignatureExpired", () => ipClient.submit(expiredCopy()));
    await refusedWith("RateLimited", async () => ipClient.submit(await grantN(patient, 21n)));

    // Body size.
    const big = await fetch(`${bySigner.url}/relay/consent`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ padding: "x".repeat(32 * 1024) }),
    });
    expect(big.status).to.equal(413);
    expect(await big.json()).to.include({ error: "PayloadTooLarge" });

    // Gas per message, and the daily budget.
    const capped = new RelayerClient((await relayerWith({ maxGasPerMessage: 30_000n })).url);
    await refusedWith("GasLimitExceeded", async () => capped.submit(await grantN(patient, 30n)));
    const poor = new RelayerClient((await relayerWith({ dailyGasBudget: 50_000n })).url);
    await refusedWith("DailyGasBudgetExhausted", async () => poor.submit(await grantN(patient, 31n)));

    function expiredCopy(): SignedConsent {
      return {
        kind: "revoke",
        chainId: 31337,
        ledger: setup.deployment.ledger,
        signer: forStudy.address,
        nonce: "99",
        deadline: 1,
        signature: "0x" + "11".repeat(65),
        patient: forStudy.address,
        grantee: researcher,
      };
    }
  });

  it("refuses, rather than sends from the pseudonym, the actions the ledger cannot take signed yet", async function () {
    const relayer = await relayerWith();
    const patient = patientOf(pseudonyms[0], relayer);
    for (const action of [
      () => patient.setPolicy({ permission: "GRU", dataClasses: ["LAB_RESULT"] }),
      () => patient.setEmergencyOptOut(true),
      () => patient.appointDelegate(setup.signers.stranger.address, (Date.now() / 1000) | 0),
      () => patient.cancelSignature(5n),
    ]) {
      const before = await chainState(setup.provider);
      let caught: unknown;
      try {
        await action();
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(NoSignedFormError);
      expect(await chainState(setup.provider)).to.deep.equal(before);
    }
  });

  it("a PatientIdentity without a relayer refuses to act rather than send from a pseudonym", async function () {
    const identity = new PatientIdentity(setup.contracts, pseudonyms);
    const until = (await chainNow(setup.provider)) + DAY;
    let caught: unknown;
    try {
      await identity
        .client(pseudonyms[0].address)
        .grant({
          grantee: setup.signers.hospital.address,
          dataClasses: ["LAB_RESULT"],
          purposes: ["TREAT"],
          validUntil: until,
        });
    } catch (error) {
      caught = error;
    }
    expect(String(caught)).to.match(/No relayer is configured/);
    expect(() => identity.client(setup.signers.patient.address)).to.throw(/not one of this patient's pseudonyms/);
  });
});

/** Submits through the relayer and waits for the block. */
async function relaySigned(client: RelayerClient, signed: SignedConsent, contracts: LedgerContracts) {
  const { transactionHash } = await client.submit(signed);
  const receipt = await contracts.provider.waitForTransaction(transactionHash);
  expect(receipt?.status).to.equal(1);
}

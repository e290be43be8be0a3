import { expect } from "chai";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parseEther, Wallet, ZeroHash, type JsonRpcProvider } from "ethers";

import {
  NoSignedFormError,
  PatientClient,
  RelayNotConfirmedError,
  PatientIdentity,
  CARE_DELEGATE_SCOPE,
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

  async function relayerWith(limits: Partial<RelayerLimits> = {}, trustProxy?: number | string[]) {
    const relayer = await startRelayer({
      rpcUrl: setup.node.url,
      privateKey: relayerKey.privateKey,
      deployment: setup.deployment,
      limits,
      trustProxy,
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
      root.forStudy("relayer-settings"),
      root.forStudy("relayer-keys"),
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

  it("replaying a signer's used messages does not use up that signer's allowance", async function () {
    const relayer = await relayerWith({ perSignerPerMinute: 2 });
    const client = new RelayerClient(relayer.url);
    const victim = patientOf(pseudonyms[1], relayer);
    const until = (await chainNow(setup.provider)) + 2 * DAY;
    const grant = (grantee: string) =>
      victim.signGrant({ grantee, dataClasses: ["LAB_RESULT"], purposes: ["TREAT"], validUntil: until });
    const used = await grant(setup.signers.clinician.address);
    await relaySigned(client, used, setup.contracts);
    // Anyone who saw the message (it is public in the transaction's calldata) replays it.
    for (let i = 0; i < 4; i++) await refusedWith("NonceAlreadyUsed", () => client.submit(used));
    // The victim's next message is still accepted.
    await relaySigned(client, await grant(setup.signers.researcher.address), setup.contracts);
  });

  it("refuses a deadline or a consent end too close to chain time, and a second message while one is in flight", async function () {
    const relayer = await relayerWith({ minSecondsAhead: 120 });
    const client = new RelayerClient(relayer.url);
    const patient = patientOf(pseudonyms[2], relayer);
    const now = await chainNow(setup.provider);
    const grant = (grantee: string, validUntil: number) => ({
      grantee,
      dataClasses: ["LAB_RESULT" as const],
      purposes: ["TREAT" as const],
      validUntil,
    });
    // Both would pass eth_estimateGas now and could revert when mined, at the relayer's cost.
    await refusedWith("DeadlineTooSoon", async () =>
      client.submit(await patient.signGrant(grant(setup.signers.hospital.address, now + DAY), { deadline: now + 5 })),
    );
    await refusedWith("ValidityTooShort", async () =>
      client.submit(await patient.signGrant(grant(setup.signers.hospital.address, now + 5))),
    );

    // One message in flight per signer and per consent: two revokes of the same consent with different
    // nonces would both estimate fine, and the second would revert when mined.
    const other = patientOf(pseudonyms[0], relayer);
    const hospital = setup.signers.hospital.address;
    await (await other.grant(grant(hospital, now + DAY))).wait();
    await setup.provider.send("evm_setAutomine", [false]);
    const sent: string[] = [];
    try {
      const first = await other.signRevoke(hospital, { nonce: 900n });
      const second = await other.signRevoke(hospital, { nonce: 901n });
      sent.push((await client.submit(first)).transactionHash);
      await refusedWithoutMining("InFlight", () => client.submit(second));
      // Another message of the same signer, on another consent: also held until the first is mined.
      await refusedWithoutMining("InFlight", async () =>
        client.submit(await other.signGrant(grant(setup.signers.lab.address, now + DAY), { nonce: 902n })),
      );
    } finally {
      await setup.provider.send("evm_setAutomine", [true]);
      await setup.provider.send("evm_mine", []);
    }
    expect((await setup.provider.getTransactionReceipt(sent[0]))?.status).to.equal(1);
    // Once mined, the signer may send again.
    await relaySigned(
      client,
      await other.signGrant(grant(setup.signers.lab.address, now + DAY), { nonce: 903n }),
      setup.contracts,
    );

    async function refusedWithoutMining(code: string, action: () => Promise<unknown>) {
      let caught: unknown;
      try {
        await action();
      } catch (error) {
        caught = error;
      }
      expect(caught, `expected ${code}`).to.be.instanceOf(RelayerError);
      expect((caught as RelayerError).code, (caught as Error).message).to.equal(code);
    }
  });

  it("behind a proxy, a client cannot escape the per-client limit with its own X-Forwarded-For or a new IPv6 address in its /64", async function () {
    const post = (url: string, forwardedFor: string) =>
      fetch(`${url}/relay/consent`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": forwardedFor },
        body: "{}",
      }).then(async (response) => ((await response.json()) as { error: string }).error);
    // One proxy in front: the client's own entries (left of the proxy's) are not believed.
    const oneHop = await relayerWith({ perIpPerMinute: 1 }, 1);
    expect(await post(oneHop.url, "9.9.9.1, 203.0.113.7")).to.equal("InvalidRequest");
    expect(await post(oneHop.url, "9.9.9.2, 203.0.113.7")).to.equal("RateLimited");
    // A client holds a whole /64: each address in it is the same client.
    expect(await post(oneHop.url, "2001:db8:1:2::1")).to.equal("InvalidRequest");
    expect(await post(oneHop.url, "2001:db8:1:2:ffff::9")).to.equal("RateLimited");
    expect(await post(oneHop.url, "2001:db8:1:3::1")).to.equal("InvalidRequest");
    // By default no proxy is trusted: the header is ignored and the peer is the client.
    const direct = await relayerWith({ perIpPerMinute: 1 });
    expect(await post(direct.url, "9.9.9.3")).to.equal("InvalidRequest");
    expect(await post(direct.url, "9.9.9.4")).to.equal("RateLimited");
    let caught: unknown;
    try {
      await relayerWith({}, true as unknown as number);
    } catch (error) {
      caught = error;
    }
    expect(String(caught)).to.match(/not true/);
  });

  it("a pseudonym with no ether sets its policy, delegates, opt-out, cancels a signature and publishes its key, all relayed", async function () {
    const relayer = await relayerWith({ perSignerPerMinute: 50 });
    const pseudonym = pseudonyms[3];
    const identity = new PatientIdentity(setup.contracts, [pseudonym], { relayer: new RelayerClient(relayer.url) });
    const patient = identity.client(pseudonym.address);
    const who = pseudonym.address;
    const ledger = setup.contracts.ledger;
    const carer = setup.signers.stranger.address;
    const until = (await chainNow(setup.provider)) + 30 * DAY;

    const policy = await (await patient.setPolicy({ permission: "GRU", dataClasses: ["LAB_RESULT"] })).wait();
    expect((await ledger.policyOf(who)).permission).to.equal(BigInt(policy.permission));
    await (await patient.appointDelegate(carer, until, CARE_DELEGATE_SCOPE)).wait();
    expect(await ledger.delegateUntil(who, carer)).to.equal(BigInt(until));
    await (await patient.setEmergencyOptOut(true)).wait();
    expect(await ledger.emergencyOptedOut(who)).to.equal(true);
    await (await patient.removeDelegate(carer)).wait();
    expect(await ledger.delegateUntil(who, carer)).to.equal(0n);
    await (await patient.clearPolicy()).wait();
    expect((await ledger.policyOf(who)).permission).to.equal(0n);
    // Clearing the policy keeps the opt-out, as the direct call does.
    expect(await ledger.emergencyOptedOut(who)).to.equal(true);

    // A signature handed out and never relayed, cancelled without gas.
    const pending = await patient.signRevoke(setup.signers.hospital.address, { nonce: 200n });
    await (await patient.cancelSignature(200n)).wait();
    expect(((await ledger.nonceBitmap(who, 0n)) >> 200n) & 1n).to.equal(1n);
    await refusedWith("NonceAlreadyUsed", () => new RelayerClient(relayer.url).submit(pending));

    // The pseudonym's encryption key, published through the relayer; then rotated.
    const key1 = { publicKey: new Uint8Array(32).fill(7) };
    const key2 = { publicKey: new Uint8Array(32).fill(9) };
    const registered = await (await identity.registerEncryptionKey(who, key1)).wait();
    expect(await setup.contracts.keys.keyOf(who)).to.equal(registered.publicKey);
    const stale = await patient.signRegisterKey({ publicKey: new Uint8Array(32).fill(3) }, { nonce: 50n });
    await (await patient.registerEncryptionKey(key2)).wait();
    expect(await setup.contracts.keys.keyOf(who)).to.equal("0x" + "09".repeat(32));
    // A registration signed over the key since replaced would bring it back: the relayer does not send it.
    const refusal = await refusedWith("WouldRevert", () => new RelayerClient(relayer.url).submit(stale));
    expect(refusal.details).to.match(/EncryptionKeyChanged/);
    await refusedWith("WrongKeyDirectory", () =>
      new RelayerClient(relayer.url).submit({ ...stale, keyDirectory: setup.deployment.ledger }),
    );

    expect(await setup.provider.getBalance(who)).to.equal(0n);
    expect(await setup.provider.getTransactionCount(who)).to.equal(0);
  });

  it("a pseudonym with no ether cancels a held key registration and withdraws its key, both relayed", async function () {
    const relayer = await relayerWith({ perSignerPerMinute: 50 });
    const pseudonym = pseudonyms[4];
    const identity = new PatientIdentity(setup.contracts, [pseudonym], { relayer: new RelayerClient(relayer.url) });
    const patient = identity.client(pseudonym.address);
    const who = pseudonym.address;
    const keys = setup.contracts.keys;
    const key1 = { publicKey: new Uint8Array(32).fill(7) };
    await (await identity.registerEncryptionKey(who, key1)).wait();
    const registered = await keys.keyOf(who);

    // A rotation signed and handed out, never relayed: cancelled in KeyDirectory (the ledger's nonce would not do).
    const held = await patient.signRegisterKey({ publicKey: new Uint8Array(32).fill(8) }, { nonce: 70n });
    await (await patient.cancelSignature(held)).wait();
    expect(((await keys.nonceBitmap(who, 0n)) >> 70n) & 1n).to.equal(1n);
    expect(((await setup.contracts.ledger.nonceBitmap(who, 0n)) >> 70n) & 1n).to.equal(0n);
    await refusedWith("NonceAlreadyUsed", () => new RelayerClient(relayer.url).submit(held));
    expect(await keys.keyOf(who)).to.equal(registered);

    // The key leaked: withdrawn without ether; a withdrawal signed over another key is not sent.
    const stale = await patient.signWithdrawKey({ nonce: 90n });
    await (await identity.withdrawEncryptionKey(who)).wait();
    expect(await keys.keyOf(who)).to.equal(ZeroHash);
    await (await identity.registerEncryptionKey(who, { publicKey: new Uint8Array(32).fill(9) })).wait();
    const refusal = await refusedWith("WouldRevert", () => new RelayerClient(relayer.url).submit(stale));
    expect(refusal.details).to.match(/EncryptionKeyChanged/);
    await refusedWith("WrongKeyDirectory", () =>
      new RelayerClient(relayer.url).submit({ ...stale, keyDirectory: setup.deployment.ledger }),
    );

    expect(await setup.provider.getBalance(who)).to.equal(0n);
    expect(await setup.provider.getTransactionCount(who)).to.equal(0);
  });

  it("names, when a relayer holds a message back, the contract whose nonce cancels it", function () {
    const signer = pseudonyms[4].address;
    const ledgerKind = new RelayNotConfirmedError("revoke", "0x", "held", signer, 3n, 0, "revoke");
    const keyKind = new RelayNotConfirmedError(
      "register the encryption key",
      "0x",
      "held",
      signer,
      3n,
      0,
      "registerKey",
    );
    expect(ledgerKind.hint)
      .to.match(/the ledger's nonce 3/)
      .and.not.match(/KeyDirectory/);
    expect(keyKind.hint).to.match(/KeyDirectory's nonce 3/);
    expect(keyKind.hint).to.match(/cancelling the ledger's nonce does not stop it/);
  });

  it("refuses a settings message altered after signing, or sent as another action", async function () {
    const relayer = await relayerWith();
    const client = new RelayerClient(relayer.url);
    const patient = patientOf(pseudonyms[1], relayer);
    const until = (await chainNow(setup.provider)) + 30 * DAY;
    const signed = await patient.signAppointDelegate(setup.signers.stranger.address, until, CARE_DELEGATE_SCOPE);
    await refusedWith("InvalidSignature", () =>
      client.submit({ ...signed, fields: { ...signed.fields!, validUntil: String(until + 365 * DAY) } }),
    );
    await refusedWith("InvalidRequest", () =>
      client.submit({ ...signed, fields: { ...signed.fields!, sensitiveClasses: "yes" } }),
    );
    await refusedWith("InvalidRequest", () => client.submit({ ...signed, kind: "removeDelegate" }));
    const optOut = await patient.signEmergencyOptOut(true);
    await refusedWith("InvalidSignature", () => client.submit({ ...optOut, fields: { optedOut: false } }));
  });

  it("refuses, rather than sends from the pseudonym, the one action the ledger cannot take signed (a batch grant)", async function () {
    const relayer = await relayerWith();
    const patient = patientOf(pseudonyms[0], relayer);
    const before = await chainState(setup.provider);
    let caught: unknown;
    try {
      await patient.grantBatch([
        {
          grantee: setup.signers.hospital.address,
          dataClasses: ["LAB_RESULT"],
          purposes: ["TREAT"],
          validUntil: (await chainNow(setup.provider)) + DAY,
        },
      ]);
    } catch (error) {
      caught = error;
    }
    expect(caught).to.be.instanceOf(NoSignedFormError);
    expect(await chainState(setup.provider)).to.deep.equal(before);
  });

  it("refuses a relayer's answer naming a transaction that does not carry the signed message, and plain http off loopback", async function () {
    // A malicious relayer: keeps the signed revoke, answers with the hash of an unrelated successful transaction.
    const unrelated = await (
      await setup.signers.admin.sendTransaction({ to: setup.signers.stranger.address, value: 1n })
    ).wait();
    // ... or of a successful ledger transaction by someone else (a grant by another patient).
    const other = await (
      await setup.contracts.ledger
        .connect(setup.signers.patient)
        .grant(
          setup.signers.patient.address,
          setup.signers.clinician.address,
          1,
          1,
          0,
          (await chainNow(setup.provider)) + DAY,
        )
    ).wait();
    const kept: unknown[] = [];
    let answer = unrelated!.hash;
    const server: Server = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk.toString()));
      request.on("end", () => {
        kept.push(JSON.parse(body));
        response.writeHead(202, { "content-type": "application/json" });
        response.end(JSON.stringify({ transactionHash: answer, relayer: relayerKey.address, gasLimit: "100000" }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const honest = await relayerWith();
      const [atHospital] = pseudonyms;
      const hospital = setup.signers.hospital.address;
      const until = (await chainNow(setup.provider)) + 30 * DAY;
      await (
        await patientOf(atHospital, honest).grant({
          grantee: hospital,
          dataClasses: ["LAB_RESULT"],
          purposes: ["TREAT"],
          validUntil: until,
        })
      ).wait();

      const patient = new PatientClient(setup.contracts, pseudonymSigner(atHospital, setup.provider), {
        relayer: new RelayerClient(url),
      });
      for (const hash of [unrelated!.hash, other!.hash]) {
        answer = hash;
        const pending = await patient.revoke(hospital);
        let caught: unknown;
        try {
          await pending.wait();
        } catch (error) {
          caught = error;
        }
        expect(caught, "the SDK must not report a revocation that did not happen").to.be.instanceOf(
          RelayNotConfirmedError,
        );
        expect((caught as RelayNotConfirmedError).hint).to.match(/stays valid until its deadline/);
        // The consent is in force: what the malicious relayer kept could still be submitted.
        expect((await setup.contracts.ledger.consentOf(atHospital.address, hospital)).validUntil).to.equal(
          BigInt(until),
        );
      }
      expect(kept).to.have.length(2);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(() => new RelayerClient("http://relayer.example.org")).to.throw(/plain http:\/\/ is refused/);
    expect(() => new RelayerClient("https://relayer.example.org")).to.not.throw();
  });

  it("a PatientIdentity without a relayer refuses to act rather than send from a pseudonym", async function () {
    const identity = new PatientIdentity(setup.contracts, pseudonyms);
    const until = (await chainNow(setup.provider)) + DAY;
    let caught: unknown;
    try {
      await identity.client(pseudonyms[0].address).grant({
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

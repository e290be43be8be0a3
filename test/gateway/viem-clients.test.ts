/**
 * The viem entry's gateway, patient-with-relayer, custodian-set and pseudonym clients against a real
 * hardhat node and the real gateway and relayer over HTTP: each flow once with the ethers entry's client
 * and once with the viem entry's, the same results and the same error classes.
 */
import { expect } from "chai";
import { parseEther, Wallet } from "ethers";
import { createWalletClient, http, type WalletClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";

import * as ethersEntry from "../../sdk/index";
import * as viemEntry from "../../sdk/viem";
import { unwrapDataKey } from "../../sdk/crypto/key-wrap";
import { startRelayer, type RunningRelayer } from "../../gateway/relayer";
import type { RunningGateway } from "../../gateway/start";
import type { PublishedRecord } from "../../sdk/clients/provider";
import {
  chainNow,
  DAY,
  grantResearcherLabResults,
  labObservation,
  providerWithGateway,
  publish,
  readerWithKey,
  setupLedger,
  startTestGateway,
  type LedgerSetup,
} from "../helpers/gateway-harness";
import { sharedLocalNode } from "../helpers/local-node";
import { hardhatChain } from "../helpers/viem";
import { providerWithSet, readerOfSet, startCustodianSet, type CustodianSetup } from "../helpers/custodian-set-harness";

const chain = hardhatChain;

/** What either call threw (or that it did not). */
async function thrown(action: () => Promise<unknown>): Promise<Error> {
  try {
    await action();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a refusal");
}

/** A refusal as a dApp sees it: its class and what it says. */
function refusal(error: Error) {
  const ledgerError = error as ethersEntry.ConsentLedgerError & { code?: string; status?: number };
  return {
    class: error.constructor,
    name: error.name,
    shortMessage: ledgerError.shortMessage,
    code: ledgerError.code,
    status: ledgerError.status,
  };
}

describe("the viem entry's gateway and relayer clients (real node, real gateway over HTTP)", function () {
  this.timeout(180_000);
  let setup: LedgerSetup;
  let gateway: RunningGateway;
  let record: PublishedRecord;
  let streamed: PublishedRecord;
  const STREAMED = Uint8Array.from({ length: 150_000 }, (_, i) => (i * 7) % 251);

  /** The node's unlocked account `address` as a viem WalletClient over HTTP. */
  function nodeWallet(address: string): WalletClient {
    return createWalletClient({ account: address as `0x${string}`, chain, transport: http(setup.node.url) });
  }

  /** The viem GatewayClient of the node's account `address`. */
  async function viemGatewayAs(address: string, options: ethersEntry.GatewayClientOptions = {}) {
    const wallet = nodeWallet(address);
    return new viemEntry.GatewayClient(gateway.url, wallet, await viemEntry.connect(wallet, setup.deployment), options);
  }

  before(async function () {
    setup = await setupLedger(await sharedLocalNode());
    ({ gateway } = await startTestGateway(setup, { providers: [] }));
    const { provider } = await providerWithGateway(setup, setup.signers.hospital, gateway.url);
    record = await publish(provider, setup.signers.patient.address, "LAB_RESULT", labObservation("viem-1", 97));
    streamed = await (
      await provider.publishStream({
        patient: setup.signers.patient.address,
        dataClass: "LAB_RESULT",
        source: [STREAMED.subarray(0, 100_000), STREAMED.subarray(100_000)],
      })
    ).wait();
    await grantResearcherLabResults(setup);
  });

  after(async function () {
    await gateway?.close();
    setup?.cleanup();
  });

  it("is one GatewayClient class: both entries' clients share its methods and its error classes", function () {
    expect(Object.getPrototypeOf(viemEntry.GatewayClient)).to.equal(Object.getPrototypeOf(ethersEntry.GatewayClient));
    expect(viemEntry.GatewayError).to.equal(ethersEntry.GatewayError);
    expect(viemEntry.GatewayAuthenticationError).to.equal(ethersEntry.GatewayAuthenticationError);
    expect(viemEntry.RelayNotConfirmedError).to.equal(ethersEntry.RelayNotConfirmedError);
    expect(viemEntry.NoSignedFormError).to.equal(ethersEntry.NoSignedFormError);
  });

  it("logs in with a viem WalletClient and gets the key release the ethers client gets", async function () {
    const reader = await readerWithKey(setup, setup.signers.researcher, gateway.url);
    const viemGateway = await viemGatewayAs(setup.signers.researcher.address);

    const [ethersSession, viemSession] = [await reader.gateway.authenticate(), await viemGateway.authenticate()];
    expect(viemSession.account).to.equal(ethersSession.account).and.to.equal(setup.signers.researcher.address);

    const releases = [
      await reader.gateway.requestKey(record.recordId, "HRESCH"),
      await viemGateway.requestKey(record.recordId, "HRESCH"),
    ];
    const shown = releases.map(({ recordId, basis, purpose, superseded, batch }) => ({
      recordId,
      basis,
      purpose,
      superseded,
      batch,
    }));
    expect(shown[1]).to.deep.equal(shown[0]);
    // Both keys unwrap, with the reader's one key pair, to the provider's data key.
    for (const release of releases)
      expect(await unwrapDataKey(release.wrappedKey, reader.keyPair, record.recordId)).to.deep.equal(record.dataKey);
    expect(await viemGateway.fetchCiphertext(record.recordId)).to.deep.equal(
      await reader.gateway.fetchCiphertext(record.recordId),
    );
    expect(await viemGateway.health()).to.deep.include({ chainId: 31337, custodian: setup.signers.hospital.address });
  });

  it("fetches, verifies and opens a record (whole, a range, a stream) as the ethers client does", async function () {
    const reader = await readerWithKey(setup, setup.signers.researcher, gateway.url);
    const viemGateway = await viemGatewayAs(setup.signers.researcher.address);
    const input = { recordId: record.recordId, purpose: "HRESCH" as const, keyPair: reader.keyPair };
    const [byEthers, byViem] = [await reader.gateway.fetchRecord(input), await viemGateway.fetchRecord(input)];
    const opened = ({ release, ...rest }: typeof byEthers) => ({
      ...rest,
      basis: release.basis,
      purpose: release.purpose,
    });
    expect(opened(byViem)).to.deep.equal(opened(byEthers));
    expect(byViem.resource).to.deep.equal(labObservation("viem-1", 97));

    // A v2 (segmented) record: streamed, and a range of it, through each client.
    const v2 = { recordId: streamed.recordId, purpose: "HRESCH" as const, keyPair: reader.keyPair };
    const collect = async (plaintext: AsyncGenerator<Uint8Array>) => {
      const chunks: Uint8Array[] = [];
      for await (const chunk of plaintext) chunks.push(chunk);
      return Buffer.concat(chunks);
    };
    const viemStream = await viemGateway.fetchRecordStream(v2);
    expect(await collect(viemStream.plaintext)).to.deep.equal(Buffer.from(STREAMED));
    expect(viemStream.release.basis).to.equal((await reader.gateway.fetchRecordStream(v2)).release.basis);
    const ranges = [
      await reader.gateway.fetchRecordRange({ ...v2, offset: 70_000, length: 5_000 }),
      await viemGateway.fetchRecordRange({ ...v2, offset: 70_000, length: 5_000 }),
    ];
    expect(ranges[1].plaintext).to.deep.equal(ranges[0].plaintext).and.to.deep.equal(STREAMED.subarray(70_000, 75_000));
    expect(ranges[1].context).to.deep.equal(ranges[0].context);
  });

  it("refuses a record whose envelope the chain does not vouch for, as the ethers client does", async function () {
    const reader = await readerWithKey(setup, setup.signers.researcher, gateway.url);
    const wallet = nodeWallet(setup.signers.researcher.address);
    const contracts = await viemEntry.connect(wallet, setup.deployment);
    const input = { recordId: record.recordId, purpose: "HRESCH" as const, keyPair: reader.keyPair };
    // A gateway that serves other bytes than those anchored: both refuse before asking for the key.
    const swapping: typeof fetch = async (url, init) => {
      const response = await fetch(url, init);
      if (!String(url).endsWith("/ciphertext")) return response;
      const bytes = new Uint8Array(await response.arrayBuffer());
      bytes[bytes.length - 1] ^= 1;
      return new Response(bytes, { status: 200 });
    };
    const a = await thrown(() =>
      new ethersEntry.GatewayClient(gateway.url, setup.signers.researcher, reader.contracts, {
        fetch: swapping,
      }).fetchRecord(input),
    );
    const b = await thrown(() =>
      new viemEntry.GatewayClient(gateway.url, wallet, contracts, { fetch: swapping }).fetchRecord(input),
    );
    expect(a).to.be.instanceOf(ethersEntry.IntegrityError);
    expect(refusal(b)).to.deep.equal(refusal(a));
  });

  it("refuses with the same error classes and messages as the ethers client", async function () {
    const reader = await readerWithKey(setup, setup.signers.researcher, gateway.url);
    const viemGateway = await viemGatewayAs(setup.signers.researcher.address);
    const stranger = await readerWithKey(setup, setup.signers.otherResearcher, gateway.url, false);
    const viemStranger = await viemGatewayAs(setup.signers.otherResearcher.address);
    const cases: [string, () => Promise<unknown>, () => Promise<unknown>][] = [
      [
        "a purpose the consent does not cover",
        () => reader.gateway.requestKey(record.recordId, "BIORCH"),
        () => viemGateway.requestKey(record.recordId, "BIORCH"),
      ],
      [
        "no consent",
        () => stranger.gateway.requestKey(record.recordId, "HRESCH"),
        () => viemStranger.requestKey(record.recordId, "HRESCH"),
      ],
      [
        "an unknown record",
        () => reader.gateway.recordInfo(`0x${"ab".repeat(32)}`),
        () => viemGateway.recordInfo(`0x${"ab".repeat(32)}`),
      ],
    ];
    for (const [what, withEthers, withViem] of cases) {
      const [ethersError, viemError] = [await thrown(withEthers), await thrown(withViem)];
      expect(ethersError, what).to.be.instanceOf(ethersEntry.ConsentLedgerError);
      const [a, b] = [refusal(ethersError), refusal(viemError)];
      // The two researchers' names differ only in the stranger's case: same reader, same words.
      expect(b, what).to.deep.equal(a);
    }
    expect(refusal(await thrown(() => viemStranger.requestKey(record.recordId, "HRESCH"))).class).to.equal(
      ethersEntry.AccessDeniedError,
    );
  });

  it("refuses, with a viem wallet too, to sign a login challenge for another gateway", async function () {
    // A gateway that relays another gateway's challenge: the client must see the other origin and refuse.
    const relaying: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!String(input).endsWith("/auth/challenge")) return response;
      const challenge = (await response.json()) as { message: { gateway: string } };
      challenge.message.gateway = "https://elsewhere.example";
      return new Response(JSON.stringify(challenge), { status: 200, headers: { "content-type": "application/json" } });
    };
    const viemGateway = await viemGatewayAs(setup.signers.researcher.address, { fetch: relaying });
    const ethersGateway = new ethersEntry.GatewayClient(
      gateway.url,
      setup.signers.researcher,
      await setup.as(setup.signers.researcher),
      { fetch: relaying },
    );
    const [a, b] = [await thrown(() => ethersGateway.authenticate()), await thrown(() => viemGateway.authenticate())];
    expect(a).to.be.instanceOf(ethersEntry.GatewayAuthenticationError);
    expect(refusal(b)).to.deep.equal(refusal(a));
  });

  describe("the viem PatientClient's relayer option", function () {
    let relayer: RunningRelayer;
    let relayerKey: { address: string; privateKey: string };
    let pseudonyms: ethersEntry.Pseudonym[];

    before(async function () {
      relayerKey = Wallet.createRandom();
      await (await setup.signers.admin.sendTransaction({ to: relayerKey.address, value: parseEther("10") })).wait();
      relayer = await startRelayer({
        rpcUrl: setup.node.url,
        privateKey: relayerKey.privateKey,
        deployment: setup.deployment,
      });
      const root = await ethersEntry.derivePseudonymRoot(Wallet.createRandom(), {
        domain: "localhost",
        chainId: 31337,
        ledger: setup.deployment.ledger,
      });
      pseudonyms = [root.forProvider(setup.signers.hospital.address), root.forProvider(setup.signers.lab.address)];
      root.destroy();
    });

    after(async function () {
      await relayer?.close();
    });

    /** The pseudonym's viem PatientClient: a local account over HTTP, relaying through `consentRelayer`. */
    async function viemPatient(pseudonym: ethersEntry.Pseudonym, consentRelayer: ethersEntry.ConsentRelayer) {
      const wallet = createWalletClient({
        account: privateKeyToAccount(pseudonym.privateKey as `0x${string}`),
        chain,
        transport: http(setup.node.url),
      });
      return new viemEntry.PatientClient(await viemEntry.connect(wallet, setup.deployment), wallet, {
        relayer: consentRelayer,
      });
    }

    it("grants and revokes through the relayer from a pseudonym with no ether, as the ethers client does", async function () {
      const hospital = setup.signers.hospital.address;
      const until = (await chainNow(setup.provider)) + 30 * DAY;
      const grant = {
        grantee: hospital,
        dataClasses: ["LAB_RESULT" as const],
        purposes: ["TREAT" as const],
        validUntil: until,
      };
      const [first, second] = pseudonyms;
      const ethersPatient = new ethersEntry.PatientClient(
        setup.contracts,
        ethersEntry.pseudonymSigner(first, setup.provider),
        { relayer: new ethersEntry.RelayerClient(relayer.url) },
      );
      const viem = await viemPatient(second, new viemEntry.RelayerClient(relayer.url));
      expect(viem.relayer).to.be.instanceOf(viemEntry.RelayerClient);

      const granted = await viem.grant(grant);
      const [ethersConsent, viemConsent] = [await (await ethersPatient.grant(grant)).wait(), await granted.wait()];
      expect({ ...viemConsent, patient: undefined }).to.deep.equal({ ...ethersConsent, patient: undefined });
      expect(viemConsent.patient).to.equal(second.address);
      expect((await setup.provider.getTransaction(granted.hash))!.from).to.equal(relayerKey.address);
      expect(await viem.consentTo(hospital)).to.deep.equal(viemConsent);

      const [ethersRevoked, viemRevoked] = [
        await (await ethersPatient.revoke(hospital)).wait(),
        await (await viem.revoke(hospital)).wait(),
      ];
      expect(viemRevoked).to.deep.equal({ ...ethersRevoked, patient: second.address });
      // The settings relay too (actBySig): each checked on the chain by its event and signed fields.
      const policyInput = { permission: "GRU" as const, dataClasses: ["LAB_RESULT" as const] };
      const settled = async (patient: typeof viem | typeof ethersPatient) => [
        await (await patient.setPolicy(policyInput)).wait(),
        await (await patient.appointDelegate(hospital, until, ethersEntry.CARE_DELEGATE_SCOPE)).wait(),
        await (await patient.setEmergencyOptOut(true)).wait(),
        await (await patient.removeDelegate(hospital)).wait(),
        await (await patient.clearPolicy()).wait(),
      ];
      expect(await settled(viem)).to.deep.equal(await settled(ethersPatient));
      for (const pseudonym of [first, second]) {
        expect(await setup.provider.getBalance(pseudonym.address)).to.equal(0n);
        expect(await setup.provider.getTransactionCount(pseudonym.address)).to.equal(0);
      }
    });

    it("registers and rotates an encryption key through the relayer (registerKeyBySig) from a pseudonym with no ether, as the ethers client does", async function () {
      // Pseudonyms of their own: the relayer limits how many messages one signer sends a minute.
      const root = await ethersEntry.derivePseudonymRoot(Wallet.createRandom(), {
        domain: "localhost",
        chainId: 31337,
        ledger: setup.deployment.ledger,
      });
      const own = [root.forProvider(setup.signers.hospital.address), root.forProvider(setup.signers.lab.address)];
      root.destroy();
      const [first, second] = own;
      const ethersPatient = new ethersEntry.PatientClient(
        setup.contracts,
        ethersEntry.pseudonymSigner(first, setup.provider),
        { relayer: new ethersEntry.RelayerClient(relayer.url) },
      );
      const viem = await viemPatient(second, new viemEntry.RelayerClient(relayer.url));
      for (const round of [1, 2]) {
        const [ethersKey, viemKey] = [ethersEntry.generateEncryptionKeyPair(), viemEntry.generateEncryptionKeyPair()];
        const registering = await viem.registerEncryptionKey(viemKey);
        const [ethersResult, viemResult] = [
          await (await ethersPatient.registerEncryptionKey(ethersKey)).wait(),
          await registering.wait(),
        ];
        expect(ethersResult, `round ${round}`).to.deep.equal({
          publicKey: ethersEntry.publicKeyToBytes32(ethersKey.publicKey),
        });
        expect(viemResult, `round ${round}`).to.deep.equal({
          publicKey: viemEntry.publicKeyToBytes32(viemKey.publicKey),
        });
        expect(await setup.contracts.keys.keyOf(second.address)).to.equal(viemResult.publicKey);
        expect(await setup.contracts.keys.keyOf(first.address)).to.equal(ethersResult.publicKey);
        expect((await setup.provider.getTransaction(registering.hash))!.from).to.equal(relayerKey.address);
      }
      // The signed form binds the key seen now: the same fields on both entries.
      const key = ethersEntry.generateEncryptionKeyPair();
      const [a, b] = [await ethersPatient.signRegisterKey(key), await viem.signRegisterKey(key)];
      expect(b.kind).to.equal("registerKey");
      expect(b.keyDirectory).to.equal(a.keyDirectory);
      expect(b.fields).to.deep.equal({
        publicKey: ethersEntry.publicKeyToBytes32(key.publicKey),
        seenKey: (await setup.contracts.keys.keyOf(second.address)).toLowerCase(),
      });
      for (const pseudonym of [first, second]) {
        expect(await setup.provider.getBalance(pseudonym.address)).to.equal(0n);
        expect(await setup.provider.getTransactionCount(pseudonym.address)).to.equal(0);
      }
      // The viem PatientIdentity registers a pseudonym's key the same way.
      const viemContracts = await viemEntry.connect(nodeWallet(setup.signers.stranger.address), setup.deployment);
      const identity = new viemEntry.PatientIdentity(viemContracts, own, {
        relayer: new viemEntry.RelayerClient(relayer.url),
      });
      const identityKey = viemEntry.generateEncryptionKeyPair();
      const registered = await (await identity.registerEncryptionKey(first.id, identityKey)).wait();
      expect(await setup.contracts.keys.keyOf(first.address)).to.equal(registered.publicKey);
    });

    it("relays every action that has a signed form, refuses a batch grant, and refuses a relayer's answer that does not carry the message, as the ethers client does", async function () {
      const [first] = pseudonyms;
      const unrelated = await (
        await setup.signers.admin.sendTransaction({ to: setup.signers.stranger.address, value: 1n })
      ).wait();
      const lying: ethersEntry.ConsentRelayer = {
        submit: async () => ({ transactionHash: unrelated!.hash, relayer: relayerKey.address, gasLimit: "100000" }),
      };
      const ethersPatient = new ethersEntry.PatientClient(
        setup.contracts,
        ethersEntry.pseudonymSigner(first, setup.provider),
        {
          relayer: lying,
        },
      );
      const viem = await viemPatient(first, lying);
      const hospital = setup.signers.hospital.address;
      const until = (await chainNow(setup.provider)) + DAY;
      const grant = {
        grantee: hospital,
        dataClasses: ["LAB_RESULT" as const],
        purposes: ["TREAT" as const],
        validUntil: until,
      };
      // A batch grant has no signed form: refused before anything is signed. Every other action relays,
      // and the lying relayer's answer is refused when waited on.
      const actions: [string, (patient: typeof viem | typeof ethersPatient) => Promise<unknown>][] = [
        ["grant consents in a batch", (patient) => patient.grantBatch([grant])],
        [
          "set the policy",
          async (patient) => (await patient.setPolicy({ permission: "GRU", dataClasses: ["LAB_RESULT"] })).wait(),
        ],
        ["clear the policy", async (patient) => (await patient.clearPolicy()).wait()],
        [
          "appoint the delegate",
          async (patient) => (await patient.appointDelegate(hospital, until, ethersEntry.CARE_DELEGATE_SCOPE)).wait(),
        ],
        ["remove the delegate", async (patient) => (await patient.removeDelegate(hospital)).wait()],
        ["set the emergency opt-out", async (patient) => (await patient.setEmergencyOptOut(true)).wait()],
        ["cancel the signature", async (patient) => (await patient.cancelSignature(5n)).wait()],
        [
          "register the encryption key",
          async (patient) => (await patient.registerEncryptionKey(ethersEntry.generateEncryptionKeyPair())).wait(),
        ],
        ["revoke (a relayer that lies)", async (patient) => (await patient.revoke(hospital)).wait()],
      ];
      for (const [what, act] of actions) {
        const [a, b] = [await thrown(() => act(ethersPatient)), await thrown(() => act(viem))];
        expect(a.name, what).to.equal(what.includes("batch") ? "NoSignedFormError" : "RelayNotConfirmedError");
        // The signed message's nonce and deadline differ between the two clients: compare what was refused.
        expect({ ...refusal(b), shortMessage: b.message.split(":")[0] }, what).to.deep.equal({
          ...refusal(a),
          shortMessage: a.message.split(":")[0],
        });
        expect((b as ethersEntry.ConsentLedgerError).shortMessage, what).to.equal(
          (a as ethersEntry.ConsentLedgerError).shortMessage,
        );
      }
      expect(await setup.provider.getTransactionCount(first.address)).to.equal(0);
    });

    it("a viem PatientIdentity acts as each pseudonym through the relayer and reads across them, as the ethers one does", async function () {
      const hospital = setup.signers.hospital.address;
      const lab = setup.signers.lab.address;
      const until = (await chainNow(setup.provider)) + 10 * DAY;
      const viemContracts = await viemEntry.connect(nodeWallet(setup.signers.stranger.address), setup.deployment);
      const identity = new viemEntry.PatientIdentity(viemContracts, pseudonyms, {
        relayer: new viemEntry.RelayerClient(relayer.url),
      });
      expect(viemEntry.pseudonymAccount(pseudonyms[0]).address).to.equal(pseudonyms[0].address);
      await (
        await identity
          .client(pseudonyms[0].id)
          .grant({ grantee: hospital, dataClasses: ["LAB_RESULT"], purposes: ["TREAT"], validUntil: until })
      ).wait();
      await (
        await identity
          .client(pseudonyms[1].address)
          .grant({ grantee: lab, dataClasses: ["IMAGING"], purposes: ["TREAT"], validUntil: until })
      ).wait();

      const ethersIdentity = new ethersEntry.PatientIdentity(setup.contracts, pseudonyms, {
        relayer: new ethersEntry.RelayerClient(relayer.url),
      });
      const [viemConsents, ethersConsents] = [await identity.consents(), await ethersIdentity.consents()];
      expect(viemConsents).to.deep.equal(ethersConsents);
      expect(viemConsents.map((consent) => [consent.pseudonym, consent.grantee])).to.deep.equal([
        [pseudonyms[0].address, hospital],
        [pseudonyms[1].address, lab],
      ]);
      expect(await identity.requests({ all: true })).to.deep.equal(await ethersIdentity.requests({ all: true }));
      for (const pseudonym of pseudonyms) expect(await setup.provider.getBalance(pseudonym.address)).to.equal(0n);

      // Without a relayer, both refuse to act rather than send from a pseudonym.
      const [a, b] = [
        await thrown(() =>
          new ethersEntry.PatientIdentity(setup.contracts, pseudonyms).client(pseudonyms[0].id).revoke(hospital),
        ),
        await thrown(() =>
          new viemEntry.PatientIdentity(viemContracts, pseudonyms).client(pseudonyms[0].id).revoke(hospital),
        ),
      ];
      expect(refusal(b)).to.deep.equal(refusal(a));
    });

    it("derives the same pseudonyms from a viem wallet as from an ethers wallet of the same key", async function () {
      const key = Wallet.createRandom().privateKey;
      const scope = { domain: "localhost", chainId: 31337, ledger: setup.deployment.ledger };
      const viemWallet = createWalletClient({
        account: privateKeyToAccount(key as `0x${string}`),
        chain,
        transport: http(setup.node.url),
      });
      const [fromViem, fromEthers] = [
        await viemEntry.derivePseudonymRoot(viemWallet, scope),
        await ethersEntry.derivePseudonymRoot(new Wallet(key), scope),
      ];
      expect(fromViem.equals(fromEthers)).to.equal(true);
      const pseudonym = fromViem.forProvider(setup.signers.hospital.address);
      expect(viemEntry.pseudonymAccount(pseudonym).address).to.equal(
        fromEthers.forProvider(setup.signers.hospital.address).address,
      );
      fromViem.destroy();
      fromEthers.destroy();
    });

    it("signs pairing links with a viem LocalAccount that the ethers provider accepts, and the other way round", async function () {
      const [atHospital] = pseudonyms;
      const hospital = setup.signers.hospital.address;
      const input = {
        provider: hospital,
        encryptionPublicKey: atHospital.encryptionKeyPair.publicKey,
        chainId: 31337,
        ledger: setup.deployment.ledger,
      };
      const verify = { provider: hospital, chainId: 31337, ledger: setup.deployment.ledger };
      const byViem = await viemEntry.createPairingLink(viemEntry.pseudonymAccount(atHospital), input);
      const byEthers = await ethersEntry.createPairingLink(ethersEntry.pseudonymSigner(atHospital), input);
      for (const made of [byViem, byEthers]) {
        expect(ethersEntry.verifyPairingLink(made.payload, verify)).to.deep.equal(made.link);
        expect(await viemEntry.verifyPairingLink(made.payload, verify)).to.deep.equal(made.link);
      }
      // The same link signed twice over the same fields is the same signature (RFC 6979): same bytes either way.
      expect({ ...byViem.link, nonce: "", issuedAt: 0, expiresAt: 0, signature: "" }).to.deep.equal({
        ...byEthers.link,
        nonce: "",
        issuedAt: 0,
        expiresAt: 0,
        signature: "",
      });
      // A forged link (another pseudonym's signature) and one for another provider: the same refusals.
      const forged = ethersEntry.encodePairingLink({ ...byViem.link, pseudonym: pseudonyms[1].address });
      for (const [payload, options] of [
        [forged, verify],
        [byViem.payload, { ...verify, provider: setup.signers.lab.address }],
      ] as const) {
        const a = await thrown(async () => ethersEntry.verifyPairingLink(payload, options));
        const b = await thrown(async () => viemEntry.verifyPairingLink(payload, options));
        expect(a).to.be.instanceOf(ethersEntry.PairingError);
        expect({ ...refusal(b), problem: (b as ethersEntry.PairingError).problem }).to.deep.equal({
          ...refusal(a),
          problem: (a as ethersEntry.PairingError).problem,
        });
      }
    });
  });
});

describe("the viem entry's CustodianSetClient (real node, three real gateways over HTTP)", function () {
  this.timeout(180_000);
  let setup: LedgerSetup;
  let set: CustodianSetup;
  let record: PublishedRecord;

  function nodeWallet(address: string): WalletClient {
    return createWalletClient({ account: address as `0x${string}`, chain, transport: http(setup.node.url) });
  }

  /** A viem client of the whole set, as `address` (a node account). */
  async function viemSetClient(address: string) {
    const wallet = nodeWallet(address);
    const contracts = await viemEntry.connect(wallet, setup.deployment);
    const gateways = Object.fromEntries(
      set.custodians.map((custodian, i) => [
        custodian,
        new viemEntry.GatewayClient(set.gateways[i].url, wallet, contracts),
      ]),
    );
    return new viemEntry.CustodianSetClient(contracts, wallet, gateways);
  }

  before(async function () {
    setup = await setupLedger(await sharedLocalNode());
    set = await startCustodianSet(setup, 3, 2);
    const hospital = await providerWithSet(setup, set);
    record = await publish(hospital.provider, setup.signers.patient.address, "LAB_RESULT", labObservation("set-1", 5));
    await grantResearcherLabResults(setup);
  });

  after(async function () {
    await set?.close();
    setup?.cleanup();
  });

  it("reads the record's set, its ciphertext and k shares that rebuild the key, as the ethers client does", async function () {
    const reader = await readerOfSet(setup, set, setup.signers.researcher);
    const viemClient = await viemSetClient(setup.signers.researcher.address);
    const guarding = await viemClient.setOfRecord(record.recordId);
    expect(guarding).to.deep.equal(await reader.client.setOfRecord(record.recordId));
    expect(guarding).to.deep.include({ setId: set.setId, threshold: 2 });
    expect((await viemClient.fetchCiphertext(record.recordId)).envelope).to.deep.equal(
      (await reader.client.fetchCiphertext(record.recordId)).envelope,
    );
    for (const client of [reader.client, viemClient]) {
      const gathered = await client.gatherShares({
        recordId: record.recordId,
        purpose: "HRESCH",
        keyPair: reader.keyPair,
      });
      expect(gathered.shares).to.have.length(2);
      expect(await ethersEntry.combineKeyShares(gathered.shares.map((entry) => entry.share))).to.deep.equal(
        record.dataKey,
      );
    }
  });

  it("opens a record from k custodians' shares, verified against the chain, as the ethers client does", async function () {
    const reader = await readerOfSet(setup, set, setup.signers.researcher);
    const viemClient = await viemSetClient(setup.signers.researcher.address);
    const input = { recordId: record.recordId, purpose: "HRESCH" as const, keyPair: reader.keyPair };
    const [a, b] = [await reader.client.fetchRecord(input), await viemClient.fetchRecord(input)];
    const shown = ({ shares, refusals, servedBy, ...opened }: typeof a) => ({
      ...opened,
      shares: shares.length,
      refusals: refusals.length,
      servedBy: set.custodians.includes(servedBy),
    });
    expect(shown(b)).to.deep.equal(shown(a));
    expect(b.resource).to.deep.equal(labObservation("set-1", 5));
  });

  it("refuses a reader without consent with the same NotEnoughSharesError, and defines sets as the ethers client does", async function () {
    const stranger = await readerOfSet(setup, set, setup.signers.otherResearcher);
    const viemStranger = await viemSetClient(setup.signers.otherResearcher.address);
    const input = { recordId: record.recordId, purpose: "HRESCH" as const, keyPair: stranger.keyPair };
    const [a, b] = [
      (await thrown(() => stranger.client.gatherShares(input))) as ethersEntry.NotEnoughSharesError,
      (await thrown(() => viemStranger.gatherShares(input))) as ethersEntry.NotEnoughSharesError,
    ];
    expect(a).to.be.instanceOf(ethersEntry.NotEnoughSharesError);
    expect(b).to.be.instanceOf(ethersEntry.NotEnoughSharesError);
    // Each stops once fewer than k shares can still come: after two of the three refusals, or all three.
    for (const error of [a, b]) {
      expect(error.refusals.length).to.be.within(2, 3);
      expect(new Set(error.refusals.map((r) => r.code))).to.deep.equal(new Set(["AccessDenied"]));
      expect(error.refusals.every((r) => set.custodians.includes(r.custodian))).to.equal(true);
    }

    const hospital = await viemSetClient(setup.signers.hospital.address);
    const defined = await (await hospital.defineSet(set.custodians.slice(0, 2), 2)).wait();
    expect(defined).to.deep.equal({ setId: defined.setId, threshold: 2, custodians: set.custodians.slice(0, 2) });
    expect(await stranger.client.set(defined.setId)).to.deep.equal(defined);
  });
});

/**
 * Issue 17 items 4 to 6 on a real node with a real relayer over HTTP: a patient with three pseudonyms
 * makes one decision (emergency opt-out, "my carer" as delegate) and it applies to each pseudonym as
 * its own relayed message, with nothing on chain linking them: not a common delegate address (the carer
 * acts with one derived account per pseudonym, from its delegate offer), not a common value, not one
 * block (the messages are spread in time). A study pseudonym's published policy approves a researcher's
 * request, and nothing leads the researcher from it to the others. The observer is
 * scripts/lib/chain-observer.ts.
 */
import { expect } from "chai";
import { id, parseEther, Wallet, type HDNodeWallet } from "ethers";

import {
  CARE_DELEGATE_SCOPE,
  DelegateIdentity,
  DelegateOfferError,
  LinkingDelegateError,
  PatientIdentity,
  RelayerClient,
  ResearcherClient,
  derivePseudonymRoot,
  encodeDelegateOffer,
  parseDelegateOffer,
  pseudonymSigner,
  type DelegateOffer,
  type Pseudonym,
  type PseudonymRoot,
} from "../../sdk/index";
import {
  ACTION_TYPES,
  CONSENT_TYPES,
  DELEGATE_OFFER_TYPES,
  delegateOfferDomain,
  encodeTypeOf,
} from "../../sdk/clients/consent-types";
import { startRelayer, type RunningRelayer } from "../../gateway/relayer";
import { linkGroups, observeChain } from "../../scripts/lib/chain-observer";
import { chainNow, DAY, setupLedger, type LedgerSetup } from "../helpers/gateway-harness";
import { rpc, sharedLocalNode } from "../helpers/local-node";

describe("pseudonyms: one decision from the patient, applied per pseudonym, nothing linking them", function () {
  this.timeout(240_000);
  let setup: LedgerSetup;
  let relayer: RunningRelayer;
  let relayerAddress: string;
  let root: PseudonymRoot;
  let pseudonyms: Pseudonym[];
  let identity: PatientIdentity;
  let carerWallet: HDNodeWallet;
  let carer: DelegateIdentity;
  let ignore: string[];

  before(async function () {
    setup = await setupLedger(await sharedLocalNode());
    const relayerKey = Wallet.createRandom();
    relayerAddress = relayerKey.address;
    await (await setup.signers.admin.sendTransaction({ to: relayerKey.address, value: parseEther("10") })).wait();
    relayer = await startRelayer({
      rpcUrl: setup.node.url,
      privateKey: relayerKey.privateKey,
      deployment: setup.deployment,
    });
    const scope = { domain: "localhost", chainId: 31337, ledger: setup.deployment.ledger };
    root = await derivePseudonymRoot(setup.signers.patient, scope);
    const { hospital, lab } = setup.signers;
    pseudonyms = [root.forProvider(hospital.address), root.forProvider(lab.address), root.fresh(1)];
    identity = new PatientIdentity(setup.contracts, pseudonyms, { relayer: new RelayerClient(relayer.url), root });
    // The carer: an everyday wallet of its own, which only signs off chain.
    carerWallet = Wallet.createRandom();
    carer = new DelegateIdentity(setup.contracts, await derivePseudonymRoot(carerWallet, scope), {
      relayer: new RelayerClient(relayer.url),
    });
    const { ledger, records, accessLog, keys } = setup.deployment;
    // The contracts and the relayer are in every relayed transaction; the typehashes in every signed one.
    const typehashes = Object.entries({ ...ACTION_TYPES, ...CONSENT_TYPES }).map(([name, fields]) =>
      id(encodeTypeOf(name, fields)),
    );
    ignore = [ledger, records, accessLog, keys, relayerAddress, ...typehashes];
  });

  after(async function () {
    root?.destroy();
    await relayer?.close();
    setup?.cleanup();
  });

  /** Runs `body` with blocks mined every `ms` (not one per transaction), then restores automining. */
  async function withIntervalMining<T>(ms: number, body: () => Promise<T>): Promise<T> {
    await rpc(setup.node.url, "evm_setAutomine", [false]);
    await rpc(setup.node.url, "evm_setIntervalMining", [ms]);
    try {
      return await body();
    } finally {
      await rpc(setup.node.url, "evm_setIntervalMining", [0]);
      await rpc(setup.node.url, "evm_setAutomine", [true]);
    }
  }

  it("one call opts all three pseudonyms out of emergency access, each relayed on its own, none funded", async function () {
    const from = await setup.provider.getBlockNumber();
    const sent: string[] = [];
    const action = await identity.setEmergencyOptOut(true, {
      spreadMs: 0,
      onProgress: (event) => event.state === "sent" && sent.push(event.pseudonym),
    });
    expect(action.schedule.map((item) => item.pseudonym).sort()).to.deep.equal(pseudonyms.map((p) => p.address).sort());
    const results = await action.wait();
    expect(results.map((r) => [r.pseudonym, r.optedOut]).sort()).to.deep.equal(
      pseudonyms.map((p) => [p.address, true]).sort(),
    );
    expect(sent.sort()).to.deep.equal(pseudonyms.map((p) => p.address).sort());
    for (const pseudonym of pseudonyms) {
      expect(await setup.contracts.ledger.emergencyOptedOut(pseudonym.address), pseudonym.id).to.equal(true);
      expect(await setup.provider.getTransactionCount(pseudonym.address)).to.equal(0);
    }
    const watched = pseudonyms.map((p) => p.address);
    const seen = await observeChain(setup.provider, from + 1, watched, watched);
    expect(seen.funded).to.deep.equal([]);
    expect(seen.links).to.deep.equal([]);
    expect(seen.sightings.map((s) => s.from.toLowerCase())).to.deep.equal(Array(3).fill(relayerAddress.toLowerCase()));
  });

  it("timing: sent at once they share a block and a deadline (the observer sees it); spread, no two share a block or a value", async function () {
    const watched = pseudonyms.map((p) => [p.address]);
    const together = await withIntervalMining(1_000, async () => {
      const from = await setup.provider.getBlockNumber();
      await (await identity.setEmergencyOptOut(false, { spreadMs: 0 })).wait();
      return linkGroups(setup.provider, from + 1, watched, ignore);
    });
    // The control: the observer does see what sending at once gives away.
    expect(together.sameBlock.length, JSON.stringify(together)).to.be.greaterThan(0);
    // Signed in the same second, their deadlines are equal too: a common field.
    expect(together.shared.length, JSON.stringify(together.shared)).to.be.greaterThan(0);

    const spread = await withIntervalMining(400, async () => {
      const from = await setup.provider.getBlockNumber();
      const action = await identity.setEmergencyOptOut(true, { spreadMs: 1_500 });
      const delays = action.schedule.map((item) => item.delayMs);
      expect(delays).to.deep.equal([...delays].sort((a, b) => a - b));
      expect(delays.every((delay) => delay >= 0 && delay <= 1_500)).to.equal(true);
      await action.wait();
      return linkGroups(setup.provider, from + 1, watched, ignore);
    });
    expect(spread.sameBlock, JSON.stringify(spread.sameBlock)).to.deep.equal([]);
    expect(spread.shared, JSON.stringify(spread.shared)).to.deep.equal([]);
    expect(spread.together).to.deep.equal([]);
    for (const pseudonym of pseudonyms)
      expect(await setup.contracts.ledger.emergencyOptedOut(pseudonym.address)).to.equal(true);
  });

  it("appoints the carer on every pseudonym from its offer, a distinct address each; the carer grants within scope for two, gasless; nothing links them", async function () {
    const from = await setup.provider.getBlockNumber();
    const { payload, offer } = await carer.createOffer(pseudonyms.map((p) => p.address));
    const delegates = offer.entries.map((entry) => entry.delegate);
    expect(new Set(delegates).size).to.equal(3);
    expect(delegates).to.not.include(carerWallet.address);
    const until = (await chainNow(setup.provider)) + 90 * DAY + 1234;
    const appointed = await (
      await identity.appointDelegate(payload, until, CARE_DELEGATE_SCOPE, { spreadMs: 300 })
    ).wait();
    const endOfDay = until - (until % DAY);
    for (const [i, pseudonym] of pseudonyms.entries()) {
      const delegate = carer.accountFor(pseudonym.address).address;
      expect(delegate).to.equal(offer.entries[i].delegate);
      expect(await setup.contracts.ledger.delegateUntil(pseudonym.address, delegate), pseudonym.id).to.equal(
        BigInt(endOfDay),
      );
      expect(appointed.find((a) => a.pseudonym === pseudonym.address)?.delegate).to.equal(delegate);
    }

    // The carer, with the right derived account for each, grants treatment access for two pseudonyms,
    // until a whole day (the same end to the second on both would link them, as the observer would see).
    const now = await chainNow(setup.provider);
    const grantEnd = now + 10 * DAY - ((now + 10 * DAY) % DAY);
    const [atHospital, atLab] = pseudonyms;
    for (const [pseudonym, grantee] of [
      [atHospital, setup.signers.hospital.address],
      [atLab, setup.signers.lab.address],
    ] as const) {
      const consent = await (
        await carer.grant(pseudonym.address, {
          grantee,
          dataClasses: ["LAB_RESULT"],
          purposes: ["TREAT"],
          validUntil: grantEnd,
        })
      ).wait();
      expect(consent.patient).to.equal(pseudonym.address);
      expect(
        (await carer.client(pseudonym.address).consentTo(grantee, { patient: pseudonym.address }))?.validUntil,
      ).to.equal(grantEnd);
    }
    // Outside its scope (a sensitive class), the ledger refuses the carer.
    await expectRejected(
      async () =>
        (
          await carer.grant(atHospital.address, {
            grantee: setup.signers.clinician.address,
            dataClasses: ["SUBSTANCE_USE"],
            purposes: ["TREAT"],
            validUntil: now + 10 * DAY,
          })
        ).wait(),
      /DelegateScopeExceeded/,
    );
    // One derived account does not act for another pseudonym.
    await expectRejected(
      async () =>
        (
          await carer.client(atHospital.address).grant(
            {
              grantee: setup.signers.lab.address,
              dataClasses: ["LAB_RESULT"],
              purposes: ["TREAT"],
              validUntil: now + 10 * DAY,
            },
            { patient: atLab.address },
          )
        ).wait(),
      /NotPatientOrDelegate/,
    );

    const everyone = [...pseudonyms.map((p) => p.address), ...delegates, carerWallet.address];
    const seen = await observeChain(setup.provider, from + 1, everyone, everyone);
    expect(seen.funded).to.deep.equal([]);
    expect(seen.sightings.filter((s) => s.accounts.includes(carerWallet.address))).to.deep.equal([]);
    for (const account of [...pseudonyms.map((p) => p.address), ...delegates])
      expect(await setup.provider.getTransactionCount(account)).to.equal(0);
    // Each pseudonym with its own delegate account is one group: nothing ties two groups.
    const groups = pseudonyms.map((p, i) => [p.address, delegates[i]]);
    const links = await linkGroups(setup.provider, from + 1, groups, ignore);
    expect(links.together, JSON.stringify(links.together)).to.deep.equal([]);
    expect(links.shared, JSON.stringify(links.shared)).to.deep.equal([]);
    expect(links.sameBlock).to.deep.equal([]);
  });

  it("refuses one plain address on several pseudonyms unless allowLink, which the observer then catches", async function () {
    const plain = Wallet.createRandom().address;
    const until = (await chainNow(setup.provider)) + 30 * DAY;
    const refused = await identity.appointDelegate(plain, until, CARE_DELEGATE_SCOPE, { spreadMs: 0 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).to.be.instanceOf(LinkingDelegateError);
    const error = refused as LinkingDelegateError;
    expect(error.delegate).to.equal(plain);
    expect(error.pseudonyms).to.deep.equal(pseudonyms.map((p) => p.address));
    expect(error.message).to.match(/link them publicly on chain/);
    expect(error.message).to.match(/delegate offer/);
    expect(await setup.contracts.ledger.delegateUntil(pseudonyms[0].address, plain)).to.equal(0n);

    // One pseudonym alone may take a plain address.
    await (
      await identity.appointDelegate(plain, until, CARE_DELEGATE_SCOPE, {
        spreadMs: 0,
        pseudonyms: [pseudonyms[2].id],
      })
    ).wait();
    expect(await setup.contracts.ledger.delegateUntil(pseudonyms[2].address, plain)).to.equal(BigInt(until));

    // Allowed explicitly, and the observer sees the common address.
    const from = await setup.provider.getBlockNumber();
    await (
      await identity.appointDelegate(plain, until, CARE_DELEGATE_SCOPE, {
        spreadMs: 0,
        allowLink: true,
        pseudonyms: [pseudonyms[0].address, pseudonyms[1].address],
      })
    ).wait();
    const links = await linkGroups(
      setup.provider,
      from + 1,
      pseudonyms.slice(0, 2).map((p) => [p.address]),
      ignore,
    );
    expect(links.shared.map((s) => s.value)).to.include("0x" + plain.toLowerCase().slice(2).padStart(64, "0"));
    await (await identity.removeDelegate(plain, { spreadMs: 0, allowLink: true })).wait();
    for (const pseudonym of pseudonyms)
      expect(await setup.contracts.ledger.delegateUntil(pseudonym.address, plain)).to.equal(0n);
  });

  it("refuses a forged offer with a typed error: another key's signature, an entry moved to another pseudonym, a stranger's pseudonym, one address twice", async function () {
    const until = (await chainNow(setup.provider)) + 30 * DAY;
    const { offer } = await carer.createOffer(pseudonyms.map((p) => p.address));
    const refusal = async (forged: DelegateOffer | string): Promise<DelegateOfferError> => {
      const error = await identity.appointDelegate(forged, until, CARE_DELEGATE_SCOPE, { spreadMs: 0 }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).to.be.instanceOf(DelegateOfferError);
      return error as DelegateOfferError;
    };
    const ledger = setup.deployment.ledger;
    const blockBefore = await setup.provider.getBlockNumber();

    // Signed by another key (an attacker's account) while naming the carer's address.
    const attacker = Wallet.createRandom();
    const first = offer.entries[0];
    const bySomeoneElse = await attacker.signTypedData(delegateOfferDomain(31337, ledger), DELEGATE_OFFER_TYPES, {
      delegate: first.delegate,
      patient: first.patient,
      issuedAt: offer.issuedAt,
      expiresAt: offer.expiresAt,
      nonce: first.nonce,
    });
    const forged1 = { ...offer, entries: [{ ...first, signature: bySomeoneElse }, ...offer.entries.slice(1)] };
    const e1 = await refusal(encodeDelegateOffer(forged1));
    expect([e1.problem, e1.patient]).to.deep.equal(["BadSignature", first.patient]);

    // The carer's acceptance for one pseudonym, presented for another.
    const swapped = {
      ...offer,
      entries: [
        { ...offer.entries[0], patient: offer.entries[1].patient },
        { ...offer.entries[1], patient: offer.entries[0].patient },
        offer.entries[2],
      ],
    };
    expect((await refusal(swapped)).problem).to.equal("BadSignature");

    // An offer for someone else's pseudonym.
    const stranger = Wallet.createRandom().address;
    const { payload: foreign } = await carer.createOffer([pseudonyms[0].address, stranger]);
    const e3 = await refusal(foreign);
    expect([e3.problem, e3.patient]).to.deep.equal(["UnknownPseudonym", stranger]);

    // One address for two pseudonyms (signed honestly by it, twice).
    const one = pseudonymSigner(carer.accountFor(pseudonyms[0].address));
    const twice = await Promise.all(
      pseudonyms.slice(0, 2).map(async (p) => ({
        patient: p.address,
        delegate: one.address,
        nonce: first.nonce,
        signature: await one.signTypedData(delegateOfferDomain(31337, ledger), DELEGATE_OFFER_TYPES, {
          delegate: one.address,
          patient: p.address,
          issuedAt: offer.issuedAt,
          expiresAt: offer.expiresAt,
          nonce: first.nonce,
        }),
      })),
    );
    expect((await refusal({ ...offer, entries: twice })).problem).to.equal("SharedDelegate");

    // Another ledger, and an expired offer.
    expect((await refusal({ ...offer, ledger: setup.deployment.records })).problem).to.equal("WrongLedger");
    const old = await carer.createOffer(
      pseudonyms.map((p) => p.address),
      { now: offer.issuedAt - 10 * DAY, ttlSeconds: DAY },
    );
    expect((await refusal(old.payload)).problem).to.equal("Expired");
    // The payload round-trips, and nothing was appointed by any of the refusals.
    expect(parseDelegateOffer(encodeDelegateOffer(offer))).to.deep.equal({
      ...offer,
      entries: offer.entries.map((e) => ({ ...e, signature: e.signature.toLowerCase() })),
    });
    const blockAfter = await setup.provider.getBlockNumber();
    expect(blockAfter).to.equal(blockBefore);
  });

  it("a study pseudonym's published policy approves a researcher's request; the researcher sees nothing of the others", async function () {
    const from = await setup.provider.getBlockNumber();
    const now = await chainNow(setup.provider);
    const published = await identity.publishStudyPolicy("asthma-2027", {
      permission: "GRU",
      dataClasses: ["LAB_RESULT"],
      validUntil: now + 60 * DAY,
    });
    const policy = await published.transaction.wait();
    expect(published.relationship).to.equal("study:asthma-2027");
    expect(published.pseudonym).to.equal(root.forStudy("asthma-2027").address);
    expect(Number((await setup.contracts.ledger.policyOf(published.pseudonym)).permission)).to.equal(policy.permission);
    expect(await setup.provider.getTransactionCount(published.pseudonym)).to.equal(0);

    const researcher = new ResearcherClient(await setup.as(setup.signers.researcher), setup.signers.researcher);
    const { approved } = await (
      await researcher.requestAccess({
        patient: published.pseudonym,
        dataClasses: ["LAB_RESULT"],
        purpose: "HRESCH",
        researchCategory: "GRU",
        duration: 30 * DAY,
        studyId: "asthma-2027",
      })
    ).wait();
    expect(approved).to.equal(true);
    // The patient's one view now holds the study's consent too.
    const consents = await identity.consents();
    expect(consents.some((c) => c.relationship === "study:asthma-2027")).to.equal(true);

    // All the researcher can see on chain from the study pseudonym names no other pseudonym.
    const groups = [[published.pseudonym], ...pseudonyms.map((p) => [p.address])];
    const links = await linkGroups(setup.provider, from + 1, groups, [...ignore, setup.signers.researcher.address]);
    expect(links.together).to.deep.equal([]);
    expect(links.shared.filter((s) => s.groups.includes(0))).to.deep.equal([]);
    const reach = await observeChain(
      setup.provider,
      setup.deployment.deployedAtBlock!,
      [published.pseudonym, ...pseudonyms.map((p) => p.address)],
      [],
    );
    expect(reach.links).to.deep.equal([]);
  });
});

async function expectRejected(run: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  const error = await run().then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error, "expected a refusal").to.be.instanceOf(Error);
  const text = `${(error as Error).message} ${(error as { details?: string }).details ?? ""}`;
  expect(text).to.match(pattern);
}

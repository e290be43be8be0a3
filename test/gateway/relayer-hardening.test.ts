import { expect } from "chai";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parseEther, toQuantity, Wallet } from "ethers";

import {
  PatientClient,
  populateSignedConsent,
  RelayerClient,
  RelayerError,
  RelayNotConfirmedError,
  type LedgerContracts,
  type SignedConsent,
} from "../../sdk/index";
import { startRelayer, type RelayerConfig, type RunningRelayer } from "../../gateway/relayer";
import {
  chainNow,
  DAY,
  runGatewayCli,
  setupLedger,
  spawnGatewayCli,
  type LedgerSetup,
} from "../helpers/gateway-harness";
import { freePort, sharedLocalNode } from "../helpers/local-node";

const RELAYER_MAIN = path.resolve(__dirname, "..", "..", "gateway", "relayer-main.ts");

/**
 * The relayer's sending layer against a real hardhat node with automine off (so transactions can be held
 * back, dropped and priced out), real HTTP, and a real SQLite store across restarts.
 */
describe("the consent relayer's sending layer (fee bumps, restarts, reverts, queue, logs)", function () {
  this.timeout(120_000);
  let setup: LedgerSetup;
  let relayerKey: { address: string; privateKey: string };
  const running: RunningRelayer[] = [];

  async function relayerWith(config: Partial<RelayerConfig> = {}, key = relayerKey.privateKey) {
    const relayer = await startRelayer({
      rpcUrl: setup.node.url,
      privateKey: key,
      deployment: setup.deployment,
      ...config,
      fees: { watchIntervalMs: 100, ...config.fees },
    });
    running.push(relayer);
    return relayer;
  }

  /** A fresh pseudonym (no ether) relaying through `url`; `headers` go with each request to the relayer. */
  function pseudonymAt(url: string, headers: Record<string, string> = {}) {
    const wallet = Wallet.createRandom().connect(setup.provider);
    const relayer = new RelayerClient(url, {
      fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as object), ...headers } }),
    });
    return { wallet, relayer, patient: new PatientClient(setup.contracts, wallet, { relayer }) };
  }

  const grantTerms = async (grantee: string, days = 30) => ({
    grantee,
    dataClasses: ["LAB_RESULT" as const],
    purposes: ["TREAT" as const],
    validUntil: (await chainNow(setup.provider)) + days * DAY,
  });

  async function automine(on: boolean) {
    await setup.provider.send("evm_setAutomine", [on]);
  }

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, ms = 20_000) {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      const value = await probe();
      if (value) return value;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  async function refusal(action: () => Promise<unknown>): Promise<RelayerError> {
    try {
      await action();
    } catch (error) {
      expect(error, String(error)).to.be.instanceOf(RelayerError);
      return error as RelayerError;
    }
    throw new Error("expected the relayer to refuse");
  }

  function capture(lines: string[]) {
    return { level: "debug", stream: { write: (line: string) => void lines.push(line) } };
  }

  before(async function () {
    setup = await setupLedger(await sharedLocalNode());
    relayerKey = Wallet.createRandom();
    await (await setup.signers.admin.sendTransaction({ to: relayerKey.address, value: parseEther("10") })).wait();
  });

  afterEach(async function () {
    await automine(true);
    while (running.length) await running.pop()!.close();
  });

  after(function () {
    setup?.cleanup();
  });

  it("replaces a transaction priced out by a rising base fee at the same nonce with both fees raised, and the patient's wait() follows the replacement", async function () {
    const lines: string[] = [];
    const relayer = await relayerWith({ fees: { bumpAfterMs: 400 }, logger: capture(lines) });
    const { wallet, relayer: client, patient } = pseudonymAt(relayer.url);
    const terms = await grantTerms(setup.signers.hospital.address);
    await automine(false);
    const pending = await patient.grant(terms);
    const first = (await setup.provider.getTransaction(pending.hash))!;
    // Fees rise past what it offered: the next blocks' base fee is above its maxFeePerGas.
    await setup.provider.send("hardhat_setNextBlockBaseFeePerGas", [toQuantity(first.maxFeePerGas! + 1n)]);
    await setup.provider.send("evm_mine", []);
    expect(await setup.provider.getTransactionReceipt(pending.hash), "priced out").to.equal(null);

    // Blocks keep coming at that base fee: only a transaction at this nonce with a higher maxFeePerGas
    // than the first can be mined.
    const mined = await waitFor("a replacement mined at the same nonce", async () => {
      await setup.provider.send("hardhat_setNextBlockBaseFeePerGas", [toQuantity(first.maxFeePerGas! + 1n)]);
      await setup.provider.send("evm_mine", []);
      return (await setup.provider.getTransactionCount(relayerKey.address, "latest")) > first.nonce;
    });
    expect(mined).to.equal(true);
    await automine(true);
    expect(await setup.provider.getTransactionReceipt(pending.hash), "the first was replaced").to.equal(null);
    // The patient's wait() learns the replacement from the relayer and checks it against the chain.
    const consent = await pending.wait();
    expect(consent).to.include({ patient: wallet.address, grantee: terms.grantee, validUntil: terms.validUntil });
    const settled = await waitFor("settled", async () => {
      const held = await client.status(pending.hash);
      return held.state !== "pending" && held;
    });
    expect(settled.state).to.equal("mined");
    expect(settled.minedHash).to.not.equal(pending.hash);
    expect(settled.hashes[0]).to.equal(pending.hash);
    expect(settled.hashes).to.include(settled.minedHash);
    const replacement = (await setup.provider.getTransaction(settled.minedHash!))!;
    expect((await setup.provider.getTransactionReceipt(settled.minedHash!))!.status).to.equal(1);
    expect(replacement.nonce).to.equal(first.nonce);
    expect(replacement.from).to.equal(relayerKey.address);
    expect(replacement.data).to.equal(first.data);
    // Nodes refuse a replacement unless both fees rise by at least 10%.
    expect(replacement.maxFeePerGas! * 100n).to.be.at.least(first.maxFeePerGas! * 110n);
    expect(replacement.maxPriorityFeePerGas! * 100n).to.be.at.least(first.maxPriorityFeePerGas! * 110n);
    const log = lines.join("");
    expect(log).to.match(/replaced with higher fees/);
    // The bump is logged by hash, nonce and fees: not by the signed message it carries.
    expect(log.toLowerCase()).to.not.include(first.data.slice(10, 74).toLowerCase());
    // The signer's slot is free again.
    await (await patient.revoke(terms.grantee)).wait();
  });

  it("sends again a transaction the node dropped, and never past the fee ceiling", async function () {
    const fee = (await setup.provider.getFeeData()).maxFeePerGas!;
    // The ceiling is what the node suggests now: the first send is already at it, so it cannot be bumped.
    const relayer = await relayerWith({ fees: { bumpAfterMs: 300, maxFeePerGasCeiling: fee } });
    const { relayer: client, patient } = pseudonymAt(relayer.url);
    const terms = await grantTerms(setup.signers.lab.address);
    await automine(false);
    const pending = await patient.grant(terms);
    expect((await setup.provider.getTransaction(pending.hash))!.maxFeePerGas).to.be.at.most(fee);
    await setup.provider.send("hardhat_dropTransaction", [pending.hash]);
    expect(await setup.provider.getTransaction(pending.hash), "dropped").to.equal(null);
    // The same signed bytes again: the node holds the transaction once more.
    await waitFor("the dropped transaction sent again", () => setup.provider.getTransaction(pending.hash));
    await setup.provider.send("evm_mine", []);
    await automine(true);
    expect(await pending.wait()).to.include({ grantee: terms.grantee });
    const status = await client.status(pending.hash);
    expect(status.hashes).to.deep.equal([pending.hash]);

    // With room under the ceiling, a dropped transaction is replaced with higher fees.
    const roomy = await relayerWith({ fees: { bumpAfterMs: 300 } });
    const second = pseudonymAt(roomy.url);
    await automine(false);
    const next = await second.patient.grant(terms);
    await setup.provider.send("hardhat_dropTransaction", [next.hash]);
    const bumped = await waitFor("a replacement", async () => {
      const held = await second.relayer.status(next.hash);
      return held.hashes.length > 1 && held;
    });
    await setup.provider.send("evm_mine", []);
    await automine(true);
    expect(await next.wait()).to.include({ patient: second.wallet.address });
    expect((await second.relayer.status(next.hash)).minedHash).to.be.oneOf(bumped.hashes.slice(1));
  });

  it("after a restart over the same store, resumes what was in flight, keeps its slots and never reuses its nonce", async function () {
    const storePath = path.join(setup.tempDir, "relayer-restart.sqlite");
    const before = await relayerWith({ storePath, fees: { bumpAfterMs: 60_000 } });
    const first = pseudonymAt(before.url);
    const terms = await grantTerms(setup.signers.clinician.address);
    await automine(false);
    const pending = await first.patient.grant(terms);
    const nonce = (await setup.provider.getTransaction(pending.hash))!.nonce;
    // The relayer stops mid-flight, and the node loses the transaction meanwhile.
    await before.close();
    running.splice(running.indexOf(before), 1);
    await setup.provider.send("hardhat_dropTransaction", [pending.hash]);

    const after = await relayerWith({ storePath, fees: { bumpAfterMs: 300 } });
    const client = new RelayerClient(after.url);
    // The signer's slot is still held: a second message would race the first.
    const again = new PatientClient(setup.contracts, first.wallet, { relayer: client });
    const held = await refusal(async () => again.grant(await grantTerms(setup.signers.lab.address)));
    expect(held.code).to.equal("InFlight");
    // Another pseudonym's message takes the next nonce, not the one in flight.
    const other = pseudonymAt(after.url);
    const second = await other.patient.grant(await grantTerms(setup.signers.clinician.address));
    expect((await setup.provider.getTransaction(second.hash))!.nonce).to.equal(nonce + 1);
    // The first message goes out again (replaced, at its nonce) and both are mined.
    const resumed = await waitFor("the resumed send", async () => {
      const status = await client.status(pending.hash);
      return status.hashes.length > 1 && status;
    });
    // The relayer records a replacement before broadcasting it: wait until the node has it too.
    const replacement = await waitFor("the replacement at the node", () =>
      setup.provider.getTransaction(resumed.hashes[1]),
    );
    expect(replacement.nonce).to.equal(nonce);
    await setup.provider.send("evm_mine", []);
    await automine(true);
    expect(await second.wait()).to.include({ patient: other.wallet.address });
    const done = await waitFor("the first mined", async () => {
      const status = await client.status(pending.hash);
      return status.state === "mined" && status;
    });
    expect((await setup.provider.getTransactionReceipt(done.minedHash!))!.status).to.equal(1);
    expect((await setup.contracts.ledger.consentOf(first.wallet.address, terms.grantee)).validUntil).to.equal(
      BigInt(terms.validUntil),
    );
  });

  it("npm run relayer killed mid-flight (SIGKILL) and started again on its --store sends what it had in flight", async function () {
    const storePath = path.join(setup.tempDir, "relayer-kill.sqlite");
    const spawnRelayer = async () => {
      const port = await freePort();
      const child = spawnGatewayCli(
        [
          "--rpc",
          setup.node.url,
          "--deployment",
          setup.deploymentFile,
          "--port",
          String(port),
          "--store",
          storePath,
          "--bump-after",
          "1",
        ],
        { CONSENT_RELAYER_PRIVATE_KEY: relayerKey.privateKey },
        RELAYER_MAIN,
      );
      const url = `http://127.0.0.1:${port}`;
      await waitFor(
        `the relayer on ${url}`,
        async () => {
          if (child.child.exitCode !== null) throw new Error(`the relayer exited:\n${child.output()}`);
          return fetch(`${url}/relay`).then(
            (response) => response.ok,
            () => false,
          );
        },
        90_000,
      );
      return { ...child, url };
    };
    let relayer = await spawnRelayer();
    try {
      const { wallet, patient } = pseudonymAt(relayer.url);
      const terms = await grantTerms(setup.signers.researcher.address);
      await automine(false);
      const pending = await patient.grant(terms);
      const nonce = (await setup.provider.getTransaction(pending.hash))!.nonce;
      await relayer.kill("SIGKILL");
      await setup.provider.send("hardhat_dropTransaction", [pending.hash]);

      relayer = await spawnRelayer();
      await waitFor(
        "the relayer's nonce used again",
        async () => {
          await setup.provider.send("evm_mine", []);
          return (await setup.provider.getTransactionCount(relayerKey.address, "latest")) > nonce;
        },
        30_000,
      );
      await automine(true);
      expect((await setup.contracts.ledger.consentOf(wallet.address, terms.grantee)).validUntil).to.equal(
        BigInt(terms.validUntil),
      );
      const status = await new RelayerClient(relayer.url).status(pending.hash);
      expect(status.hashes[0]).to.equal(pending.hash);
      expect(
        await waitFor("settled", async () => (await new RelayerClient(relayer.url).status(pending.hash)).minedHash),
      ).to.be.a("string");
    } finally {
      await relayer.kill("SIGKILL");
    }
  });

  it("npm run relayer refuses a fee bump under the nodes' 10% minimum, and a store made for another account", async function () {
    const args = ["--rpc", setup.node.url, "--deployment", setup.deploymentFile, "--port", "0"];
    const env = { CONSENT_RELAYER_PRIVATE_KEY: relayerKey.privateKey };
    const small = await runGatewayCli([...args, "--fee-bump-percent", "5"], env, 90_000, RELAYER_MAIN);
    expect(small.code).to.equal(2);
    expect(small.output).to.match(/--fee-bump-percent must be at least 10/);
    const storePath = path.join(setup.tempDir, "relayer-owned.sqlite");
    await (await relayerWith({ storePath })).close();
    running.pop();
    const other = await runGatewayCli(
      [...args, "--store", storePath],
      { CONSENT_RELAYER_PRIVATE_KEY: Wallet.createRandom().privateKey },
      90_000,
      RELAYER_MAIN,
    );
    expect(other.code).to.equal(1);
    expect(other.output).to.match(/cannot start: .*belongs to relayer/);
  });

  it("refuses a signer, and a client, whose relayed messages reverted when mined, also after a restart", async function () {
    const storePath = path.join(setup.tempDir, "relayer-reverts.sqlite");
    const config: Partial<RelayerConfig> = {
      storePath,
      trustProxy: 1,
      limits: { maxRevertsPerWindow: 2, minSecondsAhead: 0 },
    };
    let relayer = await relayerWith(config);
    const offender = pseudonymAt(relayer.url, { "x-forwarded-for": "198.51.100.1" });
    // A message whose deadline passes between the relayer's check and the block: it estimates fine and
    // reverts when mined (SignatureExpired), at the relayer's cost.
    for (let i = 0; i < 2; i++) {
      // A fresh block first: the estimate runs on the next block, whose time is at least the node's clock.
      await setup.provider.send("evm_mine", []);
      const now = await chainNow(setup.provider);
      const signed = await offender.patient.signGrant(await grantTerms(setup.signers.hospital.address), {
        deadline: now + 20,
      });
      await automine(false);
      const { transactionHash } = await offender.relayer.submit(signed);
      await setup.provider.send("evm_setNextBlockTimestamp", [now + 60]);
      await setup.provider.send("evm_mine", []);
      await automine(true);
      expect((await setup.provider.getTransactionReceipt(transactionHash))!.status).to.equal(0);
      await waitFor("the revert counted", async () => {
        const status = await offender.relayer.status(transactionHash);
        return status.state === "reverted";
      });
    }
    const fromElsewhere = pseudonymAt(relayer.url, { "x-forwarded-for": "203.0.113.9" });
    const bySigner = new PatientClient(setup.contracts, offender.wallet, { relayer: fromElsewhere.relayer });
    const refusedSigner = await refusal(async () => bySigner.grant(await grantTerms(setup.signers.lab.address)));
    expect(refusedSigner.code).to.equal("TooManyReverts");
    expect(refusedSigner.details).to.include(offender.wallet.address);
    expect(refusedSigner.retryAfterSeconds).to.be.greaterThan(0);
    const sameClient = pseudonymAt(relayer.url, { "x-forwarded-for": "198.51.100.1" });
    const refusedClient = await refusal(async () =>
      sameClient.patient.grant(await grantTerms(setup.signers.lab.address)),
    );
    expect(refusedClient.code).to.equal("TooManyReverts");
    expect(refusedClient.details).to.match(/this address/);

    // The records survive a restart.
    await relayer.close();
    running.splice(running.indexOf(relayer), 1);
    relayer = await relayerWith(config);
    const afterRestart = new PatientClient(setup.contracts, offender.wallet, {
      relayer: pseudonymAt(relayer.url, { "x-forwarded-for": "192.0.2.77" }).relayer,
    });
    expect((await refusal(async () => afterRestart.grant(await grantTerms(setup.signers.lab.address)))).code).to.equal(
      "TooManyReverts",
    );
    // Others are served.
    const innocent = pseudonymAt(relayer.url, { "x-forwarded-for": "192.0.2.78" });
    await (await innocent.patient.grant(await grantTerms(setup.signers.lab.address))).wait();
  });

  it("does not count a third party's front-run against the signer or the client, and the patient's wait() finds the action done", async function () {
    const relayer = await relayerWith({ trustProxy: 1, limits: { maxRevertsPerWindow: 2 } });
    const victim = pseudonymAt(relayer.url, { "x-forwarded-for": "198.51.100.7" });
    const attacker = setup.signers.stranger;
    for (let i = 0; i < 2; i++) {
      await automine(false);
      const pending = await victim.patient.setEmergencyOptOut(i % 2 === 0);
      const seen = (await setup.provider.getTransaction(pending.hash))!;
      // A mempool watcher lands the same call first (higher tip), in the same block.
      await attacker.sendTransaction({
        to: seen.to!,
        data: seen.data,
        maxPriorityFeePerGas: seen.maxPriorityFeePerGas! * 3n,
        maxFeePerGas: seen.maxFeePerGas! * 3n,
        gasLimit: 300_000n,
      });
      await setup.provider.send("evm_mine", []);
      await automine(true);
      expect(
        (await setup.provider.getTransactionReceipt(pending.hash))!.status,
        "the relayer's copy reverted",
      ).to.equal(0);
      await waitFor("settled", async () => (await victim.relayer.status(pending.hash)).state === "reverted");
      // The action happened (in the watcher's transaction): wait() says so instead of "sign again".
      expect(await pending.wait()).to.deep.equal({ optedOut: i % 2 === 0 });
    }
    // Neither the pseudonym nor anyone behind its address is locked out.
    const elsewhere = pseudonymAt(relayer.url, { "x-forwarded-for": "203.0.113.50" });
    const same = new PatientClient(setup.contracts, victim.wallet, { relayer: elsewhere.relayer });
    await (await same.setEmergencyOptOut(true)).wait();
    const neighbour = pseudonymAt(relayer.url, { "x-forwarded-for": "198.51.100.7" });
    await (await neighbour.patient.setEmergencyOptOut(true)).wait();
  });

  it("does not count a signature that expired while the relayer held the send back", async function () {
    const relayer = await relayerWith({
      trustProxy: 1,
      limits: { maxRevertsPerWindow: 1, minSecondsAhead: 0 },
      fees: { bumpAfterMs: 300 },
    });
    const held = pseudonymAt(relayer.url, { "x-forwarded-for": "198.51.100.8" });
    await setup.provider.send("evm_mine", []);
    const now = await chainNow(setup.provider);
    const signed = await held.patient.signGrant(await grantTerms(setup.signers.hospital.address), {
      deadline: now + 20,
    });
    await automine(false);
    const { transactionHash } = await held.relayer.submit(signed);
    const first = (await setup.provider.getTransaction(transactionHash))!;
    // Priced out: the relayer bumps its fees (it holds the send), and the deadline passes meanwhile.
    await setup.provider.send("hardhat_setNextBlockBaseFeePerGas", [toQuantity(first.maxFeePerGas! + 1n)]);
    await setup.provider.send("evm_mine", []);
    await waitFor("a fee bump", async () => (await held.relayer.status(transactionHash)).hashes.length > 1);
    await setup.provider.send("evm_setNextBlockTimestamp", [now + 60]);
    await setup.provider.send("evm_mine", []);
    await automine(true);
    const settled = await waitFor("settled", async () => {
      const status = await held.relayer.status(transactionHash);
      return status.state !== "pending" && status;
    });
    expect(settled.state).to.equal("reverted");
    // Not the signer's fault: they and their address are still served.
    await (await held.patient.grant(await grantTerms(setup.signers.lab.address))).wait();
  });

  it("keeps a share of the day's gas for protective actions, and a daily gas quota per client", async function () {
    const relayer = await relayerWith({
      trustProxy: 1,
      limits: { dailyGasBudget: 1_000_000n, protectiveGasPercent: 30, perClientDailyGas: 2_000_000n },
    });
    // A real patient who granted earlier, through the relayer.
    const patient = pseudonymAt(relayer.url, { "x-forwarded-for": "192.0.2.10" });
    await (await patient.patient.grant(await grantTerms(setup.signers.hospital.address))).wait();
    // Fresh keys, no ether, cheap valid settings: they spend what is not kept for protective actions.
    let refused: RelayerError | undefined;
    for (let i = 0; i < 40 && !refused; i++) {
      const sybil = pseudonymAt(relayer.url, { "x-forwarded-for": `198.51.100.${i}` });
      const outcome = await sybil.patient.setEmergencyOptOut(false).then(
        (pending) => pending.wait(),
        (error: unknown) => error,
      );
      if (outcome instanceof RelayerError) refused = outcome;
    }
    expect(refused?.code).to.equal("DailyGasBudgetExhausted");
    // The patient can still take access away.
    await (await patient.patient.revoke(setup.signers.hospital.address)).wait();

    // One address may spend at most its quota a day (each class apart).
    const quota = await relayerWith({ trustProxy: 1, limits: { perClientDailyGas: 250_000n } });
    let over: RelayerError | undefined;
    let served = 0;
    for (let i = 0; i < 10 && !over; i++) {
      const sybil = pseudonymAt(quota.url, { "x-forwarded-for": "203.0.113.20" });
      const outcome = await sybil.patient.setEmergencyOptOut(false).then(
        (pending) => pending.wait(),
        (error: unknown) => error,
      );
      if (outcome instanceof RelayerError) over = outcome;
      else served++;
    }
    expect(served).to.be.within(1, 4);
    expect(over?.code).to.equal("ClientGasQuotaExhausted");
    expect(over?.retryAfterSeconds).to.be.greaterThan(0);
    // Protective actions are counted apart: the same address can still opt out.
    await (await pseudonymAt(quota.url, { "x-forwarded-for": "203.0.113.20" }).patient.setEmergencyOptOut(true)).wait();
    // Another address is served.
    await (
      await pseudonymAt(quota.url, { "x-forwarded-for": "203.0.113.21" }).patient.setEmergencyOptOut(false)
    ).wait();
  });

  it("a message naming someone else's consent does not hold it while the node judges it", async function () {
    const proxy = await slowNode(setup.node.url);
    try {
      const relayer = await relayerWith({ rpcUrl: proxy.url });
      const victim = pseudonymAt(relayer.url);
      const terms = await grantTerms(setup.signers.hospital.address);
      const granted = await victim.patient.grant(terms);
      await granted.wait();
      // The relayer frees the victim's own slot when its watcher sees the grant mined, which may come
      // after the SDK saw the receipt: wait for that, so only the stranger's message can hold the victim.
      await waitFor("the grant settled at the relayer", async () => {
        const status = await victim.relayer.status(granted.hash);
        return status.state !== "pending";
      });
      // A fresh key signs a revoke of the victim's consent: the ledger will refuse it, but only the
      // estimate says so; it is held there.
      const attacker = pseudonymAt(relayer.url);
      const forged = await attacker.patient.signRevoke(terms.grantee, { patient: victim.wallet.address });
      proxy.hold("eth_estimateGas");
      const attempt = attacker.relayer.submit(forged).catch((error: unknown) => error);
      await waitFor("the forged revoke at the estimate", async () => proxy.held() > 0);
      // The victim's own revoke is not refused InFlight meanwhile.
      let refused: unknown;
      const own = victim.patient.revoke(terms.grantee);
      own.catch((error: unknown) => (refused = error));
      await waitFor("the victim's revoke at the estimate", async () => {
        if (refused) throw refused;
        return proxy.held() > 1;
      });
      proxy.release();
      expect(((await attempt) as RelayerError).code).to.equal("WouldRevert");
      await (await own).wait();
    } finally {
      proxy.release();
      await proxy.close();
    }
  });

  it("refuses beyond its queue with 503 Busy and a Retry-After, and a message that waits too long with a clear error", async function () {
    const proxy = await slowNode(setup.node.url);
    try {
      // Checks held up at the node: one message in hand fills a queue of one.
      const relayer = await relayerWith({ rpcUrl: proxy.url, limits: { maxPending: 1, checkTimeoutMs: 1_500 } });
      const a = pseudonymAt(relayer.url);
      const b = pseudonymAt(relayer.url);
      const [signedA, signedB] = [
        await a.patient.signGrant(await grantTerms(setup.signers.hospital.address)),
        await b.patient.signGrant(await grantTerms(setup.signers.hospital.address)),
      ];
      proxy.hold("eth_getBlockByNumber");
      const first = a.relayer.submit(signedA).catch((error: unknown) => error);
      await waitFor("the first in hand", async () => proxy.held() > 0);
      const busy = await refusal(() => b.relayer.submit(signedB));
      expect(busy.code).to.equal("Busy");
      expect(busy.status).to.equal(503);
      expect(busy.retryAfterSeconds).to.be.greaterThan(0);
      // Its checks time out: refused, nothing sent.
      const timedOut = (await first) as RelayerError;
      expect(timedOut).to.be.instanceOf(RelayerError);
      expect(timedOut.code).to.equal("Timeout");
      expect(timedOut.details).to.match(/took too long/);
      proxy.release();

      // A send held up at the node: the next message waits for its turn, then is refused, unsent.
      const queued = await relayerWith({ rpcUrl: proxy.url, limits: { sendTimeoutMs: 1_000 } });
      const c = pseudonymAt(queued.url);
      const d = pseudonymAt(queued.url);
      const signedC = await c.patient.signGrant(await grantTerms(setup.signers.lab.address));
      const signedD = await d.patient.signGrant(await grantTerms(setup.signers.lab.address));
      const sentBefore = await setup.provider.getTransactionCount(relayerKey.address, "pending");
      proxy.hold("eth_sendRawTransaction");
      const sending = c.relayer.submit(signedC);
      await waitFor("the first send at the node", async () => proxy.held() > 0);
      const late = await refusal(() => d.relayer.submit(signedD));
      expect(late.code).to.equal("SendTimeout");
      expect(late.status).to.equal(503);
      expect(late.details).to.match(/was not sent/);
      expect(late.retryAfterSeconds).to.be.greaterThan(0);
      proxy.release();
      const sent = await sending;
      expect((await setup.provider.waitForTransaction(sent.transactionHash))!.status).to.equal(1);
      expect(await setup.provider.getTransactionCount(relayerKey.address, "pending")).to.equal(sentBefore + 1);
      expect(await setup.contracts.ledger.nonceBitmap(d.wallet.address, BigInt(signedD.nonce) >> 8n)).to.equal(0n);
    } finally {
      proxy.release();
      await proxy.close();
    }
  });

  it("a relayer that names, as a replacement, a transaction that does not carry the message is caught by the patient's wait()", async function () {
    // Someone else's successful ledger transaction: mined, to the ledger, but not this message.
    const other = pseudonymAt((await relayerWith()).url);
    const decoy = await other.patient.grant(await grantTerms(setup.signers.hospital.address));
    await decoy.wait();
    const never = "0x" + "ab".repeat(32);
    const server: Server = createServer((request, response) => {
      request.resume();
      request.on("end", () => {
        response.writeHead(request.method === "POST" ? 202 : 200, { "content-type": "application/json" });
        response.end(
          JSON.stringify(
            request.method === "POST"
              ? { transactionHash: never, relayer: relayerKey.address, gasLimit: "100000" }
              : { state: "mined", hashes: [never, decoy.hash], minedHash: decoy.hash },
          ),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { patient } = pseudonymAt(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      const pending = await patient.grant(await grantTerms(setup.signers.hospital.address));
      let caught: unknown;
      try {
        await pending.wait();
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(RelayNotConfirmedError);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("logs request routes, not URLs: no line ties a relayed transaction's hash to a client address", async function () {
    const lines: string[] = [];
    const relayer = await relayerWith({ logger: capture(lines) });
    const { patient, relayer: client } = pseudonymAt(relayer.url);
    const pending = await patient.setEmergencyOptOut(true);
    await pending.wait();
    await client.status(pending.hash);
    const hash = pending.hash.toLowerCase().slice(2);
    for (const line of lines) if (/remoteAddress/.test(line)) expect(line.toLowerCase(), line).to.not.include(hash);
    expect(lines.join(""), "status lookups are logged").to.include("/relay/tx/:hash");
  });

  it("its store file is owner-only and, once a send settles, holds neither the signer nor the client's address", async function () {
    const storePath = path.join(setup.tempDir, "relayer-private.sqlite");
    const relayer = await relayerWith({ storePath, trustProxy: 1 });
    const { wallet, patient, relayer: client } = pseudonymAt(relayer.url, { "x-forwarded-for": "198.51.100.77" });
    const pending = await patient.setEmergencyOptOut(true);
    await pending.wait();
    await waitFor("settled", async () => (await client.status(pending.hash)).state === "mined");
    expect(statSync(storePath).mode & 0o777).to.equal(0o600);
    const bytes = [storePath, `${storePath}-wal`]
      .filter((file) => existsSync(file))
      .map((file) => readFileSync(file).toString("latin1").toLowerCase())
      .join("");
    expect(bytes).to.not.include("198.51.100.77");
    expect(bytes).to.not.include(wallet.address.slice(2).toLowerCase());
  });

  it("logs no signature and no calldata, even when the node refuses a send and quotes it", async function () {
    const lines: string[] = [];
    // An account with no ether: the node refuses its sends, and ethers' error carries the signed transaction.
    const broke = Wallet.createRandom();
    const relayer = await relayerWith({ logger: capture(lines) }, broke.privateKey);
    const { patient, relayer: client } = pseudonymAt(relayer.url);
    const signed = await patient.signGrant(await grantTerms(setup.signers.hospital.address));
    const failed = await refusal(() => client.submit(signed));
    expect(failed.code).to.equal("RelayFailed");
    const calldata = await calldataOf(setup.contracts, signed);
    const log = lines.join("");
    expect(log, "the failure is logged").to.match(/relay failed/);
    expect(log.toLowerCase()).to.not.include(signed.signature.slice(2, 66).toLowerCase());
    expect(log.toLowerCase()).to.not.include(calldata.slice(10, 74).toLowerCase());
    expect(log.toLowerCase()).to.not.include(signed.signer.slice(2).toLowerCase());
  });
});

/** The ledger call a relayer would send for `signed` (its calldata holds the signature and the parties). */
async function calldataOf(contracts: LedgerContracts, signed: SignedConsent): Promise<string> {
  return String((await populateSignedConsent(contracts, signed)).data);
}

/** A real HTTP JSON-RPC proxy in front of the node that can hold back every call of one method. */
async function slowNode(target: string) {
  let method: string | undefined;
  const waiting: (() => void)[] = [];
  const server: Server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      const forward = () => {
        const upstream = httpRequest(
          target,
          { method: "POST", headers: { "content-type": "application/json" } },
          (answer) => {
            response.writeHead(answer.statusCode ?? 502, { "content-type": "application/json" });
            answer.pipe(response);
          },
        );
        upstream.on("error", () => response.destroy());
        upstream.end(body);
      };
      if (method && body.includes(`"${method}"`)) waiting.push(forward);
      else forward();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold(name: string) {
      method = name;
    },
    held: () => waiting.length,
    release() {
      method = undefined;
      for (const forward of waiting.splice(0)) forward();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

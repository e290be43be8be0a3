import { expect } from "chai";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

import { AdminClient } from "../../sdk/clients/admin";
import { GatewayClient, GatewayError } from "../../sdk/clients/gateway";
import { PatientClient } from "../../sdk/clients/patient";
import type { PublishedRecord } from "../../sdk/clients/provider";
import { AccessBasis, Purpose } from "../../sdk/codes";
import { AccessDeniedError, AccessNotConfirmedError } from "../../sdk/errors";
import type { GatewayConfig } from "../../gateway/config";
import type { RunningGateway } from "../../gateway/start";
import {
  grantResearcherLabResults,
  labObservation,
  providerWithGateway,
  publish,
  readerWithKey,
  setupLedger,
  startTestGateway,
  waitFor,
  type LedgerSetup,
} from "../helpers/gateway-harness";
import { rpc, startLocalNode, type LocalNode } from "../helpers/local-node";

/**
 * A gateway for a chain that can reorganise (--confirmations n). Its own node, because the reorganisation
 * is played with evm_snapshot / evm_revert, which would undo other files' transactions on a shared one.
 */
describe("the custodian gateway: confirmations, for a chain that can reorganise", function () {
  this.timeout(180_000);

  let node: LocalNode;
  let setup: LedgerSetup;
  let gateway: RunningGateway;
  let config: GatewayConfig;
  let record: PublishedRecord;
  let reader: Awaited<ReturnType<typeof readerWithKey>>;
  let patient: PatientClient;

  const mine = (blocks: number) => rpc(node.url, "hardhat_mine", [`0x${blocks.toString(16)}`]);
  /** The batch that logs `releaseId`, once its transaction is mined. */
  const minedBatchOf = async (releaseId: number) => {
    const batch = () => {
      const batchId = gateway.store.allReleases().find((entry) => entry.id === releaseId)?.batchId;
      return batchId === undefined ? undefined : gateway.store.getBatch(batchId);
    };
    await waitFor(async () => {
      const txHash = batch()?.txHash;
      return !!txHash && (await setup.provider.getTransactionReceipt(txHash)) !== null;
    }, "the log transaction to be mined");
    return batch()!;
  };
  const requestKey = () =>
    reader.gateway.requestKey(record.recordId, "HRESCH").catch((caught: unknown) => caught as Error);

  before(async function () {
    node = await startLocalNode();
    setup = await setupLedger(node);
    ({ gateway, config } = await startTestGateway(
      setup,
      { confirmations: 3, logBatchSize: 1, logIntervalMs: 3_600_000 },
      { receiptTimeoutMs: 500 },
    ));
    const hospital = await providerWithGateway(setup, setup.signers.hospital, gateway.url);
    record = await publish(hospital.provider, setup.signers.patient.address, "LAB_RESULT", labObservation("deep", 97));
    reader = await readerWithKey(setup, setup.signers.researcher, gateway.url);
    patient = new PatientClient(await setup.as(setup.signers.patient), setup.signers.patient);
  });

  after(async function () {
    await gateway?.close();
    setup?.cleanup();
    await node?.stop();
  });

  it("says how many confirmations it waits for in /health", async function () {
    const health = await fetch(`${gateway.url}/health`);
    expect(((await health.json()) as { confirmations: number }).confirmations).to.equal(3);
  });

  it("releases nothing on a consent until it is three blocks deep, then releases", async function () {
    await mine(3); // the record's anchor and the researcher's key are deep by now; the consent is not there yet
    await grantResearcherLabResults(setup);
    const grantedIn = await setup.provider.getBlockNumber();
    for (const depth of [0, 1, 2]) {
      const early = await requestKey();
      expect(early, `at depth ${depth}`).to.be.instanceOf(AccessNotConfirmedError);
      expect((early as AccessDeniedError).shortMessage).to.contain(
        `(Consent) at block ${grantedIn + depth}, but block ${grantedIn + depth - 3}, 3 blocks earlier, did not`,
      );
      expect((early as AccessDeniedError).shortMessage).to.contain("try again within 3 blocks");
      await mine(1);
    }
    const release = await reader.gateway.requestKey(record.recordId, "HRESCH");
    expect(release.basis).to.equal("Consent");
    expect(release.checkedBlock).to.equal(grantedIn + 3);
  });

  it("honours a revocation at once, without waiting for it to be deep", async function () {
    await (await patient.revoke(setup.signers.researcher.address)).wait();
    const refused = await requestKey();
    expect(refused).to.be.instanceOf(AccessDeniedError).and.not.to.be.instanceOf(AccessNotConfirmedError);
    expect((refused as AccessDeniedError).shortMessage).to.contain("no consent or emergency window lets");
  });

  it("counts a log entry only once its transaction is deep, and sends the same bytes again when a reorganisation drops it", async function () {
    await grantResearcherLabResults(setup);
    await mine(3);
    await waitFor(() => gateway.store.unloggedReleaseCount() === 0, "earlier releases to be logged", 30_000, 50);
    // The fork point: everything mined after it is dropped below, as a reorganisation would.
    const forkBlock = await setup.provider.getBlockNumber();
    const forkPoint = await rpc<string>(node.url, "evm_snapshot", []);
    const release = await reader.gateway.requestKey(record.recordId, "HRESCH");
    const batch = await minedBatchOf(release.releaseId);
    // Mined, but not deep: not logged yet.
    await gateway.writer.flushNow();
    expect(gateway.store.getBatch(batch.id)!.state).to.equal("sent");

    expect(await rpc<boolean>(node.url, "evm_revert", [forkPoint])).to.equal(true);
    expect(await setup.provider.getTransactionReceipt(batch.txHash!)).to.equal(null);
    // The writer finds its transaction gone and broadcasts the very same signed bytes again.
    await waitFor(
      async () => (await setup.provider.getTransactionReceipt(batch.txHash!)) !== null,
      "the same transaction to be mined again",
    );
    await mine(3);
    await waitFor(() => gateway.store.getBatch(batch.id)!.state === "logged", "the batch to be logged");
    expect(gateway.store.getBatch(batch.id)!.loggedTxHash).to.equal(batch.txHash);
    // Logged once: by that transaction, and by no other.
    const events = await setup.contracts.accessLog.queryFilter(
      setup.contracts.accessLog.filters.KeyReleased(
        record.recordId,
        setup.signers.researcher.address,
        setup.signers.hospital.address,
      ),
      forkBlock + 1,
    );
    expect(events.map((event) => event.transactionHash)).to.deep.equal([batch.txHash]);
  });

  it("releases again after a custodian's reinstatement only once the reinstatement is deep", async function () {
    const admin = new AdminClient(await setup.as(setup.signers.admin), setup.signers.admin);
    await (await admin.suspend(setup.signers.hospital.address, 7)).wait();
    const suspended = await requestKey();
    expect(suspended).to.be.instanceOf(GatewayError);
    expect((suspended as GatewayError).code).to.equal("CustodianNotAccredited");
    // A suspension at least as deep as the confirmations (the check compares two blocks, not every
    // block between them: a shorter suspension would not be seen at the earlier block).
    await mine(3);
    await (await admin.reinstate(setup.signers.hospital.address)).wait();
    const early = await requestKey();
    expect(early).to.be.instanceOf(AccessNotConfirmedError);
    expect((early as AccessNotConfirmedError).shortMessage).to.contain("3 blocks earlier, did not");
    await mine(3);
    const release = await reader.gateway.requestKey(record.recordId, "HRESCH");
    expect(release.basis).to.equal("Consent");
    // Its log entry, deep enough to count before the next test closes this gateway.
    const batch = await minedBatchOf(release.releaseId);
    await mine(3);
    await waitFor(() => gateway.store.getBatch(batch.id)!.state === "logged", "the release to be logged");
  });

  it("confirms nothing from before the contracts existed, even when the deployment file does not say when that was", async function () {
    const deployment = JSON.parse(readFileSync(setup.deploymentFile, "utf8")) as Record<string, unknown>;
    const deployedAt = deployment.deployedAtBlock as number;
    delete deployment.deployedAtBlock;
    const undated = path.join(setup.tempDir, "deployment-undated.json");
    writeFileSync(undated, JSON.stringify(deployment));
    await gateway.close();
    // The same data directory (it holds the record), asking one block before the deployment.
    const confirmations = (await setup.provider.getBlockNumber()) - deployedAt + 1;
    ({ gateway } = await startTestGateway(setup, { ...config, deploymentFile: undated, confirmations }));
    expect(
      Number(
        await setup.contracts.ledger.accessBasis(
          setup.signers.patient.address,
          setup.signers.researcher.address,
          record.dataClass,
          Purpose.HRESCH,
        ),
      ),
    ).to.equal(AccessBasis.Consent);
    const refused = await new GatewayClient(gateway.url, setup.signers.researcher, reader.contracts)
      .requestKey(record.recordId, "HRESCH")
      .catch((caught: unknown) => caught as Error);
    expect(refused).to.be.instanceOf(AccessDeniedError);
    expect(refused).to.be.instanceOf(AccessNotConfirmedError);
    expect((refused as AccessDeniedError).shortMessage).to.contain(`but block ${deployedAt - 1}, `);
  });
});

import { mkdtempSync } from "node:fs";
import path from "node:path";

import { expect } from "chai";

import type { ReleaseManifest } from "../../sdk/clients/audit";
import { GatewayClient, GatewayError, type KeyRelease } from "../../sdk/clients/gateway";
import { PatientClient } from "../../sdk/clients/patient";
import type { PublishedRecord } from "../../sdk/clients/provider";
import { utf8Decode } from "../../sdk/crypto/bytes";
import { FsBlobStore } from "../../sdk/storage/fs-blob-store";
import type { FaultPoint } from "../../gateway/access-log-writer";
import { GatewayStore } from "../../gateway/store";
import { compareJournalWithChain } from "../helpers/access-log-audit";
import {
  chainNow,
  DAY,
  gatewayFetch,
  labObservation,
  providerWithGateway,
  publish,
  randomMasterKeyHex,
  readerWithKey,
  sessionToken,
  setupLedger,
  spawnGateway,
  startTestGateway,
  waitFor,
  type GatewayProcess,
  type LedgerSetup,
} from "../helpers/gateway-harness";
import { freePort, sharedLocalNode } from "../helpers/local-node";

describe("the custodian gateway: crash and restart", function () {
  this.timeout(240_000);

  let setup: LedgerSetup;
  let dataDir: string;
  let masterKeyHex: string;
  let port: number;
  let records: PublishedRecord[];
  let readers: Awaited<ReturnType<typeof readerWithKey>>[];
  const running = new Set<GatewayProcess>();

  async function run(fault?: FaultPoint, args: string[] = ["--log-batch-size", "3", "--log-interval-ms", "200"]) {
    const gateway = await spawnGateway(setup, {
      dataDir,
      masterKeyHex,
      port,
      args,
      env: { CONSENT_GATEWAY_FAULT: fault },
    });
    running.add(gateway);
    void gateway.exit.then(() => running.delete(gateway));
    return gateway;
  }

  async function pendingLogEntries(url: string): Promise<number> {
    const health = await gatewayFetch(`${url}/health`);
    return Number(health.body.pendingLogEntries);
  }

  /** Stops the gateway gracefully, then compares its journal (read from its database) with the chain. */
  async function stopAndCompare(gateway: GatewayProcess, received: KeyRelease[]) {
    await gateway.kill("SIGTERM");
    const store = GatewayStore.open(path.join(dataDir, "gateway.sqlite"), { readonly: true });
    try {
      const journal = store.allReleases();
      const blobs = new FsBlobStore(path.join(dataDir, "blobs"));
      const comparison = await compareJournalWithChain(
        setup.contracts,
        setup.signers.hospital.address,
        journal,
        async (cid) => JSON.parse(utf8Decode(await blobs.get(cid))) as ReleaseManifest,
      );
      expect(comparison).to.deep.include({ missing: [], extra: [], duplicateRoots: [], badManifests: [] });
      expect(comparison.onChain).to.equal(journal.length);
      // Every key a client received is in the journal, as released.
      for (const release of received) {
        const entry = journal.find((row) => row.id === release.releaseId);
        expect(entry, `release ${release.releaseId}`).to.include({
          recordId: release.recordId,
          checkedBlock: release.checkedBlock,
        });
      }
      expect(store.batchesIn("sent")).to.deep.equal([]);
      expect(store.batchesIn("pending")).to.deep.equal([]);
      return { journal, batches: store.allBatches(), comparison };
    } finally {
      store.close();
    }
  }

  before(async function () {
    setup = await setupLedger(await sharedLocalNode());
    dataDir = mkdtempSync(path.join(setup.tempDir, "restart-"));
    masterKeyHex = randomMasterKeyHex();
    port = await freePort();
    // The records are deposited through an in-process gateway on the same data directory.
    const { gateway: depositor } = await startTestGateway(setup, {
      dataDir,
      masterKey: Buffer.from(masterKeyHex, "hex"),
    });
    const hospital = await providerWithGateway(setup, setup.signers.hospital, depositor.url);
    records = [];
    for (const label of ["r1", "r2", "r3"]) {
      records.push(
        await publish(hospital.provider, setup.signers.patient.address, "LAB_RESULT", labObservation(label, 100)),
      );
    }
    await depositor.close();
    const url = `http://127.0.0.1:${port}`;
    readers = [
      await readerWithKey(setup, setup.signers.researcher, url),
      await readerWithKey(setup, setup.signers.otherResearcher, url),
    ];
    const patient = new PatientClient(await setup.as(setup.signers.patient), setup.signers.patient);
    const validUntil = (await chainNow(setup.provider)) + 30 * DAY;
    for (const reader of readers) {
      const grantee = await reader.researcher.signer.getAddress();
      await (await patient.grant({ grantee, dataClasses: ["LAB_RESULT"], purposes: ["HRESCH"], validUntil })).wait();
    }
  });

  after(async function () {
    for (const gateway of running) await gateway.kill();
    setup?.cleanup();
  });

  for (const fault of ["after-broadcast", "after-sent-persisted"] as const) {
    it(`loses nothing and logs nothing twice after a crash ${fault.replace(/-/g, " ")}`, async function () {
      const gateway = await run(fault);
      const token = await sessionToken(readers[0].gateway);
      const settled = await Promise.allSettled(
        records.map((record, index) => readers[index % 2].gateway.requestKey(record.recordId, "HRESCH")),
      );
      const received = settled
        .filter((s): s is PromiseFulfilledResult<KeyRelease> => s.status === "fulfilled")
        .map((s) => s.value);
      expect(await gateway.exit).to.equal("SIGKILL");

      const crashed = GatewayStore.open(path.join(dataDir, "gateway.sqlite"), { readonly: true });
      const [inFlight] = crashed.batchesIn("sent");
      crashed.close();
      expect(inFlight, "a batch left in state sent by the crash").to.not.equal(undefined);

      const restarted = await run();
      // Sessions are durable: the token issued before the crash still works.
      const info = await gatewayFetch(`${restarted.url}/records/${records[0].recordId}`, { token });
      expect(info.status).to.equal(200);
      await waitFor(
        async () => (await pendingLogEntries(restarted.url)) === 0,
        "pending logs to go out after the restart",
      );
      const { batches } = await stopAndCompare(restarted, received);
      // The batch in flight was settled with the very transaction signed before the crash.
      expect(batches.find((batch) => batch.id === inFlight.id)).to.include({
        state: "logged",
        loggedTxHash: inFlight.txHash,
      });
    });
  }

  it("agrees with the chain and its clients after a SIGKILL at an arbitrary moment under load", async function () {
    const args = ["--log-batch-size", "4", "--log-interval-ms", "150"];
    let gateway = await run(undefined, args);
    const received: KeyRelease[] = [];
    let failures = 0;
    // Bounded by count; while the gateway is down, requests fail and are retried. The deadline only
    // stops the loops if the test has failed already (it is near the test's timeout, well above any
    // restart: a 60 s one cut the loops short on a busy machine).
    const deadline = Date.now() + 200_000;
    const loop = async (client: GatewayClient, seed: number) => {
      for (let done = 0; done < 8 && Date.now() < deadline;) {
        try {
          received.push(await client.requestKey(records[(seed + done) % records.length].recordId, "HRESCH"));
          done++;
        } catch (error) {
          if (!(error instanceof GatewayError)) throw error;
          failures++;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    };
    const loops = readers.flatMap((reader, index) => [loop(reader.gateway, index), loop(reader.gateway, index + 1)]);
    // An arbitrary moment, counted in releases rather than milliseconds, so that the loops (32 releases)
    // are still running on a fast machine and a slow one alike.
    const killAfter = 4 + Math.floor(Math.random() * 17);
    await waitFor(() => received.length >= killAfter, `${killAfter} releases before the crash`, 30_000, 5);
    await gateway.kill("SIGKILL");
    gateway = await run(undefined, args);
    await Promise.all(loops);
    await waitFor(async () => (await pendingLogEntries(gateway.url)) === 0, "pending logs to go out after the restart");
    const { journal } = await stopAndCompare(gateway, received);
    expect(received.length).to.equal(4 * 8);
    expect(failures, "requests refused while the gateway was down").to.be.greaterThan(0);
    // A key may have been journaled (and logged) without reaching its client, never the reverse.
    expect(journal.length).to.be.at.least(received.length);
  });
});

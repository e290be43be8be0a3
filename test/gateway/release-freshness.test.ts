/**
 * The gateway reads the head once per event-loop turn and keeps facts per block hash
 * (gateway/chain-reader.ts). Neither may ever decide a release on state older than the latest block
 * after the request arrived: these tests try to make it.
 */
import { expect } from "chai";

import { PatientClient } from "../../sdk/clients/patient";
import type { PublishedRecord } from "../../sdk/clients/provider";
import { AccessDeniedError } from "../../sdk/errors";
import type { RunningGateway } from "../../gateway/start";
import {
  chainNow,
  DAY,
  labObservation,
  providerWithGateway,
  publish,
  readerWithKey,
  setupLedger,
  startTestGateway,
  type LedgerSetup,
} from "../helpers/gateway-harness";
import { rpc, sharedLocalNode } from "../helpers/local-node";

describe("the custodian gateway: releases are decided at the latest block, never from a stale cache", function () {
  this.timeout(120_000);

  let setup: LedgerSetup;
  let gateway: RunningGateway;
  let record: PublishedRecord;
  let reader: Awaited<ReturnType<typeof readerWithKey>>;
  let patient: PatientClient;

  const grant = async () =>
    (
      await patient.grant({
        grantee: setup.signers.researcher.address,
        dataClasses: ["LAB_RESULT"],
        purposes: ["HRESCH"],
        validUntil: (await chainNow(setup.provider)) + DAY,
      })
    ).wait();
  const revoke = async () =>
    (
      await (
        await setup.as(setup.signers.patient)
      ).ledger.revoke(setup.signers.patient.address, setup.signers.researcher.address)
    ).wait();
  /** `count` key requests sent at once; each settles to its release or its error. */
  const burst = (count: number) =>
    Promise.all(
      Array.from({ length: count }, () =>
        reader.gateway.requestKey(record.recordId, "HRESCH").then(
          (release) => ({ release, error: undefined }),
          (error: unknown) => ({ release: undefined, error }),
        ),
      ),
    );

  before(async function () {
    setup = await setupLedger(await sharedLocalNode());
    // No log transaction during these tests: only the tests' own transactions make blocks.
    ({ gateway } = await startTestGateway(setup, { logBatchSize: 1000, logIntervalMs: 3_600_000 }));
    const hospital = await providerWithGateway(setup, setup.signers.hospital, gateway.url);
    record = await publish(hospital.provider, setup.signers.patient.address, "LAB_RESULT", labObservation("fresh", 5));
    reader = await readerWithKey(setup, setup.signers.researcher, gateway.url);
    patient = new PatientClient(await setup.as(setup.signers.patient), setup.signers.patient);
    await reader.gateway.authenticate();
  });

  after(async function () {
    await gateway?.close();
    setup?.cleanup();
  });

  it("refuses every request of a burst sent right after a revocation was mined, five times over", async function () {
    for (let round = 0; round < 5; round++) {
      await grant();
      const before = await burst(8);
      for (const outcome of before) expect(outcome.error, `round ${round}: before the revocation`).to.equal(undefined);
      const revokedIn = (await revoke())!.blockNumber;
      const after = await burst(8);
      for (const outcome of after) {
        expect(outcome.error, `round ${round}: after the revocation`).to.be.instanceOf(AccessDeniedError);
      }
      // And the releases before named blocks before the revocation.
      for (const outcome of before) expect(outcome.release!.checkedBlock).to.be.below(revokedIn);
    }
  });

  it("honours a revocation mined between two requests sent back to back", async function () {
    await grant();
    const first = reader.gateway.requestKey(record.recordId, "HRESCH");
    const revoked = await revoke();
    const second = await reader.gateway.requestKey(record.recordId, "HRESCH").catch((error: unknown) => error);
    expect(second).to.be.instanceOf(AccessDeniedError);
    const release = await first.catch((error: unknown) => error);
    // The first was asked before the revocation: released at an earlier block, or refused if the
    // gateway's read came after the revocation; never released at the revocation's block or later.
    if (!(release instanceof AccessDeniedError)) {
      expect((release as { checkedBlock: number }).checkedBlock).to.be.below(revoked!.blockNumber);
    }
  });

  it("never uses the facts kept for a block that a reorganisation replaced", async function () {
    await grant();
    const fork = await rpc<string>(setup.node.url, "evm_snapshot");
    await rpc(setup.node.url, "evm_mine"); // block n+1, version A: the consent holds
    const released = await reader.gateway.requestKey(record.recordId, "HRESCH");
    const blockA = await setup.provider.getBlock(released.checkedBlock);

    // The chain reorganises: back to block n, and a block n+1 (version B) that revokes the consent.
    expect(await rpc<boolean>(setup.node.url, "evm_revert", [fork])).to.equal(true);
    const revokedIn = (await revoke())!;
    expect(revokedIn.blockNumber).to.equal(released.checkedBlock);
    expect(revokedIn.blockHash).to.not.equal(blockA!.hash);

    const refused = await reader.gateway.requestKey(record.recordId, "HRESCH").catch((error: unknown) => error);
    expect(refused).to.be.instanceOf(AccessDeniedError);
    expect((refused as AccessDeniedError).message).to.contain(`checked at block ${revokedIn.blockNumber}`);
  });
});

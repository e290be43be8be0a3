/**
 * Key release latency of a 2-of-3 custodian set against one gateway, on one local `hardhat node`, all
 * on loopback (real gateways, real chain reads, real X25519 wraps):
 *
 *   npm run bench:custodians -- --samples 200 [--out bench/custodian-set.json]
 *
 * Cases, each `samples` sequential releases to one researcher with consent, after 10 warm-up ones:
 *   one-gateway      GatewayClient.requestKey + unwrap (today's path: the whole key from one custodian)
 *   set-3-of-3-up    CustodianSetClient.gatherShares (the record's set read from the chain, all three asked
 *                    at once, first 2 kept) + combine
 *   set-one-down     the same with one custodian stopped (its refusal is a refused connection)
 *   set-two-down     two stopped: every attempt must end in NotEnoughSharesError (timed to the refusal)
 * Prints JSON: p50/p99/mean in ms per case, and for the last case the refusals seen. Not part of npm test.
 */
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

import { NotEnoughSharesError } from "../sdk/clients/custodian-set";
import { combineKeyShares } from "../sdk/crypto/key-shares";
import { unwrapDataKey } from "../sdk/crypto/key-wrap";
import { startLocalNode } from "../scripts/lib/local-node";
import { providerWithSet, readerOfSet, startCustodianSet } from "../test/helpers/custodian-set-harness";
import {
  grantResearcherLabResults,
  labObservation,
  providerWithGateway,
  publish,
  setupLedger,
  startTestGateway,
} from "../test/helpers/gateway-harness";
import { GatewayClient } from "../sdk/clients/gateway";
import { DEFAULTS } from "../gateway/config";

function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return {
    samples: sorted.length,
    p50Ms: round(at(0.5)),
    p99Ms: round(at(0.99)),
    meanMs: round(sorted.reduce((sum, value) => sum + value, 0) / sorted.length),
  };
}

async function time(samples: number, warmup: number, run: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await run();
  const results: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = performance.now();
    await run();
    results.push(performance.now() - start);
  }
  return results;
}

async function main() {
  const { values } = parseArgs({ options: { samples: { type: "string" }, out: { type: "string" } } });
  const samples = Number(values.samples ?? 200);
  if (!Number.isInteger(samples) || samples < 10)
    throw new Error(`--samples must be a whole number of at least 10, got ${values.samples}`);
  const node = await startLocalNode();
  const setup = await setupLedger(node);
  const closing: (() => Promise<unknown>)[] = [];
  try {
    // High rate limits: the bench is one account asking hundreds of times a minute.
    const { gateway } = await startTestGateway(setup, { rateLimitPerMinute: 0 });
    closing.push(() => gateway.close());
    // The access-log settings of the single gateway (the defaults): each custodian logs its own releases
    // on chain, and a shorter interval would only add transactions for the node to mine.
    const set = await startCustodianSet(setup, 3, 2, {
      rateLimitPerMinute: 0,
      logBatchSize: DEFAULTS.logBatchSize,
      logIntervalMs: DEFAULTS.logIntervalMs,
    });
    closing.push(() => set.close());
    const whole = await publish(
      (await providerWithGateway(setup, setup.signers.hospital, gateway.url)).provider,
      setup.signers.patient.address,
      "LAB_RESULT",
      labObservation("whole", 1),
    );
    const split = await publish(
      (await providerWithSet(setup, set)).provider,
      setup.signers.patient.address,
      "LAB_RESULT",
      labObservation("split", 2),
    );
    await grantResearcherLabResults(setup);
    const reader = await readerOfSet(setup, set, setup.signers.researcher);
    const single = new GatewayClient(gateway.url, setup.signers.researcher, reader.contracts);

    const result: Record<string, unknown> = { node: "hardhat", cpus: (await import("node:os")).cpus().length, samples };
    result["one-gateway"] = stats(
      await time(samples, 10, async () => {
        const release = await single.requestKey(whole.recordId, "HRESCH");
        (await unwrapDataKey(release.wrappedKey, reader.keyPair, whole.recordId)).fill(0);
      }),
    );
    const gatherKey = async () => {
      const { shares } = await reader.client.gatherShares({
        recordId: split.recordId,
        purpose: "HRESCH",
        keyPair: reader.keyPair,
      });
      (await combineKeyShares(shares.map((entry) => entry.share))).fill(0);
    };
    result["set-3-of-3-up"] = stats(await time(samples, 10, gatherKey));
    await set.gateways[2].close();
    result["set-one-down"] = stats(await time(samples, 10, gatherKey));
    await set.gateways[1].close();
    let refusals: unknown;
    result["set-two-down"] = {
      ...stats(
        await time(samples, 10, async () => {
          try {
            await gatherKey();
          } catch (error) {
            if (!(error instanceof NotEnoughSharesError)) throw error;
            refusals = error.refusals.map((refusal) => ({ custodian: refusal.custodian, code: refusal.code }));
            return;
          }
          throw new Error("a key was rebuilt with two of three custodians down");
        }),
      ),
      refused: true,
      refusals,
    };
    const text = JSON.stringify(result, null, 2);
    console.log(text);
    if (values.out) writeFileSync(values.out, text + "\n");
  } finally {
    for (const close of closing.reverse()) await close().catch(() => undefined);
    setup.cleanup();
    await node.stop();
  }
}

main().catch((error) => {
  console.error(`bench failed: ${(error as Error)?.stack ?? error}`);
  process.exitCode = 1;
});

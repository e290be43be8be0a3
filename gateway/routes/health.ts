/**
 * GET /health (public): status, chain, custodian, confirmations, latest block, pending logs. O(1) for
 * anyone: a kept count and the node's block number, never a scan of the journal.
 */
import type { FastifyInstance } from "fastify";

import type { LedgerContracts } from "../../sdk/index";
import { healthSchema } from "../schemas";
import type { GatewayStore } from "../store";

export interface HealthPluginOptions {
  contracts: LedgerContracts;
  custodian: string;
  confirmations: number;
  store: GatewayStore;
}

export async function healthPlugin(app: FastifyInstance, options: HealthPluginOptions): Promise<void> {
  const { contracts, custodian, confirmations, store } = options;

  app.get("/health", { schema: healthSchema }, async (_request, reply) => {
    const base = {
      chainId: Number(contracts.chainId),
      custodian,
      confirmations,
      pendingLogEntries: store.unloggedReleaseCount(),
    };
    try {
      const latestBlock = await withTimeout(contracts.provider.getBlockNumber(), 5000);
      return { status: "ok", ...base, latestBlock };
    } catch (cause) {
      return reply.status(503).send({
        status: "degraded",
        ...base,
        latestBlock: null,
        reason: `the chain does not answer: ${(cause as Error).message}`,
      });
    }
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

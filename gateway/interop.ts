/**
 * The gateway's interoperability routes as one Fastify plugin: the CDS Hooks consent decision service
 * (gateway/consent-decision.ts) with its identifier links, and GA4GH Passport visas (gateway/visas.ts).
 * Their state lives in `<dataDir>/interop.sqlite`, closed with the app.
 */
import type { FastifyInstance } from "fastify";

import type { LedgerContracts } from "../sdk/index";
import type { Authenticator } from "./auth";
import { DEFAULTS } from "./config";
import { consentDecisionRoutes } from "./consent-decision";
import { IdentityLinkStore } from "./identity-links";
import type { KeyVault } from "./key-vault";
import { visaRoutes } from "./visas";

export interface InteropOptions {
  contracts: LedgerContracts;
  authenticator: Authenticator;
  vault: KeyVault;
  dataDir: string;
  publicUrl: () => string;
  /** Requests per client per minute (decisions and links per address, visas per account); default DEFAULTS.rateLimitPerMinute. */
  rateLimitPerMinute?: number;
  visaTtlSeconds?: number;
  now?: () => number;
}

export async function interopPlugin(app: FastifyInstance, options: InteropOptions): Promise<void> {
  const store = IdentityLinkStore.open(options.dataDir);
  app.addHook("onClose", async () => store.close());
  const now = options.now ?? Date.now;
  const rateLimitPerMinute = options.rateLimitPerMinute ?? DEFAULTS.rateLimitPerMinute;
  await consentDecisionRoutes(app, {
    contracts: options.contracts,
    links: store,
    publicUrl: options.publicUrl,
    rateLimitPerMinute,
    now,
  });
  await visaRoutes(app, {
    contracts: options.contracts,
    authenticator: options.authenticator,
    vault: options.vault,
    store,
    publicUrl: options.publicUrl,
    rateLimitPerMinute,
    visaTtlSeconds: options.visaTtlSeconds,
    now,
  });
}

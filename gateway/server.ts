/**
 * The gateway's HTTP API (Fastify 5): the app, its error format and its route plugins. The app factory
 * takes its collaborators ready-made (gateway/start.ts wires them), so a test can build the real app on
 * any port.
 *
 *   GET  /health                          public   status, chain, custodian, confirmations, latest block, pending logs   routes/health.ts
 *   POST /auth/challenge {address}        public   an EIP-712 login challenge                                            routes/auth.ts
 *   POST /auth/verify {nonce, signature}  public   a bearer session token                                                routes/auth.ts
 *   POST /records {...}                   bearer   a provider deposits a record's envelope and data key                  routes/records.ts
 *   PUT  /records/:recordId (a stream)    bearer   the same for a v2 envelope of any size, streamed                       record-stream-routes.ts
 *   GET  /records/:recordId               bearer   what the gateway holds about a record                                 routes/records.ts
 *   GET  /records/:recordId/ciphertext    bearer   the envelope bytes (Range)                                            routes/records.ts
 *   GET  /records/:recordId/index         bearer   the segment index of a v2 record                                      routes/records.ts
 *   POST /records/:recordId/key {purpose} bearer   the data key wrapped to the caller, if the chain allows               routes/key-release.ts
 *   GET  /manifests/:cid                  public   a release-batch manifest                                              routes/manifests.ts
 *
 * Each route group is a plain Fastify plugin taking the shared pieces it needs; they are registered in
 * their own (encapsulated) contexts and share nothing through decorators. Errors are
 * `{ "error": Name, "reason": sentence }` with a fitting status (gateway/http-error.ts).
 */
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from "fastify";
import { getAddress } from "ethers";

import type { BlobStore, LedgerContracts } from "../sdk/index";
import type { AccessLogWriter } from "./access-log-writer";
import type { Authenticator } from "./auth";
import { ChainReader, rpcSendOf } from "./chain-reader";
import { DEFAULTS } from "./config";
import { GatewayHttpError } from "./http-error";
import { JournalCommitter } from "./journal-committer";
import type { KeyVault } from "./key-vault";
import { AccountRateLimiter } from "./rate-limit";
import { authPlugin } from "./routes/auth";
import { healthPlugin } from "./routes/health";
import { keyReleasePlugin } from "./routes/key-release";
import { manifestsPlugin } from "./routes/manifests";
import { recordsPlugin } from "./routes/records";
import type { GatewayStore } from "./store";

export interface GatewayAppOptions {
  contracts: LedgerContracts;
  custodian: string;
  store: GatewayStore;
  blobs: BlobStore;
  vault: KeyVault;
  authenticator: Authenticator;
  writer: AccessLogWriter;
  /** The origin clients reach the gateway at (signed into each login challenge). */
  publicUrl: () => string;
  /** Accounts whose records the gateway accepts (the custodian and any configured providers). */
  providers: readonly string[];
  /** Fastify logger options (pino), or false. */
  logger?: FastifyServerOptions["logger"];
  /** Requests per account per minute on the record routes; 0 for no limit (default DEFAULTS.rateLimitPerMinute). */
  rateLimitPerMinute?: number;
  /** Blocks that must follow what allows a release (see authorizeRelease); default 0. */
  confirmations?: number;
  /** Connection limits against slow or stalled clients (defaults: DEFAULTS.timeouts). */
  timeouts?: Partial<GatewayTimeouts>;
  /** Login challenges one client address may ask for per minute; 0 for no limit (default DEFAULTS.challengesPerMinute). */
  challengesPerMinute?: number;
  /** Largest envelope streamed to PUT /records/:recordId (default DEFAULTS.maxRecordBytes). */
  maxRecordBytes?: number;
  now?: () => number;
}

/** How long a client may take, in ms: see DEFAULTS.timeouts. */
export interface GatewayTimeouts {
  /** The whole request, headers and body: a body still arriving after this is answered 408 and closed. */
  requestMs: number;
  /** The request's headers. */
  headersMs: number;
  /** A connection with nothing moving on it (no byte in or out) is closed. */
  idleMs: number;
}

/** Builds the app (not listening). */
export function buildGatewayApp(options: GatewayAppOptions): FastifyInstance {
  const { contracts, custodian, store, blobs, vault, authenticator, writer } = options;
  const now = options.now ?? Date.now;
  const providers = new Set(options.providers.map((provider) => getAddress(provider)));
  const confirmations = options.confirmations ?? DEFAULTS.confirmations;

  const timeouts: GatewayTimeouts = { ...DEFAULTS.timeouts, ...options.timeouts };
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: 64 * 1024,
    return503OnClosing: true,
    forceCloseConnections: "idle",
    // Node's defaults let a client that sends part of a body and stalls hold its socket and buffers
    // forever (no request or idle timeout). Node checks the request and header timeouts on a timer:
    // checking at most every second makes them hold to within a second.
    requestTimeout: timeouts.requestMs,
    connectionTimeout: timeouts.idleMs,
    keepAliveTimeout: timeouts.idleMs, // between requests Node times a socket by this, not by the above
    http: {
      headersTimeout: Math.min(timeouts.headersMs, timeouts.requestMs),
      connectionsCheckingInterval: Math.min(1000, timeouts.headersMs),
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
  });

  app.setErrorHandler(replyWithError);
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: "NotFound", reason: `no route ${request.method} ${request.url.split("?")[0]}` }),
  );

  const chain = new ChainReader(contracts, rpcSendOf(contracts));
  const journal = new JournalCommitter(store);
  const challengeLimiter = new AccountRateLimiter(options.challengesPerMinute ?? DEFAULTS.challengesPerMinute);
  // One allowance per account for all record routes, key releases included.
  const limiter = new AccountRateLimiter(options.rateLimitPerMinute ?? DEFAULTS.rateLimitPerMinute);

  void app.register(healthPlugin, { contracts, custodian, confirmations, store });
  void app.register(authPlugin, { authenticator, challengeLimiter, publicUrl: options.publicUrl });
  void app.register(recordsPlugin, {
    contracts,
    store,
    blobs,
    vault,
    authenticator,
    limiter,
    providers,
    maxRecordBytes: options.maxRecordBytes ?? DEFAULTS.maxRecordBytes,
    now,
  });
  void app.register(keyReleasePlugin, {
    contracts,
    custodian,
    chain,
    store,
    vault,
    authenticator,
    limiter,
    journal,
    writer,
    confirmations,
    now,
  });
  void app.register(manifestsPlugin, { store, blobs });
  return app;
}

/** The error format: `{ error, reason }`, a gateway refusal as it is, Fastify's own 4xx named, anything else a logged 500. */
function replyWithError(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof GatewayHttpError) {
    if (error.status >= 500) request.log.warn({ error: error.error, reason: error.reason }, "request refused");
    return reply.status(error.status).headers(error.headers).send(error.toJSON());
  }
  const fastifyError = error as {
    validation?: unknown;
    validationContext?: string;
    statusCode?: number;
    code?: string;
    message: string;
  };
  if (fastifyError.validation) {
    return reply.status(400).send({ error: "InvalidRequest", reason: `${fastifyError.message}` });
  }
  if (fastifyError.statusCode && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    const name =
      fastifyError.statusCode === 413
        ? "PayloadTooLarge"
        : fastifyError.statusCode === 415
          ? "UnsupportedMediaType"
          : "InvalidRequest";
    return reply.status(fastifyError.statusCode).send({ error: name, reason: fastifyError.message });
  }
  request.log.error({ err: error }, "request failed");
  return reply
    .status(500)
    .send({ error: "InternalError", reason: "the gateway failed to answer; its operator can see why in its log" });
}

/**
 * The gateway's HTTP API (Fastify 5): the app, its error format and its route plugins. The app factory
 * takes its collaborators ready-made (gateway/start.ts wires them), so a test can build the real app on
 * any port.
 *
<<<<<<< HEAD
 *   GET  /health                          public   status, chain, custodian, confirmations, latest block, pending logs
 *   POST /auth/challenge {address}        public   an EIP-712 login challenge
 *   POST /auth/verify {nonce, signature}  public   a bearer session token
 *   POST /records {...}                   bearer   a provider deposits a record's envelope and data key
 *   PUT  /records/:recordId (a stream)    bearer   the same for a v2 envelope of any size, streamed (record-stream-routes.ts)
 *   GET  /records/:recordId               bearer   what the gateway holds about a record
 *   GET  /records/:recordId/ciphertext    bearer   the envelope bytes
 *   POST /records/:recordId/key {purpose} bearer   the data key wrapped to the caller, if the chain allows
 *   GET  /manifests/:cid                  public   a release-batch manifest
=======
 *   GET  /health                          public   status, chain, custodian, confirmations, latest block, pending logs   routes/health.ts
 *   POST /auth/challenge {address}        public   an EIP-712 login challenge                                            routes/auth.ts
 *   POST /auth/verify {nonce, signature}  public   a bearer session token                                                routes/auth.ts
 *   POST /records {...}                   bearer   a provider deposits a record's envelope and data key                  routes/records.ts
 *   GET  /records/:recordId               bearer   what the gateway holds about a record                                 routes/records.ts
 *   GET  /records/:recordId/ciphertext    bearer   the envelope bytes (Range)                                            routes/records.ts
 *   GET  /records/:recordId/index         bearer   the segment index of a v2 record                                      routes/records.ts
 *   POST /records/:recordId/key {purpose} bearer   the data key wrapped to the caller, if the chain allows               routes/key-release.ts
 *   GET  /manifests/:cid                  public   a release-batch manifest                                              routes/manifests.ts
>>>>>>> main
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
<<<<<<< HEAD
import { DEFAULTS } from "./config";
import {
  challengeSchema,
  healthSchema,
  INGEST_BODY_LIMIT,
  ingestSchema,
  keySchema,
  manifestSchema,
  recordSchema,
  verifySchema,
} from "./schemas";
import { recordStreamRoutes } from "./record-stream-routes";
import { isHeldAsShare } from "./share-routes";
import type { GatewayStore, StoredRecord } from "./store";
=======
import { authPlugin } from "./routes/auth";
import { healthPlugin } from "./routes/health";
import { keyReleasePlugin } from "./routes/key-release";
import { manifestsPlugin } from "./routes/manifests";
import { recordsPlugin } from "./routes/records";
import type { GatewayStore } from "./store";
>>>>>>> main

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
  void app.register(recordsPlugin, { contracts, store, blobs, vault, authenticator, limiter, providers, now });
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
<<<<<<< HEAD

  app.post<{ Body: { address: string } }>("/auth/challenge", { schema: challengeSchema }, async (request) => {
    // Per client address: one host cannot churn through the overall bound on open challenges (which
    // drops the oldest, see Authenticator) fast enough to drop another user's login in progress.
    const decision = challengeLimiter.take(request.ip);
    if (!decision.allowed) {
      throw rateLimited(
        `${request.ip} asked for more than ${challengeLimiter.perMinute} login challenges in a minute: ` +
          `retry in ${decision.retryAfterSeconds} s`,
        decision.retryAfterSeconds,
      );
    }
    const account = getAddress(request.body.address.toLowerCase());
    return authenticator.createChallenge(account, options.publicUrl());
  });

  app.post<{ Body: { nonce: string; signature: string } }>(
    "/auth/verify",
    { schema: verifySchema },
    async (request) => {
      const session = await authenticator.verify(request.body.nonce, request.body.signature);
      request.log.info({ account: session.account }, "session opened");
      return {
        tokenType: "Bearer",
        token: session.token,
        account: session.account,
        expiresAt: new Date(session.expiresAt).toISOString(),
      };
    },
  );

  app.post<{ Body: IngestBody }>(
    "/records",
    { schema: ingestSchema, bodyLimit: INGEST_BODY_LIMIT, onRequest: depositor },
    async (request, reply) => {
      const provider = request.depositor as string;
      const body = request.body;
      const recordId = body.recordId.toLowerCase();
      const dataKey = hexToBytes(body.dataKey, { argument: "dataKey", length: 32 });
      const envelope = decodeBase64(body.envelope);

      let hash: string;
      try {
        hash = await recordIdOf(envelope);
      } catch (cause) {
        throw unprocessable("MalformedEnvelope", cause instanceof ConsentLedgerError ? cause.shortMessage : String(cause));
      }
      if (hash !== recordId)
        throw unprocessable("IntegrityError", `the envelope hashes to ${hash}, not to recordId ${recordId}`);
      try {
        parseEnvelope(envelope);
      } catch (cause) {
        throw unprocessable(
          "MalformedEnvelope",
          cause instanceof ConsentLedgerError ? cause.shortMessage : String(cause),
        );
      }

      const existing = store.getRecord(recordId);
      if (existing) return reply.status(200).send(await sameDeposit(existing, dataKey));

      const batch = body.batch
        ? { root: body.batch.root.toLowerCase(), proof: body.batch.proof.map((p) => p.toLowerCase()) }
        : undefined;
      const { context } = await authorizeIngest(contracts, provider, envelope, recordId, batch);
      if (body.batch?.patient !== undefined && getAddress(body.batch.patient.toLowerCase()) !== context.patient) {
        throw unprocessable(
          "IntegrityError",
          `batch.patient ${body.batch.patient} is not the envelope's patient ${context.patient}`,
        );
      }
      if (body.batch?.dataClass !== undefined && body.batch.dataClass !== context.dataClass) {
        throw unprocessable(
          "IntegrityError",
          `batch.dataClass ${body.batch.dataClass} is not the envelope's data class ${context.dataClass}`,
        );
      }
      try {
        await openRecord(envelope, dataKey, { recordId });
      } catch (cause) {
        if (cause instanceof KeyCommitmentError)
          throw unprocessable("WrongDataKey", `the data key is not the key record ${recordId} commits to`);
        if (cause instanceof DecryptionError)
          throw unprocessable("WrongDataKey", `the data key does not open record ${recordId}`);
        throw cause;
      }
      const cid = await blobs.put(envelope);
      if (recordIdFromCid(cid) !== recordId)
        throw new Error(`the blob store returned CID ${cid} for record ${recordId}`);
      const sealed = await vault.seal(recordId, dataKey);
      const inserted = store.insertRecord({
        recordId,
        cid,
        provider: context.provider,
        patient: context.patient,
        dataClass: context.dataClass,
        version: context.version,
        batch: context.version === 1 && batch ? batch : undefined,
        keyIv: sealed.iv,
        keyCiphertext: sealed.ciphertext,
        depositedBy: provider,
        depositedAt: now(),
      });
      dataKey.fill(0);
      if (!inserted)
        return reply
          .status(200)
          .send(await sameDeposit(store.getRecord(recordId) as StoredRecord, hexToBytes(body.dataKey)));
      request.log.info(
        {
          recordId,
          provider,
          patient: context.patient,
          dataClass: dataClassName(context.dataClass),
          batch: batch?.root,
        },
        "record deposited",
      );
      return reply.status(201).send({ recordId, cid, stored: true });
    },
  );

  /** A deposit of a record already held: fine with the same key, a conflict with another. */
  async function sameDeposit(existing: StoredRecord, dataKey: Uint8Array) {
    const held = await vault.open(existing.recordId, { iv: existing.keyIv, ciphertext: existing.keyCiphertext });
    const same = held.length === dataKey.length && timingSafeEqual(held, dataKey);
    held.fill(0);
    dataKey.fill(0);
    if (!same) throw conflict("KeyConflict", `record ${existing.recordId} is held already with another data key`);
    return { recordId: existing.recordId, cid: existing.cid, stored: false };
  }

  void app.register(recordStreamRoutes, {
    contracts,
    store,
    blobs,
    vault,
    depositor,
    sameDeposit,
    maxRecordBytes: options.maxRecordBytes ?? DEFAULTS.maxRecordBytes,
    now,
  });

  app.get<{ Params: { recordId: string } }>("/records/:recordId", { schema: recordSchema }, async (request) => {
    await reader(request);
    const record = heldRecord(request.params.recordId);
    return {
      recordId: record.recordId,
      cid: record.cid,
      provider: record.provider,
      patient: record.patient,
      dataClass: dataClassName(record.dataClass),
      version: record.version,
      batch: record.batch,
    };
  });

  app.get<{ Params: { recordId: string } }>(
    "/records/:recordId/ciphertext",
    { schema: recordSchema },
    async (request, reply) => {
      await reader(request);
      const record = heldRecord(request.params.recordId);
      if (isStreaming(blobs)) {
        const size = await blobs.sizeOf(record.cid);
        if (request.headers.range !== undefined || size > STREAM_ABOVE_BYTES) {
          const range = parseRange(request.headers.range, size);
          if (range === "unsatisfiable")
            return reply.status(416).header("content-range", `bytes */${size}`).send({
              error: "RangeNotSatisfiable",
              reason: `${request.headers.range} is not within the ${size} bytes of record ${record.recordId}`,
            });
          const { start, end } = range ?? { start: 0, end: size };
          if (range) reply.status(206).header("content-range", `bytes ${start}-${end - 1}/${size}`);
          // Headers go out before the last byte is read: a whole blob found damaged at its end aborts
          // the response, and the reader's own check (every segment, the record id) refuses it.
          return reply
            .header("content-type", "application/octet-stream")
            .header("content-length", String(end - start))
            .header("accept-ranges", "bytes")
            .header("x-record-id", record.recordId)
            .header("cache-control", "private, max-age=0, no-store")
            .send(Readable.from(blobs.getStream(record.cid, { start, end })));
        }
      }
      let bytes: Uint8Array;
      try {
        bytes = await blobs.get(record.cid);
      } catch (cause) {
        if (cause instanceof CorruptBlobError) {
          request.log.error(
            { recordId: record.recordId, cid: record.cid, actualCid: cause.actualCid },
            "stored ciphertext is corrupt",
          );
          throw new GatewayHttpError(
            500,
            "StoredCiphertextCorrupt",
            `the gateway's copy of record ${record.recordId} is damaged (it hashes to ${cause.actualCid}); it will not serve it`,
          );
        }
        if (cause instanceof BlobNotFoundError)
          throw new GatewayHttpError(
            500,
            "StoredCiphertextMissing",
            `the gateway lost the ciphertext of ${record.recordId}`,
          );
        throw cause;
      }
      return reply
        .header("content-type", "application/octet-stream")
        .header("accept-ranges", isStreaming(blobs) ? "bytes" : "none")
        .header("x-record-id", record.recordId)
        .header("cache-control", "private, max-age=0, no-store")
        .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    },
  );

  /**
   * The segment index of a v2 record (its header and each segment's SHA-256; SHA-256 of it is the record
   * id), so a reader verifies any byte range it fetches with Range requests. 409 for a v1 record.
   */
  app.get<{ Params: { recordId: string } }>("/records/:recordId/index", { schema: recordSchema }, async (request, reply) => {
    await reader(request);
    const record = heldRecord(request.params.recordId);
    if (!isStreaming(blobs)) throw conflict("RangesUnsupported", "this gateway's blob store does not serve ranges");
    const head = blobs.getStream(record.cid, { start: 0, end: Math.min(4, await blobs.sizeOf(record.cid)) });
    const magic = new Uint8Array(4);
    let at = 0;
    for await (const part of head) {
      magic.set(part.subarray(0, 4 - at), at);
      at += part.length;
    }
    if (magic[3] !== 2) throw conflict("NotSegmented", `record ${record.recordId} is a v1 envelope: fetch it whole`);
    const index = await blobs.segmentIndex(record.cid);
    return reply
      .header("content-type", "application/octet-stream")
      .header("x-record-id", record.recordId)
      .header("cache-control", "private, max-age=0, no-store")
      .send(Buffer.from(index.buffer, index.byteOffset, index.byteLength));
  });

  app.post<{ Params: { recordId: string }; Body: { purpose: string | number } }>(
    "/records/:recordId/key",
    { schema: keySchema },
    async (request) => {
      const requestedAt = now();
      const requester = await reader(request);
      let purpose: number;
      try {
        purpose = purposeCode(request.body.purpose);
      } catch (cause) {
        throw badRequest(cause instanceof ConsentLedgerError ? cause.message.replace(/\n/g, " ") : String(cause));
      }
      const record = heldRecord(request.params.recordId);
      if (isHeldAsShare(record))
        throw conflict(
          "HeldAsShare",
          `this custodian holds one share of record ${record.recordId}'s key, not the key: ask for its share (POST /records/${record.recordId}/share)`,
        );
      const decision = await authorizeRelease(chain, contracts, custodian, record, requester, purpose, confirmations);

      const dataKey = await vault.open(record.recordId, { iv: record.keyIv, ciphertext: record.keyCiphertext });
      let wrapped: Uint8Array;
      try {
        wrapped = await wrapDataKeyNative(dataKey, decision.publicKey, record.recordId);
      } catch (cause) {
        if (cause instanceof FormatError) {
          throw conflict(
            "EncryptionKeyInvalid",
            `${requester}'s registered encryption key is not a usable X25519 key: register an encryption key again`,
          );
        }
        throw cause;
      } finally {
        dataKey.fill(0);
      }
      // The chain's time of the block whose state allowed the release, not this server's clock: the
      // audit trail orders releases among the consents and revocations that govern them.
      const releasedAt = decision.block.timestamp;
      const releaseId = await journal.journal({
        recordId: record.recordId,
        grantee: requester,
        purpose,
        basis: decision.basis,
        releasedAt,
        checkedBlock: decision.block.number,
        checkedBlockHash: decision.block.hash,
        requestedAt,
      });
      writer.notifyRelease();
      request.log.info(
        {
          releaseId,
          recordId: record.recordId,
          grantee: requester,
          purpose: purposeName(purpose),
          basis: basisName(decision.basis),
          block: decision.block.number,
        },
        "key released",
      );
      return {
        recordId: record.recordId,
        wrappedKey: bytesToHex(wrapped),
        basis: basisName(decision.basis),
        purpose: purposeName(purpose),
        releaseId,
        superseded: decision.superseded,
        checkedBlock: decision.block.number,
        releasedAt,
        batch: record.batch,
      };
    },
  );

  app.get<{ Params: { cid: string } }>("/manifests/:cid", { schema: manifestSchema }, async (request, reply) => {
    const batch = store.batchByManifestCid(request.params.cid);
    if (!batch || !batch.manifest)
      throw notFound("ManifestNotFound", `this gateway published no manifest ${request.params.cid}`);
    let bytes: Uint8Array;
    try {
      bytes = await blobs.get(request.params.cid);
    } catch (cause) {
      if (!(cause instanceof BlobNotFoundError || cause instanceof CorruptBlobError)) throw cause;
      request.log.warn({ cid: request.params.cid }, "manifest blob missing or damaged; restoring it from the database");
      bytes = toUtf8Bytes(batch.manifest);
      await blobs.put(bytes);
    }
    return reply
      .header("content-type", "application/json")
      .header("cache-control", "public, max-age=31536000, immutable")
      .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });

=======
  void app.register(manifestsPlugin, { store, blobs });
>>>>>>> main
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

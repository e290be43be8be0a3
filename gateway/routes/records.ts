/**
 * The record routes (bearer):
 *
 *   POST /records {...}                   a provider deposits a record's envelope and data key
 *   PUT  /records/:recordId (a stream)    the same for a v2 envelope of any size (gateway/record-stream-routes.ts)
 *   GET  /records/:recordId               what the gateway holds about a record
 *   GET  /records/:recordId/ciphertext    the envelope bytes (a byte range with a Range header)
 *   GET  /records/:recordId/index         the segment index of a v2 record
 */
import { timingSafeEqual } from "node:crypto";
import { Readable } from "node:stream";

import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { getAddress } from "ethers";

import {
  BlobNotFoundError,
  type BlobStore,
  ConsentLedgerError,
  CorruptBlobError,
  DecryptionError,
  hexToBytes,
  KeyCommitmentError,
  type LedgerContracts,
  openRecord,
  parseEnvelope,
  recordIdFromCid,
  recordIdOf,
  type StreamingBlobStore,
} from "../../sdk/index";
import type { Authenticator } from "../auth";
import { authorizeIngest, dataClassName } from "../authorize";
import { badRequest, conflict, forbidden, GatewayHttpError, unprocessable } from "../http-error";
import type { KeyVault } from "../key-vault";
import type { AccountRateLimiter } from "../rate-limit";
import { INGEST_BODY_LIMIT, ingestSchema, recordSchema } from "../schemas";
import { recordStreamRoutes } from "../record-stream-routes";
import type { GatewayStore, StoredRecord } from "../store";
import { heldRecord, recordReader } from "./record-access";

declare module "fastify" {
  interface FastifyRequest {
    /** The authenticated provider of a deposit (set by the onRequest hook of POST /records). */
    depositor?: string;
  }
}

export interface RecordsPluginOptions {
  contracts: LedgerContracts;
  store: GatewayStore;
  blobs: BlobStore;
  vault: KeyVault;
  authenticator: Authenticator;
  /** The record routes' per-account allowance (shared with gateway/routes/key-release.ts). */
  limiter: AccountRateLimiter;
  /** Accounts whose records the gateway accepts, checksummed. */
  providers: ReadonlySet<string>;
  /** Largest envelope streamed to PUT /records/:recordId. */
  maxRecordBytes: number;
  now: () => number;
}

interface IngestBody {
  recordId: string;
  dataKey: string;
  envelope: string;
  batch?: { root: string; proof: string[]; patient?: string; dataClass?: number };
}

export async function recordsPlugin(app: FastifyInstance, options: RecordsPluginOptions): Promise<void> {
  depositRoute(app, options);
  readRoutes(app, options);
}

/** POST /records: a served provider deposits a record's envelope and data key. */
function depositRoute(app: FastifyInstance, options: RecordsPluginOptions): void {
  const { contracts, store, blobs, vault, authenticator, providers, now } = options;

  /**
   * Who deposits: checked in an onRequest hook, before a byte of the (up to 22 MB) body is read, so an
   * unauthenticated or unserved caller costs a header parse, not a body parse. The refusal closes the
   * connection, so the unread body is not drained either.
   */
  const depositor = async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      const provider = await authenticator.authenticate(request.headers.authorization);
      if (!providers.has(provider)) {
        throw forbidden(
          "ProviderNotServed",
          `this gateway keeps the keys of ${[...providers].join(", ")} only, not of ${provider}`,
        );
      }
      request.depositor = provider;
    } catch (error) {
      reply.header("connection", "close");
      throw error;
    }
  };

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
        throw unprocessable(
          "MalformedEnvelope",
          cause instanceof ConsentLedgerError ? cause.shortMessage : String(cause),
        );
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

  // The same deposit as a stream, behind the same depositor check (gateway/record-stream-routes.ts).
  void app.register(recordStreamRoutes, {
    contracts,
    store,
    blobs,
    vault,
    depositor,
    sameDeposit,
    maxRecordBytes: options.maxRecordBytes,
    now,
  });

  /** A deposit of a record already held: fine with the same key, a conflict with another. */
  async function sameDeposit(existing: StoredRecord, dataKey: Uint8Array) {
    const held = await vault.open(existing.recordId, { iv: existing.keyIv, ciphertext: existing.keyCiphertext });
    const same = held.length === dataKey.length && timingSafeEqual(held, dataKey);
    held.fill(0);
    dataKey.fill(0);
    if (!same) throw conflict("KeyConflict", `record ${existing.recordId} is held already with another data key`);
    return { recordId: existing.recordId, cid: existing.cid, stored: false };
  }
}

/** What a reader fetches: a record's description, its ciphertext (or a byte range of it), its segment index. */
function readRoutes(app: FastifyInstance, options: RecordsPluginOptions): void {
  const { store, blobs } = options;
  const reader = recordReader(options.authenticator, options.limiter);

  app.get<{ Params: { recordId: string } }>("/records/:recordId", { schema: recordSchema }, async (request) => {
    await reader(request);
    const record = heldRecord(store, request.params.recordId);
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
      const record = heldRecord(store, request.params.recordId);
      if (isStreaming(blobs)) {
        const size = await blobs.sizeOf(record.cid);
        if (request.headers.range !== undefined || size > STREAM_ABOVE_BYTES) {
          const range = parseRange(request.headers.range, size);
          if (range === "unsatisfiable")
            return reply
              .status(416)
              .header("content-range", `bytes */${size}`)
              .send({
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
  app.get<{ Params: { recordId: string } }>(
    "/records/:recordId/index",
    { schema: recordSchema },
    async (request, reply) => {
      await reader(request);
      const record = heldRecord(store, request.params.recordId);
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
    },
  );
}

/** Blobs up to this size are read whole and checked before the first byte is sent; larger ones stream. */
const STREAM_ABOVE_BYTES = 64 * 1024 * 1024;

function isStreaming(blobs: BlobStore): blobs is StreamingBlobStore {
  return typeof (blobs as Partial<StreamingBlobStore>).getStream === "function";
}

/**
 * One HTTP byte range (RFC 9110 14.1.2) of a blob of `size` bytes: [start, end) end exclusive, undefined
 * without a Range header, "unsatisfiable" for a range outside the blob or several ranges (not served).
 */
function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | "unsatisfiable" | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) return "unsatisfiable";
  let start: number;
  let end: number;
  if (match[1] === "") {
    start = Math.max(0, size - Number(match[2]));
    end = size;
  } else {
    start = Number(match[1]);
    end = match[2] === "" ? size : Math.min(size, Number(match[2]) + 1);
  }
  if (!Number.isSafeInteger(start) || start >= size || end <= start) return "unsatisfiable";
  return { start, end };
}

/** Strict base64 (the schema has checked the alphabet): refuses what would not round-trip. */
function decodeBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw badRequest("envelope must be base64 with padding (its length a multiple of 4)");
  const buffer = Buffer.from(text, "base64");
  if (buffer.toString("base64") !== text) throw badRequest("envelope is not canonical base64");
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

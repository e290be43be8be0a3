/**
 * Streaming deposit of a v2 record (any size up to the configured limit):
 *
 *   PUT /records/:recordId   bearer (a served provider)   Content-Type: application/octet-stream
 *        X-Data-Key: 0x<64 hex>    the record's data key (as `dataKey` of POST /records)
 *        body: the v2 envelope, streamed
 *
 * The body is never held whole: it is read segment by segment, each segment checked (verifyRecordStream)
 * and passed on to the blob store's putStream, which keeps the blob only once the last byte has passed
 * every check. In order, before the next byte is read: the caller (onRequest, before any byte of the
 * body: a served provider), a Content-Length over the limit (413 at once); then the header (a v2
 * envelope, committing to the data key: 422 WrongDataKey otherwise, nothing decrypted), the chain (the
 * record anchored by this provider, as POST /records asks); then every segment (its tag under the data
 * key at its position: 422 SegmentInvalid naming it), the byte count (413 as soon as it passes the
 * limit, whatever Content-Length said), and at the end the record id over all bytes read (422
 * IntegrityError). Any refusal leaves nothing stored (the partial temp file is deleted) and closes the
 * connection, so the rest of a refused body is not read. A fetch client then sees a broken pipe rather
 * than the answer: it sends the same PUT with an empty body and is told the refusal (kept for five
 * minutes per provider and record; GatewayClient.depositRecordStream does this). The server's request and idle timeouts apply
 * as to every route: a body must arrive within DEFAULTS.timeouts.requestMs (or the configured value).
 *
 * Batched records and v1 envelopes use POST /records (JSON, up to 16 MiB).
 */
import type { IncomingMessage } from "node:http";

import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

import {
  ConsentLedgerError,
  DecryptionError,
  FormatError,
  hexToBytes,
  IntegrityError,
  KeyCommitmentError,
  recordIdFromCid,
  SegmentError,
  type BlobStore,
  type LedgerContracts,
  type ParsedRecordContext,
  type StreamingBlobStore,
} from "../sdk/index";
import { verifyRecordStream } from "../sdk/node";
import { authorizeIngest, dataClassName } from "./authorize";
import { badRequest, conflict, GatewayHttpError, unprocessable } from "./http-error";
import type { KeyVault } from "./key-vault";
import type { GatewayStore, StoredRecord } from "./store";

export interface RecordStreamRoutesOptions {
  contracts: LedgerContracts;
  store: GatewayStore;
  blobs: BlobStore;
  vault: KeyVault;
  /** The onRequest hook that authenticates a depositor (sets request.depositor) before the body is read. */
  depositor: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /** Answers a deposit of a record already held: its CID with the same key, 409 KeyConflict with another. */
  sameDeposit: (
    existing: StoredRecord,
    dataKey: Uint8Array,
  ) => Promise<{ recordId: string; cid: string; stored: boolean }>;
  /** Largest envelope accepted, in bytes. */
  maxRecordBytes: number;
  now: () => number;
}

const bytes32 = { type: "string", pattern: "^0x[0-9a-fA-F]{64}$" } as const;
const streamDepositSchema = {
  params: { type: "object", additionalProperties: false, required: ["recordId"], properties: { recordId: bytes32 } },
  querystring: { type: "object", additionalProperties: false, properties: {} },
  headers: {
    type: "object",
    required: ["x-data-key"],
    properties: { "x-data-key": bytes32 },
  },
} as const;

const payloadTooLarge = (reason: string) => new GatewayHttpError(413, "PayloadTooLarge", reason);

function isStreaming(blobs: BlobStore): blobs is StreamingBlobStore {
  return typeof (blobs as Partial<StreamingBlobStore>).putStream === "function";
}

/** Registers PUT /records/:recordId (an encapsulated plugin: its body parser applies to it alone). */
export async function recordStreamRoutes(app: FastifyInstance, options: RecordStreamRoutesOptions): Promise<void> {
  const { contracts, store, blobs, vault, maxRecordBytes } = options;
  const refusals = new RecentRefusals(options.now);

  // The body stays a stream: the handler reads it as it checks it.
  app.addContentTypeParser("application/octet-stream", (_request, payload, done) => done(null, payload));

  /** A Content-Length already over the limit is refused before a byte of the body is read. */
  const declaredSize = async (request: FastifyRequest, reply: FastifyReply) => {
    const declared = request.headers["content-length"];
    if (declared !== undefined && Number(declared) > maxRecordBytes) {
      reply.header("connection", "close");
      throw payloadTooLarge(
        `the envelope is ${declared} bytes; this gateway takes records of at most ${maxRecordBytes} bytes`,
      );
    }
  };

  app.put<{ Params: { recordId: string }; Headers: { "x-data-key": string } }>(
    "/records/:recordId",
    { schema: streamDepositSchema, onRequest: [options.depositor, declaredSize] },
    async (request, reply) => {
      const provider = request.depositor as string;
      const recordId = request.params.recordId.toLowerCase();
      const dataKey = hexToBytes(request.headers["x-data-key"], { argument: "X-Data-Key", length: 32 });
      delete (request.headers as Record<string, unknown>)["x-data-key"]; // never in a log of this request
      // Every refusal from here closes the connection: the rest of the body is not worth reading.
      reply.header("connection", "close");
      if (!isStreaming(blobs))
        throw conflict(
          "StreamingUnsupported",
          "this gateway's blob store does not take streams: deposit with POST /records",
        );
      const body = request.body as IncomingMessage | undefined;
      if (!body || typeof (body as Partial<IncomingMessage>)[Symbol.asyncIterator] !== "function")
        throw badRequest("the body must be the envelope, sent as application/octet-stream");

      const existing = store.getRecord(recordId);
      if (existing) return reply.status(200).send(await options.sameDeposit(existing, dataKey));
      if (request.headers["content-length"] === "0") {
        // A client whose upload was cut by a refusal (HTTP clients such as fetch report the broken
        // pipe, not the answer) asks again with an empty body: it is told why.
        const remembered = refusals.take(provider, recordId);
        throw remembered ?? badRequest("the body is empty: send the envelope as the body");
      }

      let received = 0;
      async function* limited(): AsyncGenerator<Uint8Array> {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          received += chunk.length;
          if (received > maxRecordBytes)
            throw payloadTooLarge(
              `the envelope passed ${maxRecordBytes} bytes, the most this gateway takes for a record`,
            );
          yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        }
      }
      let context: ParsedRecordContext | undefined;
      const verified = verifyRecordStream(
        limited(),
        dataKey,
        { recordId },
        {
          onHeader: async (header) => {
            ({ context } = await authorizeIngest(
              contracts,
              provider,
              { context: header.context },
              recordId,
              undefined,
            ));
          },
        },
      );

      let cid: string;
      try {
        cid = await blobs.putStream(verified);
      } catch (cause) {
        const answer = refusal(cause, recordId, received);
        if (answer instanceof GatewayHttpError) refusals.keep(provider, recordId, answer);
        throw answer;
      }
      if (recordIdFromCid(cid) !== recordId)
        throw new Error(`the blob store returned CID ${cid} for record ${recordId}`);
      const held = context as ParsedRecordContext;
      const sealed = await vault.seal(recordId, dataKey);
      const inserted = store.insertRecord({
        recordId,
        cid,
        provider: held.provider,
        patient: held.patient,
        dataClass: held.dataClass,
        version: held.version,
        batch: undefined,
        keyIv: sealed.iv,
        keyCiphertext: sealed.ciphertext,
        depositedBy: provider,
        depositedAt: options.now(),
      });
      if (!inserted)
        return reply.status(200).send(await options.sameDeposit(store.getRecord(recordId) as StoredRecord, dataKey));
      dataKey.fill(0);
      reply.removeHeader("connection");
      request.log.info(
        { recordId, provider, patient: held.patient, dataClass: dataClassName(held.dataClass), bytes: received },
        "record deposited (streamed)",
      );
      return reply.status(201).send({ recordId, cid, stored: true });
    },
  );
}

/**
 * The last refusal of a streamed deposit per (provider, record), for a few minutes and at most a
 * thousand: told once to the same provider's empty-body retry (see the route).
 */
class RecentRefusals {
  private readonly held = new Map<string, { error: GatewayHttpError; at: number }>();
  constructor(private readonly now: () => number) {}

  keep(provider: string, recordId: string, error: GatewayHttpError): void {
    const key = `${provider}:${recordId}`;
    this.held.delete(key);
    this.held.set(key, { error, at: this.now() });
    if (this.held.size > 1000) this.held.delete(this.held.keys().next().value as string);
  }

  take(provider: string, recordId: string): GatewayHttpError | undefined {
    const key = `${provider}:${recordId}`;
    const entry = this.held.get(key);
    this.held.delete(key);
    return entry && this.now() - entry.at < 5 * 60_000 ? entry.error : undefined;
  }
}

/** What the client is told when the stream fails a check (nothing was stored). */
function refusal(cause: unknown, recordId: string, received: number): unknown {
  if (cause instanceof GatewayHttpError) return cause;
  if (cause instanceof KeyCommitmentError)
    return unprocessable(
      "WrongDataKey",
      `the data key is not the key record ${recordId} commits to (nothing was decrypted)`,
    );
  if (cause instanceof SegmentError)
    return unprocessable("SegmentInvalid", `${cause.shortMessage} (${cause.problem}); nothing was stored`);
  if (cause instanceof IntegrityError)
    return unprocessable("IntegrityError", `${cause.shortMessage}; nothing was stored`);
  if (cause instanceof FormatError) {
    const v1 = /format version 1\b/.test(cause.shortMessage);
    return unprocessable(
      "MalformedEnvelope",
      v1
        ? "a v1 envelope: PUT /records/:recordId takes v2 envelopes; deposit a v1 envelope with POST /records"
        : cause.shortMessage,
    );
  }
  if (cause instanceof DecryptionError)
    return unprocessable("WrongDataKey", `the data key does not open record ${recordId}`);
  if (cause instanceof ConsentLedgerError && cause.name === "InvalidArgumentError")
    return badRequest(cause.shortMessage);
  const code = (cause as { code?: string })?.code;
  if (code === "ECONNRESET" || (cause as Error)?.message === "aborted")
    return new GatewayHttpError(
      400,
      "IncompleteBody",
      `the body ended after ${received} bytes, before the envelope did; nothing was stored`,
    );
  return cause;
}

/**
 * The v2 envelope functions with node:crypto (OpenSSL) as their default primitives: what
 * "consent-ledger/node" exports. Same signatures and checks as sdk/crypto/envelope-v2.ts; a caller may
 * still pass `crypto` explicitly.
 */
import { Readable } from "node:stream";

import type { ExpectedRecord, RecordContext, SealedRecord } from "../envelope";
import {
  openRecordRange as openRange,
  openRecordStream as openStream,
  recordIdOfV2 as recordIdOfBytes,
  sealRecordStream as sealStream,
  sealRecordV2 as sealBytes,
  segmentIndexOf as indexOf,
  verifyRecordStream as verifyStream,
  type ByteSource,
  type EnvelopeV2Options,
  type OpenRecordStreamOptions,
  type RangeRequest,
  type SealingRecord,
  type VerifyRecordStreamOptions,
} from "../envelope-v2";
import { nodeSegmentCrypto } from "./segment-crypto";

const node = <T extends { crypto?: unknown }>(options: T): T => ({ crypto: nodeSegmentCrypto, ...options });

/** sealRecordStream on node:crypto. */
export function sealRecordStream(
  source: ByteSource,
  context: RecordContext,
  dataKey?: Uint8Array,
  options: EnvelopeV2Options = {},
): SealingRecord {
  return sealStream(source, context, dataKey, node(options));
}

/** sealRecordV2 on node:crypto. */
export function sealRecordV2(
  plaintext: Uint8Array,
  context: RecordContext,
  dataKey?: Uint8Array,
  options: EnvelopeV2Options = {},
): Promise<SealedRecord> {
  return sealBytes(plaintext, context, dataKey, node(options));
}

/** openRecordStream on node:crypto. */
export function openRecordStream(
  source: ByteSource,
  dataKey: Uint8Array,
  expected: ExpectedRecord = {},
  options: OpenRecordStreamOptions = {},
): AsyncGenerator<Uint8Array> {
  return openStream(source, dataKey, expected, node(options));
}

/** verifyRecordStream on node:crypto. */
export function verifyRecordStream(
  source: ByteSource,
  dataKey: Uint8Array,
  expected: ExpectedRecord & { recordId: string },
  options: VerifyRecordStreamOptions = {},
): AsyncGenerator<Uint8Array> {
  return verifyStream(source, dataKey, expected, node(options));
}

/** openRecordRange on node:crypto. */
export function openRecordRange(request: RangeRequest): ReturnType<typeof openRange> {
  return openRange(node(request));
}

/** segmentIndexOf on node:crypto. */
export function segmentIndexOf(source: ByteSource): ReturnType<typeof indexOf> {
  return indexOf(source, nodeSegmentCrypto);
}

/** recordIdOfV2 on node:crypto. */
export function recordIdOfV2(envelope: Uint8Array): Promise<string> {
  return recordIdOfBytes(envelope, nodeSegmentCrypto);
}

/** A Node Readable of an async iterable of bytes (an envelope being sealed, a plaintext being opened). */
export function toNodeReadable(iterable: AsyncIterable<Uint8Array>): Readable {
  return Readable.from(iterable, { objectMode: false });
}

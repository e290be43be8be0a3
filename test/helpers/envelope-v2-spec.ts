/**
 * Envelope v2 as docs/envelope.md specifies it, written again from the document with node:crypto only
 * (HKDF, AES-256-GCM, SHA-256) and no SDK code, so the SDK is checked against the spec and not against
 * itself: the tests seal here and open with the SDK, and the other way round.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync } from "node:crypto";

export interface SpecContext {
  chainId: bigint;
  registry: string;
  patient: string;
  provider: string;
  dataClass: number;
  version: number;
  previousRecordId: string;
  contentType: number;
}

const hex = (value: string): Buffer => Buffer.from(value.replace(/^0x/, ""), "hex");
const sha256 = (bytes: Uint8Array): Buffer => createHash("sha256").update(bytes).digest();

export function specKeys(dataKey: Uint8Array, salt: Uint8Array): { encryptionKey: Buffer; commitment: Buffer } {
  const derive = (info: string) => Buffer.from(hkdfSync("sha256", dataKey, salt, Buffer.from(info, "utf8"), 32));
  return {
    encryptionKey: derive("consent-ledger/envelope/v2/encryption-key"),
    commitment: derive("consent-ledger/envelope/v2/key-commitment"),
  };
}

export function specNonce(index: number, final: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(BigInt(index), 3); // bytes 3..10: the low 64 bits of the 88-bit counter
  nonce[11] = final ? 1 : 0;
  return nonce;
}

export function specHeader(
  context: SpecContext,
  segmentSize: number,
  salt: Uint8Array,
  commitment: Uint8Array,
): Buffer {
  const header = Buffer.alloc(162);
  Buffer.from("CLR\x02", "latin1").copy(header, 0);
  header.writeBigUInt64BE(context.chainId, 4);
  hex(context.registry).copy(header, 12);
  hex(context.patient).copy(header, 32);
  hex(context.provider).copy(header, 52);
  header.writeUInt8(context.dataClass, 72);
  header.writeUInt32BE(context.version, 73);
  hex(context.previousRecordId).copy(header, 77);
  header.writeUInt8(context.contentType, 109);
  header.writeUInt32BE(segmentSize, 110);
  Buffer.from(salt).copy(header, 114);
  Buffer.from(commitment).copy(header, 130);
  return header;
}

/** seal per the spec: the envelope and its record id. */
export function specSeal(
  plaintext: Uint8Array,
  context: SpecContext,
  dataKey: Uint8Array,
  salt: Uint8Array,
  segmentSize: number,
): { envelope: Buffer; recordId: string } {
  const { encryptionKey, commitment } = specKeys(dataKey, salt);
  const header = specHeader(context, segmentSize, salt, commitment);
  const count = Math.max(1, Math.ceil(plaintext.length / segmentSize));
  const segments: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const cipher = createCipheriv("aes-256-gcm", encryptionKey, specNonce(i, i === count - 1));
    cipher.setAAD(header);
    const body = Buffer.concat([
      cipher.update(plaintext.subarray(i * segmentSize, (i + 1) * segmentSize)),
      cipher.final(),
    ]);
    segments.push(Buffer.concat([body, cipher.getAuthTag()]));
  }
  const recordId = `0x${sha256(Buffer.concat([header, ...segments.map(sha256)])).toString("hex")}`;
  return { envelope: Buffer.concat([header, ...segments]), recordId };
}

/** open per the spec: the plaintext and record id, or an Error saying which step failed. */
export function specOpen(envelope: Uint8Array, dataKey: Uint8Array): { plaintext: Buffer; recordId: string } {
  const bytes = Buffer.from(envelope);
  if (bytes.subarray(0, 4).toString("latin1") !== "CLR\x02") throw new Error("not a v2 envelope");
  const header = bytes.subarray(0, 162);
  const segmentSize = header.readUInt32BE(110);
  const salt = header.subarray(114, 130);
  const { encryptionKey, commitment } = specKeys(dataKey, salt);
  if (!commitment.equals(header.subarray(130, 162))) throw new Error("key commitment differs");
  const full = segmentSize + 16;
  const body = bytes.subarray(162);
  const count = Math.ceil(body.length / full);
  const plain: Buffer[] = [];
  const hashes: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const segment = body.subarray(i * full, (i + 1) * full);
    hashes.push(sha256(segment));
    const decipher = createDecipheriv("aes-256-gcm", encryptionKey, specNonce(i, i === count - 1));
    decipher.setAAD(header);
    decipher.setAuthTag(segment.subarray(segment.length - 16));
    plain.push(Buffer.concat([decipher.update(segment.subarray(0, segment.length - 16)), decipher.final()]));
  }
  return {
    plaintext: Buffer.concat(plain),
    recordId: `0x${sha256(Buffer.concat([header, ...hashes])).toString("hex")}`,
  };
}

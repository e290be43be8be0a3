/**
 * The primitives a segmented (v2) envelope needs, behind one small interface so each platform uses its
 * fastest native implementation: WebCrypto here (browsers, and Node when nothing else is given), and
 * node:crypto (OpenSSL, no promise per call) through "consent-ledger/node" (sdk/crypto/node/).
 *
 * Never a pure-JS AES: both implementations call the platform's AES-256-GCM and SHA-256.
 */
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";

import { AES_KEY_BYTES, GCM_TAG_BYTES } from "./aes-gcm";
import { asBufferSource, subtle } from "./webcrypto";

/** An incremental SHA-256. */
export interface Sha256Hasher {
  update(bytes: Uint8Array): void;
  digest(): Uint8Array;
}

/** AES-256-GCM and SHA-256 for envelope segments. A key is imported once per record. */
export interface SegmentCrypto {
  /** For reports and benchmarks: "webcrypto" or "node:crypto". */
  readonly name: string;
  /** How many segments to keep in flight: > 1 where calls are asynchronous (WebCrypto runs them off the main thread). */
  readonly parallelism: number;
  importKey(raw: Uint8Array): Promise<unknown> | unknown;
  /** ciphertext || 16-byte tag. */
  seal(key: unknown, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> | Uint8Array;
  /** The plaintext, or null when the tag does not verify. */
  open(
    key: unknown,
    nonce: Uint8Array,
    sealed: Uint8Array,
    aad: Uint8Array,
  ): Promise<Uint8Array | null> | Uint8Array | null;
  /** One-shot SHA-256 of a segment. */
  sha256(bytes: Uint8Array): Promise<Uint8Array> | Uint8Array;
  /** An incremental SHA-256 (for whole blobs that are not v2 envelopes). */
  createSha256(): Sha256Hasher;
}

/** WebCrypto: asynchronous, so several segments are in flight at once. */
export const webSegmentCrypto: SegmentCrypto = {
  name: "webcrypto",
  parallelism: 4,
  importKey(raw: Uint8Array): Promise<CryptoKey> {
    if (raw.length !== AES_KEY_BYTES) throw new RangeError(`AES-256 key must be ${AES_KEY_BYTES} bytes`);
    return subtle().importKey("raw", asBufferSource(raw), { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
  },
  async seal(key, nonce, plaintext, aad) {
    const params = {
      name: "AES-GCM",
      iv: asBufferSource(nonce),
      additionalData: asBufferSource(aad),
      tagLength: GCM_TAG_BYTES * 8,
    };
    return new Uint8Array(await subtle().encrypt(params, key as CryptoKey, asBufferSource(plaintext)));
  },
  async open(key, nonce, sealed, aad) {
    const params = {
      name: "AES-GCM",
      iv: asBufferSource(nonce),
      additionalData: asBufferSource(aad),
      tagLength: GCM_TAG_BYTES * 8,
    };
    try {
      return new Uint8Array(await subtle().decrypt(params, key as CryptoKey, asBufferSource(sealed)));
    } catch {
      return null;
    }
  },
  async sha256(bytes) {
    return new Uint8Array(await subtle().digest("SHA-256", asBufferSource(bytes)));
  },
  createSha256() {
    // WebCrypto has no incremental digest: noble's audited SHA-256 (slower) for whole-blob streaming.
    const hasher = nobleSha256.create();
    return { update: (bytes) => void hasher.update(bytes), digest: () => hasher.digest() };
  },
};

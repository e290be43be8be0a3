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
  /**
   * Optional: seal, then the SHA-256 of the sealed segment, in one step (where the work runs on another
   * thread, one round trip). Without it, `seal` then `sha256`.
   */
  sealAndHash?(
    key: unknown,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    aad: Uint8Array,
  ): Promise<[Uint8Array, Uint8Array]>;
  /**
   * Optional: `open`, and the SHA-256 of `sealed` when `hash` is true (else an empty array), in one step.
   * Without it, `open` and `sha256` side by side.
   */
  openAndHash?(
    key: unknown,
    nonce: Uint8Array,
    sealed: Uint8Array,
    aad: Uint8Array,
    hash: boolean,
  ): Promise<[Uint8Array | null, Uint8Array]>;
}

const NO_HASH = new Uint8Array(0);

/** A segment sealed under `key` and its SHA-256, through `crypto.sealAndHash` where it has one. */
export async function sealAndHash(
  crypto: SegmentCrypto,
  key: unknown,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Promise<[Uint8Array, Uint8Array]> {
  if (crypto.sealAndHash) return crypto.sealAndHash(key, nonce, plaintext, aad);
  const sealed = await crypto.seal(key, nonce, plaintext, aad);
  return [sealed, await crypto.sha256(sealed)];
}

/**
 * A segment opened under `key` (null when its tag does not verify) and, when `hash` is true, the SHA-256
 * of `sealed` (else an empty array), through `crypto.openAndHash` where it has one.
 */
export async function openAndHash(
  crypto: SegmentCrypto,
  key: unknown,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
  hash: boolean,
): Promise<[Uint8Array | null, Uint8Array]> {
  if (crypto.openAndHash) return crypto.openAndHash(key, nonce, sealed, aad, hash);
  // Both only read `sealed`: side by side, so asynchronous implementations overlap them.
  return Promise.all([crypto.open(key, nonce, sealed, aad), hash ? crypto.sha256(sealed) : NO_HASH]);
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

/**
 * The segment primitives on node:crypto (OpenSSL): synchronous calls, no promise or copy into WebCrypto
 * per segment, and an incremental SHA-256. Node only: exported from "consent-ledger/node".
 */
import { createCipheriv, createDecipheriv, createHash, createSecretKey, type KeyObject } from "node:crypto";

import type { SegmentCrypto } from "../segment-crypto";

const TAG_BYTES = 16;

export const nodeSegmentCrypto: SegmentCrypto = {
  name: "node:crypto",
  parallelism: 1,
  importKey(raw: Uint8Array): KeyObject {
    return createSecretKey(raw);
  },
  seal(key, nonce, plaintext, aad) {
    const cipher = createCipheriv("aes-256-gcm", key as KeyObject, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const out = new Uint8Array(plaintext.length + TAG_BYTES);
    out.set(cipher.update(plaintext), 0);
    cipher.final();
    out.set(cipher.getAuthTag(), plaintext.length);
    return out;
  },
  open(key, nonce, sealed, aad) {
    if (sealed.length < TAG_BYTES) return null;
    const split = sealed.length - TAG_BYTES;
    const decipher = createDecipheriv("aes-256-gcm", key as KeyObject, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(split));
    const out = decipher.update(sealed.subarray(0, split));
    try {
      decipher.final();
    } catch {
      out.fill(0); // unauthenticated plaintext never leaves this function
      return null;
    }
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  },
  sha256(bytes) {
    const digest = createHash("sha256").update(bytes).digest();
    return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
  },
  createSha256() {
    const hash = createHash("sha256");
    return {
      update: (bytes) => void hash.update(bytes),
      digest: () => {
        const digest = hash.digest();
        return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
      },
    };
  },
};

/**
 * Data keys at rest: each record's 32-byte data key is sealed with AES-256-GCM under the gateway's
 * master key, with a fresh random 12-byte IV and the record id (32 bytes) as additional data, so a
 * sealed key moved to another record's row fails to open. The master key never touches the disk through
 * this module; the data directory holds a check value that tells a wrong master key at start-up.
 *
 * The master key is imported once into a native node:crypto KeyObject (its bytes live in OpenSSL's
 * memory, outside the JavaScript heap and Buffer pool, so no heap snapshot or reused buffer shows them)
 * and the vault's own copy of the raw bytes is zeroed at once. Sealing and opening are synchronous
 * node:crypto AES-256-GCM calls with that KeyObject: every key release opens one sealed key, and a
 * WebCrypto call per release cost more than the AES itself. The bytes are those of sdk/crypto/aes-gcm.ts
 * (ciphertext || tag), so directories sealed before open alike. What else remains is listed in
 * SECURITY.md ("The gateway's master key").
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from "node:crypto";

import {
  AES_KEY_BYTES,
  bytesToHex,
  DecryptionError,
  GCM_IV_BYTES,
  GCM_TAG_BYTES,
  hexToBytes,
  randomBytes,
  utf8Encode,
} from "../sdk/index";

const CHECK_AAD = utf8Encode("consent-ledger/gateway/master-key-check/v1");
const CHECK_PLAINTEXT = utf8Encode("consent-ledger gateway master key");

/** The master key does not open this data directory. */
export class WrongMasterKeyError extends Error {
  override name = "WrongMasterKeyError";
}

export class KeyVault {
  private key: KeyObject | undefined;

  constructor(masterKey: Uint8Array) {
    if (!(masterKey instanceof Uint8Array) || masterKey.length !== AES_KEY_BYTES) {
      throw new Error(`the master key must be ${AES_KEY_BYTES} bytes`);
    }
    // Not from the Buffer pool: this copy is zeroed once imported, and only it.
    const copy = Buffer.alloc(AES_KEY_BYTES);
    copy.set(masterKey);
    try {
      this.key = createSecretKey(copy);
    } finally {
      copy.fill(0);
    }
  }

  /** Seals `dataKey` of record `recordId`: a fresh IV and the ciphertext with its tag. */
  async seal(recordId: string, dataKey: Uint8Array): Promise<{ iv: Uint8Array; ciphertext: Uint8Array }> {
    const iv = randomBytes(GCM_IV_BYTES);
    const ciphertext = this.encrypt(iv, dataKey, hexToBytes(recordId, { argument: "record id", length: 32 }));
    return { iv, ciphertext };
  }

  /** Opens a sealed data key; DecryptionError when the row was altered or moved, or the master key is wrong. */
  async open(recordId: string, sealed: { iv: Uint8Array; ciphertext: Uint8Array }): Promise<Uint8Array> {
    return this.decrypt(sealed.iv, sealed.ciphertext, hexToBytes(recordId, { argument: "record id", length: 32 }));
  }

  /**
   * Drops the vault's handle on the master key; the vault opens and seals nothing afterwards. (The
   * KeyObject's native copy cannot be zeroed from JavaScript: it is freed when collected.)
   */
  destroy(): void {
    this.key = undefined;
  }

  /** A value to store beside the sealed keys: `iv || ciphertext` of a constant, as hex. */
  async checkValue(): Promise<string> {
    const iv = randomBytes(GCM_IV_BYTES);
    const ciphertext = this.encrypt(iv, CHECK_PLAINTEXT, CHECK_AAD);
    return bytesToHex(iv) + bytesToHex(ciphertext).slice(2);
  }

  /** Throws WrongMasterKeyError unless `check` (from {checkValue}) opens with this master key. */
  async verifyCheckValue(check: string): Promise<void> {
    const bytes = hexToBytes(check, { argument: "master key check" });
    try {
      this.decrypt(bytes.subarray(0, GCM_IV_BYTES), bytes.subarray(GCM_IV_BYTES), CHECK_AAD);
    } catch (cause) {
      if (cause instanceof DecryptionError) {
        throw new WrongMasterKeyError(
          "the master key does not open this data directory (it was created with another master key)",
        );
      }
      throw cause;
    }
  }

  private live(): KeyObject {
    if (this.key === undefined) throw new Error("this key vault was destroyed (its gateway is closed)");
    return this.key;
  }

  private encrypt(iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
    const cipher = createCipheriv("aes-256-gcm", this.live(), iv);
    cipher.setAAD(aad);
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return new Uint8Array(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  }

  private decrypt(iv: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Uint8Array {
    const key = this.live();
    if (iv.length !== GCM_IV_BYTES || ciphertext.length < GCM_TAG_BYTES)
      throw new DecryptionError(
        `a sealed key needs a ${GCM_IV_BYTES}-byte IV and at least a ${GCM_TAG_BYTES}-byte tag`,
      );
    const decipher = createDecipheriv("aes-256-gcm", key, iv);
    decipher.setAAD(aad);
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - GCM_TAG_BYTES));
    try {
      const plain = Buffer.concat([
        decipher.update(ciphertext.subarray(0, ciphertext.length - GCM_TAG_BYTES)),
        decipher.final(),
      ]);
      return new Uint8Array(plain.buffer, plain.byteOffset, plain.byteLength);
    } catch (cause) {
      throw new DecryptionError(
        "AES-GCM authentication failed: wrong master key, or the sealed key was altered or moved",
        { cause },
      );
    }
  }
}

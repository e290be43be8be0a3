/**
 * Data keys at rest: each record's 32-byte data key is sealed with AES-256-GCM under the gateway's
 * master key, with a fresh random 12-byte IV and the record id (32 bytes) as additional data, so a
 * sealed key moved to another record's row fails to open. The master key never touches the disk through
 * this module; the data directory holds a check value that tells a wrong master key at start-up.
 *
 * Every key release opens one sealed key, so this uses node:crypto's AES-GCM directly (synchronous,
 * no WebCrypto key import per call); the bytes are those of sdk/crypto/aes-gcm.ts (ciphertext || tag),
 * so directories sealed before open alike.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";

import { AES_KEY_BYTES, GCM_IV_BYTES, GCM_TAG_BYTES } from "../sdk/crypto/aes-gcm";
import { bytesToHex, hexToBytes, randomBytes, utf8Encode } from "../sdk/crypto/bytes";
import { DecryptionError } from "../sdk/errors";

const CHECK_AAD = utf8Encode("consent-ledger/gateway/master-key-check/v1");
const CHECK_PLAINTEXT = utf8Encode("consent-ledger gateway master key");

/** The master key does not open this data directory. */
export class WrongMasterKeyError extends Error {
  override name = "WrongMasterKeyError";
}

function seal(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(aad);
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return new Uint8Array(sealed.buffer, sealed.byteOffset, sealed.byteLength);
}

function open(key: Uint8Array, iv: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  if (iv.length !== GCM_IV_BYTES || sealed.length < GCM_TAG_BYTES) {
    throw new DecryptionError("a sealed data key is truncated: its IV or tag is missing");
  }
  const decipher = createDecipheriv("aes-256-gcm", key, iv);
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - GCM_TAG_BYTES));
  try {
    const plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - GCM_TAG_BYTES)), decipher.final()]);
    return new Uint8Array(plain.buffer, plain.byteOffset, plain.byteLength);
  } catch (cause) {
    throw new DecryptionError("AES-GCM authentication failed: wrong key, or the ciphertext or its header was altered", {
      cause,
    });
  }
}

export class KeyVault {
  private readonly masterKey: Uint8Array;
  private destroyed = false;

  constructor(masterKey: Uint8Array) {
    if (!(masterKey instanceof Uint8Array) || masterKey.length !== AES_KEY_BYTES) {
      throw new Error(`the master key must be ${AES_KEY_BYTES} bytes`);
    }
    this.masterKey = Uint8Array.from(masterKey);
  }

  /** Seals `dataKey` of record `recordId`: a fresh IV and the ciphertext with its tag. */
  async seal(recordId: string, dataKey: Uint8Array): Promise<{ iv: Uint8Array; ciphertext: Uint8Array }> {
    this.requireLive();
    const iv = randomBytes(GCM_IV_BYTES);
    const ciphertext = seal(this.masterKey, iv, dataKey, hexToBytes(recordId, { argument: "record id", length: 32 }));
    return { iv, ciphertext };
  }

  /** Opens a sealed data key; DecryptionError when the row was altered or moved, or the master key is wrong. */
  async open(recordId: string, sealed: { iv: Uint8Array; ciphertext: Uint8Array }): Promise<Uint8Array> {
    this.requireLive();
    return open(this.masterKey, sealed.iv, sealed.ciphertext, hexToBytes(recordId, { argument: "record id", length: 32 }));
  }

  /** Zeroes this vault's copy of the master key; the vault opens and seals nothing afterwards. */
  destroy(): void {
    this.masterKey.fill(0);
    this.destroyed = true;
  }

  /** A value to store beside the sealed keys: `iv || ciphertext` of a constant, as hex. */
  async checkValue(): Promise<string> {
    const iv = randomBytes(GCM_IV_BYTES);
    const ciphertext = seal(this.masterKey, iv, CHECK_PLAINTEXT, CHECK_AAD);
    return bytesToHex(iv) + bytesToHex(ciphertext).slice(2);
  }

  /** Throws WrongMasterKeyError unless `check` (from {checkValue}) opens with this master key. */
  async verifyCheckValue(check: string): Promise<void> {
    const bytes = hexToBytes(check, { argument: "master key check" });
    try {
      open(this.masterKey, bytes.subarray(0, GCM_IV_BYTES), bytes.subarray(GCM_IV_BYTES), CHECK_AAD);
    } catch (cause) {
      if (cause instanceof DecryptionError) {
        throw new WrongMasterKeyError(
          "the master key does not open this data directory (it was created with another master key)",
        );
      }
      throw cause;
    }
  }

  private requireLive(): void {
    // An all-zero key would still "work": refuse rather than seal under it.
    if (this.destroyed) throw new Error("this key vault was destroyed (its gateway is closed)");
  }
}

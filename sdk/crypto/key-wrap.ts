/**
 * Wrapping a record's data key to one reader's X25519 public key (ECIES: X25519 + HKDF-SHA256 +
 * AES-256-GCM), bound to the record it belongs to.
 *
 * Format v1, 96 bytes:
 *
 *   offset  size  field
 *        0     4  magic "CLK" (0x43 0x4c 0x4b) followed by the format version 0x01
 *        4    32  ephemeral X25519 public key (fresh per wrap)
 *       36    12  iv (random)
 *       48    48  AES-256-GCM(kek, iv, dataKey (32 bytes), aad) with its 16-byte tag
 *
 *   shared = X25519(ephemeralSecret, recipientPublic)      (refused if all zero: low-order point)
 *   kek    = HKDF-SHA256(ikm = shared, salt = ephemeralPublic || recipientPublic,
 *                        info = utf8("consent-ledger/key-wrap/v1") || recordId (32 bytes), length 32)
 *   aad    = magic || ephemeralPublic || recipientPublic || recordId
 *
 * So a wrapped key opens only with its recipient's secret key, and only for the record id it was wrapped
 * for: moving it to another record or another reader fails. The recipient's public key is not in the
 * blob (the reader knows their own), but it is bound through the salt and the AAD.
 */
import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";

import { DecryptionError, FormatError, InvalidArgumentError, WrongRecipientKeyError } from "../errors";
import { aesGcmDecrypt, aesGcmEncrypt, AES_KEY_BYTES, GCM_IV_BYTES } from "./aes-gcm";
import { bytesEqual, bytesToHex, concatBytes, hexToBytes, isAllZero, randomBytes, utf8Encode } from "./bytes";
import type { EncryptionKeyPair } from "./keys";

/** "CLK" + format version 1. */
export const WRAPPED_KEY_MAGIC: Uint8Array = Uint8Array.of(0x43, 0x4c, 0x4b, 0x01);
export const WRAPPED_KEY_FORMAT_VERSION = 1;
export const WRAPPED_KEY_BYTES = 96;
export const KEY_WRAP_INFO = "consent-ledger/key-wrap/v1";

const X25519_BYTES = 32;
const INFO_PREFIX = utf8Encode(KEY_WRAP_INFO);
const EPK_OFFSET = 4;
const IV_OFFSET = EPK_OFFSET + X25519_BYTES;
const CT_OFFSET = IV_OFFSET + GCM_IV_BYTES;

function checkKey(argument: string, key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== X25519_BYTES)
    throw new InvalidArgumentError(
      argument,
      `expected ${X25519_BYTES} bytes, got ${key instanceof Uint8Array ? key.length : typeof key}`,
    );
}

/**
 * Secret keys whose public key was checked, with that public key: X25519 in pure JS costs milliseconds,
 * and a reader unwraps many keys with one key pair. A weak map, so it never keeps a key alive.
 */
const verifiedKeyPairs = new WeakMap<Uint8Array, Uint8Array>();

function isVerifiedKeyPair(keyPair: EncryptionKeyPair): boolean {
  const known = verifiedKeyPairs.get(keyPair.secretKey);
  if (known !== undefined && bytesEqual(known, keyPair.publicKey)) return true;
  const derived = x25519.getPublicKey(keyPair.secretKey);
  if (!bytesEqual(derived, keyPair.publicKey)) return false;
  verifiedKeyPairs.set(keyPair.secretKey, derived);
  return true;
}

function recordIdBytes(recordId: string): Uint8Array {
  return hexToBytes(recordId, { argument: "record id", length: 32 });
}

/**
 * The X25519 operations a wrap needs. The default is @noble/curves (pure JS, runs anywhere); the Node
 * entry point offers node:crypto's (sdk/crypto/node/key-wrap.ts), several times faster, same results.
 */
export interface X25519Backend {
  /**
   * A fresh ephemeral key pair: its public key, and its shared secret with `publicKey`; the ephemeral
   * secret never leaves. May throw on a low-order `publicKey`; an all-zero secret is refused below.
   */
  ephemeralAgreement(publicKey: Uint8Array): { ephemeralPublic: Uint8Array; shared: Uint8Array };
}

/** The default backend: @noble/curves. */
const nobleX25519: X25519Backend = {
  ephemeralAgreement(publicKey) {
    const ephemeralSecret = randomBytes(X25519_BYTES);
    try {
      return {
        ephemeralPublic: x25519.getPublicKey(ephemeralSecret),
        shared: x25519.getSharedSecret(ephemeralSecret, publicKey),
      };
    } finally {
      ephemeralSecret.fill(0);
    }
  },
};

/** X25519, with low-order points (noble throws on them) and an all-zero result mapped to FormatError. */
function sharedSecret(secretKey: Uint8Array, publicKey: Uint8Array, what: string, hint: string): Uint8Array {
  return agreed(() => x25519.getSharedSecret(secretKey, publicKey), what, hint);
}

/** The result of an X25519 agreement, with a throw (low-order point) or an all-zero result as FormatError. */
function agreed(agree: () => Uint8Array, what: string, hint: string): Uint8Array {
  let shared: Uint8Array;
  try {
    shared = agree();
  } catch (cause) {
    throw new FormatError(what, "is a low-order X25519 point, not a usable public key", { hint, cause });
  }
  if (isAllZero(shared))
    throw new FormatError(what, "gives an all-zero X25519 shared secret (low-order point)", { hint });
  return shared;
}

/** One wrapping format: a data key (the v1 format above) or a key share (below); same construction. */
interface WrapFormat {
  magic: Uint8Array;
  info: Uint8Array;
  /** The exact length of what is wrapped. */
  payloadBytes: number;
  /** For messages: "data key" or "key share". */
  what: string;
}

const DATA_KEY_FORMAT: WrapFormat = {
  magic: WRAPPED_KEY_MAGIC,
  info: INFO_PREFIX,
  payloadBytes: AES_KEY_BYTES,
  what: "data key",
};

/**
 * Key shares (Shamir shares of a data key, sdk/crypto/key-shares.ts): 33 bytes (32 of the share's
 * polynomial values and its x coordinate), wrapped exactly as a data key but under their own magic
 * "CLS" 0x01 and HKDF info "consent-ledger/share-wrap/v1", so a share never opens as a data key nor a
 * data key as a share. 4 + 32 + 12 + 33 + 16 = 97 bytes.
 */
export const WRAPPED_SHARE_MAGIC: Uint8Array = Uint8Array.of(0x43, 0x4c, 0x53, 0x01);
export const KEY_SHARE_BYTES = AES_KEY_BYTES + 1;
export const WRAPPED_SHARE_BYTES = 4 + X25519_BYTES + GCM_IV_BYTES + KEY_SHARE_BYTES + 16;
export const SHARE_WRAP_INFO = "consent-ledger/share-wrap/v1";

const SHARE_FORMAT: WrapFormat = {
  magic: WRAPPED_SHARE_MAGIC,
  info: utf8Encode(SHARE_WRAP_INFO),
  payloadBytes: KEY_SHARE_BYTES,
  what: "key share",
};

function keyEncryptionKey(
  format: WrapFormat,
  shared: Uint8Array,
  ephemeralPublic: Uint8Array,
  recipientPublic: Uint8Array,
  recordId: Uint8Array,
): Uint8Array {
  return hkdf(
    sha256,
    shared,
    concatBytes(ephemeralPublic, recipientPublic),
    concatBytes(format.info, recordId),
    AES_KEY_BYTES,
  );
}

/**
 * Wraps the 32-byte `dataKey` of record `recordId` to `recipientPublicKey` (32-byte X25519): 96 bytes.
 * `options.x25519` swaps the curve implementation, not the format.
 */
export async function wrapDataKey(
  dataKey: Uint8Array,
  recipientPublicKey: Uint8Array,
  recordId: string,
  options: WrapBackends = {},
): Promise<Uint8Array> {
  if (!(dataKey instanceof Uint8Array) || dataKey.length !== AES_KEY_BYTES)
    throw new InvalidArgumentError("data key", `expected ${AES_KEY_BYTES} bytes`, {
      hint: "Pass the data key returned by sealRecord.",
    });
  return wrapWith(DATA_KEY_FORMAT, dataKey, recipientPublicKey, recordId, options);
}

/** How a wrap is computed: the curve and the AES-GCM implementation (never the format). */
interface WrapBackends {
  x25519?: X25519Backend;
  /** AES-256-GCM encryption (ciphertext || tag); default sdk/crypto/aes-gcm.ts (WebCrypto). */
  aesGcmEncrypt?: (key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array) => Promise<Uint8Array>;
}

/** Wraps a 33-byte key share of record `recordId` to `recipientPublicKey`: 97 bytes (format above). */
export async function wrapKeyShare(
  share: Uint8Array,
  recipientPublicKey: Uint8Array,
  recordId: string,
  options: WrapBackends = {},
): Promise<Uint8Array> {
  if (!(share instanceof Uint8Array) || share.length !== KEY_SHARE_BYTES)
    throw new InvalidArgumentError("key share", `expected ${KEY_SHARE_BYTES} bytes`, {
      hint: "Pass a share from splitDataKey.",
    });
  return wrapWith(SHARE_FORMAT, share, recipientPublicKey, recordId, options);
}

async function wrapWith(
  format: WrapFormat,
  payload: Uint8Array,
  recipientPublicKey: Uint8Array,
  recordId: string,
  backends: WrapBackends,
): Promise<Uint8Array> {
  const curve = backends.x25519 ?? nobleX25519;
  checkKey("recipient public key", recipientPublicKey);
  const rid = recordIdBytes(recordId);

  let ephemeralPublic: Uint8Array = new Uint8Array(0);
  const shared = agreed(
    () => {
      const agreement = curve.ephemeralAgreement(recipientPublicKey);
      ephemeralPublic = agreement.ephemeralPublic;
      return agreement.shared;
    },
    "recipient public key",
    "The recipient's registered key is not a real X25519 public key: ask them to register their key again.",
  );
  const kek = keyEncryptionKey(format, shared, ephemeralPublic, recipientPublicKey, rid);
  shared.fill(0);
  const iv = randomBytes(GCM_IV_BYTES);
  const aad = concatBytes(format.magic, ephemeralPublic, recipientPublicKey, rid);
  const ciphertext = await (backends.aesGcmEncrypt ?? aesGcmEncrypt)(kek, iv, payload, aad);
  kek.fill(0);
  return concatBytes(format.magic, ephemeralPublic, iv, ciphertext);
}

/**
 * The data key inside `wrapped`, opened with `recipient` for record `recordId`. Throws FormatError when
 * `wrapped` is not a v1 wrapped key, and WrongRecipientKeyError when it does not open with this key pair
 * for this record.
 */
export async function unwrapDataKey(
  wrapped: Uint8Array,
  recipient: EncryptionKeyPair,
  recordId: string,
): Promise<Uint8Array> {
  return unwrapWith(DATA_KEY_FORMAT, wrapped, recipient, recordId);
}

/** The key share inside `wrapped` (wrapKeyShare), opened with `recipient` for record `recordId`; errors as unwrapDataKey. */
export async function unwrapKeyShare(
  wrapped: Uint8Array,
  recipient: EncryptionKeyPair,
  recordId: string,
): Promise<Uint8Array> {
  return unwrapWith(SHARE_FORMAT, wrapped, recipient, recordId);
}

async function unwrapWith(
  format: WrapFormat,
  wrapped: Uint8Array,
  recipient: EncryptionKeyPair,
  recordId: string,
): Promise<Uint8Array> {
  const what = `wrapped ${format.what}`;
  const label = new TextDecoder().decode(format.magic.subarray(0, 3));
  const expectedBytes = 4 + X25519_BYTES + GCM_IV_BYTES + format.payloadBytes + 16;
  if (!(wrapped instanceof Uint8Array)) throw new InvalidArgumentError(what, "expected a Uint8Array");
  if (wrapped.length < format.magic.length || !bytesEqual(wrapped.subarray(0, 3), format.magic.subarray(0, 3)))
    throw new FormatError(what, `it does not start with the magic "${label}"`, {
      hint: `These bytes are not a Consent Ledger wrapped ${format.what}: check what the gateway or custodian returned.`,
    });
  if (wrapped[3] !== format.magic[3])
    throw new FormatError(what, `unsupported format version ${wrapped[3]}`, {
      hint: `This SDK reads wrapped-${format.what} format ${format.magic[3]}; upgrade the SDK.`,
    });
  if (wrapped.length !== expectedBytes)
    throw new FormatError(what, `${wrapped.length} bytes, expected exactly ${expectedBytes}`, {
      hint: `The wrapped ${format.what} was truncated or padded in transit: fetch it again.`,
    });
  if (typeof recipient !== "object" || recipient === null)
    throw new InvalidArgumentError("recipient key pair", "expected { publicKey, secretKey }");
  checkKey("recipient secret key", recipient.secretKey);
  checkKey("recipient public key", recipient.publicKey);
  if (!isVerifiedKeyPair(recipient))
    throw new InvalidArgumentError("recipient key pair", "its public key is not the public key of its secret key", {
      hint: "Pass the key pair exactly as deriveEncryptionKeyPair or generateEncryptionKeyPair returned it.",
    });
  const rid = recordIdBytes(recordId);

  const ephemeralPublic = wrapped.subarray(EPK_OFFSET, IV_OFFSET);
  const iv = wrapped.subarray(IV_OFFSET, CT_OFFSET);
  const ciphertext = wrapped.subarray(CT_OFFSET);
  const shared = sharedSecret(
    recipient.secretKey,
    ephemeralPublic,
    `${what} (its ephemeral public key)`,
    `The wrapped ${format.what} was altered or forged: ask the custodian to wrap it again.`,
  );
  const kek = keyEncryptionKey(format, shared, ephemeralPublic, recipient.publicKey, rid);
  shared.fill(0);
  const aad = concatBytes(format.magic, ephemeralPublic, recipient.publicKey, rid);
  try {
    return await aesGcmDecrypt(kek, iv, ciphertext, aad);
  } catch (cause) {
    if (!(cause instanceof DecryptionError)) throw cause;
    throw new WrongRecipientKeyError(
      `This ${what} does not open with your encryption key for record ${bytesToHex(rid)}`,
      {
        hint:
          "It was wrapped to another public key, or for another record. Check that the key registered in KeyDirectory " +
          "for your account is the one you derived from this wallet (or stored), and that the custodian wrapped to it " +
          `after your last registration; then ask for the ${format.what} to be wrapped again.`,
        details: `your public key ${bytesToHex(recipient.publicKey)}`,
        cause,
      },
    );
  } finally {
    kek.fill(0);
  }
}

/**
 * AES-256-GCM through WebCrypto (`globalThis.crypto.subtle`): 32-byte key, 12-byte IV, 16-byte tag
 * appended to the ciphertext, optional additional authenticated data. Never a pure-JS AES.
 *
 * The caller owns IV uniqueness: with a random 96-bit IV per message, one key may seal up to 2^32
 * messages (NIST SP 800-38D). The SDK uses a fresh key per record and per wrapped key, so it never gets
 * close.
 */
import { DecryptionError, FormatError, InvalidArgumentError } from "../errors";
import { asBufferSource, subtle } from "./webcrypto";

export const AES_KEY_BYTES = 32;
export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;

const EMPTY = new Uint8Array(0);

function checkLength(argument: string, bytes: Uint8Array, length: number): void {
  if (!(bytes instanceof Uint8Array))
    throw new InvalidArgumentError(argument, `expected a Uint8Array of ${length} bytes`);
  if (bytes.length !== length)
    throw new InvalidArgumentError(argument, `expected ${length} bytes, got ${bytes.length}`);
}

async function importKey(key: Uint8Array, usage: "encrypt" | "decrypt"): Promise<CryptoKey> {
  checkLength("AES-256 key", key, AES_KEY_BYTES);
  return subtle().importKey("raw", asBufferSource(key), { name: "AES-GCM" }, false, [usage]);
}

function params(iv: Uint8Array, aad: Uint8Array): AesGcmParams {
  checkLength("AES-GCM IV", iv, GCM_IV_BYTES);
  if (!(aad instanceof Uint8Array)) throw new InvalidArgumentError("AES-GCM additional data", "expected a Uint8Array");
  return { name: "AES-GCM", iv: asBufferSource(iv), additionalData: asBufferSource(aad), tagLength: GCM_TAG_BYTES * 8 };
}

/** `plaintext` encrypted under `key` and `iv`, authenticated with `aad`: ciphertext || 16-byte tag. */
export async function aesGcmEncrypt(
  key: Uint8Array,
  iv: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array = EMPTY,
): Promise<Uint8Array> {
  if (!(plaintext instanceof Uint8Array)) throw new InvalidArgumentError("plaintext", "expected a Uint8Array");
  const algorithm = params(iv, aad);
  const cryptoKey = await importKey(key, "encrypt");
  return new Uint8Array(await subtle().encrypt(algorithm, cryptoKey, asBufferSource(plaintext)));
}

/**
 * The plaintext of `ciphertext` (with its tag) under `key`, `iv` and `aad`. Throws DecryptionError when
 * the tag does not verify: a wrong key, or the ciphertext, IV or additional data were altered.
 */
export async function aesGcmDecrypt(
  key: Uint8Array,
  iv: Uint8Array,
  ciphertext: Uint8Array,
  aad: Uint8Array = EMPTY,
): Promise<Uint8Array> {
  if (!(ciphertext instanceof Uint8Array)) throw new InvalidArgumentError("ciphertext", "expected a Uint8Array");
  if (ciphertext.length < GCM_TAG_BYTES)
    throw new FormatError(
      "AES-GCM ciphertext",
      `${ciphertext.length} bytes is shorter than its ${GCM_TAG_BYTES}-byte tag`,
    );
  const algorithm = params(iv, aad);
  const cryptoKey = await importKey(key, "decrypt");
  try {
    return new Uint8Array(await subtle().decrypt(algorithm, cryptoKey, asBufferSource(ciphertext)));
  } catch (cause) {
    throw new DecryptionError("AES-GCM authentication failed: wrong key, or the ciphertext or its header was altered", {
      hint: "Check you use the data key of this very record; if you do, the stored bytes were changed: fetch them again.",
      cause,
    });
  }
}

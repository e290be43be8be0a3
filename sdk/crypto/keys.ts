/**
 * Account encryption keys: X25519 key pairs that data keys are wrapped to (sdk/crypto/key-wrap.ts), whose
 * public halves are published in KeyDirectory as bytes32.
 *
 * A key pair is derived from a wallet signature, so the same wallet always yields the same key and there
 * is no second secret to back up:
 *
 *   message   = encryptionKeyMessage(address)                 (fixed EIP-191 personal message, below)
 *   signature = wallet.signMessage(message)                    (65 bytes r || s || v, or 64-byte EIP-2098)
 *   ikm       = r || s, with s in its low-s form (v dropped)   (64 bytes)
 *   secretKey = HKDF-SHA256(ikm, salt = utf8("consent-ledger/x25519/v1"), info = address (20 bytes), 32)
 *   publicKey = X25519(secretKey, basepoint)
 *
 * Why r || low-s and not the raw signature bytes: the same key signing the same message may be reported
 * with v = 27/28 or 0/1, in 65-byte or 64-byte (EIP-2098) form, or with the high-s twin of s, depending
 * on the wallet software. None of that changes r or |s|, so one key always derives one encryption key.
 *
 * Determinism rests on the wallet signing deterministically: externally owned accounts do (ECDSA nonces
 * per RFC 6979, as every mainstream wallet and hardware wallet uses). A wallet whose signatures are not
 * deterministic (most smart-contract wallets, MPC wallets) would derive a new key each time: such an
 * account must generateEncryptionKeyPair() once and store the secret key itself.
 *
 * The signature IS the secret: never send it anywhere. Anyone who gets the account to sign this exact
 * message (for example a phishing site) learns the encryption key; the message says what it is for so
 * the user can recognise it.
 */
import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { getAddress, verifyMessage } from "ethers";

import { ConsentLedgerError, InvalidArgumentError } from "../errors";
import { bytesEqual, bytesToHex, hexToBytes, isAllZero, randomBytes, utf8Encode } from "./bytes";

/** An X25519 key pair: 32-byte public key and 32-byte secret key. */
export interface EncryptionKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** Anything that can say its address and sign an EIP-191 personal message (an ethers Signer, a wallet). */
export interface MessageSigner {
  getAddress(): Promise<string>;
  signMessage(message: string): Promise<string>;
}

export const X25519_KEY_BYTES = 32;
/** HKDF salt of the signature-derived key. */
export const KEY_DERIVATION_SALT = "consent-ledger/x25519/v1";
export const ENCRYPTION_KEY_MESSAGE_VERSION = 1;

/** secp256k1 group order. */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

function checksummed(address: string, argument: string): string {
  try {
    return getAddress(address);
  } catch (cause) {
    throw new InvalidArgumentError(argument, `${String(address)} is not an Ethereum address`, {
      hint: "Pass a 0x-prefixed 20-byte address (all lowercase, or with a correct EIP-55 checksum).",
      cause,
    });
  }
}

/** A fresh random key pair, for accounts that store their key rather than derive it. */
export function generateEncryptionKeyPair(): EncryptionKeyPair {
  return keyPairFromSecretKey(randomBytes(X25519_KEY_BYTES));
}

/** The key pair of a stored 32-byte X25519 secret key. */
export function keyPairFromSecretKey(secretKey: Uint8Array): EncryptionKeyPair {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== X25519_KEY_BYTES)
    throw new InvalidArgumentError("X25519 secret key", `expected ${X25519_KEY_BYTES} bytes`);
  return { publicKey: x25519.getPublicKey(secretKey), secretKey: Uint8Array.from(secretKey) };
}

/** The fixed, human-readable message an account signs to derive its encryption key. */
export function encryptionKeyMessage(address: string): string {
  const account = checksummed(address, "address");
  return (
    "Consent Ledger encryption key\n\n" +
    "Signing this message derives your encryption key. It costs nothing and does not send a transaction.\n\n" +
    `Account: ${account}\n` +
    `Version: ${ENCRYPTION_KEY_MESSAGE_VERSION}`
  );
}

/** r || s of an ECDSA signature, s in low-s form: the part of a signature every wallet agrees on. */
function signatureSecret(signature: string): Uint8Array {
  const bytes = hexToBytes(signature, { argument: "signature" });
  if (bytes.length !== 65 && bytes.length !== 64)
    throw new InvalidArgumentError("signature", `expected a 65-byte (or 64-byte EIP-2098) ECDSA signature, got ${bytes.length} bytes`, {
      hint:
        "Sign encryptionKeyMessage(address) with an externally owned account. Contract and MPC wallets cannot " +
        "derive a key: generate one with generateEncryptionKeyPair() and store it.",
    });
  const r = BigInt(bytesToHex(bytes.subarray(0, 32)));
  let s = BigInt(bytesToHex(bytes.subarray(32, 64)));
  if (bytes.length === 64) s &= (1n << 255n) - 1n; // EIP-2098: the top bit carries yParity
  if (r === 0n || r >= SECP256K1_N || s === 0n || s >= SECP256K1_N)
    throw new InvalidArgumentError("signature", "r or s is out of range for secp256k1", { hint: "Pass the signature exactly as the wallet returned it." });
  if (s > SECP256K1_N / 2n) s = SECP256K1_N - s;
  return hexToBytes(`0x${r.toString(16).padStart(64, "0")}${s.toString(16).padStart(64, "0")}`);
}

/**
 * The key pair derived from `signature`, the account's signature of encryptionKeyMessage(address).
 * Deterministic: the same account and signature always give the same key pair.
 */
export function keyPairFromSignature(signature: string, address: string): EncryptionKeyPair {
  const account = hexToBytes(checksummed(address, "address"), { length: 20 });
  const ikm = signatureSecret(signature);
  const secretKey = hkdf(sha256, ikm, utf8Encode(KEY_DERIVATION_SALT), account, X25519_KEY_BYTES);
  ikm.fill(0);
  return { publicKey: x25519.getPublicKey(secretKey), secretKey };
}

/**
 * Asks `signer` to sign encryptionKeyMessage(its address) and derives its key pair. Checks the signature
 * recovers to the signer's address, so a contract wallet (whose signatures need not be deterministic) is
 * refused rather than given a key it could not derive again.
 */
export async function deriveEncryptionKeyPair(signer: MessageSigner): Promise<EncryptionKeyPair> {
  const address = checksummed(await signer.getAddress(), "signer address");
  const message = encryptionKeyMessage(address);
  let signature: string;
  try {
    signature = await signer.signMessage(message);
  } catch (cause) {
    throw new ConsentLedgerError("The wallet did not sign the encryption-key message", {
      hint: "Approve the signature request in the wallet: it costs nothing and sends no transaction.",
      cause,
    });
  }
  let recovered: string | undefined;
  try {
    recovered = verifyMessage(message, signature);
  } catch {
    recovered = undefined;
  }
  if (recovered !== address)
    throw new InvalidArgumentError("signer", `its signature does not recover to ${address}`, {
      hint:
        "Only an externally owned account can derive its encryption key from a signature. For a contract or " +
        "MPC wallet, generate a key with generateEncryptionKeyPair(), store its secret key, and register its public key.",
      details: `recovered ${recovered ?? "nothing"}`,
    });
  return keyPairFromSignature(signature, address);
}

/** A public key as the bytes32 KeyDirectory stores. Refuses the zero key, which KeyDirectory rejects. */
export function publicKeyToBytes32(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== X25519_KEY_BYTES)
    throw new InvalidArgumentError("X25519 public key", `expected ${X25519_KEY_BYTES} bytes`);
  if (isAllZero(publicKey)) throw new InvalidArgumentError("X25519 public key", "is all zero", { hint: "Derive or generate a key pair first." });
  return bytesToHex(publicKey);
}

/**
 * The public key in a KeyDirectory bytes32. Refuses zero: KeyDirectory.keyOf returns zero for an account
 * that has registered no key (or withdrew it).
 */
export function bytes32ToPublicKey(value: string): Uint8Array {
  const publicKey = hexToBytes(value, { argument: "X25519 public key", length: X25519_KEY_BYTES });
  if (isAllZero(publicKey))
    throw new InvalidArgumentError("X25519 public key", "is zero: the account has no key registered in KeyDirectory", {
      hint: "Ask the account holder to register an encryption key (or re-register it after a withdrawal).",
    });
  return publicKey;
}

/** Whether `keyPair.publicKey` is the public key of `keyPair.secretKey`. */
export function isConsistentKeyPair(keyPair: EncryptionKeyPair): boolean {
  return bytesEqual(x25519.getPublicKey(keyPair.secretKey), keyPair.publicKey);
}

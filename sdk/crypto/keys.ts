/**
 * Account encryption keys: X25519 key pairs that data keys are wrapped to (sdk/crypto/key-wrap.ts), whose
 * public halves are published in KeyDirectory as bytes32.
 *
 * A key pair is derived from a wallet signature, so the same wallet always yields the same key and there
 * is no second secret to back up. Two message versions:
 *
 *   v2 (scoped, for new keys): encryptionKeyMessage(address, scope) names the domain (the dApp's host),
 *      the chain id and the KeyDirectory, and warns that the signature is the key to every record shared
 *      with the account; salt "consent-ledger/x25519/v2". A page on another domain that asks for it must
 *      ask for a message naming the real domain, which the user is told to sign nowhere else, and a
 *      message naming its own domain derives another key.
 *   v1 (unscoped, legacy): encryptionKeyMessage(address); salt "consent-ledger/x25519/v1". Still derived
 *      (no scope given) so keys registered under it keep opening what was wrapped to them; migrate with
 *      migrateEncryptionKey: derive both, register the v2 public key, keep the v1 pair for old wraps.
 *
 *   message   = encryptionKeyMessage(address[, scope])        (EIP-191 personal message, below)
 *   signature = wallet.signMessage(message)                    (65 bytes r || s || v, or 64-byte EIP-2098)
 *   ikm       = r || s, with s in its low-s form (v dropped)   (64 bytes)
 *   secretKey = HKDF-SHA256(ikm, salt = utf8("consent-ledger/x25519/v" + version), info = address (20 bytes), 32)
 *   publicKey = X25519(secretKey, basepoint)
 *
 * Why r || low-s and not the raw signature bytes: the same key signing the same message may be reported
 * with v = 27/28 or 0/1, in 65-byte or 64-byte (EIP-2098) form, or with the high-s twin of s, depending
 * on the wallet software. None of that changes r or |s|, so one key always derives one encryption key.
 *
 * Determinism rests on the wallet signing deterministically: externally owned accounts do (ECDSA nonces
 * per RFC 6979, as every mainstream wallet and hardware wallet uses). A wallet whose signatures are not
 * deterministic (hedged ECDSA, MPC wallets, most smart-contract wallets) would derive a new key each
 * time, so deriveEncryptionKeyPair checks: it compares the derived public key with the registered one
 * when the caller passes it, and otherwise asks for the signature twice and compares; a difference is a
 * NonDeterministicSignerError telling the account to generateEncryptionKeyPair() once and store it.
 *
 * The signature IS the secret: never send it anywhere. Anyone who gets the account to sign this exact
 * message (for example a phishing site) learns the encryption key; the message says what it is for so
 * the user can recognise it.
 */
import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";

import { getAddress } from "../core/hex";
import { recoverMessageAddress } from "../core/personal-sign";
import {
  isViemClient,
  isViemWalletClient,
  publicClientCannotSign,
  viemAccountAddress,
  type ViemWalletClientLike,
} from "../core/viem-client";
import { ConsentLedgerError, InvalidArgumentError } from "../errors";
import { bytesEqual, bytesToHex, hexToBytes, isAllZero, randomBytes, utf8Encode } from "./bytes";

/** An X25519 key pair: 32-byte public key and 32-byte secret key. */
export interface EncryptionKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/**
 * Anything that can say its address and sign an EIP-191 personal message: an ethers Signer as it is, a
 * viem WalletClient through messageSignerOf. Neither library is imported here.
 */
export interface MessageSigner {
  getAddress(): Promise<string>;
  signMessage(message: string): Promise<string>;
}

/** A MessageSigner for an ethers Signer (itself) or a viem WalletClient (its account, local or JSON-RPC). */
export function messageSignerOf(input: MessageSigner | ViemWalletClientLike): MessageSigner {
  if (!isViemClient(input)) return input as MessageSigner;
  if (!isViemWalletClient(input)) throw publicClientCannotSign();
  const client = input;
  return {
    getAddress: () => viemAccountAddress(client),
    signMessage: async (message) =>
      client.signMessage({ account: client.account ?? (await viemAccountAddress(client)), message } as never),
  };
}

export const X25519_KEY_BYTES = 32;
/** HKDF salt of the signature-derived key, message version 1 (legacy, unscoped). */
export const KEY_DERIVATION_SALT = "consent-ledger/x25519/v1";
/** HKDF salt of the signature-derived key, message version 2 (scoped). */
export const KEY_DERIVATION_SALT_V2 = "consent-ledger/x25519/v2";
/** The version of the unscoped (legacy) message. */
export const ENCRYPTION_KEY_MESSAGE_VERSION = 1;
/** The version of the scoped message. */
export const ENCRYPTION_KEY_MESSAGE_VERSION_SCOPED = 2;

/** Where a derived key may be asked for: the v2 message names all three. */
export interface KeyScope {
  /** The dApp's host as the user sees it in the address bar, e.g. "app.consent-ledger.example". */
  domain: string;
  chainId: bigint | number;
  /** The KeyDirectory contract the key is registered in. */
  keyDirectory: string;
}

/** The wallet's signatures differ from one request to the next: it cannot derive a stable key. */
export class NonDeterministicSignerError extends ConsentLedgerError {
  override name = "NonDeterministicSignerError";
  constructor(
    readonly account: string,
    details: string,
  ) {
    super(
      `The wallet of ${account} does not sign deterministically: it would derive a different encryption key each time`,
      {
        hint:
          "Generate a key once with generateEncryptionKeyPair(), store its secret key safely (cli: key file; dApp: " +
          "an exported backup), and register its public key. Hedged-ECDSA, MPC and contract wallets work this way.",
        details,
      },
    );
  }
}

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

/** A domain as a message may show it: a host name, optionally with a port; no scheme, path or line break. */
export const DOMAIN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$/;

function checkScope(scope: KeyScope): { domain: string; chainId: bigint; keyDirectory: string } {
  if (typeof scope !== "object" || scope === null)
    throw new InvalidArgumentError("key scope", "expected { domain, chainId, keyDirectory }");
  if (typeof scope.domain !== "string" || scope.domain.length > 253 || !DOMAIN.test(scope.domain))
    throw new InvalidArgumentError(
      "key scope domain",
      `${JSON.stringify(String(scope.domain).slice(0, 80))} is not a lowercase host name`,
      {
        hint: 'Pass the host the user sees in the address bar, e.g. "app.consent-ledger.example" or "localhost:5173".',
      },
    );
  let chainId: bigint;
  try {
    chainId = BigInt(scope.chainId);
  } catch (cause) {
    throw new InvalidArgumentError("key scope chainId", `${String(scope.chainId)} is not an integer`, { cause });
  }
  if (chainId <= 0n) throw new InvalidArgumentError("key scope chainId", `${chainId} is not a chain id`);
  return { domain: scope.domain, chainId, keyDirectory: checksummed(scope.keyDirectory, "key scope keyDirectory") };
}

/**
 * The human-readable message an account signs to derive its encryption key. With a `scope`, the v2
 * message: it names the domain, chain and KeyDirectory, and says what the signature gives away. Without,
 * the v1 message (legacy: keys registered before v2 were derived from it).
 */
export function encryptionKeyMessage(address: string, scope?: KeyScope): string {
  const account = checksummed(address, "address");
  if (scope === undefined)
    return (
      "Consent Ledger encryption key\n\n" +
      "Signing this message derives your encryption key. It costs nothing and does not send a transaction.\n\n" +
      `Account: ${account}\n` +
      `Version: ${ENCRYPTION_KEY_MESSAGE_VERSION}`
    );
  const { domain, chainId, keyDirectory } = checkScope(scope);
  return (
    "Consent Ledger encryption key\n\n" +
    `Sign this only on ${domain}. This signature IS your decryption key: whoever gets it can read every ` +
    "health record shared with this account. It costs nothing and sends no transaction.\n\n" +
    `Domain: ${domain}\n` +
    `Chain ID: ${chainId}\n` +
    `Key directory: ${keyDirectory}\n` +
    `Account: ${account}\n` +
    `Version: ${ENCRYPTION_KEY_MESSAGE_VERSION_SCOPED}`
  );
}

/**
 * r || s of an ECDSA signature, s in low-s form: the part of a signature every wallet agrees on. Also the
 * input keying material of the pseudonym root (sdk/crypto/pseudonyms.ts).
 */
export function signatureSecret(signature: string): Uint8Array {
  const bytes = hexToBytes(signature, { argument: "signature" });
  if (bytes.length !== 65 && bytes.length !== 64)
    throw new InvalidArgumentError(
      "signature",
      `expected a 65-byte (or 64-byte EIP-2098) ECDSA signature, got ${bytes.length} bytes`,
      {
        hint:
          "Sign encryptionKeyMessage(address) with an externally owned account. Contract and MPC wallets cannot " +
          "derive a key: generate one with generateEncryptionKeyPair() and store it.",
      },
    );
  const r = BigInt(bytesToHex(bytes.subarray(0, 32)));
  let s = BigInt(bytesToHex(bytes.subarray(32, 64)));
  if (bytes.length === 64) s &= (1n << 255n) - 1n; // EIP-2098: the top bit carries yParity
  if (r === 0n || r >= SECP256K1_N || s === 0n || s >= SECP256K1_N)
    throw new InvalidArgumentError("signature", "r or s is out of range for secp256k1", {
      hint: "Pass the signature exactly as the wallet returned it.",
    });
  if (s > SECP256K1_N / 2n) s = SECP256K1_N - s;
  return hexToBytes(`0x${r.toString(16).padStart(64, "0")}${s.toString(16).padStart(64, "0")}`);
}

/**
 * The key pair derived from `signature`, the account's signature of encryptionKeyMessage(address) (message
 * version 1) or encryptionKeyMessage(address, scope) (version 2). Deterministic: the same account,
 * signature and version always give the same key pair.
 */
export function keyPairFromSignature(signature: string, address: string, messageVersion: 1 | 2 = 1): EncryptionKeyPair {
  const account = hexToBytes(checksummed(address, "address"), { length: 20 });
  if (messageVersion !== 1 && messageVersion !== 2)
    throw new InvalidArgumentError("message version", `${String(messageVersion)} is not 1 or 2`);
  const ikm = signatureSecret(signature);
  const salt = messageVersion === 2 ? KEY_DERIVATION_SALT_V2 : KEY_DERIVATION_SALT;
  const secretKey = hkdf(sha256, ikm, utf8Encode(salt), account, X25519_KEY_BYTES);
  ikm.fill(0);
  return { publicKey: x25519.getPublicKey(secretKey), secretKey };
}

export interface DeriveKeyOptions {
  /** Derive from the scoped v2 message (new keys). Without it, the v1 message (keys registered before v2). */
  scope?: KeyScope;
  /**
   * The public key registered in KeyDirectory for this account, if any: the derived key must equal it
   * (one signature). Without it, the wallet is asked to sign twice and both must give the same key.
   */
  registeredPublicKey?: Uint8Array;
}

/**
 * Asks `signer` to sign `message` and checks the signature recovers to `address`: the one gate before a
 * secret is derived from a signature (the encryption key here, the pseudonym root in pseudonyms.ts).
 * `what` names the message and `eoaHint` says what a contract or MPC wallet should do instead.
 */
export async function signDerivationMessage(
  signer: MessageSigner,
  address: string,
  message: string,
  what: string,
  eoaHint: string,
): Promise<string> {
  let signature: string;
  try {
    signature = await signer.signMessage(message);
  } catch (cause) {
    throw new ConsentLedgerError(`The wallet did not sign the ${what} message`, {
      hint: "Approve the signature request in the wallet: it costs nothing and sends no transaction.",
      cause,
    });
  }
  let recovered: string | undefined;
  try {
    recovered = recoverMessageAddress(message, signature);
  } catch {
    recovered = undefined;
  }
  if (recovered !== address)
    throw new InvalidArgumentError("signer", `its signature does not recover to ${address}`, {
      hint: eoaHint,
      details: `recovered ${recovered ?? "nothing"}`,
    });
  return signature;
}

const signKeyMessage = (signer: MessageSigner, address: string, message: string): Promise<string> =>
  signDerivationMessage(
    signer,
    address,
    message,
    "encryption-key",
    "Only an externally owned account can derive its encryption key from a signature. For a contract or " +
      "MPC wallet, generate a key with generateEncryptionKeyPair(), store its secret key, and register its public key.",
  );

/**
 * Asks `signer` to sign the encryption-key message and derives its key pair. Checks the signature
 * recovers to the signer's address (a contract wallet is refused), and that the wallet signs
 * deterministically: against `options.registeredPublicKey` when given, else by a second signature
 * (NonDeterministicSignerError otherwise, rather than a key it could not derive again).
 */
export async function deriveEncryptionKeyPair(
  input: MessageSigner | ViemWalletClientLike,
  options: DeriveKeyOptions = {},
): Promise<EncryptionKeyPair> {
  const signer = messageSignerOf(input);
  const address = checksummed(await signer.getAddress(), "signer address");
  const version = options.scope === undefined ? 1 : 2;
  const message = encryptionKeyMessage(address, options.scope);
  const keyPair = keyPairFromSignature(await signKeyMessage(signer, address, message), address, version);
  if (options.registeredPublicKey !== undefined) {
    if (!bytesEqual(keyPair.publicKey, options.registeredPublicKey)) {
      keyPair.secretKey.fill(0);
      throw new NonDeterministicSignerError(
        address,
        `derived ${bytesToHex(keyPair.publicKey)} from message version ${version}, registered ${bytesToHex(options.registeredPublicKey)}; ` +
          "if the key was registered under the other message version, derive with that version (and migrate), otherwise this wallet's signatures vary",
      );
    }
    return keyPair;
  }
  const again = keyPairFromSignature(await signKeyMessage(signer, address, message), address, version);
  const same = bytesEqual(again.publicKey, keyPair.publicKey);
  again.secretKey.fill(0);
  if (!same) {
    keyPair.secretKey.fill(0);
    throw new NonDeterministicSignerError(address, "two signatures of the same message gave two different keys");
  }
  return keyPair;
}

/**
 * Moving an account from a key derived under the v1 message to the scoped v2 message: both key pairs.
 * Register `current.publicKey` in KeyDirectory (new wraps go to it), and keep `legacy` to open the data
 * keys wrapped to the old key before the change (a wrap names no version: try `current`, then `legacy`).
 * Both derivations are checked for determinism.
 */
export async function migrateEncryptionKey(
  signer: MessageSigner | ViemWalletClientLike,
  scope: KeyScope,
  registeredPublicKey?: Uint8Array,
): Promise<{ legacy: EncryptionKeyPair; current: EncryptionKeyPair }> {
  const legacy = await deriveEncryptionKeyPair(signer, { registeredPublicKey });
  const current = await deriveEncryptionKeyPair(signer, { scope });
  return { legacy, current };
}

/** A public key as the bytes32 KeyDirectory stores. Refuses the zero key, which KeyDirectory rejects. */
export function publicKeyToBytes32(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== X25519_KEY_BYTES)
    throw new InvalidArgumentError("X25519 public key", `expected ${X25519_KEY_BYTES} bytes`);
  if (isAllZero(publicKey))
    throw new InvalidArgumentError("X25519 public key", "is all zero", {
      hint: "Derive or generate a key pair first.",
    });
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

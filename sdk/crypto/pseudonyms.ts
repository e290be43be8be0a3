/**
 * Pairwise patient pseudonyms: one secp256k1 account (and one X25519 encryption key) per relationship,
 * all derived from one wallet signature, so nothing is stored and a restored wallet recovers them all.
 * Specified in docs/pseudonyms.md (with test vectors); in short, message version 1:
 *
 *   message   = pseudonymRootMessage(wallet, { domain, chainId, ledger })   (EIP-191 personal message)
 *   signature = wallet.signMessage(message)
 *   ikm       = r || s, s in low-s form (v dropped)                          (as sdk/crypto/keys.ts)
 *   root      = HKDF-SHA256(ikm, salt = "consent-ledger/pseudonym-root/v1", info = wallet (20 bytes), 32)
 *   id        = "provider:" + lowercase provider address | "study:" + label | "index:" + decimal index
 *             | "delegate:" + lowercase patient pseudonym address   (a delegate's account for that pseudonym)
 *   account   = mapHashToField(HKDF-SHA256(root, salt = "consent-ledger/pseudonym-account/v1", info = utf8(id), 48), n)
 *   x25519    = HKDF-SHA256(root, salt = "consent-ledger/pseudonym-x25519/v1", info = utf8(id), 32)
 *   address   = keccak256(uncompressed secp256k1 public key without its 0x04 prefix)[12..32]
 *
 * mapHashToField (FIPS 186-5 A.2.1, @noble/curves) reduces 48 uniform bytes into 1..n-1 without a
 * rejection loop, so every id names exactly one account. HKDF makes accounts of different ids
 * independent: knowing one pseudonym's private key tells nothing about another's, nor about the root.
 *
 * The signature, the root and every derived key are secrets. The signature is the root of all of a
 * patient's pseudonyms: whoever gets it can act as every one of them and link them all to the wallet.
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { mapHashToField } from "@noble/curves/abstract/modular.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";

import { getAddress } from "../core/hex";
import { ConsentLedgerError, InvalidArgumentError, describeValue } from "../errors";
import type { ViemWalletClientLike } from "../core/viem-client";
import { bytesEqual, bytesToHex, hexToBytes, utf8Encode } from "./bytes";
import {
  DOMAIN,
  messageSignerOf,
  NonDeterministicSignerError,
  signDerivationMessage,
  signatureSecret,
  type EncryptionKeyPair,
  type MessageSigner,
} from "./keys";

/** The version of the pseudonym derivation (message, salts and ids). */
export const PSEUDONYM_DERIVATION_VERSION = 1;
export const PSEUDONYM_ROOT_SALT = "consent-ledger/pseudonym-root/v1";
export const PSEUDONYM_ACCOUNT_SALT = "consent-ledger/pseudonym-account/v1";
export const PSEUDONYM_X25519_SALT = "consent-ledger/pseudonym-x25519/v1";

/** Where the pseudonyms live: the message names all three, so another site, chain or ledger derives others. */
export interface PseudonymScope {
  /** The dApp's host as the user sees it, e.g. "app.consent-ledger.example". */
  domain: string;
  chainId: bigint | number;
  /** The ConsentLedger contract. */
  ledger: string;
}

/** A relationship a pseudonym is for: a provider (by address), a study (by a label), or a fresh index. */
export type Relationship =
  | { kind: "provider"; provider: string }
  | { kind: "study"; label: string }
  | { kind: "index"; index: number }
  /** A delegate's own account for acting for one patient pseudonym (sdk/clients/delegate.ts). */
  | { kind: "delegate"; patient: string };

/** One derived patient account, with its own encryption key. Every field but `relationship`/`id`/`address` is secret. */
export interface Pseudonym {
  readonly relationship: Relationship;
  /** The derivation id: "provider:0x…", "study:<label>", "index:<n>" or "delegate:0x…". */
  readonly id: string;
  /** The account's address (EIP-55). */
  readonly address: string;
  /** The account's 32-byte secp256k1 private key, 0x-hex: for viem, `privateKeyToAccount(privateKey)`. */
  readonly privateKey: string;
  /** The X25519 key pair data keys for this pseudonym are wrapped to. */
  readonly encryptionKeyPair: EncryptionKeyPair;
}

/** A study label: lowercase letters, digits, '.', '_' and '-', up to 64, starting with a letter or digit. */
const STUDY_LABEL = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const MAX_INDEX = 2 ** 32 - 1;
const SECP256K1_N = secp256k1.Point.Fn.ORDER;

function checkScope(scope: PseudonymScope): { domain: string; chainId: bigint; ledger: string } {
  if (typeof scope !== "object" || scope === null)
    throw new InvalidArgumentError("pseudonym scope", "expected { domain, chainId, ledger }");
  if (typeof scope.domain !== "string" || scope.domain.length > 253 || !DOMAIN.test(scope.domain))
    throw new InvalidArgumentError(
      "pseudonym scope domain",
      `${describeValue(scope.domain)} is not a lowercase host name`,
      {
        hint: 'Pass the host the user sees in the address bar, e.g. "app.consent-ledger.example" or "localhost:5173".',
      },
    );
  let chainId: bigint;
  try {
    chainId = BigInt(scope.chainId);
  } catch (cause) {
    throw new InvalidArgumentError("pseudonym scope chainId", `${describeValue(scope.chainId)} is not an integer`, {
      cause,
    });
  }
  if (chainId <= 0n) throw new InvalidArgumentError("pseudonym scope chainId", `${chainId} is not a chain id`);
  return { domain: scope.domain, chainId, ledger: checksummed(scope.ledger, "pseudonym scope ledger") };
}

function checksummed(address: unknown, argument: string): string {
  try {
    return getAddress(address as string);
  } catch (cause) {
    throw new InvalidArgumentError(argument, `${describeValue(address)} is not an Ethereum address`, { cause });
  }
}

/** The derivation id of a relationship; refuses a malformed one. */
export function relationshipId(relationship: Relationship): string {
  switch (relationship?.kind) {
    case "provider":
      return `provider:${checksummed(relationship.provider, "provider").toLowerCase()}`;
    case "study":
      if (typeof relationship.label !== "string" || !STUDY_LABEL.test(relationship.label))
        throw new InvalidArgumentError("study label", `${describeValue(relationship.label)} is not a label`, {
          hint: "Use 1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. \"diabetes-2026\").",
        });
      return `study:${relationship.label}`;
    case "index":
      if (!Number.isSafeInteger(relationship.index) || relationship.index < 0 || relationship.index > MAX_INDEX)
        throw new InvalidArgumentError(
          "pseudonym index",
          `${describeValue(relationship.index)} is not a whole number from 0 to ${MAX_INDEX}`,
        );
      return `index:${relationship.index}`;
    case "delegate":
      return `delegate:${checksummed(relationship.patient, "patient pseudonym").toLowerCase()}`;
    default:
      throw new InvalidArgumentError(
        "relationship",
        `${describeValue((relationship as { kind?: unknown })?.kind)} is not provider, study, index or delegate`,
      );
  }
}

/**
 * The message a wallet signs to derive its pseudonyms. It names the domain, chain and ledger, and says
 * that the signature links (and controls) every pseudonym, so the user can recognise a phishing request.
 */
export function pseudonymRootMessage(wallet: string, scope: PseudonymScope): string {
  const account = checksummed(wallet, "wallet address");
  const { domain, chainId, ledger } = checkScope(scope);
  return (
    "Consent Ledger pseudonyms\n\n" +
    `Sign this only on ${domain}. This signature IS the master key of all your patient pseudonyms: ` +
    "whoever gets it can act as every one of them and link them all to this account. " +
    "It costs nothing and sends no transaction.\n\n" +
    `Domain: ${domain}\n` +
    `Chain ID: ${chainId}\n` +
    `Consent ledger: ${ledger}\n` +
    `Account: ${account}\n` +
    `Version: ${PSEUDONYM_DERIVATION_VERSION}`
  );
}

/** The root every pseudonym of one wallet (in one scope) is derived from. Holds a secret: `destroy()` when done. */
export class PseudonymRoot {
  readonly #seed: Uint8Array;

  /** Use pseudonymRootFromSignature or derivePseudonymRoot. */
  constructor(
    seed: Uint8Array,
    /** The wallet the root belongs to (never shown on chain). */
    readonly wallet: string,
  ) {
    if (!(seed instanceof Uint8Array) || seed.length !== 32)
      throw new InvalidArgumentError("pseudonym root", "expected 32 bytes");
    this.#seed = Uint8Array.from(seed);
  }

  /** The pseudonym of `relationship`: the same every time, for this wallet and scope. */
  derive(relationship: Relationship): Pseudonym {
    const id = relationshipId(relationship);
    if (this.#seed.every((byte) => byte === 0))
      throw new ConsentLedgerError("This pseudonym root was destroyed", { hint: "Derive it again from the wallet." });
    const info = utf8Encode(id);
    const okm = hkdf(sha256, this.#seed, utf8Encode(PSEUDONYM_ACCOUNT_SALT), info, 48);
    const secret = mapHashToField(okm, SECP256K1_N);
    okm.fill(0);
    const publicKey = secp256k1.getPublicKey(secret, false);
    const address = getAddress(bytesToHex(keccak_256(publicKey.subarray(1)).subarray(12)));
    const encryptionSecret = hkdf(sha256, this.#seed, utf8Encode(PSEUDONYM_X25519_SALT), info, 32);
    const privateKey = bytesToHex(secret);
    secret.fill(0);
    return {
      relationship: normalised(relationship),
      id,
      address,
      privateKey,
      encryptionKeyPair: { publicKey: x25519.getPublicKey(encryptionSecret), secretKey: encryptionSecret },
    };
  }

  /** The pseudonym the patient shows `provider`. */
  forProvider(provider: string): Pseudonym {
    return this.derive({ kind: "provider", provider });
  }

  /** The pseudonym for a study the patient names with `label`. */
  forStudy(label: string): Pseudonym {
    return this.derive({ kind: "study", label });
  }

  /** This wallet's own account for acting, as a delegate, for the patient pseudonym `patient`. */
  forDelegation(patient: string): Pseudonym {
    return this.derive({ kind: "delegate", patient });
  }

  /** A fresh pseudonym by index (keep the index: it is all that is needed to derive it again). */
  fresh(index: number): Pseudonym {
    return this.derive({ kind: "index", index });
  }

  /** Whether two roots are the same (same wallet, same scope, deterministic wallet). */
  equals(other: PseudonymRoot): boolean {
    return other.wallet === this.wallet && bytesEqual(other.#seed, this.#seed);
  }

  /** Overwrites the seed; derive() throws afterwards. */
  destroy(): void {
    this.#seed.fill(0);
  }
}

function normalised(relationship: Relationship): Relationship {
  if (relationship.kind === "provider") return { kind: "provider", provider: getAddress(relationship.provider) };
  if (relationship.kind === "delegate") return { kind: "delegate", patient: getAddress(relationship.patient) };
  return { ...relationship };
}

/** The root of `wallet` from its signature of pseudonymRootMessage(wallet, scope). */
export function pseudonymRootFromSignature(signature: string, wallet: string): PseudonymRoot {
  const account = hexToBytes(checksummed(wallet, "wallet address"), { length: 20 });
  const ikm = signatureSecret(signature);
  const seed = hkdf(sha256, ikm, utf8Encode(PSEUDONYM_ROOT_SALT), account, 32);
  ikm.fill(0);
  const root = new PseudonymRoot(seed, checksummed(wallet, "wallet address"));
  seed.fill(0);
  return root;
}

export interface DerivePseudonymOptions {
  /**
   * A pseudonym the wallet derived before (its relationship and address): the new root must derive it
   * again (one signature). Without it, the wallet is asked to sign twice and both roots must agree.
   */
  known?: { relationship: Relationship; address: string };
}

const signRootMessage = (signer: MessageSigner, wallet: string, message: string): Promise<string> =>
  signDerivationMessage(
    signer,
    wallet,
    message,
    "pseudonym",
    "Only an externally owned account can derive pseudonyms from a signature; contract and MPC wallets cannot.",
  );

/**
 * Asks `input` to sign the pseudonym message and derives its root. Refuses a signature that does not
 * recover to the wallet (contract wallets), and a wallet that does not sign deterministically (checked
 * against `options.known`, or by a second signature): such a wallet would lose its pseudonyms.
 */
export async function derivePseudonymRoot(
  input: MessageSigner | ViemWalletClientLike,
  scope: PseudonymScope,
  options: DerivePseudonymOptions = {},
): Promise<PseudonymRoot> {
  const signer = messageSignerOf(input);
  const wallet = checksummed(await signer.getAddress(), "signer address");
  const message = pseudonymRootMessage(wallet, scope);
  const root = pseudonymRootFromSignature(await signRootMessage(signer, wallet, message), wallet);
  if (options.known !== undefined) {
    const derived = root.derive(options.known.relationship).address;
    if (derived !== checksummed(options.known.address, "known pseudonym address")) {
      root.destroy();
      throw new NonDeterministicSignerError(
        wallet,
        `derived ${derived} for ${relationshipId(options.known.relationship)}, expected ${options.known.address}: ` +
          "the scope (domain, chain, ledger) differs from the one the pseudonym was made under, or this wallet's signatures vary",
      );
    }
    return root;
  }
  const again = pseudonymRootFromSignature(await signRootMessage(signer, wallet, message), wallet);
  const same = again.equals(root);
  again.destroy();
  if (!same) {
    root.destroy();
    throw new NonDeterministicSignerError(wallet, "two signatures of the pseudonym message gave two different roots");
  }
  return root;
}

/**
 * Who is calling: an account proves it holds its key by signing an EIP-712 login challenge, and gets a
 * short-lived bearer token.
 *
 * - POST /auth/challenge {address}: a fresh challenge (random 32-byte nonce, issuedAt, expiresAt) for that
 *   account and this gateway's origin, under the domain {ConsentLedgerGateway, 1, chainId, ledger}, so a
 *   signature is good for one gateway on one chain only; stored durably.
 * - POST /auth/verify {nonce, signature}: checks the challenge is known, unused and unexpired, checks the
 *   signature (ECDSA recovery for externally owned accounts; ERC-1271 isValidSignature, asked of the
 *   chain, for contract accounts), then consumes the nonce and opens a session in one transaction, so a
 *   challenge works once even under concurrent replays. The token (32 random bytes) is returned once and
 *   stored only as its SHA-256.
 */
import { createHash } from "node:crypto";

import { Contract, getAddress, TypedDataEncoder, verifyTypedData, type Provider, type TypedDataField } from "ethers";

import {
  bytesToHex,
  GATEWAY_LOGIN_DOMAIN_NAME,
  GATEWAY_LOGIN_DOMAIN_VERSION,
  GATEWAY_LOGIN_PRIMARY_TYPE,
  GATEWAY_LOGIN_TYPES,
  type GatewayChallenge,
  randomBytes,
} from "../sdk/index";
import { badRequest, tooManyRequests, unauthenticated, unavailable } from "./http-error";
import type { GatewayStore } from "./store";

// The login's EIP-712 definition is the SDK's, which signs it: one definition for both sides.
export const LOGIN_DOMAIN_NAME = GATEWAY_LOGIN_DOMAIN_NAME;
export const LOGIN_DOMAIN_VERSION = GATEWAY_LOGIN_DOMAIN_VERSION;
export const LOGIN_PRIMARY_TYPE = GATEWAY_LOGIN_PRIMARY_TYPE;
export const LOGIN_TYPES = GATEWAY_LOGIN_TYPES as Record<string, TypedDataField[]>;

/** ERC-1271 `isValidSignature(bytes32,bytes)` magic value. */
const ERC1271_MAGIC = "0x1626ba7e";
const ERC1271_ABI = ["function isValidSignature(bytes32 hash, bytes signature) view returns (bytes4)"];

/** What POST /auth/challenge answers: everything `signTypedData` needs. */
export type LoginChallenge = GatewayChallenge;

export interface AuthenticatorOptions {
  store: GatewayStore;
  provider: Provider;
  chainId: number;
  ledger: string;
  challengeTtlSeconds: number;
  sessionTtlSeconds: number;
  /** Unused challenges one account may hold at once (default 16). */
  maxOpenChallengesPerAccount?: number;
  /**
   * Unused challenges held overall (default 100,000): a bound on what unauthenticated callers can make
   * the gateway store. Reaching it refuses no one: the oldest unused challenges are dropped instead.
   */
  maxOpenChallenges?: number;
  /** Unix milliseconds; Date.now unless a test needs another clock. */
  now?: () => number;
}

export class Authenticator {
  private readonly now: () => number;

  constructor(private readonly options: AuthenticatorOptions) {
    this.now = options.now ?? Date.now;
  }

  /** A new login challenge for `account` at `gateway` (this gateway's origin). */
  createChallenge(account: string, gateway: string): LoginChallenge {
    const nowMs = this.now();
    const nowSeconds = Math.floor(nowMs / 1000);
    const open = this.options.store.openChallengeCount(account, nowSeconds);
    if (open >= (this.options.maxOpenChallengesPerAccount ?? 16)) {
      throw tooManyRequests(
        `${account} has ${open} unused login challenges: sign one of them, or wait for them to expire`,
      );
    }
    // The message carries whole seconds. Rounding the expiry up gives every challenge at least its full
    // TTL: rounded down, a challenge issued at x.999 s would lose almost a second of it.
    const message = {
      account,
      gateway,
      nonce: bytesToHex(randomBytes(32)),
      issuedAt: nowSeconds,
      expiresAt: Math.ceil(nowMs / 1000) + this.options.challengeTtlSeconds,
    };
    this.options.store.insertChallenge(message, this.options.maxOpenChallenges ?? 100_000);
    return { domain: this.domain(), types: LOGIN_TYPES, primaryType: LOGIN_PRIMARY_TYPE, message };
  }

  /** Checks a signed challenge and opens a session; 401 with the reason for a bad, replayed or expired one. */
  async verify(nonce: string, signature: string): Promise<{ token: string; account: string; expiresAt: number }> {
    const challenge = this.options.store.getChallenge(nonce);
    if (!challenge) throw unauthenticated("unknown challenge: ask for a new one at POST /auth/challenge");
    if (challenge.usedAt !== undefined) {
      throw unauthenticated(
        "this challenge has been used already (a replayed login): ask for a new one at POST /auth/challenge",
      );
    }
    const nowMs = this.now();
    if (Math.floor(nowMs / 1000) >= challenge.expiresAt) {
      throw unauthenticated(
        `this challenge expired at ${new Date(challenge.expiresAt * 1000).toISOString()}: ask for a new one`,
      );
    }
    const message = {
      account: challenge.account,
      gateway: challenge.gateway,
      nonce: challenge.nonce,
      issuedAt: challenge.issuedAt,
      expiresAt: challenge.expiresAt,
    };
    if (!(await this.isSignatureOf(challenge.account, message, signature))) {
      throw unauthenticated(`the signature is not ${challenge.account}'s signature of this challenge`);
    }
    const token = Buffer.from(randomBytes(32)).toString("base64url");
    const expiresAt = nowMs + this.options.sessionTtlSeconds * 1000;
    const consumed = this.options.store.consumeChallengeIntoSession(challenge.nonce, nowMs, {
      tokenHash: await tokenHash(token),
      account: challenge.account,
      expiresAt,
    });
    if (!consumed)
      throw unauthenticated(
        "this challenge has been used already (a replayed login): ask for a new one at POST /auth/challenge",
      );
    return { token, account: challenge.account, expiresAt };
  }

  /** The account of a bearer token from an Authorization header; 401 otherwise. */
  async authenticate(authorization: string | undefined): Promise<string> {
    if (!authorization)
      throw unauthenticated(
        "no session: send Authorization: Bearer <token> (log in at POST /auth/challenge, then /auth/verify)",
      );
    const match = /^Bearer ([A-Za-z0-9_-]{20,100})$/.exec(authorization.trim());
    if (!match) throw unauthenticated("the Authorization header is not 'Bearer <token>'");
    const session = this.options.store.getSession(await tokenHash(match[1]));
    if (!session) throw unauthenticated("unknown session token: log in again");
    if (this.now() >= session.expiresAt) {
      throw unauthenticated(`the session expired at ${new Date(session.expiresAt).toISOString()}: log in again`);
    }
    return session.account;
  }

  private domain(): LoginChallenge["domain"] {
    return {
      name: LOGIN_DOMAIN_NAME,
      version: LOGIN_DOMAIN_VERSION,
      chainId: this.options.chainId,
      verifyingContract: this.options.ledger,
    };
  }

  /**
   * Whether `signature` is `account`'s over the login `message`: ECDSA recovery first (an externally
   * owned account, or an EIP-7702 account signing with its key), else ERC-1271 when the account has code.
   */
  private async isSignatureOf(
    account: string,
    message: LoginChallenge["message"],
    signature: string,
  ): Promise<boolean> {
    if (typeof signature !== "string" || !/^0x([0-9a-fA-F]{2})*$/.test(signature))
      throw badRequest("signature must be 0x-prefixed hex");
    const domain = this.domain();
    try {
      if (getAddress(verifyTypedData(domain, LOGIN_TYPES, message, signature)) === account) return true;
    } catch {
      // Not a 65-byte ECDSA signature: a contract account's signature may be anything.
    }
    let code: string;
    try {
      code = await this.options.provider.getCode(account, "latest");
    } catch (cause) {
      throw unavailable(
        "ChainUnavailable",
        `could not read ${account}'s code from the chain: ${(cause as Error).message}`,
      );
    }
    if (code === "0x") return false;
    const digest = TypedDataEncoder.hash(domain, LOGIN_TYPES, message);
    try {
      const wallet = new Contract(account, ERC1271_ABI, this.options.provider);
      const magic = (await wallet.getFunction("isValidSignature").staticCall(digest, signature)) as string;
      return magic.toLowerCase() === ERC1271_MAGIC;
    } catch {
      return false; // reverted, or not an ERC-1271 wallet
    }
  }
}

/**
 * The SHA-256 under which a session token is stored, as 0x-prefixed hex (what sdk/crypto/sha256's
 * sha256Hex gives). node:crypto's synchronous hash: every authenticated request computes one, and a
 * WebCrypto digest costs a thread-pool round trip each.
 */
export async function tokenHash(token: string): Promise<string> {
  return `0x${createHash("sha256").update(token, "utf8").digest("hex")}`;
}

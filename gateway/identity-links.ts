/**
 * Which ledger account a hospital's identifier (a patient's MRN, a practitioner's NPI: `system|value`)
 * belongs to, as its owner registered it. The consent decision service (gateway/consent-decision.ts) never
 * guesses an account: it asks this table, and an identifier nobody registered gets NO_CONSENT.
 *
 * A link is registered with two EIP-712 signatures of the same IdentifierLink message: the account's own
 * (the owner says "this identifier is mine") and that of an accredited PROVIDER (the organisation that
 * assigned the identifier, or checked the person at its desk, vouches for it). The owner alone could
 * otherwise claim someone else's patient number and grant access to that patient's data in their name.
 * An identifier links to one account; a new link for it needs a later `issuedAt`, both signatures again, and
 * the same attester (another provider cannot move a patient's identifier to another account).
 */
import { mkdirSync } from "node:fs";
import path from "node:path";

import Database from "better-sqlite3";
import { getAddress, verifyTypedData, type TypedDataField } from "ethers";

import { Role, type LedgerContracts } from "../sdk/index";
import { conflict, forbidden, unprocessable } from "./http-error";

export const LINK_DOMAIN_NAME = "ConsentLedgerIdentifierLink";
export const LINK_DOMAIN_VERSION = "1";
export const LINK_TYPES: Record<string, TypedDataField[]> = {
  IdentifierLink: [
    { name: "system", type: "string" },
    { name: "value", type: "string" },
    { name: "account", type: "address" },
    { name: "issuedAt", type: "uint64" },
  ],
};

export interface IdentifierLink {
  system: string;
  value: string;
  account: string;
  /** Unix seconds when the owner signed it. */
  issuedAt: number;
}

export interface SignedIdentifierLink extends IdentifierLink {
  /** The account's EIP-712 signature of the link. */
  signature: string;
  /** The vouching provider's account and EIP-712 signature of the same link. */
  attester: string;
  attestation: string;
}

/** The EIP-712 domain of identifier links for one ledger. */
export function linkDomain(chainId: number | bigint, ledger: string) {
  return { name: LINK_DOMAIN_NAME, version: LINK_DOMAIN_VERSION, chainId: Number(chainId), verifyingContract: ledger };
}

/** Links per account, so that a signer cannot make the table grow without bound. */
export const MAX_LINKS_PER_ACCOUNT = 32;

export class IdentityLinkStore {
  private constructor(private readonly db: Database.Database) {}

  static open(dataDir: string): IdentityLinkStore {
    mkdirSync(dataDir, { recursive: true });
    const db = new Database(path.join(dataDir, "interop.sqlite"));
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.exec(`CREATE TABLE IF NOT EXISTS identity_links (
      system      TEXT NOT NULL,
      value       TEXT NOT NULL,
      account     TEXT NOT NULL,
      issued_at   INTEGER NOT NULL,
      attester    TEXT NOT NULL,
      signature   TEXT NOT NULL,
      attestation TEXT NOT NULL,
      PRIMARY KEY (system, value)
    );
    CREATE INDEX IF NOT EXISTS identity_links_account ON identity_links (account);
    CREATE TABLE IF NOT EXISTS interop_meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);`);
    return new IdentityLinkStore(db);
  }

  /** The account `system|value` is linked to, or undefined. */
  accountOf(system: string, value: string): string | undefined {
    const row = this.db
      .prepare("SELECT account FROM identity_links WHERE system = ? AND value = ?")
      .get(system, value) as { account: string } | undefined;
    return row?.account;
  }

  /** Stores a checked link; refuses one not newer than the stored link of the same identifier. */
  put(link: SignedIdentifierLink): "created" | "replaced" | "unchanged" {
    return this.db.transaction(() => {
      const existing = this.db
        .prepare("SELECT account, issued_at, attester FROM identity_links WHERE system = ? AND value = ?")
        .get(link.system, link.value) as { account: string; issued_at: number; attester: string } | undefined;
      if (existing && existing.account === link.account && existing.issued_at === link.issuedAt) return "unchanged";
      if (existing && existing.attester !== link.attester) {
        throw conflict(
          "IdentifierLinkAttesterMismatch",
          `${link.system}|${link.value} was vouched for by ${existing.attester}; only it can vouch for a new link`,
        );
      }
      if (existing && existing.issued_at >= link.issuedAt) {
        throw conflict(
          "IdentifierLinkStale",
          `${link.system}|${link.value} is linked already by a link issued at ${existing.issued_at}; a new link needs a later issuedAt`,
        );
      }
      const count = (
        this.db.prepare("SELECT COUNT(*) AS n FROM identity_links WHERE account = ?").get(link.account) as { n: number }
      ).n;
      if (!existing && count >= MAX_LINKS_PER_ACCOUNT) {
        throw conflict(
          "TooManyIdentifierLinks",
          `${link.account} has ${count} identifiers linked, the most this gateway keeps`,
        );
      }
      this.db
        .prepare(
          `INSERT INTO identity_links (system, value, account, issued_at, attester, signature, attestation) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (system, value) DO UPDATE SET account = excluded.account, issued_at = excluded.issued_at,
             attester = excluded.attester, signature = excluded.signature, attestation = excluded.attestation`,
        )
        .run(link.system, link.value, link.account, link.issuedAt, link.attester, link.signature, link.attestation);
      return existing ? "replaced" : "created";
    })();
  }

  /** A value the interoperability routes keep (the visa signing key, sealed). */
  getMeta(key: string): Buffer | undefined {
    return (this.db.prepare("SELECT value FROM interop_meta WHERE key = ?").get(key) as { value: Buffer } | undefined)
      ?.value;
  }

  setMeta(key: string, value: Uint8Array): void {
    this.db
      .prepare(
        "INSERT INTO interop_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      )
      .run(key, Buffer.from(value));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/**
 * Checks both signatures of a link (externally owned accounts: ECDSA recovery, no chain call) and that the
 * attester is an accredited PROVIDER now; returns the link with checksummed addresses.
 */
export async function verifyIdentifierLink(
  link: SignedIdentifierLink,
  contracts: LedgerContracts,
  nowSeconds: number,
): Promise<SignedIdentifierLink> {
  const account = getAddress(link.account.toLowerCase());
  const attester = getAddress(link.attester.toLowerCase());
  if (link.issuedAt > nowSeconds + 300)
    throw unprocessable("IdentifierLinkFromFuture", `issuedAt ${link.issuedAt} is in the future`);
  const domain = linkDomain(contracts.chainId, contracts.deployment.ledger);
  const message = { system: link.system, value: link.value, account, issuedAt: link.issuedAt };
  const recover = (signature: string, who: string) => {
    try {
      return verifyTypedData(domain, LINK_TYPES, message, signature);
    } catch {
      throw unprocessable("InvalidSignature", `the ${who} signature is not a valid EIP-712 signature of this link`);
    }
  };
  if (recover(link.signature, "account's") !== account) {
    throw forbidden("IdentifierLinkNotSigned", `the link is not signed by ${account}, the account it links to`);
  }
  if (recover(link.attestation, "attester's") !== attester) {
    throw forbidden("IdentifierLinkNotAttested", `the attestation is not signed by ${attester}`);
  }
  if (attester === account)
    throw forbidden("IdentifierLinkNotAttested", "an account cannot vouch for its own identifier");
  if (!(await contracts.ledger.isAccredited(attester, Role.PROVIDER))) {
    throw forbidden(
      "AttesterNotAccredited",
      `${attester} is not an accredited PROVIDER, so it cannot vouch for ${link.system}|${link.value}`,
    );
  }
  return { ...link, account, attester };
}

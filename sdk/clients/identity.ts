/**
 * One patient, many pseudonyms, one view: PatientIdentity holds a patient's pseudonyms (derived by
 * sdk/crypto/pseudonyms.ts) and reads records, consents, requests and audit across all of them, each item
 * tagged with the pseudonym it belongs to (PatientIdentityBase, sdk/clients/identity-core.ts). The link
 * between the pseudonyms exists only here, in the patient's own client: nothing is written to the chain
 * to build it.
 *
 * Reads go to one node: its operator sees the queries for every pseudonym arrive together, so a patient
 * who does not trust the RPC provider should read through a node of their own (docs/pseudonyms.md).
 */
import { Wallet, type Provider } from "ethers";

import type { LedgerContracts } from "../chain/connect";
import type { PendingTransaction } from "../chain/transactions";
import type { EncryptionKeyPair } from "../crypto/keys";
import type { Pseudonym } from "../crypto/pseudonyms";
import type { BlobStore } from "../storage/blob-store";
import { AuditClient, type AuditEntry } from "./audit";
import { PatientIdentityBase, pseudonymRelayer, type PatientView, type Tagged } from "./identity-core";
import { PatientClient } from "./patient";
import { recordsOf } from "./records";
import type { ConsentRelayer } from "./relayer";

export * from "./identity-core";

/** The pseudonym as an ethers Wallet (an ethers Signer every client accepts), optionally connected. */
export function pseudonymSigner(pseudonym: Pseudonym, provider?: Provider | null): Wallet {
  return new Wallet(pseudonym.privateKey, provider ?? null);
}

export interface PatientIdentityOptions {
  /**
   * The relayer every pseudonym's consent actions go through. Without one, the pseudonyms' clients
   * refuse to act (NoSignedFormError for every write) unless `allowDirect` is set: a pseudonym sending
   * its own transaction needs ether, and its funding links it.
   */
  relayer?: ConsentRelayer;
  /** Let pseudonyms send their own transactions (needs ether in each; see docs/pseudonyms.md). */
  allowDirect?: boolean;
  /** Where batched key-release manifests are read from, for the audit. */
  store?: BlobStore;
}

/** A patient's pseudonyms as one person: one PatientClient per pseudonym, and reads across them all. */
export class PatientIdentity extends PatientIdentityBase<PatientClient> {
  private readonly audit: AuditClient;

  constructor(
    readonly contracts: LedgerContracts,
    pseudonyms: readonly Pseudonym[],
    readonly options: PatientIdentityOptions = {},
  ) {
    super(
      pseudonyms,
      (pseudonym) =>
        new PatientClient(contracts, pseudonymSigner(pseudonym, contracts.provider), {
          relayer: pseudonymRelayer(options),
          allowDirect: options.allowDirect,
        }),
      { records: (address) => recordsOf(contracts, address) },
    );
    this.audit = new AuditClient(contracts, options.store);
  }

  /**
   * Publishes (or rotates) `pseudonym`'s X25519 public key in KeyDirectory, signed by the pseudonym and
   * submitted by the relayer (registerKeyBySig), so the pseudonym still never holds ether.
   */
  async registerEncryptionKey(
    pseudonym: string,
    keyPair: Pick<EncryptionKeyPair, "publicKey">,
  ): Promise<PendingTransaction<{ publicKey: string }>> {
    return this.client(pseudonym).registerEncryptionKey(keyPair);
  }

  /**
   * Withdraws `pseudonym`'s X25519 key from KeyDirectory (e.g. when it may have leaked), signed by the
   * pseudonym and submitted by the relayer (withdrawKeyBySig), so the pseudonym still never holds ether.
   */
  async withdrawEncryptionKey(pseudonym: string): Promise<PendingTransaction<Record<string, never>>> {
    return this.client(pseudonym).withdrawEncryptionKey();
  }

  /** The audit trail of every pseudonym, merged in chain order. */
  async auditTrail(): Promise<Tagged<AuditEntry>[]> {
    const entries = await this.across((entry) => this.audit.history(entry.pseudonym.address));
    return entries.sort((a, b) => a.blockNumber - b.blockNumber);
  }

  /** Records, consents, pending requests and audit, across every pseudonym. */
  async view(): Promise<PatientView> {
    const [records, consents, requests, audit] = await Promise.all([
      this.records(),
      this.consents(),
      this.requests(),
      this.auditTrail(),
    ]);
    return { records, consents, requests, audit };
  }
}

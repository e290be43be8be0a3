/**
 * Pseudonyms on the viem entry: each pseudonym as a viem LocalAccount, and PatientIdentity (the one
 * identity of sdk/clients/identity-core.ts) with the viem PatientClient of each pseudonym.
 */
import { createWalletClient, custom, type PrivateKeyAccount, type WalletClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";

import type { PendingTransaction } from "../chain/transactions";
import type { AuditEntry } from "../clients/audit-core";
import { PatientIdentityBase, pseudonymRelayer, type PatientView, type Tagged } from "../clients/identity-core";
import type { ConsentRelayer } from "../clients/relayer";
import type { EncryptionKeyPair } from "../crypto/keys";
import type { Pseudonym } from "../crypto/pseudonyms";
import type { BlobStore } from "../storage/blob-store";
import { AuditClient } from "./audit";
import type { ViemLedgerContracts } from "./connect";
import { PatientClient } from "./patient";
import { recordsOf } from "./records";

/** The pseudonym as a viem LocalAccount (it signs locally; it never holds ether). */
export function pseudonymAccount(pseudonym: Pseudonym): PrivateKeyAccount {
  return privateKeyToAccount(pseudonym.privateKey as `0x${string}`);
}

/** A WalletClient of the pseudonym's account on the suite's client (its node, its chain). */
export function pseudonymWallet(pseudonym: Pseudonym, contracts: ViemLedgerContracts): WalletClient {
  return createWalletClient({
    account: pseudonymAccount(pseudonym),
    chain: contracts.client.chain,
    transport: custom({ request: (args) => contracts.client.request(args as never) }),
  });
}

export interface PatientIdentityOptions {
  /**
   * The relayer every pseudonym's consent actions go through. Without one, the pseudonyms' clients
   * refuse to act unless `allowDirect` is set: a pseudonym sending its own transaction needs ether, and
   * its funding links it.
   */
  relayer?: ConsentRelayer;
  /** Let pseudonyms send their own transactions (needs ether in each; see docs/pseudonyms.md). */
  allowDirect?: boolean;
  /** Where batched key-release manifests are read from, for the audit. */
  store?: BlobStore;
}

/** A patient's pseudonyms as one person: one viem PatientClient per pseudonym, and reads across them all. */
export class PatientIdentity extends PatientIdentityBase<PatientClient> {
  private readonly audit: AuditClient;

  constructor(
    readonly contracts: ViemLedgerContracts,
    pseudonyms: readonly Pseudonym[],
    readonly options: PatientIdentityOptions = {},
  ) {
    super(
      pseudonyms,
      (pseudonym) =>
        new PatientClient(contracts, pseudonymWallet(pseudonym, contracts), {
          relayer: pseudonymRelayer(options),
          allowDirect: options.allowDirect,
        }),
      { records: (address) => recordsOf(contracts, address) },
    );
    this.audit = new AuditClient(contracts, options.store);
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
}

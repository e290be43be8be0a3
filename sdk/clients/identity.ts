/**
 * One patient, many pseudonyms, one view: PatientIdentity holds a patient's pseudonyms (derived by
 * sdk/crypto/pseudonyms.ts) and reads records, consents, requests and audit across all of them, each item
 * tagged with the pseudonym it belongs to. The link between the pseudonyms exists only here, in the
 * patient's own client: nothing is written to the chain to build it.
 *
 * Reads go to one node: its operator sees the queries for every pseudonym arrive together, so a patient
 * who does not trust the RPC provider should read through a node of their own (docs/pseudonyms.md).
 */
import type { LedgerContracts } from "../chain/connect";
import type { PendingTransaction } from "../chain/transactions";
import type { EncryptionKeyPair } from "../crypto/keys";
import { pseudonymSigner, type Pseudonym } from "../crypto/pseudonyms";
import { ConsentLedgerError, InvalidArgumentError } from "../errors";
import type { BlobStore } from "../storage/blob-store";
import { AuditClient, type AuditEntry } from "./audit";
import { PatientClient } from "./patient";
import { recordsOf, type AnchoredRecord } from "./records";
import type { ConsentRelayer } from "./relayer";
import type { Consent, RequestView } from "./types";

/** An item of the one view, with the pseudonym it was found under. */
export type Tagged<T> = T & {
  /** The pseudonym's address. */
  pseudonym: string;
  /** Its derivation id: "provider:0x…", "study:<label>", "index:<n>". */
  relationship: string;
};

/** Everything the patient has on the ledger, across their pseudonyms. */
export interface PatientView {
  records: Tagged<AnchoredRecord>[];
  consents: Tagged<Consent>[];
  requests: Tagged<RequestView>[];
  audit: Tagged<AuditEntry>[];
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

/** Stands in when no relayer is given: every write is refused before anything is sent. */
const NO_RELAYER: ConsentRelayer = {
  submit() {
    throw new ConsentLedgerError("No relayer is configured for this patient's pseudonyms", {
      hint: "Pass PatientIdentity a relayer (RelayerClient). A pseudonym that sends its own transaction needs ether, and its funding links it.",
    });
  },
};

/** A patient's pseudonyms as one person: one PatientClient per pseudonym, and reads across them all. */
export class PatientIdentity {
  private readonly byAddress = new Map<string, { pseudonym: Pseudonym; client: PatientClient }>();
  private readonly audit: AuditClient;

  constructor(
    readonly contracts: LedgerContracts,
    pseudonyms: readonly Pseudonym[],
    readonly options: PatientIdentityOptions = {},
  ) {
    if (pseudonyms.length === 0) throw new InvalidArgumentError("pseudonyms", "none given");
    for (const pseudonym of pseudonyms) {
      const signer = pseudonymSigner(pseudonym, contracts.provider);
      const relayer = options.relayer ?? (options.allowDirect ? undefined : NO_RELAYER);
      this.byAddress.set(pseudonym.address, {
        pseudonym,
        client: new PatientClient(contracts, signer, { relayer, allowDirect: options.allowDirect }),
      });
    }
    this.audit = new AuditClient(contracts, options.store);
  }

  /** The pseudonyms, in the order given. */
  get pseudonyms(): Pseudonym[] {
    return [...this.byAddress.values()].map((entry) => entry.pseudonym);
  }

  /** The client acting as one pseudonym (by address or derivation id). */
  client(pseudonym: string): PatientClient {
    for (const entry of this.byAddress.values()) {
      if (entry.pseudonym.id === pseudonym || entry.pseudonym.address.toLowerCase() === pseudonym.toLowerCase())
        return entry.client;
    }
    throw new InvalidArgumentError("pseudonym", `${pseudonym} is not one of this patient's pseudonyms`);
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

  /** Records anchored under any pseudonym, oldest first within each. */
  async records(): Promise<Tagged<AnchoredRecord>[]> {
    return this.across((entry) => recordsOf(this.contracts, entry.pseudonym.address));
  }

  /** Consents in force or scheduled, given by any pseudonym. */
  async consents(): Promise<Tagged<Consent>[]> {
    return this.across((entry) => entry.client.consents());
  }

  /** Requests made to any pseudonym; pending only unless `all`. */
  async requests(options: { all?: boolean } = {}): Promise<Tagged<RequestView>[]> {
    return this.across((entry) => entry.client.requests(options));
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

  private async across<T extends object>(
    read: (entry: { pseudonym: Pseudonym; client: PatientClient }) => Promise<T[]>,
  ): Promise<Tagged<T>[]> {
    const lists = await Promise.all(
      [...this.byAddress.values()].map(async (entry) =>
        (await read(entry)).map((item) => ({
          ...item,
          pseudonym: entry.pseudonym.address,
          relationship: entry.pseudonym.id,
        })),
      ),
    );
    return lists.flat();
  }
}

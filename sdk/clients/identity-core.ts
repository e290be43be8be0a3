/**
 * One patient, many pseudonyms, one view: what both entries' PatientIdentity share (the ethers one in
 * sdk/clients/identity.ts, the viem one in sdk/viem/identity.ts). It holds a patient's pseudonyms and one
 * patient client per pseudonym, and reads across all of them, each item tagged with the pseudonym it
 * belongs to. The link between the pseudonyms exists only here, in the patient's own client: nothing is
 * written to the chain to build it. Library-free: each entry gives its patient client and its reads.
 */
import type { Pseudonym } from "../crypto/pseudonyms";
import { ConsentLedgerError, InvalidArgumentError } from "../errors";
import type { AuditEntry } from "./audit-core";
import type { AnchoredRecord } from "./record-rules";
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

/** Stands in when no relayer is given: every write is refused before anything is sent. */
export const NO_RELAYER: ConsentRelayer = {
  submit() {
    throw new ConsentLedgerError("No relayer is configured for this patient's pseudonyms", {
      hint: "Pass PatientIdentity a relayer (RelayerClient). A pseudonym that sends its own transaction needs ether, and its funding links it.",
    });
  },
};

/** The relayer a pseudonym's client gets: the one given, else one that refuses, unless direct sends are allowed. */
export function pseudonymRelayer(options: {
  relayer?: ConsentRelayer;
  allowDirect?: boolean;
}): ConsentRelayer | undefined {
  return options.relayer ?? (options.allowDirect ? undefined : NO_RELAYER);
}

/** What the identity reads of each pseudonym's patient client. */
export interface PseudonymPatient {
  consents(): Promise<Consent[]>;
  requests(options: { all?: boolean }): Promise<RequestView[]>;
}

/** A patient's pseudonyms as one person: one patient client per pseudonym, and reads across them all. */
export class PatientIdentityBase<C extends PseudonymPatient> {
  private readonly byAddress = new Map<string, { pseudonym: Pseudonym; client: C }>();

  constructor(
    pseudonyms: readonly Pseudonym[],
    private readonly clientOf: (pseudonym: Pseudonym) => C,
    private readonly reads: { records(address: string): Promise<AnchoredRecord[]> },
  ) {
    if (pseudonyms.length === 0) throw new InvalidArgumentError("pseudonyms", "none given");
    for (const pseudonym of pseudonyms) this.addPseudonym(pseudonym);
  }

  /** Adds a pseudonym (e.g. a study's, derived later) to this identity; returns its client. */
  addPseudonym(pseudonym: Pseudonym): C {
    const known = this.byAddress.get(pseudonym.address);
    if (known) return known.client;
    if (pseudonym.relationship.kind === "delegate")
      throw new InvalidArgumentError("pseudonym", `${pseudonym.id} is a delegate's account, not a patient pseudonym`);
    const client = this.clientOf(pseudonym);
    this.byAddress.set(pseudonym.address, { pseudonym, client });
    return client;
  }

  /** Every pseudonym with its client, in the order added. */
  protected entries(): { pseudonym: Pseudonym; client: C }[] {
    return [...this.byAddress.values()];
  }

  /** The pseudonyms, in the order given. */
  get pseudonyms(): Pseudonym[] {
    return [...this.byAddress.values()].map((entry) => entry.pseudonym);
  }

  /** The client acting as one pseudonym (by address or derivation id). */
  client(pseudonym: string): C {
    for (const entry of this.byAddress.values()) {
      if (entry.pseudonym.id === pseudonym || entry.pseudonym.address.toLowerCase() === pseudonym.toLowerCase())
        return entry.client;
    }
    throw new InvalidArgumentError("pseudonym", `${pseudonym} is not one of this patient's pseudonyms`);
  }

  /** Records anchored under any pseudonym, oldest first within each. */
  async records(): Promise<Tagged<AnchoredRecord>[]> {
    return this.across((entry) => this.reads.records(entry.pseudonym.address));
  }

  /** Consents in force or scheduled, given by any pseudonym. */
  async consents(): Promise<Tagged<Consent>[]> {
    return this.across((entry) => entry.client.consents());
  }

  /** Requests made to any pseudonym; pending only unless `all`. */
  async requests(options: { all?: boolean } = {}): Promise<Tagged<RequestView>[]> {
    return this.across((entry) => entry.client.requests(options));
  }

  /** `read` of every pseudonym, each item tagged with its pseudonym. */
  protected async across<T extends object>(
    read: (entry: { pseudonym: Pseudonym; client: C }) => Promise<T[]>,
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

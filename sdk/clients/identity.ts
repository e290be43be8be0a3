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
import { getAddress, Wallet, type Provider } from "ethers";

import { toUnixSeconds } from "../args";
import type { LedgerContracts } from "../chain/connect";
import type { PendingTransaction } from "../chain/transactions";
import type { EncryptionKeyPair } from "../crypto/keys";
import { relationshipId, type Pseudonym, type PseudonymRoot } from "../crypto/pseudonyms";
import { ConsentLedgerError, InvalidArgumentError } from "../errors";
import type { BlobStore } from "../storage/blob-store";
import { AuditClient, type AuditEntry } from "./audit";
import { DELEGATE_OFFER_PREFIX, parseDelegateOffer, verifyDelegateOffer, type DelegateOffer } from "./delegate-offer";
import { PatientIdentityBase, pseudonymRelayer, type PatientView, type Tagged } from "./identity-core";
import { PatientClient, type DelegateScope } from "./patient";
import { recordsOf } from "./records";
import type { ConsentRelayer } from "./relayer";
import { spreadOf, spreadSchedule } from "./spread";
import type { DataUsePolicy, DelegateScopeInput, PolicyInput } from "./types";

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
  /**
   * The root the pseudonyms were derived from: lets publishStudyPolicy derive a study pseudonym not
   * given in the list. Holds a secret, like the pseudonyms themselves.
   */
  root?: PseudonymRoot;
}

/** Options of one decision applied across pseudonyms. */
export interface SpreadOptions {
  /** The pseudonyms (addresses or derivation ids) to apply it to; all of the identity's by default. */
  pseudonyms?: readonly string[];
  /**
   * Each message is sent after a random delay from 0 to spreadMs milliseconds (crypto randomness), in
   * random order, and not before the previous one is mined, so no two land in one block. Default
   * DEFAULT_SPREAD_MS (15 minutes); 0 sends them all at once (tests; links the pseudonyms by timing).
   */
  spreadMs?: number;
  /** Told as each message is sent, confirmed or fails. */
  onProgress?: (event: SpreadProgress) => void;
}

export interface SpreadProgress {
  pseudonym: string;
  relationship: string;
  state: "sent" | "done" | "failed";
  hash?: string;
  error?: unknown;
}

/** One decision in flight across pseudonyms: its schedule, and its outcome once every message is mined. */
export interface SpreadAction<T> {
  /** In sending order: which pseudonym, after how many milliseconds at the earliest. */
  readonly schedule: readonly { pseudonym: string; relationship: string; delayMs: number }[];
  /** Every pseudonym's result once mined and checked; rejects with SpreadActionError if any failed. */
  wait(): Promise<Tagged<T>[]>;
  /** Sends nothing more (messages already sent stay sent); wait() then rejects for the ones not sent. */
  cancel(): void;
}

/** Some pseudonyms' messages of one decision failed (the others went through): `failures` names them. */
export class SpreadActionError extends ConsentLedgerError {
  override name = "SpreadActionError";
  constructor(
    readonly action: string,
    readonly failures: readonly { pseudonym: string; relationship: string; error: unknown }[],
    readonly succeeded: readonly string[],
  ) {
    super(`Could not ${action} on ${failures.length} of ${failures.length + succeeded.length} pseudonyms`, {
      details: failures
        .map((f) => `${f.relationship}: ${f.error instanceof Error ? f.error.message.split("\n")[0] : String(f.error)}`)
        .join("; "),
      hint: "The decision took effect on the others. Try again for the ones that failed.",
    });
  }
}

/**
 * One plain delegate address was to be appointed (or removed) on several pseudonyms: the ledger's
 * DelegateAppointed events would carry that one address next to each pseudonym, linking them for anyone
 * reading the chain. Use a delegate offer (one derived address per pseudonym), or pass allowLink: true.
 */
export class LinkingDelegateError extends ConsentLedgerError {
  override name = "LinkingDelegateError";
  constructor(
    readonly delegate: string,
    readonly pseudonyms: readonly string[],
  ) {
    super(
      `Refused to name one delegate address (${delegate}) on ${pseudonyms.length} pseudonyms: it would link them publicly on chain`,
      {
        hint:
          "Ask the delegate for a delegate offer (DelegateIdentity.createOffer: a distinct address per pseudonym) and pass it instead, " +
          "choose one pseudonym (options.pseudonyms), or pass allowLink: true to accept that anyone can link these pseudonyms.",
        details: pseudonyms.join(", "),
      },
    );
  }
}

/** Options of appointing or removing a delegate across pseudonyms. */
export interface DelegateSpreadOptions extends SpreadOptions {
  /** Accept one plain address on several pseudonyms (links them on chain). */
  allowLink?: boolean;
  /** Unix seconds now, for an offer's validity (defaults to the clock). */
  now?: number;
  /**
   * Keep `validUntil` to the second. By default it is rounded down to a whole UTC day (an earlier end,
   * never a later one): the same end to the second on every pseudonym would be a common field linking them.
   */
  exactValidUntil?: boolean;
}

const DAY_SECONDS = 86_400;

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
   * One decision, every pseudonym: opts out of (true) or back into (false) emergency access on each
   * pseudonym (or `options.pseudonyms`), each as its own message signed by that pseudonym and relayed,
   * spread over time (`options.spreadMs`). Returns once scheduled; `wait()` for the outcome.
   */
  async setEmergencyOptOut(
    optedOut: boolean,
    options: SpreadOptions = {},
  ): Promise<SpreadAction<{ optedOut: boolean }>> {
    if (typeof optedOut !== "boolean") throw new InvalidArgumentError("optedOut", "must be true or false");
    const targets = this.targets(options.pseudonyms);
    return this.spread(
      "set the emergency opt-out",
      targets.map((entry) => ({ entry, send: () => entry.client.setEmergencyOptOut(optedOut) })),
      options,
    );
  }

  /**
   * One decision, every pseudonym: appoints a delegate ("my carer") on each pseudonym the offer covers
   * (or those of them in `options.pseudonyms`), each pseudonym its own delegate address, so nothing on
   * chain links them. `delegate` is a delegate offer (its payload "cldeleg1.…" or decoded), checked
   * first (verifyDelegateOffer: DelegateOfferError if forged, for another pseudonym, expired, or one
   * address for two pseudonyms). A plain address is accepted for one pseudonym; for several it is
   * refused with LinkingDelegateError unless `options.allowLink`.
   */
  async appointDelegate(
    delegate: string | DelegateOffer,
    validUntil: Date | number,
    scope: DelegateScopeInput,
    options: DelegateSpreadOptions = {},
  ): Promise<SpreadAction<{ delegate: string; validUntil: number } & DelegateScope>> {
    const pairs = await this.delegatePairs(delegate, options, true);
    const exact = toUnixSeconds(validUntil, "validUntil");
    const until = options.exactValidUntil || pairs.length < 2 ? exact : exact - (exact % DAY_SECONDS);
    if (until <= (await this.latestTime()))
      throw new InvalidArgumentError(
        "validUntil",
        `${exact} rounded down to a whole UTC day (${until}) is not in the future`,
        {
          hint: "Appoint until a later day, or pass exactValidUntil: true (the same end to the second on every pseudonym links them).",
        },
      );
    return this.spread(
      "appoint the delegate",
      pairs.map(({ entry, address }) => ({
        entry,
        send: () => entry.client.appointDelegate(address, until, scope),
      })),
      options,
    );
  }

  /**
   * Removes the delegate from each pseudonym: by the offer it was appointed with (each pseudonym's own
   * address; the offer's expiry does not matter here), or a plain address (as appointDelegate: one
   * pseudonym, or several with allowLink).
   */
  async removeDelegate(
    delegate: string | DelegateOffer,
    options: DelegateSpreadOptions = {},
  ): Promise<SpreadAction<{ delegate: string }>> {
    const pairs = await this.delegatePairs(delegate, options, false);
    return this.spread(
      "remove the delegate",
      pairs.map(({ entry, address }) => ({ entry, send: () => entry.client.removeDelegate(address) })),
      options,
    );
  }

  /**
   * Publishes the standing research policy of the study pseudonym `studyLabel` (derived from
   * `options.root` if not already held), signed by it and relayed: a researcher's request to that
   * pseudonym that the policy covers is approved by the ledger at once. Give the researcher (or the
   * study's enrolment) only the returned address: nothing on chain leads from it to another pseudonym.
   */
  async publishStudyPolicy(
    studyLabel: string,
    policy: PolicyInput,
  ): Promise<{ pseudonym: string; relationship: string; transaction: PendingTransaction<DataUsePolicy> }> {
    const id = relationshipId({ kind: "study", label: studyLabel });
    let entry = this.entries().find((held) => held.pseudonym.id === id);
    if (!entry) {
      if (!this.options.root)
        throw new InvalidArgumentError("study", `this identity holds no pseudonym ${id}`, {
          hint: "Pass the study pseudonym in the list (root.forStudy(label)), or the root in PatientIdentity's options.",
        });
      const pseudonym = this.options.root.forStudy(studyLabel);
      this.addPseudonym(pseudonym);
      entry = this.entries().find((held) => held.pseudonym.address === pseudonym.address)!;
    }
    const transaction = await entry.client.setPolicy(policy);
    return { pseudonym: entry.pseudonym.address, relationship: entry.pseudonym.id, transaction };
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

  private async latestTime(): Promise<number> {
    return (await this.contracts.provider.getBlock("latest"))?.timestamp ?? Math.floor(Date.now() / 1000);
  }

  private targets(pseudonyms: readonly string[] | undefined): { pseudonym: Pseudonym; client: PatientClient }[] {
    if (pseudonyms === undefined) return this.entries();
    if (!Array.isArray(pseudonyms) || pseudonyms.length === 0)
      throw new InvalidArgumentError("pseudonyms", "expected a non-empty list of this patient's pseudonyms");
    const chosen = new Map<string, { pseudonym: Pseudonym; client: PatientClient }>();
    for (const name of pseudonyms) {
      const client = this.client(name);
      const entry = this.entries().find((held) => held.client === client)!;
      chosen.set(entry.pseudonym.address, entry);
    }
    return [...chosen.values()];
  }

  private async delegatePairs(
    delegate: string | DelegateOffer,
    options: DelegateSpreadOptions,
    checkValidity: boolean,
  ): Promise<{ entry: { pseudonym: Pseudonym; client: PatientClient }; address: string }[]> {
    const isOffer =
      typeof delegate === "object" ||
      (typeof delegate === "string" && delegate.trim().startsWith(DELEGATE_OFFER_PREFIX));
    if (!isOffer) {
      let address: string;
      try {
        address = getAddress(delegate as string);
      } catch (cause) {
        throw new InvalidArgumentError(
          "delegate",
          `${String(delegate).slice(0, 80)} is neither an address nor a delegate offer`,
          {
            hint: `A delegate offer starts with ${DELEGATE_OFFER_PREFIX}.`,
            cause,
          },
        );
      }
      const targets = this.targets(options.pseudonyms);
      if (targets.length > 1 && options.allowLink !== true)
        throw new LinkingDelegateError(
          address,
          targets.map((entry) => entry.pseudonym.address),
        );
      return targets.map((entry) => ({ entry, address }));
    }
    const mine = this.entries().map((held) => held.pseudonym.address);
    const offer = checkValidity
      ? verifyDelegateOffer(delegate, {
          pseudonyms: mine,
          chainId: this.contracts.chainId,
          ledger: await this.contracts.ledger.getAddress(),
          now: options.now,
        })
      : typeof delegate === "string"
        ? parseDelegateOffer(delegate)
        : delegate;
    const chosen =
      options.pseudonyms === undefined
        ? undefined
        : new Set(this.targets(options.pseudonyms).map((e) => e.pseudonym.address));
    if (chosen)
      for (const address of chosen)
        if (!offer.entries.some((item) => getAddress(item.patient) === address))
          throw new InvalidArgumentError("pseudonyms", `the delegate offer does not cover ${address}`, {
            hint: "Ask the delegate for an offer covering every pseudonym you choose.",
          });
    const pairs: { entry: { pseudonym: Pseudonym; client: PatientClient }; address: string }[] = [];
    for (const item of offer.entries) {
      const entry = this.entries().find((held) => held.pseudonym.address === getAddress(item.patient));
      if (!entry)
        throw new InvalidArgumentError(
          "delegate offer",
          `it names ${item.patient}, which is not one of this patient's pseudonyms`,
        );
      if (chosen && !chosen.has(entry.pseudonym.address)) continue;
      pairs.push({ entry, address: getAddress(item.delegate) });
    }
    return pairs;
  }

  /**
   * Sends one message per pseudonym on the spread's schedule: in random order after random delays, each
   * (when spread) only once the previous is mined, so no two share a block. Failures do not stop the
   * others; wait() reports them together.
   */
  private spread<T>(
    action: string,
    jobs: { entry: { pseudonym: Pseudonym; client: PatientClient }; send: () => Promise<PendingTransaction<T>> }[],
    options: SpreadOptions,
  ): SpreadAction<T> {
    const spreadMs = spreadOf(options.spreadMs);
    const schedule = spreadSchedule(jobs, spreadMs);
    const start = Date.now();
    let cancelled = false;
    // Each pending delay, by the function that ends it now (cancel() ends them all).
    const wakers = new Set<() => void>();
    const sleepUntil = (at: number) =>
      new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          wakers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.max(0, at - Date.now()));
        wakers.add(wake);
      });
    const progress = (event: SpreadProgress) => {
      try {
        options.onProgress?.(event);
      } catch {
        // A listener's failure must not stop the patient's decision.
      }
    };
    const runOne = async ({ item, delayMs }: (typeof schedule)[number]): Promise<Tagged<T>> => {
      const tag = { pseudonym: item.entry.pseudonym.address, relationship: item.entry.pseudonym.id };
      try {
        await sleepUntil(start + delayMs);
        if (cancelled) throw new ConsentLedgerError(`Cancelled before this pseudonym's message was sent`);
        const pending = await item.send();
        progress({ ...tag, state: "sent", hash: pending.hash });
        const result = await pending.wait();
        progress({ ...tag, state: "done", hash: pending.hash });
        return { ...(result as T & object), ...tag } as Tagged<T>;
      } catch (error) {
        progress({ ...tag, state: "failed", error });
        throw error;
      }
    };
    let outcomes: Promise<PromiseSettledResult<Tagged<T>>[]>;
    if (spreadMs === 0) outcomes = Promise.allSettled(schedule.map(runOne));
    else
      outcomes = (async () => {
        const settled: PromiseSettledResult<Tagged<T>>[] = [];
        for (const job of schedule) {
          // One after the other: each waits for its delay and for the previous one to be mined.
          const [result] = await Promise.allSettled([runOne(job)]);
          settled.push(result);
        }
        return settled;
      })();
    const done = outcomes.then((settled) => {
      const failures: { pseudonym: string; relationship: string; error: unknown }[] = [];
      const results: Tagged<T>[] = [];
      settled.forEach((result, i) => {
        const { pseudonym } = schedule[i].item.entry;
        if (result.status === "fulfilled") results.push(result.value);
        else failures.push({ pseudonym: pseudonym.address, relationship: pseudonym.id, error: result.reason });
      });
      if (failures.length > 0)
        throw new SpreadActionError(
          action,
          failures,
          results.map((result) => result.pseudonym),
        );
      return results;
    });
    // Nobody may call wait(): the failure is then reported through onProgress only, never unhandled.
    done.catch(() => undefined);
    return {
      schedule: schedule.map(({ item, delayMs }) => ({
        pseudonym: item.entry.pseudonym.address,
        relationship: item.entry.pseudonym.id,
        delayMs,
      })),
      wait: () => done,
      cancel: () => {
        cancelled = true;
        for (const wake of [...wakers]) wake();
      },
    };
  }
}

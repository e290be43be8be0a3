/**
 * k-of-n custody of data keys across a custodian set (contracts/CustodianSets.sol): a provider splits
 * each record's data key into one share per custodian and deposits share i, wrapped to custodian i's
 * registered key, with custodian i; a reader asks every custodian of the record's set at once, keeps the
 * first k shares that open, rebuilds the key and checks it against the record before decrypting.
 *
 * Each custodian is a gateway (gateway/) deciding alone from the chain. Ciphertext is deposited with
 * every custodian too, and read from whichever answers first (checked against its record id).
 */
import { requireBytes32 } from "../args";
import type { PendingTransaction } from "../chain/transactions";
import type { PurposeName } from "../codes";
import { getAddress } from "../core/hex";
import { combineKeyShares, splitDataKey } from "../crypto/key-shares";
import { unwrapKeyShare, wrapKeyShare } from "../crypto/key-wrap";
import { bytes32ToPublicKey, type EncryptionKeyPair } from "../crypto/keys";
import { recordIdOf } from "../crypto/envelope";
import { ConsentLedgerError, DecryptionError, IntegrityError, InvalidArgumentError } from "../errors";
import type { BlobStore } from "../storage/blob-store";
import { GatewayError, type GatewayClientBase, type RecordOpener, type ShareRelease } from "./gateway-core";
import type { KeyCustodian, PublishedRecord } from "./provider-rules";
import type { OpenedRecord } from "./record-rules";

type GatewayClient = GatewayClientBase;

/**
 * What the custodian-set client reads and writes on the chain (CustodianSets, KeyDirectory), through
 * either library: sdk/clients/custodian-set.ts (ethers), sdk/viem/custodian-set.ts (viem).
 */
export interface CustodianSetChain {
  /** CustodianSets.setOf: the set's threshold and custodians. */
  setOf(setId: number): Promise<{ threshold: number; custodians: string[] }>;
  /** CustodianSets.recordCustodians: the set guarding the record now (set id 0: none). */
  recordCustodians(recordId: string): Promise<{ setId: number; threshold: number; custodians: string[] }>;
  /** CustodianSets.custodianSetOf: the record's set id (0: none). */
  custodianSetOf(recordId: string): Promise<number>;
  /** Sends CustodianSets.defineSet; resolves to the new set's id (its CustodianSetDefined event). */
  defineSet(custodians: readonly string[], threshold: number): Promise<PendingTransaction<number>>;
  /** Sends CustodianSets.assignRecord. */
  assignRecord(recordId: string, setId: number): Promise<PendingTransaction<void>>;
  /** KeyDirectory.keyOf: the account's registered X25519 key (bytes32; zero when none). */
  keyOf(account: string): Promise<string>;
}

/** What one custodian answered, when it did not give a usable share. */
export interface CustodianRefusal {
  custodian: string;
  /** The gateway's error name (AccessDenied, GatewayUnreachable, ...) or the SDK's (WrongRecipientKey, ...). */
  code: string;
  reason: string;
}

/** Fewer than k custodians of the set gave a usable share (or k shares did not rebuild the record's key). */
export class NotEnoughSharesError extends ConsentLedgerError {
  override name = "NotEnoughSharesError";
  constructor(
    readonly recordId: string,
    readonly threshold: number,
    readonly received: number,
    readonly refusals: readonly CustodianRefusal[],
    options: { hint?: string; cause?: unknown } = {},
  ) {
    super(
      `${received} of the ${threshold} key shares needed for record ${recordId}: ` +
        (refusals.length === 0
          ? "no custodian refused"
          : refusals.map((refusal) => `${refusal.custodian} ${refusal.code} (${refusal.reason})`).join("; ")),
      {
        hint:
          options.hint ??
          "Each custodian decides alone from the chain: fix what the refusals say (consent, encryption key), or wait for custodians that are down.",
        details: JSON.stringify(refusals),
        cause: options.cause,
      },
    );
  }
}

/** A custodian deposit that failed. */
export class ShareDepositError extends ConsentLedgerError {
  override name = "ShareDepositError";
  constructor(
    readonly recordId: string,
    readonly failures: readonly CustodianRefusal[],
    readonly deposited: readonly string[],
  ) {
    super(
      `${failures.length} custodian(s) did not take their share of record ${recordId}: ` +
        failures.map((failure) => `${failure.custodian} ${failure.code} (${failure.reason})`).join("; "),
      {
        hint: "Deposit again (depositKey is idempotent per custodian) once those custodians are up; the shares already held stay.",
        details: `deposited with ${deposited.join(", ") || "none"}`,
      },
    );
  }
}

/** A set as the chain defines it. */
export interface CustodianSetView {
  setId: number;
  threshold: number;
  custodians: string[];
}

export interface CustodianSetClientOptions {
  /** Where depositKey reads each record's envelope from (the provider's blob store). */
  store?: BlobStore;
}

/** At most this many combinations of k shares are tried after a wrong one (C(16, 8) would be 12 870). */
const MAX_COMBINATIONS = 256;

/** The combinations of `k` items of `items`, in order, at most `limit` of them. */
function* combinations<T>(items: readonly T[], k: number, limit: number): Generator<T[]> {
  let produced = 0;
  const chosen: number[] = [];
  function* from(start: number): Generator<T[]> {
    if (chosen.length === k) {
      produced++;
      yield chosen.map((index) => items[index]);
      return;
    }
    for (let index = start; index < items.length && produced < limit; index++) {
      chosen.push(index);
      yield* from(index + 1);
      chosen.pop();
    }
  }
  yield* from(0);
}

function refusalOf(custodian: string, error: unknown): CustodianRefusal {
  if (error instanceof GatewayError) return { custodian, code: error.code, reason: error.shortMessage };
  // A gateway's 403 comes back as AccessDeniedError, its error name in the details ("HTTP 403 AccessDenied").
  const answered = error instanceof ConsentLedgerError ? /^HTTP \d+ (\w+)$/.exec(error.details ?? "") : null;
  if (answered && error instanceof ConsentLedgerError)
    return { custodian, code: answered[1], reason: error.shortMessage };
  if (error instanceof ConsentLedgerError) return { custodian, code: error.name, reason: error.shortMessage };
  return { custodian, code: "Error", reason: (error as Error)?.message ?? String(error) };
}

/** The error a deployment without CustodianSets gets from either entry's CustodianSetClient. */
export function noCustodianSets(): InvalidArgumentError {
  return new InvalidArgumentError("deployment", "names no custodianSets contract", {
    hint: "Deploy CustodianSets (npm run deploy) and add its address to the deployment file as custodianSets.",
  });
}

/**
 * One account's view of a custodian set's gateways. As a provider's KeyCustodian, it assigns each
 * published record to `setId` and deposits one share with each custodian; as a reader, it gathers k
 * shares of a record's set (whatever set the chain says guards it now). Each entry's CustodianSetClient
 * is this class with that library's chain reads and record opener.
 */
export class CustodianSetClientBase implements KeyCustodian {
  private readonly gateways: Map<string, GatewayClient>;

  /**
   * @param gateways Each custodian's gateway, by the custodian's account. Custodians of a set without a
   *   gateway here count as refusing ("NoGateway").
   * @param setId For a provider: the set new records are assigned to.
   */
  constructor(
    private readonly chain: CustodianSetChain,
    private readonly opener: RecordOpener,
    gateways: Record<string, GatewayClient> | Map<string, GatewayClient>,
    readonly setId?: number,
    private readonly options: CustodianSetClientOptions = {},
  ) {
    const entries = gateways instanceof Map ? [...gateways.entries()] : Object.entries(gateways);
    this.gateways = new Map(entries.map(([custodian, gateway]) => [getAddress(custodian), gateway]));
  }

  /** Defines a new set, `threshold` of `custodians` (the signer must be an accredited provider). */
  async defineSet(custodians: readonly string[], threshold: number): Promise<PendingTransaction<CustodianSetView>> {
    const pending = await this.chain.defineSet(custodians, threshold);
    return { hash: pending.hash, wait: async (confirmations) => this.set(await pending.wait(confirmations)) };
  }

  /** The set with this id, as the chain defines it. */
  async set(setId: number): Promise<CustodianSetView> {
    const set = await this.chain.setOf(setId);
    return { setId, threshold: set.threshold, custodians: set.custodians.map((c) => getAddress(c)) };
  }

  /** The set guarding `recordId` now, or undefined (one chain read: CustodianSets.recordCustodians). */
  async setOfRecord(recordId: string): Promise<CustodianSetView | undefined> {
    const set = await this.chain.recordCustodians(requireBytes32(recordId, "recordId"));
    if (set.setId === 0) return undefined;
    return { setId: set.setId, threshold: set.threshold, custodians: set.custodians.map((c) => getAddress(c)) };
  }

  /**
   * KeyCustodian: assigns the just-published record to this client's set (unless it is already), splits
   * its data key and deposits share i with custodian i, wrapped to custodian i's registered key, each
   * with the record's envelope. Throws ShareDepositError naming every custodian that did not take its
   * share (the others keep theirs).
   */
  async depositKey(record: PublishedRecord): Promise<void> {
    if (this.setId === undefined)
      throw new InvalidArgumentError("setId", "a CustodianSetClient that deposits needs the set to assign records to");
    if (record.batch)
      throw new InvalidArgumentError(
        "record",
        "records published in a batch cannot be assigned to a custodian set yet",
        {
          hint: "Publish records one by one (publish or amend) to guard them with a custodian set.",
        },
      );
    await this.shareTo(record, this.setId);
  }

  /**
   * Re-shares a record (its provider holds its data key) to set `setId`: assigns it on chain, deposits
   * fresh shares with the new set, then asks every custodian of the previous set that is not in the new
   * one to erase its share. Returns the custodians that did not confirm the erasure.
   */
  async reshare(
    record: Pick<PublishedRecord, "recordId" | "cid" | "dataKey"> & Partial<PublishedRecord>,
    setId: number,
  ): Promise<{ withdrawn: string[]; notWithdrawn: CustodianRefusal[] }> {
    const previous = await this.setOfRecord(record.recordId);
    await this.shareTo(record, setId);
    const next = await this.set(setId);
    const leaving = (previous?.custodians ?? []).filter((custodian) => !next.custodians.includes(custodian));
    const withdrawn: string[] = [];
    const notWithdrawn: CustodianRefusal[] = [];
    await Promise.all(
      leaving.map(async (custodian) => {
        const gateway = this.gateways.get(custodian);
        if (!gateway) return void notWithdrawn.push({ custodian, code: "NoGateway", reason: "no gateway known" });
        try {
          await gateway.withdrawShare(record.recordId);
          withdrawn.push(custodian);
        } catch (error) {
          notWithdrawn.push(refusalOf(custodian, error));
        }
      }),
    );
    return { withdrawn, notWithdrawn };
  }

  private async shareTo(record: Pick<PublishedRecord, "recordId" | "cid" | "dataKey">, setId: number): Promise<void> {
    if (!this.options.store)
      throw new InvalidArgumentError("store", "a CustodianSetClient that deposits needs the provider's blob store", {
        hint: "Construct it with { store } set to the store the ProviderClient writes to.",
      });
    const recordId = requireBytes32(record.recordId, "recordId");
    if ((await this.chain.custodianSetOf(recordId)) !== setId) {
      await (await this.chain.assignRecord(recordId, setId)).wait();
    }
    const set = await this.set(setId);
    const envelope = await this.options.store.get(record.cid);
    const shares = await splitDataKey(record.dataKey, set.custodians.length, set.threshold);
    const failures: CustodianRefusal[] = [];
    const deposited: string[] = [];
    try {
      await Promise.all(
        set.custodians.map(async (custodian, index) => {
          try {
            const gateway = this.gateways.get(custodian);
            if (!gateway) throw new ConsentLedgerError(`no gateway is known for custodian ${custodian}`);
            const registered = await this.chain.keyOf(custodian);
            if (/^0x0+$/.test(registered))
              throw new ConsentLedgerError(`custodian ${custodian} has no encryption key in KeyDirectory`);
            const wrappedShare = await wrapKeyShare(shares[index], bytes32ToPublicKey(registered), recordId);
            await gateway.depositShare({ recordId, setId, position: index + 1, wrappedShare, envelope });
            deposited.push(custodian);
          } catch (error) {
            failures.push(refusalOf(custodian, error));
          }
        }),
      );
    } finally {
      for (const share of shares) share.fill(0);
    }
    if (failures.length > 0) throw new ShareDepositError(recordId, failures, deposited);
  }

  /**
   * The record's ciphertext from whichever custodian of its set answers first with bytes that hash to
   * `recordId`; a custodian serving other bytes is skipped.
   */
  async fetchCiphertext(
    recordId: string,
    set?: CustodianSetView,
  ): Promise<{ envelope: Uint8Array; custodian: string }> {
    const id = requireBytes32(recordId, "recordId");
    const guarding = set ?? (await this.requireSet(id));
    const refusals: CustodianRefusal[] = [];
    const attempts = guarding.custodians.map(async (custodian) => {
      const gateway = this.gateways.get(custodian);
      if (!gateway) throw refusals.push({ custodian, code: "NoGateway", reason: "no gateway known" });
      try {
        const envelope = await gateway.fetchCiphertext(id);
        const actual = await recordIdOf(envelope);
        if (actual !== id) throw new IntegrityError(id, `custodian ${custodian} served bytes hashing to ${actual}`);
        return { envelope, custodian };
      } catch (error) {
        refusals.push(refusalOf(custodian, error));
        throw error;
      }
    });
    try {
      return await Promise.any(attempts);
    } catch {
      throw new IntegrityError(id, `no custodian of set ${guarding.setId} served the record's ciphertext`, {
        hint:
          "Every custodian is down or holds a damaged copy: " +
          refusals.map((r) => `${r.custodian} ${r.code}`).join("; "),
      });
    }
  }

  /**
   * Asks every custodian of the record's set for its share at once; resolves with the first k that open
   * with `keyPair` for this record and set (the others are left to finish on their own). Throws
   * NotEnoughSharesError once fewer than k can still come, naming each custodian's refusal.
   */
  async gatherShares(input: {
    recordId: string;
    purpose: PurposeName | number;
    keyPair: EncryptionKeyPair;
    set?: CustodianSetView;
    /** Wait for every custodian and keep every share (to try other combinations after a bad one). */
    all?: boolean;
  }): Promise<{
    set: CustodianSetView;
    shares: { custodian: string; share: Uint8Array; release: ShareRelease }[];
    refusals: CustodianRefusal[];
  }> {
    const recordId = requireBytes32(input.recordId, "recordId");
    const set = input.set ?? (await this.requireSet(recordId));
    const shares: { custodian: string; share: Uint8Array; release: ShareRelease }[] = [];
    const refusals: CustodianRefusal[] = [];
    await new Promise<void>((resolve, reject) => {
      let settled = 0;
      const done = () => {
        if (input.all) {
          if (settled < set.custodians.length) return;
          return shares.length >= set.threshold
            ? resolve()
            : reject(new NotEnoughSharesError(recordId, set.threshold, shares.length, refusals));
        }
        if (shares.length >= set.threshold) return resolve();
        if (set.custodians.length - refusals.length < set.threshold || settled === set.custodians.length)
          reject(new NotEnoughSharesError(recordId, set.threshold, shares.length, refusals));
      };
      for (const custodian of set.custodians) {
        void (async () => {
          try {
            const gateway = this.gateways.get(custodian);
            if (!gateway) throw new ConsentLedgerError(`no gateway is known for custodian ${custodian}`);
            const release = await gateway.requestShare(recordId, input.purpose);
            if (release.custodian !== custodian || release.setId !== set.setId)
              throw new IntegrityError(
                recordId,
                `custodian ${custodian} answered for ${release.custodian}, set ${release.setId}`,
              );
            // Once k shares are held, a later one is not needed: it is not even unwrapped.
            if (!input.all && shares.length >= set.threshold) return;
            const share = await unwrapKeyShare(release.wrappedShare, input.keyPair, recordId);
            if (input.all || shares.length < set.threshold) shares.push({ custodian, share, release });
            else share.fill(0);
          } catch (error) {
            refusals.push(refusalOf(custodian, error));
          } finally {
            settled++;
            done();
          }
        })();
      }
    });
    return { set, shares: input.all ? shares : shares.slice(0, set.threshold), refusals };
  }

  /**
   * Reads a record guarded by a custodian set: its ciphertext from the first custodian that answers, k
   * shares gathered in parallel, the key rebuilt and checked against the record (a v2 envelope commits
   * to its key: shares of another record, reader or set rebuild no key it accepts), then verified against
   * the chain and decrypted.
   */
  async fetchRecord(input: {
    recordId: string;
    purpose: PurposeName | number;
    keyPair: EncryptionKeyPair;
  }): Promise<OpenedRecord & { shares: ShareRelease[]; refusals: CustodianRefusal[]; servedBy: string }> {
    const recordId = requireBytes32(input.recordId, "recordId");
    const set = await this.requireSet(recordId);
    const [{ envelope, custodian: servedBy }, gathered] = await Promise.all([
      this.fetchCiphertext(recordId, set),
      this.gatherShares({ ...input, recordId, set }),
    ]);
    const attempt = async (chosen: typeof gathered.shares) => {
      const dataKey = await combineKeyShares(chosen.map((entry) => entry.share));
      try {
        return await this.opener.openRecordWithKey({ envelope, dataKey, expectedRecordId: recordId });
      } finally {
        dataKey.fill(0);
      }
    };
    // A wrong share shows as a key the record refuses, or (a repeated x coordinate) as shares that do not combine.
    const wrongKey = (error: unknown) =>
      error instanceof DecryptionError ||
      error instanceof InvalidArgumentError ||
      (error as Error)?.name === "KeyCommitmentError";
    try {
      const opened = await attempt(gathered.shares);
      return {
        ...opened,
        shares: gathered.shares.map((entry) => entry.release),
        refusals: gathered.refusals,
        servedBy,
      };
    } catch (error) {
      if (!wrongKey(error)) throw error;
      // Some custodian among the first k released a wrong share. Ask all of them, and try the other
      // combinations of k: any k honest custodians rebuild the key the record commits to.
      const suspects = gathered.shares.map((entry) => entry.custodian);
      const everyone = await this.gatherShares({ ...input, recordId, set, all: true });
      try {
        for (const chosen of combinations(everyone.shares, set.threshold, MAX_COMBINATIONS)) {
          try {
            const opened = await attempt(chosen);
            return { ...opened, shares: chosen.map((entry) => entry.release), refusals: everyone.refusals, servedBy };
          } catch (retryError) {
            if (!wrongKey(retryError)) throw retryError;
          }
        }
      } finally {
        for (const entry of everyone.shares) entry.share.fill(0);
      }
      throw new NotEnoughSharesError(recordId, set.threshold, 0, everyone.refusals, {
        hint:
          `No ${set.threshold} of the shares of ${everyone.shares.map((entry) => entry.custodian).join(", ")} rebuild the key record ` +
          `${recordId} commits to (first tried: ${suspects.join(", ")}): some custodians released shares of another record or set.`,
        cause: error,
      });
    } finally {
      for (const entry of gathered.shares) entry.share.fill(0);
    }
  }

  private async requireSet(recordId: string): Promise<CustodianSetView> {
    const set = await this.setOfRecord(recordId);
    if (!set)
      throw new ConsentLedgerError(`record ${recordId} is guarded by no custodian set`, {
        hint: "Its key is held whole by one custodian: read it with GatewayClient.fetchRecord.",
      });
    return set;
  }
}

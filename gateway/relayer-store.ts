/**
 * The relayer's durable state, in one SQLite file (better-sqlite3, WAL, synchronous FULL, as
 * gateway/store.ts: a commit is on disk before the call returns, so a SIGKILL loses nothing committed):
 *
 * - meta: the account, chain and ledger the file belongs to (a file is never used for another), and the
 *   UTC day's gas budget spent;
 * - sends: each relayed transaction until it is settled: its account nonce, every hash sent at that
 *   nonce (the first, then each fee bump), the latest signed transaction (to broadcast again), its fees,
 *   attempts, and what settling it must do (the signer and client to charge a revert to, the in-flight
 *   keys to free, the day whose budget it was charged to). A row is written before its transaction is
 *   broadcast, so any nonce that may be on the wire is here until the chain settles it;
 * - settled: for a while after settling, which hash of a send was mined (the SDK asks which one), public
 *   hashes only;
 * - reverts: reverted sends by "signer:" and "ip:" key within the window.
 *
 * A settled send's row is deleted: the file keeps no history of which signer sent what from which client.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";

import Database from "better-sqlite3";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sends (
  nonce          INTEGER PRIMARY KEY,
  first_hash     TEXT NOT NULL UNIQUE,
  hashes         TEXT NOT NULL,
  raw_tx         TEXT NOT NULL,
  max_fee        TEXT NOT NULL,
  max_priority   TEXT NOT NULL,
  gas_limit      TEXT NOT NULL,
  attempts       INTEGER NOT NULL,
  last_sent_at   INTEGER NOT NULL,
  signer         TEXT NOT NULL,
  client         TEXT NOT NULL,
  keys           TEXT NOT NULL,
  day            INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS settled (
  first_hash  TEXT PRIMARY KEY,
  hashes      TEXT NOT NULL,
  final_hash  TEXT,
  outcome     TEXT NOT NULL,
  settled_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS reverts (
  key    TEXT PRIMARY KEY,
  count  INTEGER NOT NULL,
  since  INTEGER NOT NULL
);
`;

/** One relayed transaction not yet settled by the chain. */
export interface SendRow {
  nonce: number;
  /** The hash the client was given. */
  firstHash: string;
  /** Every hash sent at this nonce, oldest first. */
  hashes: string[];
  /** The latest signed transaction (the last of `hashes`). */
  rawTx: string;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
  gasLimit: bigint;
  /** Signed versions sent (1 + fee bumps). */
  attempts: number;
  /** Wall-clock ms of the latest broadcast (or bump). */
  lastSentAt: number;
  signer: string;
  client: string;
  /** The in-flight keys this send holds (signer, consent or request). */
  keys: string[];
  /** The UTC day (ms / 86,400,000) whose budget it was charged to. */
  day: number;
}

/** How a send ended: mined (ok or reverted), or its nonce used by a transaction the relayer did not send. */
export type SendOutcome = "mined" | "reverted" | "superseded";

export interface SettledSend {
  hashes: string[];
  finalHash: string | null;
  outcome: SendOutcome;
}

type Row = Record<string, unknown>;

/** Thrown when a store file belongs to another relayer account, chain or ledger. */
export class RelayerStoreMismatchError extends Error {
  override name = "RelayerStoreMismatchError";
}

export class RelayerStore {
  private constructor(
    readonly file: string,
    private readonly db: Database.Database,
  ) {}

  /**
   * Opens (creating if needed) the store at `file` (":memory:" for one that lasts as long as the process)
   * for this account, chain and ledger; refuses a file made for another.
   */
  static open(file: string, identity: { relayer: string; chainId: bigint; ledger: string }): RelayerStore {
    if (file !== ":memory:") mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
    const db = new Database(file);
    try {
      if (file !== ":memory:") {
        db.pragma("journal_mode = WAL");
        db.pragma("synchronous = FULL");
      }
      db.pragma("busy_timeout = 5000");
      db.exec(SCHEMA);
      const expected = `${identity.relayer.toLowerCase()}@${identity.chainId}/${identity.ledger.toLowerCase()}`;
      const held = db.prepare("SELECT value FROM meta WHERE key = 'identity'").get() as Row | undefined;
      if (!held) db.prepare("INSERT INTO meta (key, value) VALUES ('identity', ?)").run(expected);
      else if (held.value !== expected)
        throw new RelayerStoreMismatchError(
          `${file} belongs to relayer ${String(held.value)}, not ${expected}: use one store per account, chain and ledger`,
        );
    } catch (error) {
      db.close();
      throw error;
    }
    return new RelayerStore(file, db);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  get open(): boolean {
    return this.db.open;
  }

  /** Records a send before its transaction is broadcast. */
  addSend(row: SendRow): void {
    this.db
      .prepare(
        `INSERT INTO sends (nonce, first_hash, hashes, raw_tx, max_fee, max_priority, gas_limit, attempts, last_sent_at,
           signer, client, keys, day) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        row.nonce,
        row.firstHash,
        JSON.stringify(row.hashes),
        row.rawTx,
        row.maxFeePerGas.toString(),
        row.maxPriorityFeePerGas.toString(),
        row.gasLimit.toString(),
        row.attempts,
        row.lastSentAt,
        row.signer,
        row.client,
        JSON.stringify(row.keys),
        row.day,
      );
  }

  /** Records a replacement (fee bump) of the send at `nonce`, before it is broadcast. */
  replaceSend(
    nonce: number,
    next: { hash: string; rawTx: string; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint; at: number },
  ): SendRow {
    return this.db.transaction(() => {
      const row = this.send(nonce);
      if (!row) throw new Error(`no send at nonce ${nonce}`);
      const updated: SendRow = {
        ...row,
        hashes: [...row.hashes, next.hash],
        rawTx: next.rawTx,
        maxFeePerGas: next.maxFeePerGas,
        maxPriorityFeePerGas: next.maxPriorityFeePerGas,
        attempts: row.attempts + 1,
        lastSentAt: next.at,
      };
      this.db
        .prepare(
          "UPDATE sends SET hashes = ?, raw_tx = ?, max_fee = ?, max_priority = ?, attempts = ?, last_sent_at = ? WHERE nonce = ?",
        )
        .run(
          JSON.stringify(updated.hashes),
          updated.rawTx,
          updated.maxFeePerGas.toString(),
          updated.maxPriorityFeePerGas.toString(),
          updated.attempts,
          updated.lastSentAt,
          nonce,
        );
      return updated;
    })();
  }

  /** Marks the send at `nonce` broadcast again (same signed bytes) at `at`. */
  touchSend(nonce: number, at: number): void {
    this.db.prepare("UPDATE sends SET last_sent_at = ? WHERE nonce = ?").run(at, nonce);
  }

  /** Forgets a send whose broadcast the node refused outright (its nonce was not used). */
  dropSend(nonce: number): void {
    this.db.prepare("DELETE FROM sends WHERE nonce = ?").run(nonce);
  }

  /** Settles a send: its row goes, and which hash was mined is kept for `status` until pruned. */
  settleSend(nonce: number, finalHash: string | null, outcome: SendOutcome, at: number): void {
    this.db.transaction(() => {
      const row = this.send(nonce);
      if (!row) return;
      this.db.prepare("DELETE FROM sends WHERE nonce = ?").run(nonce);
      this.db
        .prepare(
          "INSERT OR REPLACE INTO settled (first_hash, hashes, final_hash, outcome, settled_at) VALUES (?, ?, ?, ?, ?)",
        )
        .run(row.firstHash, JSON.stringify(row.hashes), finalHash, outcome, at);
    })();
  }

  send(nonce: number): SendRow | undefined {
    const row = this.db.prepare("SELECT * FROM sends WHERE nonce = ?").get(nonce) as Row | undefined;
    return row && toSend(row);
  }

  /** Every send not yet settled, by nonce. */
  sends(): SendRow[] {
    return (this.db.prepare("SELECT * FROM sends ORDER BY nonce").all() as Row[]).map(toSend);
  }

  /** The highest nonce of an unsettled send, or undefined. */
  highestNonce(): number | undefined {
    const row = this.db.prepare("SELECT MAX(nonce) AS nonce FROM sends").get() as Row;
    return row.nonce === null ? undefined : Number(row.nonce);
  }

  /** What became of the send first named `hash` (any of its hashes), unsettled or settled. */
  status(hash: string): (SettledSend & { nonce?: number }) | undefined {
    const needle = hash.toLowerCase();
    const pending = this.sends().find((row) => row.hashes.some((held) => held.toLowerCase() === needle));
    if (pending) return { hashes: pending.hashes, finalHash: null, outcome: "mined", nonce: pending.nonce };
    for (const row of this.db.prepare("SELECT * FROM settled").iterate() as IterableIterator<Row>) {
      const hashes = JSON.parse(String(row.hashes)) as string[];
      if (hashes.some((held) => held.toLowerCase() === needle))
        return {
          hashes,
          finalHash: row.final_hash === null ? null : String(row.final_hash),
          outcome: String(row.outcome) as SendOutcome,
        };
    }
    return undefined;
  }

  /** Forgets settled sends older than `before` (ms). */
  pruneSettled(before: number): void {
    this.db.prepare("DELETE FROM settled WHERE settled_at < ?").run(before);
  }

  /** The reverted sends counted for `key`, or undefined. */
  reverts(key: string): { count: number; since: number } | undefined {
    const row = this.db.prepare("SELECT count, since FROM reverts WHERE key = ?").get(key) as Row | undefined;
    return row && { count: Number(row.count), since: Number(row.since) };
  }

  setReverts(key: string, held: { count: number; since: number } | undefined, bound = 10_000): void {
    if (!held) {
      this.db.prepare("DELETE FROM reverts WHERE key = ?").run(key);
      return;
    }
    this.db.transaction(() => {
      this.db
        .prepare("INSERT OR REPLACE INTO reverts (key, count, since) VALUES (?, ?, ?)")
        .run(key, held.count, held.since);
      // Bounded like the rate limiter: the oldest entries go first.
      this.db
        .prepare("DELETE FROM reverts WHERE key IN (SELECT key FROM reverts ORDER BY since DESC LIMIT -1 OFFSET ?)")
        .run(bound);
    })();
  }

  /** The gas charged on UTC day `day` (0 if another day is held). */
  budget(day: number): bigint {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'budget'").get() as Row | undefined;
    if (!row) return 0n;
    const held = JSON.parse(String(row.value)) as { day: number; spent: string };
    return held.day === day ? BigInt(held.spent) : 0n;
  }

  setBudget(day: number, spent: bigint): void {
    this.db
      .prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('budget', ?)")
      .run(JSON.stringify({ day, spent: spent.toString() }));
  }
}

function toSend(row: Row): SendRow {
  return {
    nonce: Number(row.nonce),
    firstHash: String(row.first_hash),
    hashes: JSON.parse(String(row.hashes)) as string[],
    rawTx: String(row.raw_tx),
    maxFeePerGas: BigInt(String(row.max_fee)),
    maxPriorityFeePerGas: BigInt(String(row.max_priority)),
    gasLimit: BigInt(String(row.gas_limit)),
    attempts: Number(row.attempts),
    lastSentAt: Number(row.last_sent_at),
    signer: String(row.signer),
    client: String(row.client),
    keys: JSON.parse(String(row.keys)) as string[],
    day: Number(row.day),
  };
}

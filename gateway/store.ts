/**
 * The gateway's durable state, in one SQLite file (better-sqlite3, WAL, synchronous FULL, so a commit is
 * on disk before the call returns and a SIGKILL at any moment loses nothing committed):
 *
 * - meta: which chain, deployment and custodian the data directory belongs to, and a master-key check;
 * - records: each deposited record's metadata and its data key, encrypted under the master key
 *   (gateway/key-vault.ts); the envelope itself lives in the blob store;
 * - challenges: login nonces, each usable once;
 * - sessions: bearer tokens, stored as their SHA-256 only;
 * - releases: the journal of every key released (written in the same transaction as the decision),
 *   which is also the queue of pending on-chain log entries (`batch_id` NULL = not yet in a batch);
 * - log_batches: the on-chain log entries, one per transaction, with their state:
 *   pending (formed, not sent) -> sent (tx hash, raw tx, nonce, block before sending) -> logged (block).
 *
 * Every method is synchronous (better-sqlite3), so a method's statements never interleave with another
 * request's: each multi-statement method runs in one transaction.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";

import Database from "better-sqlite3";

const SCHEMA_VERSION = "1";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
  record_id      TEXT PRIMARY KEY,
  cid            TEXT NOT NULL,
  provider       TEXT NOT NULL,
  patient        TEXT NOT NULL,
  data_class     INTEGER NOT NULL,
  version        INTEGER NOT NULL,
  batch_root     TEXT,
  batch_proof    TEXT,
  key_iv         BLOB NOT NULL,
  key_ciphertext BLOB NOT NULL,
  deposited_by   TEXT NOT NULL,
  deposited_at   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS challenges (
  nonce      TEXT PRIMARY KEY,
  account    TEXT NOT NULL,
  gateway    TEXT NOT NULL,
  issued_at  INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at    INTEGER
);
CREATE INDEX IF NOT EXISTS challenges_by_account ON challenges (account, expires_at);
CREATE INDEX IF NOT EXISTS open_challenges_by_account ON challenges (account, expires_at) WHERE used_at IS NULL;
CREATE INDEX IF NOT EXISTS open_challenges_by_age ON challenges (issued_at) WHERE used_at IS NULL;
CREATE TABLE IF NOT EXISTS sessions (
  token_hash TEXT PRIMARY KEY,
  account    TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS log_batches (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  kind             TEXT NOT NULL CHECK (kind IN ('single', 'merkle')),
  root             TEXT,
  manifest_cid     TEXT,
  manifest         TEXT,
  release_count    INTEGER NOT NULL CHECK (release_count > 0),
  state            TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'logged')),
  tx_hash          TEXT,
  tx_nonce         INTEGER,
  raw_tx           TEXT,
  created_at_block INTEGER,
  logged_block     INTEGER,
  logged_tx_hash   TEXT,
  attempts         INTEGER NOT NULL DEFAULT 0,
  last_error       TEXT,
  next_attempt_at  INTEGER NOT NULL DEFAULT 0,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS log_batches_by_state ON log_batches (state, id);
CREATE INDEX IF NOT EXISTS log_batches_by_manifest ON log_batches (manifest_cid);
CREATE TABLE IF NOT EXISTS releases (
  id                 INTEGER PRIMARY KEY AUTOINCREMENT,
  record_id          TEXT NOT NULL REFERENCES records (record_id),
  grantee            TEXT NOT NULL,
  purpose            INTEGER NOT NULL,
  basis              INTEGER NOT NULL CHECK (basis IN (1, 2)),
  released_at        INTEGER NOT NULL,
  checked_block      INTEGER NOT NULL,
  checked_block_hash TEXT NOT NULL,
  requested_at       INTEGER NOT NULL,
  batch_id           INTEGER REFERENCES log_batches (id),
  leaf_index         INTEGER
);
CREATE INDEX IF NOT EXISTS releases_by_batch ON releases (batch_id, id);
`;

/** A record the gateway holds. */
export interface StoredRecord {
  recordId: string;
  cid: string;
  provider: string;
  patient: string;
  dataClass: number;
  version: number;
  batch?: { root: string; proof: string[] };
  keyIv: Uint8Array;
  keyCiphertext: Uint8Array;
  depositedBy: string;
  /** Unix milliseconds. */
  depositedAt: number;
}

/** A release to journal: the row without what the journal assigns. */
export type NewRelease = Omit<ReleaseRow, "id" | "batchId" | "leafIndex">;

/** A login challenge; times in unix seconds (as signed). */
export interface ChallengeRow {
  nonce: string;
  account: string;
  gateway: string;
  issuedAt: number;
  expiresAt: number;
  /** Unix milliseconds, when consumed. */
  usedAt?: number;
}

export interface SessionRow {
  account: string;
  /** Unix milliseconds. */
  createdAt: number;
  expiresAt: number;
}

/** One key release as journaled. */
export interface ReleaseRow {
  id: number;
  recordId: string;
  grantee: string;
  purpose: number;
  /** 1 consent, 2 emergency. */
  basis: number;
  /** Unix seconds: the leaf's releasedAt. */
  releasedAt: number;
  /** The block whose state the decision read. */
  checkedBlock: number;
  checkedBlockHash: string;
  /** Unix milliseconds the request arrived. */
  requestedAt: number;
  batchId?: number;
  leafIndex?: number;
}

export type BatchState = "pending" | "sent" | "logged";

export interface LogBatchRow {
  id: number;
  kind: "single" | "merkle";
  root?: string;
  manifestCid?: string;
  manifest?: string;
  releaseCount: number;
  state: BatchState;
  txHash?: string;
  txNonce?: number;
  rawTx?: string;
  createdAtBlock?: number;
  loggedBlock?: number;
  loggedTxHash?: string;
  attempts: number;
  lastError?: string;
  nextAttemptAt: number;
  createdAt: number;
  updatedAt: number;
}

/** Who a data directory belongs to: refusing another chain's or custodian's directory avoids mixing journals. */
export interface StoreIdentity {
  chainId: number;
  genesisHash: string;
  ledger: string;
  records: string;
  accessLog: string;
  keys: string;
  custodian: string;
}

/** The data directory belongs to another chain, deployment or custodian. */
export class StoreIdentityError extends Error {
  override name = "StoreIdentityError";
}

type Row = Record<string, unknown>;
const opt = <T>(value: unknown): T | undefined => (value === null || value === undefined ? undefined : (value as T));

function toRecord(row: Row): StoredRecord {
  return {
    recordId: row.record_id as string,
    cid: row.cid as string,
    provider: row.provider as string,
    patient: row.patient as string,
    dataClass: row.data_class as number,
    version: row.version as number,
    batch: row.batch_root
      ? { root: row.batch_root as string, proof: JSON.parse(row.batch_proof as string) as string[] }
      : undefined,
    keyIv: new Uint8Array(row.key_iv as Buffer),
    keyCiphertext: new Uint8Array(row.key_ciphertext as Buffer),
    depositedBy: row.deposited_by as string,
    depositedAt: row.deposited_at as number,
  };
}

function toRelease(row: Row): ReleaseRow {
  return {
    id: row.id as number,
    recordId: row.record_id as string,
    grantee: row.grantee as string,
    purpose: row.purpose as number,
    basis: row.basis as number,
    releasedAt: row.released_at as number,
    checkedBlock: row.checked_block as number,
    checkedBlockHash: row.checked_block_hash as string,
    requestedAt: row.requested_at as number,
    batchId: opt<number>(row.batch_id),
    leafIndex: opt<number>(row.leaf_index),
  };
}

function toBatch(row: Row): LogBatchRow {
  return {
    id: row.id as number,
    kind: row.kind as "single" | "merkle",
    root: opt(row.root),
    manifestCid: opt(row.manifest_cid),
    manifest: opt(row.manifest),
    releaseCount: row.release_count as number,
    state: row.state as BatchState,
    txHash: opt(row.tx_hash),
    txNonce: opt(row.tx_nonce),
    rawTx: opt(row.raw_tx),
    createdAtBlock: opt(row.created_at_block),
    loggedBlock: opt(row.logged_block),
    loggedTxHash: opt(row.logged_tx_hash),
    attempts: row.attempts as number,
    lastError: opt(row.last_error),
    nextAttemptAt: row.next_attempt_at as number,
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
  };
}

export class GatewayStore {
  /** Each SQL text prepared once: preparing costs more than running most of these statements. */
  private readonly statements = new Map<string, Database.Statement>();
  /**
   * Counts kept beside the tables they count, so /health and the challenge bound cost O(1): taken from
   * the tables once at open, then changed only by this class's own writes (one gateway process holds a
   * data directory: gateway/data-lock.ts). Undefined for a read-only store, which counts by query.
   */
  private unlogged?: number;
  private unusedChallenges?: number;

  private constructor(
    readonly file: string,
    private readonly db: Database.Database,
  ) {
    if (!db.readonly) {
      this.unlogged = this.countUnloggedReleases();
      this.unusedChallenges = this.countUnusedChallenges();
    }
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Opens (creating if needed) the database at `file`, with WAL and synchronous FULL. */
  static open(file: string, options: { readonly?: boolean } = {}): GatewayStore {
    if (!options.readonly) mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
    const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    if (!options.readonly) {
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = FULL");
    }
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    if (!options.readonly) {
      db.exec(SCHEMA);
      const version = db.prepare("SELECT value FROM meta WHERE key = 'schemaVersion'").get() as Row | undefined;
      if (!version) db.prepare("INSERT INTO meta (key, value) VALUES ('schemaVersion', ?)").run(SCHEMA_VERSION);
      else if (version.value !== SCHEMA_VERSION) {
        db.close();
        throw new StoreIdentityError(
          `${file} has schema version ${String(version.value)}; this gateway reads version ${SCHEMA_VERSION}`,
        );
      }
    }
    return new GatewayStore(file, db);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  get isOpen(): boolean {
    return this.db.open;
  }

  // ---------------------------------------------------------------------------------------------
  // meta

  getMeta(key: string): string | undefined {
    return opt((this.statement("SELECT value FROM meta WHERE key = ?").get(key) as Row | undefined)?.value);
  }

  setMeta(key: string, value: string): void {
    this.statement(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ).run(key, value);
  }

  /**
   * Binds the data directory to a chain, deployment and custodian on first use; afterwards refuses any
   * other (a restarted `hardhat node` is a new chain with the same id and addresses: its genesis differs).
   */
  bindIdentity(identity: StoreIdentity): void {
    const stored = this.getMeta("identity");
    if (!stored) {
      this.setMeta("identity", JSON.stringify(identity));
      return;
    }
    const previous = JSON.parse(stored) as StoreIdentity;
    const fields: (keyof StoreIdentity)[] = [
      "chainId",
      "genesisHash",
      "ledger",
      "records",
      "accessLog",
      "keys",
      "custodian",
    ];
    for (const field of fields) {
      if (String(previous[field]).toLowerCase() !== String(identity[field]).toLowerCase()) {
        throw new StoreIdentityError(
          `this data directory belongs to another ${field === "genesisHash" || field === "chainId" ? "chain" : field === "custodian" ? "custodian" : "deployment"} ` +
            `(${field} ${String(previous[field])}, now ${String(identity[field])}); use a fresh --data-dir`,
        );
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // records

  getRecord(recordId: string): StoredRecord | undefined {
    const row = this.statement("SELECT * FROM records WHERE record_id = ?").get(recordId.toLowerCase()) as
      Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** Inserts a record; false when one with this id is held already (nothing changes then). */
  insertRecord(record: StoredRecord): boolean {
    const result = this.statement(
      `INSERT OR IGNORE INTO records (record_id, cid, provider, patient, data_class, version, batch_root, batch_proof,
           key_iv, key_ciphertext, deposited_by, deposited_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      record.recordId.toLowerCase(),
      record.cid,
      record.provider,
      record.patient,
      record.dataClass,
      record.version,
      record.batch?.root ?? null,
      record.batch ? JSON.stringify(record.batch.proof) : null,
      Buffer.from(record.keyIv),
      Buffer.from(record.keyCiphertext),
      record.depositedBy,
      record.depositedAt,
    );
    return result.changes === 1;
  }

  /**
   * Replaces a record's sealed key material (a custodian's key share, re-deposited or withdrawn: see
   * gateway/share-routes.ts); false when no such record is held.
   */
  replaceSealedKey(recordId: string, keyIv: Uint8Array, keyCiphertext: Uint8Array): boolean {
    const result = this.statement("UPDATE records SET key_iv = ?, key_ciphertext = ? WHERE record_id = ?").run(
      Buffer.from(keyIv),
      Buffer.from(keyCiphertext),
      recordId.toLowerCase(),
    );
    return result.changes === 1;
  }

  recordCount(): number {
    return (this.statement("SELECT COUNT(*) AS n FROM records").get() as Row).n as number;
  }

  /** Every record's sealed data key, for a master-key rotation. */
  sealedKeys(): { recordId: string; keyIv: Uint8Array; keyCiphertext: Uint8Array }[] {
    return (
      this.statement("SELECT record_id, key_iv, key_ciphertext FROM records ORDER BY record_id").all() as Row[]
    ).map((row) => ({
      recordId: row.record_id as string,
      keyIv: new Uint8Array(row.key_iv as Buffer),
      keyCiphertext: new Uint8Array(row.key_ciphertext as Buffer),
    }));
  }

  /**
   * Replaces every sealed data key and the master-key check in one transaction: after a crash the
   * directory holds either all keys under the old master key or all under the new one. Refuses (and
   * changes nothing) unless `resealed` covers exactly the records held. Then scrubs the file of the old
   * seals (secure_delete, WAL checkpoints, VACUUM).
   */
  replaceSealedKeys(
    resealed: readonly { recordId: string; keyIv: Uint8Array; keyCiphertext: Uint8Array }[],
    masterKeyCheck: string,
  ): void {
    // secure_delete zeroes the space the old seals leave free, and the checkpoints and VACUUM below
    // drop every other copy (WAL frames, pages moved): an old master key that leaked opens nothing here.
    this.db.pragma("secure_delete = ON");
    this.db.transaction(() => {
      const update = this.statement("UPDATE records SET key_iv = ?, key_ciphertext = ? WHERE record_id = ?");
      let changed = 0;
      for (const row of resealed) {
        changed += update.run(Buffer.from(row.keyIv), Buffer.from(row.keyCiphertext), row.recordId).changes;
      }
      const held = this.recordCount();
      if (changed !== held || resealed.length !== held) {
        throw new Error(`resealed ${changed} of ${held} records: the rotation is rolled back, nothing changed`);
      }
      this.setMeta("masterKeyCheck", masterKeyCheck);
    })();
    this.db.pragma("wal_checkpoint(TRUNCATE)");
    this.db.exec("VACUUM");
    this.db.pragma("wal_checkpoint(TRUNCATE)");
  }

  // ---------------------------------------------------------------------------------------------
  // challenges and sessions

  /**
   * Stores a challenge. Holds at most `maxUnused` unused challenges overall: past that, the expired go
   * first, then the oldest unused. So storage stays bounded and a flood of challenges for random
   * addresses never locks anyone out: it can only make the oldest pending logins ask again.
   * Returns how many unused challenges were dropped to make room.
   */
  insertChallenge(challenge: ChallengeRow, maxUnused = Number.POSITIVE_INFINITY): number {
    return this.db.transaction(() => {
      let dropped = 0;
      if ((this.unusedChallenges ?? 0) >= maxUnused) {
        dropped += this.statement("DELETE FROM challenges WHERE used_at IS NULL AND expires_at <= ?").run(
          challenge.issuedAt,
        ).changes;
        this.unusedChallenges = (this.unusedChallenges ?? 0) - dropped;
        const excess = (this.unusedChallenges ?? 0) - maxUnused + 1;
        if (excess > 0) {
          const evicted = this.statement(
            `DELETE FROM challenges WHERE nonce IN (SELECT nonce FROM challenges WHERE used_at IS NULL
               ORDER BY issued_at LIMIT ?)`,
          ).run(excess).changes;
          dropped += evicted;
          this.unusedChallenges = (this.unusedChallenges ?? 0) - evicted;
        }
      }
      this.statement(
        "INSERT INTO challenges (nonce, account, gateway, issued_at, expires_at) VALUES (?, ?, ?, ?, ?)",
      ).run(challenge.nonce, challenge.account, challenge.gateway, challenge.issuedAt, challenge.expiresAt);
      if (this.unusedChallenges !== undefined) this.unusedChallenges++;
      return dropped;
    })();
  }

  /** Unused, unexpired challenges of `account` at `nowSeconds` (an index range: at most the per-account bound). */
  openChallengeCount(account: string, nowSeconds: number): number {
    return (
      this.statement(
        "SELECT COUNT(*) AS n FROM challenges INDEXED BY open_challenges_by_account WHERE account = ? AND used_at IS NULL AND expires_at > ?",
      ).get(account, nowSeconds) as Row
    ).n as number;
  }

  /** Unused challenges held (expired ones included until purged or dropped); O(1). */
  unusedChallengeCount(): number {
    return this.unusedChallenges ?? this.countUnusedChallenges();
  }

  private countUnusedChallenges(): number {
    return (this.statement("SELECT COUNT(*) AS n FROM challenges WHERE used_at IS NULL").get() as Row).n as number;
  }

  getChallenge(nonce: string): ChallengeRow | undefined {
    const row = this.statement("SELECT * FROM challenges WHERE nonce = ?").get(nonce.toLowerCase()) as Row | undefined;
    if (!row) return undefined;
    return {
      nonce: row.nonce as string,
      account: row.account as string,
      gateway: row.gateway as string,
      issuedAt: row.issued_at as number,
      expiresAt: row.expires_at as number,
      usedAt: opt(row.used_at),
    };
  }

  /**
   * Consumes a challenge and opens a session, atomically: true when this call consumed it, false when
   * it was consumed already (a replay, or a concurrent verify of the same signature).
   */
  consumeChallengeIntoSession(
    nonce: string,
    nowMs: number,
    session: { tokenHash: string; account: string; expiresAt: number },
  ): boolean {
    return this.db.transaction(() => {
      const consumed = this.statement("UPDATE challenges SET used_at = ? WHERE nonce = ? AND used_at IS NULL").run(
        nowMs,
        nonce.toLowerCase(),
      );
      if (consumed.changes !== 1) return false;
      if (this.unusedChallenges !== undefined) this.unusedChallenges--;
      this.statement("INSERT INTO sessions (token_hash, account, created_at, expires_at) VALUES (?, ?, ?, ?)").run(
        session.tokenHash,
        session.account,
        nowMs,
        session.expiresAt,
      );
      return true;
    })();
  }

  getSession(tokenHash: string): SessionRow | undefined {
    const row = this.statement("SELECT * FROM sessions WHERE token_hash = ?").get(tokenHash) as Row | undefined;
    return row
      ? { account: row.account as string, createdAt: row.created_at as number, expiresAt: row.expires_at as number }
      : undefined;
  }

  /**
   * Deletes sessions that have expired and challenges that expired over `graceMs` ago (kept that long so
   * that a replay is answered "already used" rather than "unknown").
   */
  purgeExpired(nowMs: number, graceMs = 60 * 60 * 1000): { challenges: number; sessions: number } {
    const challenges = this.statement("DELETE FROM challenges WHERE expires_at * 1000 < ?").run(
      nowMs - graceMs,
    ).changes;
    // Once a minute, off the request path: a full count keeps the kept count exact.
    if (this.unusedChallenges !== undefined && challenges > 0) this.unusedChallenges = this.countUnusedChallenges();
    const sessions = this.statement("DELETE FROM sessions WHERE expires_at < ?").run(nowMs).changes;
    return { challenges, sessions };
  }

  // ---------------------------------------------------------------------------------------------
  // the release journal

  /**
   * Journals a release (and so queues its on-chain log entry) in one transaction; returns its id. The
   * caller answers the requester only after this returns: a key is never out without its journal entry.
   */
  journalRelease(release: NewRelease): number {
    return this.journalReleases([release])[0];
  }

  /**
   * Journals several releases in one transaction (one flush to disk for all: the group commit of
   * gateway/journal-committer.ts); returns their ids in order. All or none: if one fails (a record not
   * held), nothing is written.
   */
  journalReleases(releases: readonly NewRelease[]): number[] {
    const ids = this.db.transaction(() =>
      releases.map((release) => {
        const held = this.statement("SELECT 1 FROM records WHERE record_id = ?").get(release.recordId.toLowerCase());
        if (!held) throw new Error(`record ${release.recordId} is not held`);
        const result = this.statement(
          `INSERT INTO releases (record_id, grantee, purpose, basis, released_at, checked_block, checked_block_hash, requested_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          release.recordId.toLowerCase(),
          release.grantee,
          release.purpose,
          release.basis,
          release.releasedAt,
          release.checkedBlock,
          release.checkedBlockHash,
          release.requestedAt,
        );
        return Number(result.lastInsertRowid);
      }),
    )();
    if (this.unlogged !== undefined) this.unlogged += ids.length;
    return ids;
  }

  /** Releases not yet in any batch, oldest first. */
  pendingReleases(limit: number): ReleaseRow[] {
    return (
      this.statement("SELECT * FROM releases WHERE batch_id IS NULL ORDER BY id LIMIT ?").all(limit) as Row[]
    ).map(toRelease);
  }

  /** How many releases are not in a batch yet, and when the oldest arrived (ms). */
  pendingReleaseStats(): { count: number; oldestRequestedAt?: number } {
    const row = this.statement(
      "SELECT COUNT(*) AS n, MIN(requested_at) AS oldest FROM releases WHERE batch_id IS NULL",
    ).get() as Row;
    return { count: row.n as number, oldestRequestedAt: opt(row.oldest) };
  }

  /** Releases whose on-chain log entry is not confirmed yet (unbatched, or in a batch not logged); O(1). */
  unloggedReleaseCount(): number {
    return this.unlogged ?? this.countUnloggedReleases();
  }

  private countUnloggedReleases(): number {
    const row = this.statement(
      `SELECT COUNT(*) AS n FROM releases r LEFT JOIN log_batches b ON r.batch_id = b.id
         WHERE r.batch_id IS NULL OR b.state <> 'logged'`,
    ).get() as Row;
    return row.n as number;
  }

  releasesOfBatch(batchId: number): ReleaseRow[] {
    return (
      this.statement("SELECT * FROM releases WHERE batch_id = ? ORDER BY leaf_index, id").all(batchId) as Row[]
    ).map(toRelease);
  }

  /** The whole journal, oldest first (for audits, tests and the load test). */
  allReleases(): ReleaseRow[] {
    return (this.statement("SELECT * FROM releases ORDER BY id").all() as Row[]).map(toRelease);
  }

  // ---------------------------------------------------------------------------------------------
  // log batches

  /**
   * Forms a batch of the given pending releases, in one transaction: the batch row (state pending) and
   * each release's batch and leaf index. Throws (and changes nothing) if any release is batched already.
   */
  createBatch(
    releaseIds: readonly number[],
    batch: { kind: "single" | "merkle"; root?: string; manifestCid?: string; manifest?: string },
    nowMs: number,
  ): LogBatchRow {
    return this.db.transaction(() => {
      const result = this.statement(
        `INSERT INTO log_batches (kind, root, manifest_cid, manifest, release_count, state, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)`,
      ).run(
        batch.kind,
        batch.root ?? null,
        batch.manifestCid ?? null,
        batch.manifest ?? null,
        releaseIds.length,
        nowMs,
        nowMs,
      );
      const batchId = Number(result.lastInsertRowid);
      const assign = this.statement(
        "UPDATE releases SET batch_id = ?, leaf_index = ? WHERE id = ? AND batch_id IS NULL",
      );
      releaseIds.forEach((id, index) => {
        if (assign.run(batchId, index, id).changes !== 1) throw new Error(`release ${id} is already in a batch`);
      });
      return this.getBatch(batchId) as LogBatchRow;
    })();
  }

  getBatch(id: number): LogBatchRow | undefined {
    const row = this.statement("SELECT * FROM log_batches WHERE id = ?").get(id) as Row | undefined;
    return row ? toBatch(row) : undefined;
  }

  batchByManifestCid(cid: string): LogBatchRow | undefined {
    const row = this.statement("SELECT * FROM log_batches WHERE manifest_cid = ? ORDER BY id LIMIT 1").get(cid) as
      Row | undefined;
    return row ? toBatch(row) : undefined;
  }

  /** Batches in `state`, oldest first. */
  batchesIn(state: BatchState): LogBatchRow[] {
    return (this.statement("SELECT * FROM log_batches WHERE state = ? ORDER BY id").all(state) as Row[]).map(toBatch);
  }

  allBatches(): LogBatchRow[] {
    return (this.statement("SELECT * FROM log_batches ORDER BY id").all() as Row[]).map(toBatch);
  }

  /** Records the signed transaction of a batch before it is broadcast, so a crash after sending finds it. */
  markSent(
    id: number,
    sent: { txHash: string; txNonce: number; rawTx: string; createdAtBlock: number },
    nowMs: number,
  ): void {
    const result = this.statement(
      `UPDATE log_batches SET state = 'sent', tx_hash = ?, tx_nonce = ?, raw_tx = ?, created_at_block = ?,
           attempts = attempts + 1, updated_at = ? WHERE id = ? AND state = 'pending'`,
    ).run(sent.txHash, sent.txNonce, sent.rawTx, sent.createdAtBlock, nowMs, id);
    if (result.changes !== 1) throw new Error(`log batch ${id} is not pending`);
  }

  markLogged(id: number, logged: { block: number; txHash: string }, nowMs: number): void {
    const row = this.statement(
      `UPDATE log_batches SET state = 'logged', logged_block = ?, logged_tx_hash = ?, last_error = NULL, updated_at = ?
         WHERE id = ? AND state <> 'logged' RETURNING release_count`,
    ).get(logged.block, logged.txHash, nowMs, id) as Row | undefined;
    if (row && this.unlogged !== undefined) this.unlogged -= row.release_count as number;
  }

  /** Back to pending (its transaction can never be mined, or reverted): it will be signed afresh. */
  markUnsent(id: number, error: string, nextAttemptAt: number, nowMs: number): void {
    this.statement(
      `UPDATE log_batches SET state = 'pending', tx_hash = NULL, tx_nonce = NULL, raw_tx = NULL, created_at_block = NULL,
           last_error = ?, next_attempt_at = ?, updated_at = ? WHERE id = ? AND state = 'sent'`,
    ).run(error.slice(0, 1000), nextAttemptAt, nowMs, id);
  }

  /** A failed attempt that never produced a transaction (e.g. gas estimation reverted). */
  recordBatchError(id: number, error: string, nextAttemptAt: number, nowMs: number): void {
    this.statement(
      "UPDATE log_batches SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?",
    ).run(error.slice(0, 1000), nextAttemptAt, nowMs, id);
  }

  /** Transaction hashes already accounted for by logged batches (so an event is never claimed twice). */
  loggedTxHashes(): Set<string> {
    const rows = this.statement(
      "SELECT logged_tx_hash FROM log_batches WHERE state = 'logged' AND logged_tx_hash IS NOT NULL",
    ).all() as Row[];
    return new Set(rows.map((row) => String(row.logged_tx_hash).toLowerCase()));
  }

  /** Counts for /health and the logs. */
  stats(): {
    records: number;
    releases: number;
    unlogged: number;
    unbatched: number;
    batches: Record<BatchState, number>;
  } {
    const batches: Record<BatchState, number> = { pending: 0, sent: 0, logged: 0 };
    for (const row of this.statement("SELECT state, COUNT(*) AS n FROM log_batches GROUP BY state").all() as Row[]) {
      batches[row.state as BatchState] = row.n as number;
    }
    return {
      records: this.recordCount(),
      releases: (this.statement("SELECT COUNT(*) AS n FROM releases").get() as Row).n as number,
      unlogged: this.unloggedReleaseCount(),
      unbatched: this.pendingReleaseStats().count,
      batches,
    };
  }
}

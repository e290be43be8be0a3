/**
 * One process at a time per data directory. Two gateways on one directory would each send the same
 * pending log entries (the exactly-once log assumes one writer), and a master-key rotation beside a
 * running gateway would leave that gateway sealing new keys under the old master key.
 *
 * The lock is the operating system's: an exclusive SQLite transaction held open on `gateway-lock.sqlite`
 * (POSIX record locks underneath), so it is atomic between racing processes, refuses a second holder in
 * the same process too, and vanishes with its process, however that process dies: no stale lock, no
 * pid to trust. `gateway-lock.json` only says who holds it, for the refusal's message. It needs a local
 * file system (record locks over NFS are not to be relied on).
 */
import { readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import Database from "better-sqlite3";

/** Another holder (process, or connection of this process) has the data directory. */
export class DataDirectoryLockedError extends Error {
  override name = "DataDirectoryLockedError";
}

interface HolderInfo {
  holder: string;
  pid: number;
  host: string;
  since: string;
}

function describeHolder(infoFile: string): string {
  try {
    const info = JSON.parse(readFileSync(infoFile, "utf8")) as Partial<HolderInfo>;
    const self = info.pid === process.pid && info.host === os.hostname() ? ", this process" : "";
    return `${String(info.holder ?? "another process")} (pid ${String(info.pid ?? "?")} on ${String(info.host ?? "?")}${self}, since ${String(info.since ?? "?")})`;
  } catch {
    return "another process";
  }
}

/**
 * Takes the lock of `dataDir` for `holder` (e.g. "a consent gateway") and returns its release. Throws
 * DataDirectoryLockedError, saying who holds it, when anyone does.
 */
export function lockDataDirectory(dataDir: string, holder: string): () => void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const lockFile = path.join(dataDir, "gateway-lock.sqlite");
  const infoFile = path.join(dataDir, "gateway-lock.json");
  let db: Database.Database | undefined;
  try {
    db = new Database(lockFile, { timeout: 0 });
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
  } catch (error) {
    db?.close();
    const code = (error as { code?: string }).code ?? "";
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
      throw new DataDirectoryLockedError(`${dataDir} is in use by ${describeHolder(infoFile)}: stop it first`);
    }
    throw error;
  }
  const info: HolderInfo = { holder, pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
  try {
    writeFileSync(infoFile, JSON.stringify(info), { mode: 0o600 });
  } catch {
    // Only the refusal message of someone else would miss it.
  }
  const held = db;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    try {
      const current = JSON.parse(readFileSync(infoFile, "utf8")) as Partial<HolderInfo>;
      if (current.pid === info.pid && current.since === info.since) rmSync(infoFile, { force: true });
    } catch {
      // gone or unreadable: nothing of ours to remove
    }
    try {
      held.exec("ROLLBACK");
    } finally {
      held.close();
    }
  };
}

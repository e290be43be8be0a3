/**
 * One process at a time per data directory. Two gateways on one directory would each send the same
 * pending log entries (the exactly-once log assumes one writer), and a master-key rotation beside a
 * running gateway would leave that gateway sealing new keys under the old master key. So a gateway, and
 * the rotation, hold `gateway.lock` in the directory: created exclusively, naming the holder's pid.
 * A lock whose process is gone (a crash, SIGKILL) is stale and taken over.
 */
import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from "node:fs";
import path from "node:path";

/** Another live process holds the data directory. */
export class DataDirectoryLockedError extends Error {
  override name = "DataDirectoryLockedError";
}

interface LockContent {
  pid: number;
  holder: string;
  since: string;
}

const held = new Set<string>();
let exitHookInstalled = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readLock(file: string): LockContent | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as Partial<LockContent>;
    if (typeof parsed.pid === "number" && Number.isSafeInteger(parsed.pid) && parsed.pid > 0) {
      return { pid: parsed.pid, holder: String(parsed.holder ?? "unknown"), since: String(parsed.since ?? "?") };
    }
  } catch {
    // unreadable or half-written: treated as stale below
  }
  return undefined;
}

/**
 * Takes the lock of `dataDir` for `holder` (e.g. "the gateway") and returns its release. Throws
 * DataDirectoryLockedError, saying who holds it and what to do, when a live process does.
 */
export function lockDataDirectory(dataDir: string, holder: string): () => void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, "gateway.lock");
  for (let attempt = 1; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, "wx", 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 2) throw error;
      const current = readLock(file);
      if (current && alive(current.pid)) {
        const self = current.pid === process.pid ? " (this process)" : "";
        throw new DataDirectoryLockedError(
          `${dataDir} is in use by ${current.holder}, pid ${current.pid}${self}, since ${current.since}: stop it first ` +
            `(if no such process is yours, delete ${file})`,
        );
      }
      rmSync(file, { force: true });
      continue;
    }
    try {
      writeSync(fd, JSON.stringify({ pid: process.pid, holder, since: new Date().toISOString() }));
    } finally {
      closeSync(fd);
    }
    held.add(file);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on("exit", () => {
        for (const lock of held) rmSync(lock, { force: true });
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      held.delete(file);
      if (readLock(file)?.pid === process.pid) rmSync(file, { force: true });
    };
  }
}

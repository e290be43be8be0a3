/**
 * Group commit of the release journal: the releases journaled within one event-loop turn are written
 * in one SQLite transaction, one flush to disk for all of them instead of one each. The durability is
 * the same: each caller's promise resolves only once the transaction holding its row is committed
 * (synchronous FULL: on disk), and a key is sent only after that. A batch that fails (a record not held)
 * is retried row by row, so only the failing release is refused.
 */
import type { GatewayStore, NewRelease } from "./store";

interface Waiting {
  release: NewRelease;
  resolve(id: number): void;
  reject(error: unknown): void;
}

export class JournalCommitter {
  private queue: Waiting[] = [];
  private scheduled = false;

  constructor(private readonly store: GatewayStore) {}

  /** Journals `release` with the others of this turn; resolves with its id once it is on disk. */
  journal(release: NewRelease): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ release, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.commit());
      }
    });
  }

  private commit(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    try {
      const ids = this.store.journalReleases(batch.map((waiting) => waiting.release));
      batch.forEach((waiting, index) => waiting.resolve(ids[index]));
    } catch {
      for (const waiting of batch) {
        try {
          waiting.resolve(this.store.journalRelease(waiting.release));
        } catch (error) {
          waiting.reject(error);
        }
      }
    }
  }
}

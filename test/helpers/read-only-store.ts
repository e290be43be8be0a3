/**
 * What FsBlobStore.put does in a directory it may not write to: run through runAsNonRoot
 * (test/helpers/non-root.ts), since as root the write would succeed.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { StorageError } from "../../sdk/errors";
import { FsBlobStore } from "../../sdk/storage/fs-blob-store";

export interface ReadOnlyPutOutcome {
  accepted: boolean;
  isStorageError?: boolean;
  name?: string;
  message?: string;
  hint?: string;
  directory: string;
}

export async function putIntoReadOnlyDirectory(): Promise<ReadOnlyPutOutcome> {
  const root = await mkdtemp(path.join(os.tmpdir(), "consent-ledger-read-only-"));
  const directory = path.join(root, "nested");
  try {
    const store = await FsBlobStore.open(directory);
    await chmod(directory, 0o500);
    try {
      await store.put(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
      return { accepted: true, directory };
    } catch (error) {
      const e = error as StorageError;
      return {
        accepted: false,
        isStorageError: error instanceof StorageError,
        name: e.name,
        message: e.message,
        hint: e.hint,
        directory,
      };
    }
  } finally {
    await chmod(directory, 0o700).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
}

/**
 * The provider's local key file: every data key the CLI published, wrapped (sdk/crypto/key-wrap.ts) to
 * the provider's own X25519 key, which is derived from a signature of the provider's wallet
 * (deriveEncryptionKeyPair). The file alone opens nothing; with the wallet it gives back every key, e.g.
 * to deposit them later at a custodian gateway (`provider deposit`). Nothing new to back up but the file.
 *
 * One JSON file per chain and provider, default .consent-ledger/keys/<chainId>-<provider>.json, mode 0600,
 * rewritten atomically:
 *   {"format": "consent-ledger/provider-keys/v1", "chainId", "registry", "provider", "encryptionKey",
 *    "records": {"<recordId>": {cid, patient, dataClass, version, previousRecordId, wrappedKey,
 *                               transactionHash, blockNumber, batch?: {root, proof}}}}
 */
import { readFile } from "node:fs/promises";
import path from "node:path";

import type { EncryptionKeyPair, PublishedRecord } from "../sdk/index";
import { CliError } from "./errors";
import { writeFileAtomic } from "./files";
import { load } from "./sdk";

export const KEY_FILE_FORMAT = "consent-ledger/provider-keys/v1";

export interface StoredKey {
  cid: string;
  patient: string;
  dataClass: number;
  version: number;
  previousRecordId: string;
  wrappedKey: string;
  transactionHash: string;
  blockNumber: number;
  batch?: { root: string; proof: string[] };
}

export interface KeyFile {
  format: typeof KEY_FILE_FORMAT;
  chainId: number;
  registry: string;
  provider: string;
  encryptionKey: string;
  records: Record<string, StoredKey>;
}

export function defaultKeyFile(chainId: bigint | number, provider: string): string {
  return path.join(".consent-ledger", "keys", `${chainId}-${provider}.json`);
}

/** Reads the key file (or starts an empty one) and checks it belongs to this provider, chain and key. */
export async function openKeyFile(
  file: string,
  owner: { chainId: number; registry: string; provider: string; keyPair: EncryptionKeyPair },
): Promise<KeyFile> {
  const encryptionKey = load.keys().publicKeyToBytes32(owner.keyPair.publicKey);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return {
        format: KEY_FILE_FORMAT,
        chainId: owner.chainId,
        registry: owner.registry,
        provider: owner.provider,
        encryptionKey,
        records: {},
      };
    }
    throw new CliError(`cannot read the key file ${file}: ${(error as Error).message}`, 1, { cause: error });
  }
  let contents: KeyFile;
  try {
    contents = JSON.parse(text) as KeyFile;
  } catch (error) {
    throw new CliError(`${file} is not a key file (not JSON): pass another --key-file`, 1, { cause: error });
  }
  if (contents?.format !== KEY_FILE_FORMAT || typeof contents.records !== "object") {
    throw new CliError(`${file} is not a key file (format is not ${KEY_FILE_FORMAT}): pass another --key-file`);
  }
  if (contents.provider.toLowerCase() !== owner.provider.toLowerCase() || contents.chainId !== owner.chainId) {
    throw new CliError(
      `${file} holds the keys of ${contents.provider} on chain ${contents.chainId}, not yours on chain ${owner.chainId}: pass another --key-file`,
    );
  }
  if (contents.encryptionKey.toLowerCase() !== encryptionKey.toLowerCase()) {
    throw new CliError(
      `${file} was written with another encryption key than your wallet derives: pass another --key-file`,
    );
  }
  return contents;
}

/** Adds the published records' data keys (wrapped to the provider) and rewrites the file atomically. */
export async function saveKeys(
  file: string,
  contents: KeyFile,
  records: readonly PublishedRecord[],
  keyPair: EncryptionKeyPair,
): Promise<void> {
  const { wrapDataKey } = load.keyWrap();
  const hex = (bytes: Uint8Array) => `0x${Buffer.from(bytes).toString("hex")}`;
  for (const record of records) {
    contents.records[record.recordId] = {
      cid: record.cid,
      patient: record.patient,
      dataClass: record.dataClass,
      version: record.version,
      previousRecordId: record.previousRecordId,
      wrappedKey: hex(await wrapDataKey(record.dataKey, keyPair.publicKey, record.recordId)),
      transactionHash: record.transactionHash,
      blockNumber: record.blockNumber,
      ...(record.batch ? { batch: record.batch } : {}),
    };
  }
  await writeFileAtomic(file, `${JSON.stringify(contents, null, 2)}\n`, { mode: 0o600 });
}

/** The stored records, with their data keys unwrapped (`recordIds`: only those; all by default). */
export async function unwrapKeys(
  contents: KeyFile,
  keyPair: EncryptionKeyPair,
  recordIds?: readonly string[],
): Promise<PublishedRecord[]> {
  const { unwrapDataKey } = load.keyWrap();
  const ids = recordIds ?? Object.keys(contents.records);
  const records: PublishedRecord[] = [];
  for (const id of ids) {
    const stored = contents.records[id];
    if (!stored)
      throw new CliError(
        `no key for record ${id} in the key file: it was published with another key file or by another provider`,
      );
    const wrapped = Uint8Array.from(Buffer.from(stored.wrappedKey.replace(/^0x/, ""), "hex"));
    records.push({
      recordId: id,
      cid: stored.cid,
      patient: stored.patient,
      provider: contents.provider,
      dataClass: stored.dataClass,
      version: stored.version,
      previousRecordId: stored.previousRecordId,
      dataKey: await unwrapDataKey(wrapped, keyPair, id),
      transactionHash: stored.transactionHash,
      blockNumber: stored.blockNumber,
      batch: stored.batch,
    });
  }
  return records;
}

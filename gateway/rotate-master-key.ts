/**
 * Re-seals every data key of a gateway's data directory under a new master key:
 *
 *   (umask 077; openssl rand -hex 32 > new-master.key)       # keep this file: it becomes THE key
 *   CONSENT_GATEWAY_MASTER_KEY=<current> \
 *     npm run gateway:rotate-master-key -- --data-dir .gateway --new-master-key-file new-master.key
 *
 * Either key may come from a file instead (--master-key-file, --new-master-key-file); neither is ever a
 * flag's value. The gateway must be stopped: the rotation takes the data directory's lock. Every key is
 * opened with the current master key and sealed with the new one in memory, each new seal is checked by
 * opening it, and only then are all rows and the master-key check replaced in one SQLite transaction, so
 * a crash leaves the directory wholly under one key or the other. Exit 0 when done, 2 for a bad flag or
 * variable, 1 when the rotation is refused (wrong current key, gateway running, no such directory).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";

import { Command, Option } from "commander";

import { DecryptionError } from "../sdk/index";
import { ConfigError, DEFAULTS, HelpRequested, masterKeyFrom, parseCommand } from "./config";
import { DataDirectoryLockedError, lockDataDirectory } from "./data-lock";
import { KeyVault, WrongMasterKeyError } from "./key-vault";
import { GatewayStore } from "./store";

const NAME = "rotate-master-key";

/** The rotation was refused; nothing changed. */
class RotationRefused extends Error {}

interface RotationConfig {
  dataDir: string;
  current: Uint8Array;
  next: Uint8Array;
}

function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv): RotationConfig | "help" {
  const command = new Command(NAME)
    .description("re-seal every data key of a gateway's data directory under a new master key")
    .addOption(
      new Option("--data-dir <dir>", "the gateway's data directory")
        .env("CONSENT_GATEWAY_DATA_DIR")
        .default(DEFAULTS.dataDir),
    )
    .addOption(new Option("--master-key-file <file>", "file holding the current master key"))
    .addOption(new Option("--new-master-key-file <file>", "file holding the new master key"))
    .helpOption("-h, --help", "show this help")
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  try {
    parseCommand(command, argv, env);
  } catch (error) {
    if (error instanceof HelpRequested) {
      process.stdout.write(error.text);
      return "help";
    }
    throw error;
  }
  const options = command.opts<{ dataDir: string; masterKeyFile?: string; newMasterKeyFile?: string }>();
  const current = masterKeyFrom(env, options.masterKeyFile);
  let next: Uint8Array | undefined;
  try {
    next = masterKeyFrom(env, options.newMasterKeyFile, {
      variable: "CONSENT_GATEWAY_NEW_MASTER_KEY",
      flag: "--new-master-key-file",
      what: "new master key",
    });
    if (timingSafeEqual(current, next))
      throw new ConfigError("the new master key is the current one: generate another");
  } catch (error) {
    current.fill(0);
    next?.fill(0);
    throw error;
  }
  return { dataDir: path.resolve(options.dataDir), current, next };
}

/** Rotates; returns how many data keys were re-sealed. */
export async function rotateMasterKey(config: RotationConfig): Promise<number> {
  const database = path.join(config.dataDir, "gateway.sqlite");
  if (!existsSync(database)) throw new RotationRefused(`${config.dataDir} holds no gateway data (no gateway.sqlite)`);
  let unlock: () => void;
  try {
    unlock = lockDataDirectory(config.dataDir, "a master-key rotation");
  } catch (cause) {
    if (cause instanceof DataDirectoryLockedError) throw new RotationRefused(cause.message);
    throw cause;
  }
  let store: GatewayStore | undefined;
  const current = new KeyVault(config.current);
  const next = new KeyVault(config.next);
  try {
    store = GatewayStore.open(database);
    const check = store.getMeta("masterKeyCheck");
    if (!check)
      throw new RotationRefused(`${config.dataDir} has no master-key check yet: start the gateway on it once`);
    try {
      await current.verifyCheckValue(check);
    } catch (cause) {
      if (cause instanceof WrongMasterKeyError) {
        throw new RotationRefused(`the current master key does not open ${config.dataDir}: nothing changed`);
      }
      throw cause;
    }
    const resealed = [];
    for (const row of store.sealedKeys()) {
      let dataKey: Uint8Array;
      try {
        dataKey = await current.open(row.recordId, { iv: row.keyIv, ciphertext: row.keyCiphertext });
      } catch (cause) {
        if (cause instanceof DecryptionError) {
          throw new RotationRefused(
            `the sealed key of record ${row.recordId} does not open with the current master key (the row is damaged ` +
              "or was moved): nothing changed; restore the directory from a backup",
          );
        }
        throw cause;
      }
      try {
        const sealed = await next.seal(row.recordId, dataKey);
        const reopened = await next.open(row.recordId, sealed);
        const same = reopened.length === dataKey.length && timingSafeEqual(reopened, dataKey);
        reopened.fill(0);
        if (!same) throw new Error(`record ${row.recordId}: the new seal does not open to the same key`);
        resealed.push({ recordId: row.recordId, keyIv: sealed.iv, keyCiphertext: sealed.ciphertext });
      } finally {
        dataKey.fill(0);
      }
    }
    store.replaceSealedKeys(resealed, await next.checkValue());
    return resealed.length;
  } finally {
    store?.close();
    current.destroy();
    next.destroy();
    unlock();
  }
}

/** A short fingerprint of a master key, to check that the key kept is the key the data is under. */
export function fingerprintOf(masterKey: Uint8Array): string {
  return createHash("sha256")
    .update("consent-ledger/gateway/master-key-fingerprint/v1")
    .update(masterKey)
    .digest("hex")
    .slice(0, 16);
}

async function main(): Promise<number> {
  let config: RotationConfig | "help";
  try {
    config = parseArgs(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${NAME}: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (config === "help") return 0;
  try {
    const fingerprint = fingerprintOf(config.next);
    const count = await rotateMasterKey(config);
    process.stdout.write(
      `${NAME}: re-sealed ${count} data key${count === 1 ? "" : "s"} in ${config.dataDir} under the new master key ` +
        `(fingerprint ${fingerprint}). It is now the only key that opens this directory: check that you kept it, ` +
        "start the gateway with it, then destroy the old one.\n",
    );
    return 0;
  } catch (error) {
    const message = error instanceof RotationRefused ? error.message : `failed: ${(error as Error).message}`;
    process.stderr.write(`${NAME}: ${message}\n`);
    return 1;
  } finally {
    config.current.fill(0);
    config.next.fill(0);
  }
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${NAME}: ${(error as Error)?.message ?? String(error)}\n`);
      process.exitCode = 1;
    },
  );
}

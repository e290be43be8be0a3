/**
 * Where the CLI's signing key comes from. Never the command line (anyone on the machine can read a
 * process's arguments): one of
 *
 *   env          CONSENT_LEDGER_PRIVATE_KEY (the default)
 *   keystore     an encrypted JSON keystore (--keystore <file>), password from
 *                CONSENT_LEDGER_KEYSTORE_PASSWORD or asked on the terminal
 *   hardhat-var  a Hardhat configuration variable CONSENT_LEDGER_KEY_<ACCOUNT> (--account <name>), set with
 *                `npx hardhat vars set CONSENT_LEDGER_KEY_<ACCOUNT>`
 *
 * Hardhat 2 keeps its variables in <config dir>/hardhat-nodejs/vars.json ({"_format": "hh-vars-1",
 * "vars": {NAME: {value}}}), the config dir being env-paths' (XDG_CONFIG_HOME or ~/.config on Linux,
 * ~/Library/Preferences on macOS, %APPDATA% on Windows); a HARDHAT_VAR_<NAME> environment variable
 * overrides the file, as in Hardhat's own `vars.get`. The file is read here directly, so the CLI needs
 * no Hardhat project to run.
 */
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { Wallet } from "ethers";

import { CliError } from "./errors";

export const KEY_SOURCES = ["env", "keystore", "hardhat-var"] as const;
export type KeySource = (typeof KEY_SOURCES)[number];

export const PRIVATE_KEY_VAR = "CONSENT_LEDGER_PRIVATE_KEY";
export const KEYSTORE_PASSWORD_VAR = "CONSENT_LEDGER_KEYSTORE_PASSWORD";
export const HARDHAT_VAR_PREFIX = "CONSENT_LEDGER_KEY_";

export interface KeyOptions {
  keySource?: KeySource;
  keystore?: string;
  account?: string;
}

/** Which source the options select: explicit, else keystore with --keystore, hardhat-var with --account, else env. */
export function keySourceOf(options: KeyOptions): KeySource {
  const source = options.keySource ?? (options.keystore ? "keystore" : options.account ? "hardhat-var" : "env");
  if (options.keystore && source !== "keystore") {
    throw new CliError(`--keystore is used only with --key-source keystore (not ${source}): drop one of the two`);
  }
  if (options.account && source !== "hardhat-var") {
    throw new CliError(`--account is used only with --key-source hardhat-var (not ${source}): drop one of the two`);
  }
  return source;
}

/** A wallet from a private key's text, without ever echoing the key. */
export function walletFromPrivateKey(text: string, where: string): Wallet {
  const trimmed = text.trim();
  const hex = trimmed.startsWith("0x") || trimmed.startsWith("0X") ? trimmed.slice(2) : trimmed;
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new CliError(`${where} is not a private key: it must be 0x followed by 64 hex digits`);
  }
  try {
    return new Wallet(`0x${hex}`);
  } catch (error) {
    throw new CliError(`${where} is not a valid secp256k1 private key: use another key`, 1, { cause: error });
  }
}

/** Hardhat 2's vars.json path (hardhat/internal/util/global-dir getVarsFilePath, via env-paths). */
export function hardhatVarsFile(env: NodeJS.ProcessEnv = process.env): string {
  const name = "hardhat-nodejs";
  const home = os.homedir();
  if (process.platform === "darwin") return path.join(home, "Library", "Preferences", name, "vars.json");
  if (process.platform === "win32") {
    return path.join(env.APPDATA || path.join(home, "AppData", "Roaming"), name, "Config", "vars.json");
  }
  return path.join(env.XDG_CONFIG_HOME || path.join(home, ".config"), name, "vars.json");
}

/** The Hardhat variable name of an account: CONSENT_LEDGER_KEY_<ACCOUNT>, upper case. */
export function hardhatVarName(account: string): string {
  const suffix = account
    .trim()
    .toUpperCase()
    .replace(/[^A-Z0-9_]/g, "_");
  if (!/^[A-Z0-9_]+$/.test(suffix) || suffix === "")
    throw new CliError(`--account ${JSON.stringify(account)} is not a name: use letters, digits and _`);
  return `${HARDHAT_VAR_PREFIX}${suffix}`;
}

async function fromHardhatVar(account: string | undefined): Promise<Wallet> {
  if (!account) {
    throw new CliError(
      "--key-source hardhat-var needs --account <name>: the key is read from the Hardhat variable CONSENT_LEDGER_KEY_<NAME>",
    );
  }
  const name = hardhatVarName(account);
  const fromEnv = process.env[`HARDHAT_VAR_${name}`];
  if (fromEnv !== undefined && fromEnv.trim() !== "") return walletFromPrivateKey(fromEnv, `HARDHAT_VAR_${name}`);
  const file = hardhatVarsFile();
  let stored: { vars?: Record<string, { value?: unknown }> };
  try {
    stored = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new CliError(`no Hardhat variable ${name} (no ${file}): set it with \`npx hardhat vars set ${name}\``);
    }
    throw new CliError(`cannot read Hardhat's variables in ${file}: ${(error as Error).message}`, 1, { cause: error });
  }
  const value = stored?.vars?.[name]?.value;
  if (typeof value !== "string" || value === "") {
    throw new CliError(`no Hardhat variable ${name}: set it with \`npx hardhat vars set ${name}\``);
  }
  return walletFromPrivateKey(value, `Hardhat variable ${name}`);
}

/** Reads a line from the terminal without echoing it. */
export async function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY)
    throw new CliError(`cannot ask for a password: stdin is not a terminal; set ${KEYSTORE_PASSWORD_VAR}`);
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding("utf8");
  try {
    return await new Promise<string>((resolve, reject) => {
      let answer = "";
      const onData = (chunk: string) => {
        for (const char of chunk) {
          if (char === "\r" || char === "\n" || char === "\u0004") {
            stdin.removeListener("data", onData);
            process.stderr.write("\n");
            resolve(answer);
            return;
          }
          if (char === "\u0003") {
            stdin.removeListener("data", onData);
            process.stderr.write("\n");
            reject(new CliError("cancelled"));
            return;
          }
          if (char === "\u007f" || char === "\b") answer = answer.slice(0, -1);
          else answer += char;
        }
      };
      stdin.on("data", onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}

/** The keystore password: CONSENT_LEDGER_KEYSTORE_PASSWORD, else asked (twice when `confirm`). */
export async function keystorePassword(purpose: string, confirm = false): Promise<string> {
  const fromEnv = process.env[KEYSTORE_PASSWORD_VAR];
  if (fromEnv !== undefined) {
    if (fromEnv === "") throw new CliError(`${KEYSTORE_PASSWORD_VAR} is empty: set the keystore's password`);
    return fromEnv;
  }
  if (!process.stdin.isTTY) {
    throw new CliError(
      `no keystore password: set ${KEYSTORE_PASSWORD_VAR} (stdin is not a terminal, so it cannot be asked)`,
    );
  }
  const password = await promptHidden(`Password ${purpose}: `);
  if (password === "") throw new CliError("the password is empty: choose one");
  if (confirm && (await promptHidden("Repeat the password: ")) !== password)
    throw new CliError("the passwords differ: try again");
  return password;
}

async function fromKeystore(file: string | undefined, progress: (line: string) => void): Promise<Wallet> {
  if (!file)
    throw new CliError(
      "--key-source keystore needs --keystore <file> (create one with `consent-ledger keys create-keystore --out <file>`)",
    );
  let json: string;
  try {
    json = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(
      code === "ENOENT"
        ? `keystore ${file} does not exist: check --keystore`
        : `cannot read keystore ${file}: ${(error as Error).message}`,
      1,
      {
        cause: error,
      },
    );
  }
  try {
    const parsed = JSON.parse(json) as { crypto?: unknown; Crypto?: unknown };
    if (!parsed || (!parsed.crypto && !parsed.Crypto)) throw new Error("no crypto section");
  } catch (error) {
    throw new CliError(
      `${file} is not an encrypted JSON keystore: create one with \`consent-ledger keys create-keystore --out <file>\``,
      1,
      { cause: error },
    );
  }
  const password = await keystorePassword(`of ${file}`);
  progress(`Decrypting ${file}…`);
  try {
    const wallet = await Wallet.fromEncryptedJson(json, password);
    return new Wallet(wallet.privateKey);
  } catch (error) {
    const message = (error as Error).message ?? "";
    if (/password/i.test(message))
      throw new CliError(`wrong password for keystore ${file}: check ${KEYSTORE_PASSWORD_VAR}`, 1, { cause: error });
    throw new CliError(`cannot decrypt keystore ${file}: ${message}`, 1, { cause: error });
  }
}

/** The signing wallet the options select (not yet connected to a provider). */
export async function loadWallet(
  options: KeyOptions,
  progress: (line: string) => void = () => undefined,
): Promise<Wallet> {
  const source = keySourceOf(options);
  switch (source) {
    case "keystore":
      return fromKeystore(options.keystore, progress);
    case "hardhat-var":
      return fromHardhatVar(options.account);
    default: {
      const key = process.env[PRIVATE_KEY_VAR];
      if (key === undefined || key.trim() === "") {
        throw new CliError(
          `no signing key: set ${PRIVATE_KEY_VAR}, or use --keystore <file>, or --account <name> for a Hardhat variable (keys are never taken on the command line)`,
          1,
          { code: "NO_KEY" },
        );
      }
      return walletFromPrivateKey(key, PRIVATE_KEY_VAR);
    }
  }
}

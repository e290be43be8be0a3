/** `consent-ledger keys ...`: make an encrypted keystore, show which account a key source gives. */
import type { Command } from "commander";
import { Wallet } from "ethers";

import { CliError } from "../errors";
import { checkWritable, writeFileAtomic } from "../files";
import { keySourceOf, keystorePassword, loadWallet, PRIVATE_KEY_VAR, walletFromPrivateKey } from "../keys";
import { fields } from "../output";
import { action } from "./common";

export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("signing keys: encrypted keystores and key sources");

  keys
    .command("create-keystore")
    .description(`encrypt a key into a JSON keystore: ${PRIVATE_KEY_VAR} if set, else a new random key`)
    .requiredOption("--out <file>", "the keystore file to write (never replaced unless --force)")
    .option("--new", `make a new random key even if ${PRIVATE_KEY_VAR} is set`)
    .option("--force", "replace --out if it exists")
    .addHelpText(
      "after",
      "\nThe password comes from CONSENT_LEDGER_KEYSTORE_PASSWORD, or is asked twice on the terminal.\n\nExample:\n  consent-ledger keys create-keystore --out ~/.consent-ledger/patient.json\n  consent-ledger --keystore ~/.consent-ledger/patient.json patient requests\n",
    )
    .action(
      action<{ out: string; new?: boolean; force?: boolean }>(async (ctx, o) => {
        await checkWritable(o.out, "--out", Boolean(o.force));
        const fromEnv = process.env[PRIVATE_KEY_VAR];
        const useEnv = !o.new && fromEnv !== undefined && fromEnv.trim() !== "";
        const wallet = useEnv ? walletFromPrivateKey(fromEnv as string, PRIVATE_KEY_VAR) : Wallet.createRandom();
        const password = await keystorePassword(`for ${o.out}`, true);
        ctx.out.progress(`Encrypting the key (scrypt, a few seconds)…`);
        const json = await new Wallet(wallet.privateKey).encrypt(password);
        await writeFileAtomic(o.out, `${json}\n`, { mode: 0o600, overwrite: Boolean(o.force) });
        ctx.out.result({ address: wallet.address, keystore: o.out, source: useEnv ? "env" : "new" }, () =>
          fields([
            ["address", wallet.address],
            [
              "key",
              useEnv ? `from ${PRIVATE_KEY_VAR}` : "new random key: fund this address before sending transactions",
            ],
            ["keystore", `${o.out} (keep it and its password; there is no other copy${useEnv ? " but yours" : ""})`],
            ["use it", `consent-ledger --keystore ${o.out} <command>`],
          ]),
        );
      }),
    );

  keys
    .command("address")
    .description("the account the selected key source gives (no network needed)")
    .action(
      action(async (ctx) => {
        const source = keySourceOf(ctx.options);
        const wallet = await loadWallet(ctx.options, (line) => ctx.out.progress(line));
        if (!wallet.address) throw new CliError("the key has no address");
        ctx.out.result({ address: wallet.address, source }, () =>
          fields([
            ["address", wallet.address],
            ["source", source],
          ]),
        );
      }),
    );
}

/**
 * `consent-ledger fhir ...`: a FHIR R4 Consent from a hospital's consent system (or an IHE PCF Consent
 * Recorder) turned into the ledger's grant, research policy or emergency opt-out. The command shows what
 * signing does and signs only with --yes, so the patient reads it first.
 */
import type { Command } from "commander";

import { readFhirFile } from "../files";
import { load } from "../sdk";
import { action, sendAndWait } from "./common";

export function registerFhir(program: Command): void {
  const fhir = program.command("fhir").description("exchange consents with hospitals' FHIR R4 systems");
  fhir
    .command("import-consent <file>")
    .description("show what a FHIR R4 Consent becomes on the ledger, and with --yes sign it as the patient")
    .option("--yes", "sign it (without it, only show what it becomes)")
    .addHelpText(
      "after",
      "\nExample:\n  consent-ledger fhir import-consent consent.json          # read the summary\n  consent-ledger fhir import-consent consent.json --yes    # then sign it\n",
    )
    .action(
      action<{ yes?: boolean }>(async (ctx, o, [file]) => {
        const resource = await readFhirFile(file);
        const { signer, contracts } = await ctx.signerContracts();
        const client = new (load.patient().PatientClient)(contracts, signer);
        const imported = await client.previewFhirConsent(resource);
        if (!o.yes) {
          ctx.out.result({ signed: false, action: imported.action, summary: imported.summary }, () =>
            [...imported.summary, "", "Nothing signed. Run again with --yes to sign this."].join("\n"),
          );
          return;
        }
        const { hash } = await sendAndWait(ctx, "Signing the consent", client.applyFhirConsent(imported));
        ctx.out.result(
          { signed: true, action: imported.action, summary: imported.summary, transactionHash: hash },
          () => [...imported.summary, "", `Signed: transaction ${hash}`].join("\n"),
        );
      }),
    );
}

/** `consent-ledger relay <signed.json>`: submit a consent a patient signed, paying the gas yourself. */
import type { Command } from "commander";

import { ConsentLedgerError } from "../../sdk/tables";
import type { SignedConsent } from "../../sdk/index";
import { CliError } from "../errors";
import { readJsonFile } from "../files";
import { dataClassNames, fields, isoTime, purposeNames } from "../output";
import { load } from "../sdk";
import { action, sendAndWait } from "./common";

export function registerRelay(program: Command): void {
  program
    .command("relay <file>")
    .description("submit a signed consent (from `patient sign ... --out <file>`) with your account, which pays the gas")
    .addHelpText(
      "after",
      "\nExample:\n  CONSENT_LEDGER_PRIVATE_KEY=0xRELAYER... consent-ledger relay signed-grant.json\n",
    )
    .action(
      action(async (ctx, _o, [file]) => {
        const value = await readJsonFile(
          file,
          "a signed consent written by `consent-ledger patient sign ... --out <file>`",
        );
        let signed: SignedConsent;
        try {
          signed = load.patient().parseSignedConsent(value);
        } catch (error) {
          const problem =
            error instanceof ConsentLedgerError
              ? error.shortMessage.replace(/^Invalid signed consent: /, "")
              : String(error);
          throw new CliError(
            `${file} is not a signed consent (${problem}): pass a file written by \`consent-ledger patient sign ... --out <file>\``,
            1,
            { cause: error },
          );
        }
        const { signer, contracts } = await ctx.signerContracts();
        const { hash } = await sendAndWait(
          ctx,
          `Relaying the signed ${signed.kind}`,
          load.patient().relaySignedConsent(contracts, signer, signed),
        );
        const details: [string, string][] = [
          ["relayed", signed.kind],
          ["signed by", signed.signer],
        ];
        if (signed.grant) {
          details.push(
            ["patient", signed.patient ?? "-"],
            ["grantee", signed.grant.grantee],
            ["classes", dataClassNames(signed.grant.dataClasses).join(",")],
            ["purposes", purposeNames(signed.grant.purposes).join(",")],
            ["until", isoTime(signed.grant.validUntil)],
          );
        } else if (signed.grantee) {
          details.push(["patient", signed.patient ?? "-"], ["grantee", signed.grantee]);
        } else if (signed.request) {
          details.push([
            "request",
            load.researcher().requestIdOf({
              ...signed.request,
              terms: { ...signed.request.terms, acceptedObligations: BigInt(signed.request.terms.acceptedObligations) },
            }),
          ]);
        }
        details.push(["transaction", hash]);
        ctx.out.result(
          { kind: signed.kind, signer: signed.signer, relayer: signer.address, transactionHash: hash },
          () => fields(details),
        );
      }),
    );
}

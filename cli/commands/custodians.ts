/**
 * `consent-ledger custodians ...`: k-of-n custodian sets (docs/custodian-sets.md). A provider defines a
 * set; anyone reads a set, or which set guards a record. Putting a record under a set and depositing the
 * shares is the SDK's CustodianSetClient (publishing through it, or `reshare`): the chain's assignment
 * alone, without every custodian holding its share, would leave the record unreadable through the set.
 */
import type { Command } from "commander";

import { fields } from "../output";
import { parseAddress, parseBytes32, parseInteger } from "../parse";
import { CliError } from "../errors";
import { load } from "../sdk";
import { action, sendAndWait } from "./common";

/** The most custodians one set may hold (CustodianSets.MAX_CUSTODIANS). */
const MAX_CUSTODIANS = 16;

export function registerCustodians(program: Command): void {
  const custodians = program
    .command("custodians")
    .description("k-of-n custodian sets: no single custodian holds a record's key");
  registerDefineCommand(custodians);
  registerShowCommand(custodians);
  registerRecordCommand(custodians);
}

function requireSets(contracts: Awaited<ReturnType<import("../context").Context["contracts"]>>) {
  if (!contracts.custodianSets)
    throw new CliError(
      "this deployment names no CustodianSets contract: deploy it (npm run deploy) and add its address to the deployment file as custodianSets",
    );
  return contracts.custodianSets;
}

/** custodians define: a provider defines a set of accredited custodians and its threshold. */
function registerDefineCommand(custodians: Command): void {
  custodians
    .command("define")
    .description("define a custodian set: k of these accredited custodians must each release a share (providers only)")
    .requiredOption("--custodians <list>", "the custodians' addresses, comma-separated, in share order (2 to 16)")
    .requiredOption("--threshold <k>", "how many custodians' shares rebuild a key (2 to the number of custodians)")
    .addHelpText(
      "after",
      "\nExample:\n  consent-ledger custodians define --custodians 0xHOSPITAL_IT,0xFOUNDATION,0xUNIVERSITY --threshold 2\n",
    )
    .action(
      action<{ custodians: string; threshold: string }>(async (ctx, o) => {
        const list = o.custodians
          .split(",")
          .map((item) => item.trim())
          .filter((item) => item !== "")
          .map((item) => parseAddress(item, "--custodians"));
        if (list.length < 2 || list.length > MAX_CUSTODIANS)
          throw new CliError(`--custodians names ${list.length} custodian(s): a set has 2 to ${MAX_CUSTODIANS}`);
        const duplicate = list.find((item, index) => list.indexOf(item) !== index);
        if (duplicate) throw new CliError(`--custodians names ${duplicate} twice: each custodian holds one share`);
        const threshold = parseInteger(o.threshold, "--threshold", 2, list.length);
        const { signer, contracts } = await ctx.signerContracts();
        requireSets(contracts);
        const client = new (load.custodians().CustodianSetClient)(contracts, signer, {});
        const { result: set, hash } = await sendAndWait(
          ctx,
          "Defining the custodian set",
          client.defineSet(list, threshold),
        );
        ctx.out.result({ ...set, transactionHash: hash }, () =>
          fields([
            ["set", String(set.setId)],
            ["threshold", `${set.threshold} of ${set.custodians.length}`],
            ["custodians", set.custodians.join(", ")],
            ["transaction", hash],
          ]),
        );
      }),
    );
}

/** custodians show: a set's threshold and custodians. */
function registerShowCommand(custodians: Command): void {
  custodians
    .command("show <setId>")
    .description("a custodian set's threshold and custodians (anyone may read it)")
    .action(
      action(async (ctx, _o, [id]) => {
        const setId = parseInteger(id, "<setId>", 1, Number.MAX_SAFE_INTEGER);
        const contracts = await ctx.contracts();
        const sets = requireSets(contracts);
        if (BigInt(setId) > (await sets.setCount()))
          throw new CliError(`no custodian set ${setId} is defined on this chain`);
        const stored = await sets.setOf(setId);
        const set = { setId, threshold: Number(stored.threshold), custodians: [...stored.custodians] };
        ctx.out.result(set, () =>
          fields([
            ["set", String(set.setId)],
            ["threshold", `${set.threshold} of ${set.custodians.length}`],
            ["custodians", set.custodians.join(", ")],
          ]),
        );
      }),
    );
}

/** custodians record: which set guards a record now. */
function registerRecordCommand(custodians: Command): void {
  custodians
    .command("record <recordId>")
    .description("which custodian set guards a record's key now (none: one custodian holds it whole)")
    .action(
      action(async (ctx, _o, [id]) => {
        const recordId = parseBytes32(id, "<recordId>");
        const contracts = await ctx.contracts();
        const [setId, set] = await requireSets(contracts).recordCustodians(recordId);
        const guarded = setId !== 0n;
        const value = guarded
          ? { recordId, setId: Number(setId), threshold: Number(set.threshold), custodians: [...set.custodians] }
          : { recordId, setId: null, threshold: null, custodians: [] };
        ctx.out.result(value, () =>
          fields([
            ["record", recordId],
            ["set", guarded ? String(setId) : "none (its key is held whole by one custodian)"],
            ...(guarded
              ? ([
                  ["threshold", `${set.threshold} of ${set.custodians.length}`],
                  ["custodians", set.custodians.join(", ")],
                ] as [string, string][])
              : []),
          ]),
        );
      }),
    );
}

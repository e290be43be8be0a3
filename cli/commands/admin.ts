/** `consent-ledger admin ...`: the administrator accredits, suspends and reinstates parties. */
import type { Command } from "commander";

import { Role } from "../../sdk/tables";
import type { RoleName } from "../../sdk/index";
import { fields, isoTime } from "../output";
import { checkTimeSyntax, parseAddress, parseInteger, parseRoles, parseTime } from "../parse";
import { load } from "../sdk";
import { action, sendAndWait } from "./common";

function roleNames(mask: number): RoleName[] {
  return (Object.keys(Role) as RoleName[]).filter((name) => (mask & Role[name]) !== 0);
}

export function registerAdmin(program: Command): void {
  const admin = program
    .command("admin")
    .description("accredit, suspend and reinstate providers, researchers and custodians (administrator only)");
  registerAccreditCommand(admin);
  registerSuspendCommand(admin);
  registerReinstateCommand(admin);
  registerShowCommand(admin);
}

/** admin accredit: give an account roles (provider, researcher, custodian). */
function registerAccreditCommand(admin: Command): void {
  admin
    .command("accredit <address>")
    .description("accredit a party for roles (or change its roles, flag and expiry)")
    .requiredOption("--roles <list>", "PROVIDER, RESEARCHER, CUSTODIAN, comma-separated")
    .option("--non-profit", "the organisation is not-for-profit (policies with NPU/NCU need it)")
    .option("--until <time>", "when the accreditation lapses: a date or a duration from now (default: never)")
    .addHelpText(
      "after",
      "\nExample:\n  consent-ledger admin accredit 0xHOSPITAL --roles PROVIDER,CUSTODIAN --until 2y\n",
    )
    .action(
      action<{ roles: string; nonProfit?: boolean; until?: string }>(async (ctx, o, [address]) => {
        const party = parseAddress(address, "<address>");
        const roles = parseRoles(o.roles);
        if (o.until !== undefined) checkTimeSyntax(o.until, "--until");
        const { signer, contracts } = await ctx.signerContracts();
        const until = o.until === undefined ? undefined : parseTime(o.until, "--until", await ctx.now());
        const client = new (load.admin().AdminClient)(contracts, signer);
        const { hash } = await sendAndWait(
          ctx,
          "Accrediting",
          client.accredit({ party, roles, nonProfit: Boolean(o.nonProfit), accreditedUntil: until }),
        );
        ctx.out.result(
          {
            party,
            roles,
            nonProfit: Boolean(o.nonProfit),
            accreditedUntil: until ? isoTime(until) : null,
            transactionHash: hash,
          },
          () =>
            fields([
              ["party", party],
              ["roles", roles.join(",")],
              ["non-profit", o.nonProfit ? "yes" : "no"],
              ["until", until ? isoTime(until) : "no end"],
              ["transaction", hash],
            ]),
        );
      }),
    );
}

/** admin suspend: suspend an accredited account. */
function registerSuspendCommand(admin: Command): void {
  admin
    .command("suspend <address>")
    .description("suspend a party: it loses every role at once")
    .option("--reason <code>", "a numeric reason code of your own (0-65535)", "0")
    .action(
      action<{ reason: string }>(async (ctx, o, [address]) => {
        const party = parseAddress(address, "<address>");
        const reason = parseInteger(o.reason, "--reason", 0, 65535);
        const { signer, contracts } = await ctx.signerContracts();
        const { hash } = await sendAndWait(
          ctx,
          "Suspending",
          new (load.admin().AdminClient)(contracts, signer).suspend(party, reason),
        );
        ctx.out.result({ party, suspended: true, reasonCode: reason, transactionHash: hash }, () =>
          fields([
            ["party", party],
            ["status", `suspended (reason ${reason})`],
            ["transaction", hash],
          ]),
        );
      }),
    );
}

/** admin reinstate: lift a suspension. */
function registerReinstateCommand(admin: Command): void {
  admin
    .command("reinstate <address>")
    .description("lift a suspension")
    .action(
      action(async (ctx, _o, [address]) => {
        const party = parseAddress(address, "<address>");
        const { signer, contracts } = await ctx.signerContracts();
        const { hash } = await sendAndWait(
          ctx,
          "Reinstating",
          new (load.admin().AdminClient)(contracts, signer).reinstate(party),
        );
        ctx.out.result({ party, suspended: false, transactionHash: hash }, () =>
          fields([
            ["party", party],
            ["status", "reinstated"],
            ["transaction", hash],
          ]),
        );
      }),
    );
}

/** admin show: an account's accreditation. */
function registerShowCommand(admin: Command): void {
  admin
    .command("show <address>")
    .description("a party's accreditation (anyone may read it)")
    .action(
      action(async (ctx, _o, [address]) => {
        const party = parseAddress(address, "<address>");
        const contracts = await ctx.contracts();
        const stored = await contracts.ledger.partyOf(party);
        const roles = roleNames(Number(stored.roles));
        const until = Number(stored.accreditedUntil);
        const active = await contracts.ledger.isAccredited(party, Number(stored.roles) || 7);
        ctx.out.result(
          {
            party,
            roles,
            nonProfit: stored.nonProfit,
            suspended: stored.suspended,
            accreditedUntil: until ? isoTime(until) : null,
            active: roles.length > 0 && active,
          },
          () =>
            fields([
              ["party", party],
              ["roles", roles.join(",") || "none (not accredited)"],
              ["non-profit", stored.nonProfit ? "yes" : "no"],
              [
                "status",
                roles.length === 0 ? "not accredited" : stored.suspended ? "suspended" : active ? "active" : "lapsed",
              ],
              ["until", until ? isoTime(until) : roles.length ? "no end" : "-"],
            ]),
        );
      }),
    );
}

/**
 * Pseudonyms from the command line (docs/pseudonyms.md): `patient pseudonym derive|link` derive a
 * patient's per-relationship accounts from the key (one signature, nothing stored) and sign a pairing
 * link for a provider; `provider pair <link>` checks a link and prints the pseudonym to file records
 * under; and `--relayer <url>` (with `--pseudonym <id> --domain <host>`) sends a patient's grant, revoke,
 * approve or deny as a signed message through a relayer, so the account that signs never needs ether.
 */
import type { Command } from "commander";
import type { Wallet } from "ethers";

import type { LedgerContracts, PatientClient, Pseudonym, Relationship } from "../../sdk/index";
import type { Context } from "../context";
import { CliError } from "../errors";
import { fields, isoTime, table } from "../output";
import { parseAddress, parseDuration } from "../parse";
import { load } from "../sdk";
import { action } from "./common";

const DOMAIN_HELP =
  "the host the dashboard runs on (as in its address bar, e.g. app.example or localhost:5173): the same wallet, domain, chain and ledger give the same pseudonyms";

/** "provider:0x…", "study:<label>" or "index:<n>", as the SDK writes a pseudonym's id. */
export function parseRelationship(text: string, flag: string): Relationship {
  const match = /^(provider|study|index):(.+)$/.exec(text);
  if (!match) throw new CliError(`${flag} must be provider:<address>, study:<label> or index:<n>, got "${text}"`);
  const [, kind, value] = match;
  if (kind === "provider") return { kind: "provider", provider: parseAddress(value, flag) };
  if (kind === "study") {
    if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(value))
      throw new CliError(
        `${flag}: a study label is 1 to 64 of a-z 0-9 . _ - (starting with a letter or digit), got "${value}"`,
      );
    return { kind: "study", label: value };
  }
  if (!/^\d{1,10}$/.test(value) || Number(value) > 2 ** 32 - 1)
    throw new CliError(`${flag}: an index is a whole number from 0 to ${2 ** 32 - 1}, got "${value}"`);
  return { kind: "index", index: Number(value) };
}

function checkDomain(domain: string | undefined): string {
  if (domain === undefined || domain === "")
    throw new CliError("--domain is required: pseudonyms are derived for one dashboard domain (docs/pseudonyms.md)");
  return domain;
}

/** Derives the root from the key (one signature, twice to check it is deterministic) and returns the pseudonyms. */
async function derive(ctx: Context, domain: string, relationships: Relationship[]): Promise<Pseudonym[]> {
  const wallet = await ctx.loadKey();
  const contracts = await ctx.contracts();
  const sdk = load.pseudonyms();
  const root = await sdk.derivePseudonymRoot(wallet, {
    domain,
    chainId: contracts.chainId,
    ledger: contracts.deployment.ledger,
  });
  try {
    return relationships.map((relationship) => root.derive(relationship));
  } catch (error) {
    throw new CliError((error as Error).message);
  } finally {
    root.destroy();
  }
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerPseudonymCommands(patient: Command): void {
  const pseudonym = patient
    .command("pseudonym")
    .description("your per-relationship patient addresses, derived from your key (no ether, nothing stored)");

  pseudonym
    .command("derive")
    .description("print the pseudonym addresses for providers, studies or indexes")
    .requiredOption("--domain <host>", DOMAIN_HELP)
    .option("--provider <address>", "a provider's pseudonym (repeatable)", collect)
    .option("--study <label>", "a study's pseudonym (repeatable)", collect)
    .option("--index <n>", "a fresh pseudonym by number (repeatable)", collect)
    .addHelpText(
      "after",
      "\nExample:\n  consent-ledger patient pseudonym derive --domain app.example --provider 0xCLINIC --study diabetes-2026\n",
    )
    .action(
      action<{ domain: string; provider?: string[]; study?: string[]; index?: string[] }>(async (ctx, o) => {
        const domain = checkDomain(o.domain);
        const relationships = [
          ...(o.provider ?? []).map((value) => parseRelationship(`provider:${value}`, "--provider")),
          ...(o.study ?? []).map((value) => parseRelationship(`study:${value}`, "--study")),
          ...(o.index ?? []).map((value) => parseRelationship(`index:${value}`, "--index")),
        ];
        if (relationships.length === 0)
          throw new CliError("name at least one relationship: --provider <address>, --study <label> or --index <n>");
        const pseudonyms = await derive(ctx, domain, relationships);
        ctx.out.result(
          pseudonyms.map((p) => ({ id: p.id, address: p.address })),
          () =>
            table(
              ["relationship", "pseudonym"],
              pseudonyms.map((p) => [p.id, p.address]),
            ),
        );
      }),
    );

  pseudonym
    .command("link")
    .description("sign a pairing link for a provider with its pseudonym: give it to the provider (`provider pair`)")
    .requiredOption("--domain <host>", DOMAIN_HELP)
    .requiredOption("--provider <address>", "the provider the link is for (only it can use the link)")
    .option("--ttl <duration>", "how long the link is valid: 1h, 7d (default 7d, at most 90d)")
    .option("--url <base>", "also print a URL carrying the link in its fragment (#pair=…)")
    .action(
      action<{ domain: string; provider: string; ttl?: string; url?: string }>(async (ctx, o) => {
        const domain = checkDomain(o.domain);
        const provider = parseAddress(o.provider, "--provider");
        const ttlSeconds = o.ttl === undefined ? undefined : parseDuration(o.ttl, "--ttl");
        const [pseudonym] = await derive(ctx, domain, [{ kind: "provider", provider }]);
        const contracts = await ctx.contracts();
        const sdk = load.pseudonyms();
        const { payload, link } = await sdk.createPairingLink(sdk.pseudonymSigner(pseudonym), {
          provider,
          encryptionPublicKey: pseudonym.encryptionKeyPair.publicKey,
          chainId: contracts.chainId,
          ledger: contracts.deployment.ledger,
          ttlSeconds,
          now: await ctx.now(),
        });
        const url = o.url === undefined ? undefined : sdk.pairingUrl(o.url, payload);
        ctx.out.result(
          {
            pseudonym: pseudonym.address,
            provider,
            expiresAt: isoTime(link.expiresAt),
            link: payload,
            url: url ?? null,
          },
          () =>
            fields([
              ["pseudonym", pseudonym.address],
              ["provider", provider],
              ["expires", isoTime(link.expiresAt)],
              ["link", payload],
              ...(url ? ([["url", url]] as [string, string][]) : []),
            ]),
        );
      }),
    );
}

export function registerPairCommand(provider: Command): void {
  provider
    .command("pair <link>")
    .description("check a patient's pairing link (a clpair1. payload or a URL with #pair=) and print their pseudonym")
    .action(
      action(async (ctx, _o, [text]) => {
        const { signer, contracts } = await ctx.signerContracts();
        const client = new (load.provider().ProviderClient)(contracts, signer, ctx.store());
        let paired: Awaited<ReturnType<typeof client.pairPatient>>;
        try {
          paired = await client.pairPatient(text, { now: await ctx.now() });
        } catch (error) {
          const problem = (error as { problem?: string }).problem;
          if (problem) throw new CliError(`the pairing link is refused (${problem}): ${(error as Error).message}`);
          throw error;
        }
        ctx.out.result(
          {
            pseudonym: paired.pseudonym,
            encryptionKey: paired.link.encryptionKey,
            expiresAt: isoTime(paired.link.expiresAt),
          },
          () =>
            fields([
              ["pseudonym", paired.pseudonym],
              ["encryption key", paired.link.encryptionKey],
              ["link expires", isoTime(paired.link.expiresAt)],
            ]) +
            "\nFile this patient's records under the pseudonym: provider publish --patient " +
            paired.pseudonym,
        );
      }),
    );
}

export interface RelayOptions {
  relayer?: string;
  pseudonym?: string;
  domain?: string;
}

/** --relayer, --pseudonym and --domain on a patient decision. */
export function relayOptions(command: Command): Command {
  return command
    .option(
      "--relayer <url>",
      "send it as a signed message through this relayer (you pay no gas); or CONSENT_RELAYER_URL",
    )
    .option(
      "--pseudonym <id>",
      "act as this pseudonym of your key (provider:<address>, study:<label>, index:<n>); needs a relayer",
    )
    .option("--domain <host>", `with --pseudonym: ${DOMAIN_HELP}`);
}

/**
 * The PatientClient a decision is sent with: the key itself, or one of its pseudonyms, directly or
 * through a relayer. A pseudonym never sends its own transaction: it would need ether, and its funding
 * would link it.
 */
export async function decisionClient(
  ctx: Context,
  o: RelayOptions,
): Promise<{ client: PatientClient; contracts: LedgerContracts; signer: Wallet }> {
  const relayerUrl = o.relayer ?? process.env.CONSENT_RELAYER_URL;
  if (o.pseudonym === undefined && o.domain !== undefined) throw new CliError("--domain goes with --pseudonym");
  const relationship = o.pseudonym === undefined ? undefined : parseRelationship(o.pseudonym, "--pseudonym");
  if (relationship && !relayerUrl)
    throw new CliError(
      "--pseudonym acts only through a relayer (--relayer <url> or CONSENT_RELAYER_URL): a pseudonym holds no ether",
    );
  let signer = await ctx.signer();
  if (relationship) {
    const [pseudonym] = await derive(ctx, checkDomain(o.domain), [relationship]);
    signer = load.pseudonyms().pseudonymSigner(pseudonym, await ctx.provider());
    ctx.out.progress(`Acting as pseudonym ${pseudonym.address} (${pseudonym.id})`);
  }
  const contracts = await ctx.contracts(signer);
  const sdk = load.patient();
  const relayer = relayerUrl ? new (load.pseudonyms().RelayerClient)(relayerUrl) : undefined;
  return { client: new sdk.PatientClient(contracts, signer, { relayer }), contracts, signer };
}

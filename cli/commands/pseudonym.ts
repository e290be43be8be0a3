/**
 * Pseudonyms from the command line (docs/pseudonyms.md): `patient pseudonym derive|link` derive a
 * patient's per-relationship accounts from the key (one signature, nothing stored) and sign a pairing
 * link for a provider; `provider pair <link>` checks a link and prints the pseudonym to file records
 * under; and a patient's actions that have a signed form (SIGNED_FORMS: grant, revoke, approve, deny)
 * go as signed messages through a relayer whenever one is known (`--relayer <url>`, CONSENT_RELAYER_URL,
 * or the deployment file's `relayer`), so the account that signs never needs ether; `--no-relayer` sends
 * directly, and `--pseudonym <id> --domain <host>` acts as one of the key's pseudonyms.
 */
import type { Command } from "commander";
import type { Wallet } from "ethers";

import type {
  LedgerContracts,
  PatientAction,
  PatientClient,
  Pseudonym,
  RelayerClient,
  Relationship,
} from "../../sdk/index";
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
    .option("--qr", "also print it as a QR code in the terminal, for the provider to scan (the URL's, with --url)")
    .action(
      action<{ domain: string; provider: string; ttl?: string; url?: string; qr?: boolean }>(async (ctx, o) => {
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
        const qr = o.qr ? await terminalQr(url ?? payload) : undefined;
        ctx.out.result(
          {
            pseudonym: pseudonym.address,
            provider,
            expiresAt: isoTime(link.expiresAt),
            link: payload,
            url: url ?? null,
            ...(qr === undefined ? {} : { qr }),
          },
          () =>
            fields([
              ["pseudonym", pseudonym.address],
              ["provider", provider],
              ["expires", isoTime(link.expiresAt)],
              ["link", payload],
              ...(url ? ([["url", url]] as [string, string][]) : []),
            ]) + (qr === undefined ? "" : `\n\nScan to pair (${url ? "the URL" : "the link"}):\n${qr}`),
        );
      }),
    );
}

/**
 * `text` as a QR code drawn with block characters (two rows of modules per line), as node-qrcode draws
 * it for a terminal. Loaded on use, so commands without --qr do not pay for it.
 */
async function terminalQr(text: string): Promise<string> {
  const QRCode = await import("qrcode");
  return QRCode.toString(text, { type: "terminal", small: true, errorCorrectionLevel: "M" });
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
  /** A URL (--relayer <url>), false (--no-relayer), or undefined (CONSENT_RELAYER_URL, else the deployment's). */
  relayer?: string | false;
  pseudonym?: string;
  domain?: string;
}

/** --relayer, --no-relayer, --pseudonym and --domain on a patient action. */
export function relayOptions(command: Command): Command {
  return command
    .option(
      "--relayer <url>",
      "send it as a signed message through this relayer (you pay no gas); default: CONSENT_RELAYER_URL, else the deployment's relayer",
    )
    .option("--no-relayer", "send it directly from your account, which pays the gas, even when a relayer is known")
    .option(
      "--pseudonym <id>",
      "act as this pseudonym of your key (provider:<address>, study:<label>, index:<n>); needs a relayer",
    )
    .option("--domain <host>", `with --pseudonym: ${DOMAIN_HELP}`);
}

/** What each action is called in a sentence, for the line that says how it is sent. */
const ACTION_TEXT: Record<PatientAction, string> = {
  grant: "a grant",
  revoke: "a revocation",
  approve: "an approval",
  deny: "a denial",
  grantBatch: "a batch of grants",
  setPolicy: "setting a policy",
  clearPolicy: "clearing a policy",
  appointDelegate: "appointing a delegate",
  removeDelegate: "removing a delegate",
  setEmergencyOptOut: "the emergency opt-out",
  cancelSignature: "cancelling a signature",
  registerEncryptionKey: "registering an encryption key",
  withdrawEncryptionKey: "withdrawing an encryption key",
};

/** "a grant, a revocation, an approval and a denial": the actions that have a signed form today. */
function signedActionsText(): string {
  const names = (Object.keys(ACTION_TEXT) as PatientAction[])
    .filter((action) => load.pseudonyms().hasSignedForm(action))
    .map((action) => ACTION_TEXT[action]);
  return names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names.at(-1)}` : (names[0] ?? "nothing");
}

/** The relayer a patient action goes through: --relayer, else CONSENT_RELAYER_URL, else the deployment's; none with --no-relayer. */
async function relayerFor(ctx: Context, o: RelayOptions): Promise<{ url: string; from: string } | undefined> {
  if (o.relayer === false) return undefined;
  if (typeof o.relayer === "string") return { url: o.relayer, from: "--relayer" };
  if (process.env.CONSENT_RELAYER_URL) return { url: process.env.CONSENT_RELAYER_URL, from: "CONSENT_RELAYER_URL" };
  const deployment = await ctx.deployment();
  return deployment.relayer ? { url: deployment.relayer, from: "the deployment file" } : undefined;
}

/**
 * The PatientClient a patient action is sent with: the key itself, or one of its pseudonyms, through the
 * relayer when one is known (--relayer, CONSENT_RELAYER_URL or the deployment's `relayer`) and the action
 * has a signed form (SIGNED_FORMS), else directly. A pseudonym never sends its own transaction: it would
 * need ether, and its funding would link it. The relayer is asked who it is first, so one for another
 * chain or ledger, or one that is down, is found before anything is signed.
 */
export async function decisionClient(
  ctx: Context,
  o: RelayOptions,
  action: PatientAction,
): Promise<{ client: PatientClient; contracts: LedgerContracts; signer: Wallet }> {
  if (o.pseudonym === undefined && o.domain !== undefined) throw new CliError("--domain goes with --pseudonym");
  const relationship = o.pseudonym === undefined ? undefined : parseRelationship(o.pseudonym, "--pseudonym");
  const sdk = load.pseudonyms();
  if (relationship && o.relayer === false)
    throw new CliError("--pseudonym acts only through a relayer, so it does not go with --no-relayer");
  if (relationship && !sdk.hasSignedForm(action))
    throw new CliError(
      `--pseudonym cannot do ${ACTION_TEXT[action]}: the ledger has no signed form of it yet, so it would be a transaction from the pseudonym, which holds no ether (and funding it would link it)`,
    );
  const found = await relayerFor(ctx, o);
  if (relationship && !found)
    throw new CliError(
      "--pseudonym acts only through a relayer (--relayer <url>, CONSENT_RELAYER_URL, or a `relayer` in the deployment file): a pseudonym holds no ether",
    );
  let signer = await ctx.signer();
  if (relationship) {
    const [pseudonym] = await derive(ctx, checkDomain(o.domain), [relationship]);
    signer = sdk.pseudonymSigner(pseudonym, await ctx.provider());
    ctx.out.progress(`Acting as pseudonym ${pseudonym.address} (${pseudonym.id})`);
  }
  const contracts = await ctx.contracts(signer);
  const route = sdk.actionRoute(action, found !== undefined);
  let relayer: RelayerClient | undefined;
  if (found && route === "relayer") {
    relayer = await checkedRelayer(found, contracts);
    ctx.out.progress(
      `Sending ${ACTION_TEXT[action]} as a signed message through the relayer at ${relayer.url} (from ${found.from}): you pay no gas. --no-relayer sends it directly.`,
    );
  } else if (found) {
    ctx.out.progress(
      `Note: the ledger has no signed form of ${ACTION_TEXT[action]} yet, so it is sent directly from your account, which pays the gas (the relayer at ${found.url} takes ${signedActionsText()}).`,
    );
  }
  return {
    client: new (load.patient().PatientClient)(contracts, signer, { relayer, allowDirect: !relationship }),
    contracts,
    signer,
  };
}

/** A RelayerClient for `found`, after checking it answers and relays to this chain and ledger. */
async function checkedRelayer(
  found: { url: string; from: string },
  contracts: LedgerContracts,
): Promise<RelayerClient> {
  let relayer: RelayerClient;
  try {
    relayer = new (load.pseudonyms().RelayerClient)(found.url);
  } catch (error) {
    throw new CliError(`the relayer URL from ${found.from} is refused: ${(error as Error).message}`, 1, {
      cause: error,
    });
  }
  let info: Awaited<ReturnType<RelayerClient["info"]>>;
  try {
    info = await relayer.info();
  } catch (error) {
    throw new CliError(
      `the relayer at ${relayer.url} (from ${found.from}) did not answer: start it (npm run relayer), pass another with --relayer <url>, or send directly with --no-relayer`,
      1,
      { cause: error, code: "RELAYER_UNREACHABLE" },
    );
  }
  if (
    Number(info.chainId) !== Number(contracts.chainId) ||
    String(info.ledger).toLowerCase() !== contracts.deployment.ledger.toLowerCase()
  )
    throw new CliError(
      `the relayer at ${relayer.url} (from ${found.from}) relays to ledger ${info.ledger} on chain ${info.chainId}, not ${contracts.deployment.ledger} on chain ${contracts.chainId}: pass the right one with --relayer <url>, or --no-relayer`,
      1,
      { code: "RELAYER_MISMATCH" },
    );
  return relayer;
}

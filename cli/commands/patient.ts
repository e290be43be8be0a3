/**
 * `consent-ledger patient ...`: see your records and requests, decide requests, grant and revoke,
 * keep a standing policy, appoint delegates, opt out of emergency access, sign actions for a relayer,
 * and read your audit trail. `--for <patient>` acts for a patient who appointed you, where the ledger
 * allows a delegate (grant, revoke, approving and denying their requests); reads work for any patient.
 */
import path from "node:path";

import type { Command } from "commander";
import { Option } from "commander";
import { VoidSigner, type Wallet } from "ethers";

import { codesOf, Duo } from "../../sdk/tables";
import type { AuditEntry, Consent, DataUsePolicy, BlobStore, PatientClient } from "../../sdk/index";
import type { Context } from "../context";
import { CliError } from "../errors";
import { checkWritable, writeFileAtomic } from "../files";
import { dataClassNames, fields, isoTime, purposeNames, shortAddress, table, toJson } from "../output";
import {
  checkTimeSyntax,
  duoName,
  parseAddress,
  parseBytes32,
  parseDataClasses,
  parseDiseaseId,
  parseDuoList,
  parseDuration,
  parsePermission,
  parsePurposes,
  parseTime,
} from "../parse";
import { load } from "../sdk";
import { action, readAddress, sendAndWait, who } from "./common";
import { decisionClient, registerPseudonymCommands, relayOptions, type RelayOptions } from "./pseudonym";
import { gatewayUrl, GATEWAY_ENV, requestJson, requestsTable } from "./researcher";

const FOR_HELP = "act for (or read) this patient: you must be their delegate to change anything";

/** The patient a command is about: --for, else the signer. Reads with --for need no key. */
async function patientOf(
  ctx: Context,
  forPatient: string | undefined,
  needKey: boolean,
): Promise<{ patient: string; wallet?: Wallet }> {
  if (!needKey) {
    const { address, wallet } = await readAddress(ctx, forPatient, "--for");
    return { patient: address, wallet };
  }
  const explicit = forPatient === undefined ? undefined : parseAddress(forPatient, "--for");
  const wallet = await ctx.loadKey();
  return { patient: explicit ?? wallet.address, wallet };
}

/** A PatientClient; reading needs no key (a VoidSigner for the patient). */
async function patientClient(ctx: Context, wallet: Wallet | undefined, patient: string): Promise<PatientClient> {
  const provider = await ctx.provider();
  const signer = wallet ? wallet.connect(provider) : new VoidSigner(patient, provider);
  return new (load.patient().PatientClient)(await ctx.contracts(wallet ? (signer as Wallet) : undefined), signer);
}

interface GrantOptions {
  grantee: string;
  classes: string;
  purposes: string;
  until: string;
  from?: string;
  for?: string;
}

function grantOptions(command: Command): Command {
  return command
    .requiredOption("--grantee <address>", "who may read")
    .requiredOption("--classes <list>", "data classes, comma-separated (LAB_RESULT,IMAGING,...)")
    .requiredOption("--purposes <list>", "purposes of use, comma-separated (TREAT,HRESCH,...)")
    .requiredOption("--until <time>", "end: a date (2027-01-31), date-time, or a duration from now (90d)")
    .option("--from <time>", "start, if later than now")
    .option("--for <patient>", FOR_HELP);
}

/** Checks a grant's options before the chain; returns them resolved against the chain's time. */
function checkGrant(o: GrantOptions) {
  const grantee = parseAddress(o.grantee, "--grantee");
  const dataClasses = parseDataClasses(o.classes);
  const purposes = parsePurposes(o.purposes);
  checkTimeSyntax(o.until, "--until");
  if (o.from !== undefined) checkTimeSyntax(o.from, "--from");
  return (now: number) => {
    const validUntil = parseTime(o.until, "--until", now);
    const validFrom = o.from === undefined ? undefined : parseTime(o.from, "--from", now);
    if (validFrom !== undefined && validFrom >= validUntil) throw new CliError("--from must be before --until");
    return { grantee, dataClasses, purposes, validUntil, validFrom };
  };
}

function consentFields(consent: Consent) {
  return [
    ["patient", consent.patient],
    ["grantee", consent.grantee],
    ["classes", dataClassNames(consent.dataClasses).join(",")],
    ["purposes", purposeNames(consent.purposes).join(",")],
    ["from", isoTime(consent.validFrom) === "-" ? "now" : isoTime(consent.validFrom)],
    ["until", isoTime(consent.validUntil)],
  ] as [string, string][];
}

type ConsentTerms = Parameters<typeof consentFields>[0];

/** One consent's terms on a line: classes for purposes, from → until. */
function termsText(consent: ConsentTerms): string {
  const from = consent.validFrom === 0 ? "now" : isoTime(consent.validFrom);
  return `${dataClassNames(consent.dataClasses).join(",")} for ${purposeNames(consent.purposes).join(",")}, ${from} → ${isoTime(consent.validUntil)}`;
}

function replacedText(change: { before?: ConsentTerms }): string {
  return change.before ? termsText(change.before) : "nothing in force";
}

/** The before → after a grant or approval makes (PatientClient.previewGrant / previewApproval), printed on stderr once the node accepts the transaction. */
function changeLine(change: { before?: ConsentTerms; after: ConsentTerms; replaces: boolean }): string {
  const who = shortAddress(change.after.grantee);
  return change.replaces && change.before
    ? `Replaces ${who}'s consent: ${termsText(change.before)}\n     with: ${termsText(change.after)}`
    : `New consent for ${who}: ${termsText(change.after)}`;
}

function consentJson(consent: Consent) {
  return {
    patient: consent.patient,
    grantee: consent.grantee,
    dataClasses: dataClassNames(consent.dataClasses),
    purposes: purposeNames(consent.purposes),
    validFrom: isoTime(consent.validFrom),
    validUntil: isoTime(consent.validUntil),
  };
}

/** A read-only blob store over a gateway's published release manifests (verified by AuditClient). */
function manifestStore(ctx: Context, url: string): BlobStore {
  let client: InstanceType<ReturnType<typeof load.gateway>["GatewayClient"]> | undefined;
  const gateway = async () => {
    if (!client) {
      const contracts = await ctx.contracts();
      client = new (load.gateway().GatewayClient)(
        url,
        new VoidSigner("0x0000000000000000000000000000000000000001", contracts.provider),
        contracts,
      );
    }
    return client;
  };
  return {
    put: async () => {
      throw new CliError("the audit never writes manifests");
    },
    has: async () => true,
    get: async (cid: string) => new TextEncoder().encode(JSON.stringify(await (await gateway()).fetchManifest(cid))),
  };
}

function auditRow(entry: AuditEntry, patient: string): string[] {
  return [
    isoTime(entry.time),
    who(entry.actor, patient).replace("(you)", "(patient)"),
    entry.action,
    entry.counterparty && entry.counterparty !== entry.actor ? shortAddress(entry.counterparty) : "-",
    dataClassNames(entry.dataClasses).join(",") || "-",
    purposeNames(entry.purposes).join(",") || "-",
    entry.basis,
  ];
}

export function registerPatient(program: Command): void {
  const patient = program.command("patient").description("decide who may read your records, for what and until when");
  registerReadCommands(patient);
  registerDecisionCommands(patient);
  registerGrantCommands(patient);
  registerPolicyCommands(patient);
  registerDelegateCommands(patient);
  registerEmergencyCommands(patient);
  registerSignCommands(patient);
  registerAuditCommands(patient);
  registerPseudonymCommands(patient);
}

/** Reading: the patient's records, pending requests and consents in force. */
function registerReadCommands(patient: Command): void {
  patient
    .command("records")
    .description("the records anchored for you (individually anchored; batched records are listed by their provider)")
    .option("--for <patient>", "another patient's records (public on chain)")
    .action(
      action<{ for?: string }>(async (ctx, o) => {
        const { patient: address } = await patientOf(ctx, o.for, false);
        const contracts = await ctx.contracts();
        const records = await load.records().recordsOf(contracts, address);
        const times = new Map<number, number>();
        for (const blockNumber of new Set(records.map((record) => record.blockNumber))) {
          times.set(blockNumber, (await contracts.provider.getBlock(blockNumber))?.timestamp ?? 0);
        }
        ctx.out.result(
          records.map((record) => ({
            recordId: record.recordId,
            dataClass: dataClassNames(1 << record.dataClass)[0],
            version: record.version,
            superseded: record.superseded,
            supersedes: record.supersedes,
            provider: record.provider,
            pointer: record.pointer,
            anchoredAt: isoTime(times.get(record.blockNumber)),
            transactionHash: record.transactionHash,
          })),
          () =>
            records.length === 0
              ? "No records."
              : table(
                  ["record id", "class", "version", "provider", "status", "anchored"],
                  records.map((record) => [
                    record.recordId,
                    dataClassNames(1 << record.dataClass)[0] ?? String(record.dataClass),
                    String(record.version),
                    shortAddress(record.provider),
                    record.superseded ? "superseded" : "current",
                    isoTime(times.get(record.blockNumber)),
                  ]),
                ),
        );
      }),
    );

  patient
    .command("requests")
    .description("requests researchers made to you: pending ones, or all with --all")
    .option("--all", "include decided, cancelled and expired requests")
    .option("--for <patient>", FOR_HELP)
    .action(
      action<{ all?: boolean; for?: string }>(async (ctx, o) => {
        const { patient: address, wallet } = await patientOf(ctx, o.for, false);
        const client = await patientClient(ctx, wallet, address);
        const views = await client.requests({ patient: address, all: Boolean(o.all) });
        ctx.out.result(views.map(requestJson), () =>
          views.length === 0 && !o.all
            ? "No pending requests (--all shows every request)."
            : requestsTable(views, "patient"),
        );
      }),
    );

  patient
    .command("consents")
    .description("the consents you have given that are in force or scheduled")
    .option("--for <patient>", FOR_HELP)
    .action(
      action<{ for?: string }>(async (ctx, o) => {
        const { patient: address, wallet } = await patientOf(ctx, o.for, false);
        const client = await patientClient(ctx, wallet, address);
        const consents = await client.consents({ patient: address });
        ctx.out.result(consents.map(consentJson), () =>
          consents.length === 0
            ? "No consents in force."
            : table(
                ["grantee", "classes", "purposes", "from", "until"],
                consents.map((c) => [
                  shortAddress(c.grantee),
                  dataClassNames(c.dataClasses).join(","),
                  purposeNames(c.purposes).join(","),
                  isoTime(c.validFrom),
                  isoTime(c.validUntil),
                ]),
              ),
        );
      }),
    );
}

/** Deciding research requests: approve and deny. */
function registerDecisionCommands(patient: Command): void {
  for (const decision of ["approve", "deny"] as const) {
    relayOptions(patient.command(`${decision} <requestId>`))
      .description(
        decision === "approve"
          ? "approve a pending request: the researcher gets a consent for its terms"
          : "deny a pending request",
      )
      .action(
        action<RelayOptions>(async (ctx, o, [requestIdText]) => {
          const requestId = parseBytes32(requestIdText, "<requestId>");
          const { client } = await decisionClient(ctx, o, decision);
          if (decision === "approve") {
            const change = await client.previewApproval(requestId);
            const { result, hash } = await sendAndWait(
              ctx,
              "Approving the request",
              client.approve(requestId),
              changeLine(change),
            );
            ctx.out.result(
              {
                requestId,
                decision: "approved",
                consent: consentJson(result.consent),
                replaced: change.before ? consentJson(change.before) : null,
                transactionHash: hash,
              },
              () =>
                fields([
                  ["request", requestId],
                  ["decision", "approved"],
                  ...consentFields(result.consent),
                  ["replaced", replacedText(change)],
                  ["transaction", hash],
                ]),
            );
          } else {
            const { hash } = await sendAndWait(ctx, "Denying the request", client.deny(requestId));
            ctx.out.result({ requestId, decision: "denied", transactionHash: hash }, () =>
              fields([
                ["request", requestId],
                ["decision", "denied"],
                ["transaction", hash],
              ]),
            );
          }
        }),
      );
  }
}

/** Granting and revoking consents. */
function registerGrantCommands(patient: Command): void {
  relayOptions(
    grantOptions(
      patient.command("grant").description("give an account access to data classes for purposes, until a time"),
    ),
  )
    .addHelpText(
      "after",
      "\nExample:\n  consent-ledger patient grant --grantee 0xCLINIC --classes LAB_RESULT,IMAGING --purposes TREAT --until 180d\n",
    )
    .action(
      action<GrantOptions & RelayOptions>(async (ctx, o) => {
        const resolve = checkGrant(o);
        const forPatient = o.for === undefined ? undefined : parseAddress(o.for, "--for");
        const { client } = await decisionClient(ctx, o, "grant");
        const grant = resolve(await ctx.now());
        const change = await client.previewGrant(grant, { patient: forPatient });
        const { result, hash } = await sendAndWait(
          ctx,
          "Granting the consent",
          client.grant(grant, { patient: forPatient }),
          changeLine(change),
        );
        ctx.out.result(
          {
            ...consentJson(result),
            replaced: change.before ? consentJson(change.before) : null,
            transactionHash: hash,
          },
          () => fields([...consentFields(result), ["replaced", replacedText(change)], ["transaction", hash]]),
        );
      }),
    );

  relayOptions(patient.command("revoke"))
    .description("withdraw the consent given to an account, at once")
    .requiredOption("--grantee <address>", "whose consent ends")
    .option("--for <patient>", FOR_HELP)
    .action(
      action<{ grantee: string; for?: string } & RelayOptions>(async (ctx, o) => {
        const grantee = parseAddress(o.grantee, "--grantee");
        const forPatient = o.for === undefined ? undefined : parseAddress(o.for, "--for");
        const { client } = await decisionClient(ctx, o, "revoke");
        const { result, hash } = await sendAndWait(
          ctx,
          "Revoking the consent",
          client.revoke(grantee, { patient: forPatient }),
        );
        ctx.out.result({ ...result, revoked: true, transactionHash: hash }, () =>
          fields([
            ["patient", result.patient],
            ["grantee", result.grantee],
            ["status", "revoked"],
            ["transaction", hash],
          ]),
        );
      }),
    );

  // --- standing policy ---------------------------------------------------------------------------
}

/** The standing research policy: set, clear, show. */
function registerPolicyCommands(patient: Command): void {
  const policy = patient
    .command("policy")
    .description("a standing data-use policy (GA4GH DUO) that approves matching research requests at once");
  relayOptions(policy.command("set"))
    .description("set (or replace) your standing policy")
    .requiredOption("--permission <duo>", "DUO permission: NRES, GRU, HMB, DS (with --disease) or POA")
    .option("--modifiers <list>", "DUO modifiers, comma-separated: PUB,COL,IRB,MOR,RTN,TS,NPOA,NPU,NCU")
    .requiredOption(
      "--classes <list>",
      "data classes the policy releases (never MENTAL_HEALTH, SEXUAL_REPRODUCTIVE_HEALTH, SUBSTANCE_USE)",
    )
    .option("--purposes <list>", "research purposes it covers (default HRESCH,BIORCH,CLINTRCH)")
    .option("--disease <mondo>", "MONDO disease id, for DS")
    .option("--max-duration <duration>", "longest access it approves (adds the DUO time-limit modifier TS): 90d, 1y")
    .option("--until <time>", "when the policy lapses (default: never)")
    .addHelpText(
      "after",
      "\nExample:\n  consent-ledger patient policy set --permission HMB --modifiers NPU,IRB --classes LAB_RESULT,VITAL_SIGNS --max-duration 1y\n",
    )
    .action(
      action<
        {
          permission: string;
          modifiers?: string;
          classes: string;
          purposes?: string;
          disease?: string;
          maxDuration?: string;
          until?: string;
        } & RelayOptions
      >(async (ctx, o) => {
        const modifiers = o.modifiers === undefined ? [] : parseDuoList(o.modifiers, false);
        // DUO TS ("time limit on use") and a maximum duration go together: --max-duration implies TS.
        if (o.maxDuration !== undefined && !modifiers.includes("TS")) modifiers.push("TS");
        if (modifiers.includes("TS") && o.maxDuration === undefined) {
          throw new CliError("--modifiers TS (a time limit) needs --max-duration, e.g. --max-duration 1y");
        }
        const input = {
          permission: parsePermission(o.permission),
          modifiers,
          dataClasses: parseDataClasses(o.classes),
          purposes: o.purposes === undefined ? undefined : parsePurposes(o.purposes),
          diseaseId: o.disease === undefined ? undefined : parseDiseaseId(o.disease),
          maxDuration: o.maxDuration === undefined ? undefined : parseDuration(o.maxDuration, "--max-duration"),
          validUntil: undefined as number | undefined,
        };
        if ((input.permission === Duo.DS) !== (input.diseaseId !== undefined)) {
          throw new CliError(
            input.diseaseId === undefined
              ? "--permission DS (disease-specific) needs --disease <MONDO id>"
              : "--disease goes only with --permission DS",
          );
        }
        if (o.until !== undefined) checkTimeSyntax(o.until, "--until");
        const { client } = await decisionClient(ctx, o, "setPolicy");
        if (o.until !== undefined) input.validUntil = parseTime(o.until, "--until", await ctx.now());
        const { result, hash } = await sendAndWait(ctx, "Setting the policy", client.setPolicy(input));
        ctx.out.result({ ...policyJson(result), transactionHash: hash }, () =>
          fields([...policyFields(result), ["transaction", hash]]),
        );
      }),
    );
  relayOptions(policy.command("clear"))
    .description("remove your standing policy (requests then wait for your decision)")
    .action(
      action<RelayOptions>(async (ctx, o) => {
        const { client } = await decisionClient(ctx, o, "clearPolicy");
        const { hash } = await sendAndWait(ctx, "Clearing the policy", client.clearPolicy());
        ctx.out.result({ cleared: true, transactionHash: hash }, () =>
          fields([
            ["policy", "cleared"],
            ["transaction", hash],
          ]),
        );
      }),
    );
  policy
    .command("show")
    .description("show a standing policy")
    .option("--for <patient>", "another patient's policy (public on chain)")
    .action(
      action<{ for?: string }>(async (ctx, o) => {
        const { patient: address } = await patientOf(ctx, o.for, false);
        const value = await load.patient().policyOf(await ctx.contracts(), address);
        ctx.out.result(
          value ? { patient: address, policy: policyJson(value) } : { patient: address, policy: null },
          () => (value ? fields([["patient", address], ...policyFields(value)]) : `No standing policy for ${address}.`),
        );
      }),
    );

  // --- delegates ---------------------------------------------------------------------------------
}

/** Delegates who act for the patient: add, remove. */
function registerDelegateCommands(patient: Command): void {
  const delegate = patient
    .command("delegate")
    .description("appoint or remove someone who may act for you (a parent, a carer)");
  relayOptions(delegate.command("add <address>"))
    .description("appoint a delegate until a time, to grant and approve within a scope you set")
    .requiredOption("--until <time>", "end: a date (2027-01-31), date-time, or a duration from now (1y)")
    .option("--purposes <list>", "purposes it may grant or approve access for, comma-separated", "TREAT,ETREAT,CAREMGT")
    .option("--sensitive", "it may also give mental health, sexual and reproductive health, substance use")
    .addHelpText(
      "after",
      "\nA delegate's grants and approvals end by --until at the latest; it may revoke and deny anything." +
        "\nExample:\n  consent-ledger patient delegate add 0xCARER --until 1y --purposes TREAT,CAREMGT\n",
    )
    .action(
      action<{ until: string; purposes: string; sensitive?: boolean } & RelayOptions>(async (ctx, o, [address]) => {
        const delegateAddress = parseAddress(address, "<address>");
        checkTimeSyntax(o.until, "--until");
        const purposes = parsePurposes(o.purposes);
        const sensitiveClasses = o.sensitive === true;
        const { client } = await decisionClient(ctx, o, "appointDelegate");
        const until = parseTime(o.until, "--until", await ctx.now());
        const { result, hash } = await sendAndWait(
          ctx,
          "Appointing the delegate",
          client.appointDelegate(delegateAddress, until, {
            purposes,
            sensitiveClasses,
          }),
        );
        ctx.out.result(
          {
            delegate: result.delegate,
            validUntil: isoTime(result.validUntil),
            purposes: purposeNames(result.purposes),
            sensitiveClasses: result.sensitiveClasses,
            transactionHash: hash,
          },
          () =>
            fields([
              ["delegate", result.delegate],
              ["until", isoTime(result.validUntil)],
              ["may grant for", purposeNames(result.purposes).join(",")],
              ["sensitive classes", result.sensitiveClasses ? "yes" : "no"],
              ["transaction", hash],
            ]),
        );
      }),
    );
  delegate
    .command("list")
    .description("your delegates in office, with what each may grant")
    .option("--for <patient>", "the patient whose delegates to list (default: you)")
    .action(
      action<{ for?: string }>(async (ctx, o) => {
        const { patient: address } = await patientOf(ctx, o.for, false);
        const delegates = await load.patient().delegatesOf(await ctx.contracts(), address);
        ctx.out.result(
          delegates.map((d) => ({
            delegate: d.delegate,
            validUntil: isoTime(d.validUntil),
            purposes: purposeNames(d.purposes),
            sensitiveClasses: d.sensitiveClasses,
          })),
          () =>
            delegates.length === 0
              ? `No delegates in office for ${address}.`
              : table(
                  ["delegate", "until", "may grant for", "sensitive"],
                  delegates.map((d) => [
                    d.delegate,
                    isoTime(d.validUntil),
                    purposeNames(d.purposes).join(","),
                    d.sensitiveClasses ? "yes" : "no",
                  ]),
                ),
        );
      }),
    );
  relayOptions(delegate.command("remove <address>"))
    .description("remove a delegate at once")
    .action(
      action<RelayOptions>(async (ctx, o, [address]) => {
        const delegateAddress = parseAddress(address, "<address>");
        const { client } = await decisionClient(ctx, o, "removeDelegate");
        const { hash } = await sendAndWait(ctx, "Removing the delegate", client.removeDelegate(delegateAddress));
        ctx.out.result({ delegate: delegateAddress, removed: true, transactionHash: hash }, () =>
          fields([
            ["delegate", delegateAddress],
            ["status", "removed"],
            ["transaction", hash],
          ]),
        );
      }),
    );

  // --- emergency access --------------------------------------------------------------------------
}

/** Emergency access: opt out, opt back in, status. */
function registerEmergencyCommands(patient: Command): void {
  const emergency = patient
    .command("emergency")
    .description("emergency (break-the-glass) access by accredited providers");
  for (const [name, optedOut] of [
    ["opt-out", true],
    ["opt-in", false],
  ] as const) {
    relayOptions(emergency.command(name))
      .description(
        optedOut
          ? "refuse emergency access to your records (also closes open emergency windows)"
          : "allow emergency access again",
      )
      .action(
        action<RelayOptions>(async (ctx, o) => {
          const { client } = await decisionClient(ctx, o, "setEmergencyOptOut");
          const { hash } = await sendAndWait(
            ctx,
            optedOut ? "Opting out of emergency access" : "Opting in to emergency access",
            client.setEmergencyOptOut(optedOut),
          );
          ctx.out.result({ emergencyAccess: optedOut ? "refused" : "allowed", transactionHash: hash }, () =>
            fields([
              ["emergency access", optedOut ? "refused (opted out)" : "allowed"],
              ["transaction", hash],
            ]),
          );
        }),
      );
  }
  emergency
    .command("status")
    .description("whether emergency access is allowed")
    .option("--for <patient>", "another patient (public on chain)")
    .action(
      action<{ for?: string }>(async (ctx, o) => {
        const { patient: address } = await patientOf(ctx, o.for, false);
        const optedOut = await (await ctx.contracts()).ledger.emergencyOptedOut(address);
        ctx.out.result({ patient: address, emergencyAccess: optedOut ? "refused" : "allowed" }, () =>
          fields([
            ["patient", address],
            ["emergency access", optedOut ? "refused (opted out)" : "allowed"],
          ]),
        );
      }),
    );

  // --- signing for a relayer ---------------------------------------------------------------------
}

/** Signatures for a relayer to submit (the patient pays no gas). */
function registerSignCommands(patient: Command): void {
  const sign = patient
    .command("sign")
    .description("sign a grant, revocation or decision off-chain, for someone else to relay (you pay no gas)");
  const signCommon = (command: Command) =>
    command
      .requiredOption("--out <file>", "where to write the signed consent (JSON, written atomically)")
      .option("--deadline <time>", "until when it may be relayed: a duration (1h, 7d) or a date", "1h")
      .option("--force", "replace --out if it exists");
  const writeSigned = async (
    ctx: Context,
    out: string,
    force: boolean,
    signed: object & { kind: string; signer: string; nonce: string; deadline: number },
  ) => {
    await writeFileAtomic(out, `${toJson(signed)}\n`, { overwrite: force });
    ctx.out.result({ ...signed, out }, () =>
      fields([
        ["signed", signed.kind],
        ["signer", signed.signer],
        ["nonce", signed.nonce],
        ["relay before", isoTime(signed.deadline)],
        ["written to", out],
        ["next", `consent-ledger relay ${out}   (by anyone with gas)`],
      ]),
    );
  };

  signCommon(grantOptions(sign.command("grant").description("sign a grant"))).action(
    action<GrantOptions & { out: string; deadline: string; force?: boolean }>(async (ctx, o) => {
      const resolve = checkGrant(o);
      const forPatient = o.for === undefined ? undefined : parseAddress(o.for, "--for");
      checkTimeSyntax(o.deadline, "--deadline");
      await checkWritable(o.out, "--out", Boolean(o.force));
      const { signer, contracts } = await ctx.signerContracts();
      const now = await ctx.now();
      const client = new (load.patient().PatientClient)(contracts, signer);
      const signed = await client.signGrant(resolve(now), {
        patient: forPatient,
        deadline: parseTime(o.deadline, "--deadline", now),
      });
      await writeSigned(ctx, o.out, Boolean(o.force), signed);
    }),
  );
  signCommon(
    sign
      .command("revoke")
      .description("sign a revocation")
      .requiredOption("--grantee <address>", "whose consent ends")
      .option("--for <patient>", FOR_HELP),
  ).action(
    action<{ grantee: string; for?: string; out: string; deadline: string; force?: boolean }>(async (ctx, o) => {
      const grantee = parseAddress(o.grantee, "--grantee");
      const forPatient = o.for === undefined ? undefined : parseAddress(o.for, "--for");
      checkTimeSyntax(o.deadline, "--deadline");
      await checkWritable(o.out, "--out", Boolean(o.force));
      const { signer, contracts } = await ctx.signerContracts();
      const now = await ctx.now();
      const signed = await new (load.patient().PatientClient)(contracts, signer).signRevoke(grantee, {
        patient: forPatient,
        deadline: parseTime(o.deadline, "--deadline", now),
      });
      await writeSigned(ctx, o.out, Boolean(o.force), signed);
    }),
  );
  for (const decision of ["approve", "deny"] as const) {
    signCommon(
      sign
        .command(`${decision} <requestId>`)
        .description(`sign ${decision === "approve" ? "an approval" : "a denial"} of a pending request`),
    ).action(
      action<{ out: string; deadline: string; force?: boolean }>(async (ctx, o, [requestIdText]) => {
        const requestId = parseBytes32(requestIdText, "<requestId>");
        checkTimeSyntax(o.deadline, "--deadline");
        await checkWritable(o.out, "--out", Boolean(o.force));
        const { signer, contracts } = await ctx.signerContracts();
        const deadline = parseTime(o.deadline, "--deadline", await ctx.now());
        const client = new (load.patient().PatientClient)(contracts, signer);
        const signed =
          decision === "approve"
            ? await client.signApprove(requestId, { deadline })
            : await client.signDeny(requestId, { deadline });
        await writeSigned(ctx, o.out, Boolean(o.force), signed);
      }),
    );
  }

  // --- audit -------------------------------------------------------------------------------------
}

/** The audit trail of everything done with the patient's consent and records. */
function registerAuditCommands(patient: Command): void {
  patient
    .command("audit")
    .description("your whole history from the chain: records, consents, requests, decisions, key releases, emergencies")
    .option("--for <patient>", "another patient's trail (public on chain)")
    .option("--out-dir <dir>", "also write audit.json and audit.fhir.json (a FHIR R4 Bundle of AuditEvents) there")
    .addOption(
      new Option("--gateway <url>", "read batched key releases from this custodian gateway's manifests").env(
        GATEWAY_ENV,
      ),
    )
    .action(
      action<{ for?: string; outDir?: string; gateway?: string }>(async (ctx, o) => {
        const { patient: address } = await patientOf(ctx, o.for, false);
        const url = gatewayUrl(o.gateway, false);
        if (o.outDir !== undefined) {
          await checkWritable(path.join(o.outDir, "audit.json"), "--out-dir", true);
        }
        const contracts = await ctx.contracts();
        ctx.out.progress(`Reading the history of ${address} from the chain…`);
        const { AuditClient } = load.audit();
        const { auditTrailToFhirBundle } = load.fhirExport();
        const entries = await new AuditClient(contracts, url ? manifestStore(ctx, url) : undefined).history(address);
        const json = AuditClient.toJson(entries).map((entry, index) => ({
          ...entry,
          dataClassNames: dataClassNames(entries[index].dataClasses),
          purposeNames: purposeNames(entries[index].purposes),
        }));
        if (o.outDir !== undefined) {
          const bundle = auditTrailToFhirBundle(entries, {
            chainId: contracts.chainId,
            ledger: contracts.deployment.ledger,
          });
          await writeFileAtomic(path.join(o.outDir, "audit.json"), `${toJson(json)}\n`);
          await writeFileAtomic(path.join(o.outDir, "audit.fhir.json"), `${toJson(bundle)}\n`);
          ctx.out.progress(`Wrote ${path.join(o.outDir, "audit.json")} and ${path.join(o.outDir, "audit.fhir.json")}`);
        }
        ctx.out.result(json, () =>
          entries.length === 0
            ? `No history for ${address}.`
            : table(
                ["time", "actor", "action", "with", "class", "purpose", "basis"],
                entries.map((entry) => auditRow(entry, address)),
              ),
        );
      }),
    );
}

function policyJson(policy: DataUsePolicy) {
  return {
    permission: duoName(policy.permission),
    modifiers: codesOf(policy.modifiers).map(duoName),
    dataClasses: dataClassNames(policy.dataClasses),
    purposes: purposeNames(policy.purposes),
    diseaseId: policy.diseaseId || null,
    maxDurationSeconds: policy.maxDuration || null,
    validUntil: policy.validUntil ? isoTime(policy.validUntil) : null,
  };
}

function policyFields(policy: Parameters<typeof policyJson>[0]): [string, string][] {
  const json = policyJson(policy);
  return [
    ["permission", json.permission],
    ["modifiers", json.modifiers.join(",") || "-"],
    ["classes", json.dataClasses.join(",")],
    ["purposes", json.purposes.join(",")],
    ["disease", json.diseaseId ? `MONDO:${String(json.diseaseId).padStart(7, "0")}` : "-"],
    ["max duration", json.maxDurationSeconds ? `${Math.round(json.maxDurationSeconds / 86400)}d` : "-"],
    ["until", json.validUntil ?? "never"],
  ];
}

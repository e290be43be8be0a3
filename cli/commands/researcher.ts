/** `consent-ledger researcher ...`: publish an encryption key, ask patients for access, follow, fetch. */
import type { Command } from "commander";
import { VoidSigner, type Signer } from "ethers";
import { Option } from "commander";

import { Duo, Purpose, RESEARCH_PURPOSES } from "../../sdk/tables";
import type { DuoName, LedgerContracts, RequestView } from "../../sdk/index";
import { CliError } from "../errors";
import { checkWritable, readBytes, writeFileAtomic } from "../files";
import { dataClassNames, fields, isoTime, purposeName, purposeNames, shortAddress, table, toJson } from "../output";
import {
  duoName,
  parseAddress,
  parseBytes32,
  parseDataClasses,
  parseDiseaseId,
  parseDuoList,
  parseDuration,
  parsePurpose,
  parseResearchCategory,
} from "../parse";
import { load } from "../sdk";
import { action, readAddress, sendAndWait } from "./common";
import type { Context } from "../context";

/** "HRESCH, BIORCH or CLINTRCH", from the SDK's table. */
const RESEARCH_PURPOSE_LIST = `${RESEARCH_PURPOSES.slice(0, -1).join(", ")} or ${RESEARCH_PURPOSES.at(-1)}`;

export const GATEWAY_ENV = "CONSENT_LEDGER_GATEWAY";

/** One row of a request table; `viewer` decides whether the other party is the patient or the researcher. */
const FATE_TEXT = {
  InForce: "in force",
  Expired: "access ended",
  Revoked: "revoked since",
  Replaced: "replaced since",
} as const;

/** "Approved (revoked since)": an approval's status with what became of the access it gave. */
function statusText(view: RequestView): string {
  return view.consent ? `${view.status} (${FATE_TEXT[view.consent]})` : view.status;
}

function requestRow(view: RequestView, viewer: "researcher" | "patient"): string[] {
  const terms = view.request.terms;
  return [
    view.requestId,
    shortAddress(viewer === "researcher" ? terms.patient : view.request.researcher),
    dataClassNames(terms.dataClasses).join(","),
    String(purposeName(terms.purpose)),
    statusText(view),
    isoTime(view.request.openedAt),
    view.status === "Pending" || view.status === "Expired" ? isoTime(view.expiresAt) : "-",
  ];
}

export function requestJson(view: RequestView) {
  const terms = view.request.terms;
  return {
    requestId: view.requestId,
    status: view.status,
    consent: view.consent ?? null,
    researcher: view.request.researcher,
    patient: terms.patient,
    dataClasses: dataClassNames(terms.dataClasses),
    purpose: purposeName(terms.purpose),
    researchCategory: terms.researchCategory ? duoName(terms.researchCategory) : null,
    diseaseId: terms.diseaseId || null,
    acceptedObligations: terms.acceptedObligations.toString(),
    durationSeconds: terms.duration,
    studyId: terms.studyId,
    protocolHash: terms.protocolHash,
    openedAt: isoTime(view.request.openedAt),
    expiresAt: view.expiresAt ? isoTime(view.expiresAt) : null,
    transactionHash: view.transactionHash,
  };
}

export function requestsTable(views: readonly RequestView[], viewer: "researcher" | "patient"): string {
  if (views.length === 0) return "No requests.";
  const other = viewer === "researcher" ? "patient" : "researcher";
  return table(
    ["request id", other, "classes", "purpose", "status", "opened", "expires"],
    views.map((view) => requestRow(view, viewer)),
  );
}

/** A gateway URL from --gateway or CONSENT_LEDGER_GATEWAY, checked. */
export function gatewayUrl(value: string | undefined, required: boolean, option = "--gateway"): string | undefined {
  if (value === undefined) {
    if (required)
      throw new CliError(
        `--gateway <url> is required: the custodian gateway that holds the record's key (or set ${GATEWAY_ENV})`,
      );
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(`${option} ${JSON.stringify(value)} is not a URL: pass e.g. http://127.0.0.1:8787`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new CliError(`${option} must be an http(s) URL, got ${value}`);
  return value;
}

/** Writes `data` to stdout and waits until it is handed to the system (a pipe may be slow to drain). */
function writeStdout(data: string | Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(data, (error) => (error ? reject(error) : resolve()));
  });
}

/** Whose view a read shows: --researcher (no key needed), else the signing key's account. */
async function readerSigner(ctx: Context, contracts: LedgerContracts, researcher: string | undefined): Promise<Signer> {
  const { address, wallet } = await readAddress(ctx, researcher, "--researcher");
  return wallet ? wallet.connect(contracts.provider) : new VoidSigner(address, contracts.provider);
}

export function registerResearcher(program: Command): void {
  const researcher = program
    .command("researcher")
    .description("ask patients for access to their records, follow the decisions, fetch released records");
  registerKeyCommand(researcher);
  registerRequestCommand(researcher);
  registerRequestsCommand(researcher);
  registerGrantsCommand(researcher);
  registerFetchCommand(researcher);
}

/** researcher register-key: publish the encryption key custodians wrap data keys to. */
function registerKeyCommand(researcher: Command): void {
  researcher
    .command("register-key")
    .description("derive your X25519 encryption key from a wallet signature and publish it in the key directory")
    .addHelpText("after", "\nExample:\n  CONSENT_LEDGER_PRIVATE_KEY=0x... consent-ledger researcher register-key\n")
    .action(
      action(async (ctx) => {
        const { signer, contracts } = await ctx.signerContracts();
        const client = new (load.researcher().ResearcherClient)(contracts, signer);
        ctx.out.progress("Deriving your encryption key (a signature, no transaction)…");
        const keyPair = await client.deriveEncryptionKey();
        const publicKey = load.keys().publicKeyToBytes32(keyPair.publicKey);
        const registered = await contracts.keys.keyOf(signer.address);
        let hash: string | null = null;
        if (registered.toLowerCase() !== publicKey.toLowerCase()) {
          hash = (await sendAndWait(ctx, "Registering your encryption key", client.registerEncryptionKey(keyPair)))
            .hash;
        }
        ctx.out.result(
          { account: signer.address, publicKey, registered: true, changed: hash !== null, transactionHash: hash },
          () =>
            fields([
              ["account", signer.address],
              ["encryption key", publicKey],
              ["status", hash ? `registered (transaction ${hash})` : "already registered: nothing to do"],
            ]),
        );
      }),
    );
}

/** researcher request: ask a patient for access to data classes for a study. */
function registerRequestCommand(researcher: Command): void {
  researcher
    .command("request")
    .description("ask a patient for access to data classes for one purpose, for a duration from approval")
    .requiredOption("--patient <address>", "the patient asked")
    .requiredOption("--classes <list>", "data classes, comma-separated (LAB_RESULT,IMAGING,...)")
    .requiredOption("--purpose <code>", `research purpose: ${RESEARCH_PURPOSE_LIST} (requests carry no other)`)
    .option(
      "--category <duo>",
      "DUO research category, required for research purposes: GRU, HMB, DS (with --disease) or POA",
    )
    .option("--disease <mondo>", "MONDO disease id for DS research, e.g. MONDO:0005148")
    .option("--obligations <list>", "DUO obligations you accept: PUB,COL,IRB,MOR,RTN")
    .requiredOption("--duration <duration>", "how long access lasts once approved: 3600s, 12h, 90d, 1y")
    .requiredOption("--study <id>", "study identifier (only its keccak256 goes on chain, or a 0x 32-byte id as is)")
    .option("--protocol <file>", "the study protocol or ethics approval: its keccak256 is sent")
    .addHelpText(
      "after",
      "\nExample:\n  consent-ledger researcher request --patient 0xPATIENT --classes LAB_RESULT,IMAGING --purpose HRESCH \\\n    --category HMB --obligations PUB,IRB --duration 90d --study diabetes-2026 --protocol protocol.pdf\n",
    )
    .action(
      action<{
        patient: string;
        classes: string;
        purpose: string;
        category?: string;
        disease?: string;
        obligations?: string;
        duration: string;
        study: string;
        protocol?: string;
      }>(async (ctx, o) => {
        const input = {
          patient: parseAddress(o.patient, "--patient"),
          dataClasses: parseDataClasses(o.classes),
          purpose: parsePurpose(o.purpose),
          researchCategory: o.category === undefined ? undefined : parseResearchCategory(o.category),
          diseaseId: o.disease === undefined ? undefined : parseDiseaseId(o.disease),
          acceptedObligations:
            o.obligations === undefined ? undefined : (parseDuoList(o.obligations, true) as DuoName[]),
          duration: parseDuration(o.duration, "--duration"),
          studyId: o.study,
          protocolHash:
            o.protocol === undefined ? undefined : load.researcher().hashDocument(await readBytes(o.protocol)),
        };
        if (!RESEARCH_PURPOSES.some((name) => Purpose[name] === input.purpose)) {
          throw new CliError(
            `--purpose ${o.purpose.toUpperCase()}: requests are for research purposes only (${RESEARCH_PURPOSE_LIST}); ask the patient to grant other purposes directly`,
          );
        }
        if (input.researchCategory === undefined) {
          throw new CliError(
            `--purpose ${o.purpose.toUpperCase()} is a research purpose: add --category GRU, HMB, DS (with --disease) or POA`,
          );
        }
        if ((input.researchCategory === Duo.DS) !== (input.diseaseId !== undefined)) {
          throw new CliError(
            input.diseaseId === undefined
              ? "--category DS (disease-specific) needs --disease <MONDO id>"
              : "--disease goes only with --category DS",
          );
        }
        load.researcher().toRequestTerms(input); // every check the SDK can make off-chain, before the key or the node
        const { signer, contracts } = await ctx.signerContracts();
        const client = new (load.researcher().ResearcherClient)(contracts, signer);
        const { result, hash } = await sendAndWait(ctx, "Opening the request", client.requestAccess(input));
        // Approved by the patient's standing policy at once, else pending until the patient decides.
        const statusName = result.approved ? "Approved" : "Pending";
        const expiresAt = result.approved ? 0n : (await contracts.ledger.requestStatus(result.requestId))[1];
        ctx.out.result(
          {
            requestId: result.requestId,
            status: statusName,
            approvedByPolicy: result.approved,
            patient: input.patient,
            dataClasses: dataClassNames(result.request.terms.dataClasses),
            purpose: purposeName(result.request.terms.purpose),
            durationSeconds: result.request.terms.duration,
            protocolHash: result.request.terms.protocolHash,
            expiresAt: isoTime(Number(expiresAt)),
            transactionHash: hash,
          },
          () =>
            fields([
              ["request id", result.requestId],
              [
                "status",
                result.approved
                  ? "Approved at once by the patient's standing policy"
                  : `${statusName}: waiting for the patient`,
              ],
              ["patient", input.patient],
              ["classes", dataClassNames(result.request.terms.dataClasses).join(",")],
              ["purpose", String(purposeName(result.request.terms.purpose))],
              ["expires", result.approved ? "-" : isoTime(Number(expiresAt))],
              ["transaction", hash],
            ]),
        );
      }),
    );
}

/** researcher requests: the requests made and what became of them. */
function registerRequestsCommand(researcher: Command): void {
  researcher
    .command("requests")
    .description("your requests and their status (Pending, Approved, Denied, Cancelled, Expired)")
    .option("--researcher <address>", "another researcher's requests (public on chain; needs no key)")
    .action(
      action<{ researcher?: string }>(async (ctx, o) => {
        const contracts = await ctx.contracts();
        const views = await new (load.researcher().ResearcherClient)(
          contracts,
          await readerSigner(ctx, contracts, o.researcher),
        ).requests();
        ctx.out.result(views.map(requestJson), () => requestsTable(views, "researcher"));
      }),
    );
}

/** researcher grants: the consents given to the researcher, in force now. */
function registerGrantsCommand(researcher: Command): void {
  researcher
    .command("grants")
    .description("consents given to you that are in force now")
    .option("--researcher <address>", "another researcher's consents (public on chain; needs no key)")
    .action(
      action<{ researcher?: string }>(async (ctx, o) => {
        const contracts = await ctx.contracts();
        const grants = await new (load.researcher().ResearcherClient)(
          contracts,
          await readerSigner(ctx, contracts, o.researcher),
        ).grants();
        ctx.out.result(
          grants.map((grant) => ({
            patient: grant.patient,
            grantee: grant.grantee,
            dataClasses: dataClassNames(grant.dataClasses),
            purposes: purposeNames(grant.purposes),
            validFrom: isoTime(grant.validFrom),
            validUntil: isoTime(grant.validUntil),
          })),
          () =>
            grants.length === 0
              ? "No consents in force."
              : table(
                  ["patient", "classes", "purposes", "from", "until"],
                  grants.map((grant) => [
                    shortAddress(grant.patient),
                    dataClassNames(grant.dataClasses).join(","),
                    purposeNames(grant.purposes).join(","),
                    isoTime(grant.validFrom),
                    isoTime(grant.validUntil),
                  ]),
                ),
        );
      }),
    );
}

/** researcher fetch: a record's key from a custodian gateway, the record checked against the chain and opened. */
function registerFetchCommand(researcher: Command): void {
  researcher
    .command("fetch")
    .description("fetch a record from a custodian gateway, verify it against the chain, decrypt it to a file")
    .requiredOption("--record <id>", "the record id (0x + 64 hex digits)")
    .requiredOption("--purpose <code>", "the purpose you read it for (must be one you were granted)")
    .addOption(new Option("--gateway <url>", "the custodian gateway holding the record's key").env(GATEWAY_ENV))
    .option(
      "--custodian <url>",
      "for a record guarded by a custodian set: one custodian's gateway (repeat for each; k of them must release)",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .requiredOption("--out <file>", "where to write the record (written atomically), or - for stdout")
    .option("--raw", "write the decrypted bytes exactly, instead of pretty-printed FHIR JSON")
    .option("--force", "replace --out if it exists")
    .addHelpText(
      "after",
      "\nExample:\n  consent-ledger researcher fetch --record 0xRECORD --purpose HRESCH --gateway http://127.0.0.1:8787 --out obs.json\n",
    )
    .action(
      action<{
        record: string;
        purpose: string;
        gateway?: string;
        custodian?: string[];
        out: string;
        raw?: boolean;
        force?: boolean;
      }>(async (ctx, o) => {
        const recordId = parseBytes32(o.record, "--record");
        const purpose = parsePurpose(o.purpose);
        const custodianUrls = (o.custodian ?? []).map((value) => gatewayUrl(value, true, "--custodian") as string);
        const url = custodianUrls.length > 0 ? undefined : (gatewayUrl(o.gateway, true) as string);
        const toStdout = o.out === "-";
        if (!toStdout) await checkWritable(o.out, "--out", Boolean(o.force));
        const wallet = await ctx.loadKey();
        const contracts = await ctx.contracts();
        const signer = wallet.connect(contracts.provider);
        const client = new (load.researcher().ResearcherClient)(contracts, signer);
        ctx.out.progress("Deriving your encryption key (a signature, no transaction)…");
        const keyPair = await client.deriveEncryptionKey();
        const registered = await contracts.keys.keyOf(signer.address);
        if (registered.toLowerCase() !== load.keys().publicKeyToBytes32(keyPair.publicKey).toLowerCase()) {
          throw new CliError(
            `your encryption key is not registered in the key directory: run \`consent-ledger researcher register-key\` first`,
          );
        }
        const guard = contracts.custodianSets ? await contracts.custodianSets.recordCustodians(recordId) : undefined;
        const guardedBy =
          guard && guard[0] !== 0n
            ? { setId: Number(guard[0]), threshold: Number(guard[1].threshold), custodians: [...guard[1].custodians] }
            : undefined;
        let opened: {
          recordId: string;
          patient: string;
          provider: string;
          dataClass: number;
          version: number;
          superseded: boolean;
          resource?: { resourceType?: string } | null;
          plaintext: Uint8Array;
          release: { basis: string; releasedAt: number };
        };
        let releasedBy: string[] | undefined;
        if (guardedBy) {
          if (custodianUrls.length === 0)
            throw new CliError(
              `record ${recordId} is guarded by custodian set ${guardedBy.setId} (${guardedBy.threshold} of ${guardedBy.custodians.join(", ")}): ` +
                `pass each custodian's gateway with --custodian <url> (at least ${guardedBy.threshold})`,
            );
          // Which custodian each gateway is, by its own word (GET /health): a gateway that lies gets no
          // say, since each share is checked against the custodian that released it and the key against the record.
          const gateways: Record<string, InstanceType<ReturnType<typeof load.gateway>["GatewayClient"]>> = {};
          for (const custodianUrl of custodianUrls) {
            const client = new (load.gateway().GatewayClient)(custodianUrl, signer, contracts);
            const health = await client.health().catch((cause: unknown) => {
              throw new CliError(
                `--custodian ${custodianUrl} did not answer: ${(cause as Error).message.split("\n")[0]}`,
              );
            });
            gateways[health.custodian] = client;
          }
          ctx.out.progress(
            `Gathering ${guardedBy.threshold} key shares of record ${recordId} from custodian set ${guardedBy.setId}…`,
          );
          const set = new (load.custodians().CustodianSetClient)(contracts, signer, gateways);
          const read = await set.fetchRecord({ recordId, purpose, keyPair });
          opened = {
            ...read,
            release: {
              basis: read.shares[0].basis,
              releasedAt: Math.max(...read.shares.map((share) => share.releasedAt)),
            },
          };
          releasedBy = read.shares.map((share) => share.custodian);
        } else {
          if (url === undefined)
            throw new CliError(
              `record ${recordId} is guarded by no custodian set: its key is held whole by one gateway; pass --gateway <url>`,
            );
          const gateway = new (load.gateway().GatewayClient)(url, signer, contracts);
          ctx.out.progress(`Fetching record ${recordId} from ${url}…`);
          opened = await gateway.fetchRecord({ recordId, purpose, keyPair });
        }
        const data = !o.raw && opened.resource ? `${toJson(opened.resource)}\n` : opened.plaintext;
        if (toStdout) await writeStdout(data);
        else await writeFileAtomic(o.out, data, { overwrite: Boolean(o.force) });
        (toStdout ? ctx.out.resultBeside.bind(ctx.out) : ctx.out.result.bind(ctx.out))(
          {
            recordId: opened.recordId,
            patient: opened.patient,
            provider: opened.provider,
            dataClass: dataClassNames(1 << opened.dataClass)[0],
            version: opened.version,
            superseded: opened.superseded,
            resourceType: opened.resource?.resourceType ?? null,
            basis: opened.release.basis,
            releasedAt: isoTime(opened.release.releasedAt),
            ...(guardedBy ? { custodianSet: guardedBy.setId, releasedBy } : {}),
            out: o.out,
            bytes: typeof data === "string" ? Buffer.byteLength(data) : data.length,
          },
          () =>
            fields([
              ["record", opened.recordId],
              ["patient", shortAddress(opened.patient)],
              ["provider", shortAddress(opened.provider)],
              ["class", dataClassNames(1 << opened.dataClass)[0] ?? String(opened.dataClass)],
              ["version", `${opened.version}${opened.superseded ? " (a newer version exists)" : ""}`],
              ["released on", opened.release.basis],
              ...(guardedBy
                ? ([
                    [
                      "released by",
                      `${releasedBy!.length} of custodian set ${guardedBy.setId}: ${releasedBy!.join(", ")}`,
                    ],
                  ] as [string, string][])
                : []),
              ["verified", "against the chain's anchor, then decrypted"],
              ["written to", toStdout ? "standard output" : o.out],
            ]),
        );
      }),
    );
}

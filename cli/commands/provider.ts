/**
 * `consent-ledger provider ...`: encrypt FHIR records client-side, store the ciphertext (--store), anchor
 * them, and keep their data keys: always in the provider's local key file (cli/key-file.ts), and at a
 * custodian gateway too with --gateway. Everything is checked (files, addresses, accreditation, funds,
 * the gateway's login) before any ciphertext is written or any transaction sent.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";

import type { Command } from "commander";
import { Option } from "commander";
import { hexlify, randomBytes, toUtf8Bytes, type Wallet } from "ethers";

import type { EncryptionKeyPair, LedgerContracts, PublishedRecord } from "../../sdk/index";
import type { Context } from "../context";
import { CliError, describeError } from "../errors";
import { exists, readFhirFile, readText } from "../files";
import { defaultKeyFile, openKeyFile, saveKeys, unwrapKeys, type KeyFile } from "../key-file";
import { dataClassNames, fields, shortAddress, table } from "../output";
import { parseAddress, parseBytes32, parseDataClass } from "../parse";
import { load } from "../sdk";
import { registerPairCommand } from "./pseudonym";
import { action, preflight, sendAndWait } from "./common";
import { gatewayUrl, GATEWAY_ENV } from "./researcher";

type GatewayClient = InstanceType<ReturnType<typeof load.gateway>["GatewayClient"]>;

/** A placeholder CID of the right shape and length, for estimating an anchor before sealing. */
const SAMPLE_POINTER = toUtf8Bytes("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy");

interface KeepOptions {
  gateway?: string;
  keyFile?: string;
}

function keepOptions(command: Command): Command {
  return command
    .addOption(new Option("--gateway <url>", "also deposit the data keys at this custodian gateway").env(GATEWAY_ENV))
    .option("--key-file <file>", "the local key file (default .consent-ledger/keys/<chainId>-<provider>.json)");
}

/** What publishing needs once the inputs are checked: signer, contracts, key pair, key file, gateway. */
async function prepare(ctx: Context, o: KeepOptions) {
  const url = gatewayUrl(o.gateway, false);
  const { signer, contracts } = await ctx.signerContracts();
  return { signer, contracts, url };
}

/** After the preflight: derive the provider's key, open the key file, log in at the gateway. */
async function keepers(
  ctx: Context,
  signer: Wallet,
  contracts: LedgerContracts,
  o: KeepOptions,
  url: string | undefined,
) {
  ctx.out.progress("Deriving your encryption key for the local key file (a signature, no transaction)…");
  const keyPair = await load.keys().deriveEncryptionKeyPair(signer);
  const keyFile = o.keyFile ?? defaultKeyFile(contracts.chainId, signer.address);
  const contents = await openKeyFile(keyFile, {
    chainId: Number(contracts.chainId),
    registry: contracts.deployment.records,
    provider: signer.address,
    keyPair,
  });
  let gateway: GatewayClient | undefined;
  if (url) {
    gateway = new (load.gateway().GatewayClient)(url, signer, contracts, { store: ctx.store() });
    ctx.out.progress(`Logging in at ${url}…`);
    await gateway.authenticate();
  }
  return { keyPair, keyFile, contents, gateway };
}

/** Keeps the keys: the local file first (so a key is never lost), then the gateway. */
async function keep(
  ctx: Context,
  records: PublishedRecord[],
  k: { keyPair: EncryptionKeyPair; keyFile: string; contents: KeyFile; gateway?: GatewayClient },
): Promise<string> {
  await saveKeys(k.keyFile, k.contents, records, k.keyPair);
  ctx.out.progress(`Data key${records.length > 1 ? "s" : ""} kept in ${k.keyFile}`);
  if (!k.gateway)
    return `in ${k.keyFile} (wrapped to your own key; not deposited at a gateway: use \`provider deposit --gateway <url>\`)`;
  ctx.out.progress(
    `Depositing ${records.length > 1 ? `${records.length} data keys` : "the data key"} at ${k.gateway.baseUrl}…`,
  );
  for (const record of records) {
    try {
      await k.gateway.depositKey(record);
    } catch (error) {
      throw new CliError(
        `record ${record.recordId} is anchored and its key is kept in ${k.keyFile}, but ${k.gateway.baseUrl} did not take it (${describeError(error)}): deposit it later with \`consent-ledger provider deposit --gateway <url> --record ${record.recordId}\``,
        1,
        { cause: error },
      );
    }
  }
  return `at ${k.gateway.baseUrl}, and in ${k.keyFile}`;
}

function recordJson(record: PublishedRecord, keptAt: string) {
  return {
    recordId: record.recordId,
    cid: record.cid,
    patient: record.patient,
    provider: record.provider,
    dataClass: dataClassNames(1 << record.dataClass)[0],
    version: record.version,
    previousRecordId: record.previousRecordId,
    transactionHash: record.transactionHash,
    blockNumber: record.blockNumber,
    batch: record.batch,
    keyKept: keptAt,
  };
}

interface BatchEntry {
  file: string;
  patient: string;
  dataClass: number;
}

function entryFrom(
  raw: { file?: unknown; patient?: unknown; class?: unknown },
  where: string,
  dir: string,
): BatchEntry {
  if (typeof raw.file !== "string" || typeof raw.patient !== "string" || typeof raw.class !== "string") {
    throw new CliError(`${where} needs file, patient and class`);
  }
  return {
    file: path.resolve(dir, raw.file),
    patient: parseAddress(raw.patient, `${where} patient`),
    dataClass: parseDataClass(raw.class),
  };
}

/**
 * The batch's files and their patients and classes: from --manifest (CSV with a header file,patient,class,
 * or JSON: [{"file", "patient", "class"}]), else <dir>/manifest.json or manifest.csv, else the file names
 * <patient>.<CLASS>[.<anything>].json.
 */
async function batchEntries(dir: string, manifest: string | undefined): Promise<BatchEntry[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (error) {
    throw new CliError(
      `--dir ${dir} cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"}): pass a folder of FHIR JSON files`,
      1,
      { cause: error },
    );
  }
  const manifestFile =
    manifest ??
    ["manifest.json", "manifest.csv"]
      .map((name) => path.join(dir, name))
      .find((file) => names.includes(path.basename(file)));
  if (manifestFile !== undefined) {
    const text = await readText(manifestFile);
    let entries: BatchEntry[];
    if (manifestFile.toLowerCase().endsWith(".csv")) {
      const lines = text
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter((line) => line !== "" && !line.startsWith("#"));
      const header = (lines.shift() ?? "").split(",").map((cell) => cell.trim().toLowerCase());
      const [fileAt, patientAt, classAt] = ["file", "patient", "class"].map((name) => header.indexOf(name));
      if (fileAt < 0 || patientAt < 0 || classAt < 0)
        throw new CliError(`${manifestFile} needs a header line: file,patient,class`);
      entries = lines.map((line, index) => {
        const cells = line.split(",").map((cell) => cell.trim());
        return entryFrom(
          { file: cells[fileAt], patient: cells[patientAt], class: cells[classAt] },
          `${manifestFile} line ${index + 2}`,
          dir,
        );
      });
    } else {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new CliError(
          `${manifestFile} is not JSON: pass a CSV (file,patient,class) or a JSON list of {"file", "patient", "class"}`,
        );
      }
      const list = Array.isArray(parsed) ? parsed : (parsed as { records?: unknown })?.records;
      if (!Array.isArray(list))
        throw new CliError(
          `${manifestFile} must be a JSON list of {"file", "patient", "class"} (or {"records": [...]})`,
        );
      entries = list.map((raw, index) =>
        entryFrom(raw as Record<string, unknown>, `${manifestFile} entry ${index + 1}`, dir),
      );
    }
    if (entries.length === 0) throw new CliError(`${manifestFile} lists no records`);
    return entries;
  }
  const files = names.filter((name) => name.toLowerCase().endsWith(".json"));
  if (files.length === 0)
    throw new CliError(
      `--dir ${dir} holds no .json files: add FHIR JSON files named <patient>.<CLASS>.json, or pass --manifest`,
    );
  return files.map((name) => {
    const [patient, dataClass] = name.split(".");
    if (!/^0x[0-9a-fA-F]{40}$/.test(patient ?? "") || name.split(".").length < 3) {
      throw new CliError(
        `${path.join(dir, name)} is not named <patient>.<CLASS>[.<label>].json (e.g. 0xPATIENT.LAB_RESULT.json): rename it, or pass --manifest`,
      );
    }
    return {
      file: path.join(dir, name),
      patient: parseAddress(patient, path.join(dir, name)),
      dataClass: parseDataClass(dataClass),
    };
  });
}

export function registerProvider(program: Command): void {
  const provider = program.command("provider").description("publish encrypted FHIR records and anchor them on chain");
  registerPublishCommand(provider);
  registerAmendCommand(provider);
  registerPublishBatchCommand(provider);
  registerDepositCommand(provider);
  registerPairCommand(provider);
}

/** provider publish: encrypt, store and anchor one FHIR record. */
function registerPublishCommand(provider: Command): void {
  keepOptions(
    provider
      .command("publish")
      .description("encrypt a FHIR JSON file, store the ciphertext, anchor its hash for a patient and data class")
      .requiredOption("--patient <address>", "whose record it is")
      .requiredOption("--class <code>", "its data class (LAB_RESULT, IMAGING, ...)")
      .requiredOption("--file <file>", "a FHIR R4 resource as JSON"),
  )
    .addHelpText(
      "after",
      "\nExample:\n  consent-ledger provider publish --patient 0xPATIENT --class LAB_RESULT --file obs.json --gateway http://127.0.0.1:8787\n",
    )
    .action(
      action<KeepOptions & { patient: string; class: string; file: string }>(async (ctx, o) => {
        const patient = parseAddress(o.patient, "--patient");
        const dataClass = parseDataClass(o.class);
        const resource = await readFhirFile(o.file);
        const { signer, contracts, url } = await prepare(ctx, o);
        await preflight(
          signer,
          "anchor the record",
          await contracts.records.anchorRecord.populateTransaction(
            patient,
            hexlify(randomBytes(32)),
            dataClass,
            SAMPLE_POINTER,
          ),
        );
        const k = await keepers(ctx, signer, contracts, o, url);
        const client = new (load.provider().ProviderClient)(contracts, signer, ctx.store());
        ctx.out.progress(`Encrypting ${o.file} and storing the ciphertext in ${ctx.options.store}…`);
        const { result } = await sendAndWait(
          ctx,
          "Anchoring the record",
          client.publish({ patient, dataClass, payload: resource }),
        );
        const keptAt = await keep(ctx, [result], k);
        ctx.out.result(recordJson(result, keptAt), () =>
          fields([
            ["record id", result.recordId],
            ["ciphertext", `${result.cid} (in ${ctx.options.store})`],
            ["patient", result.patient],
            ["class", dataClassNames(1 << result.dataClass)[0] ?? String(result.dataClass)],
            ["version", String(result.version)],
            ["transaction", result.transactionHash],
            ["data key", keptAt],
          ]),
        );
      }),
    );
}

/** provider amend: publish the next version of a record. */
function registerAmendCommand(provider: Command): void {
  keepOptions(
    provider
      .command("amend")
      .description("publish a corrected version of a record you anchored (same patient and class)")
      .requiredOption("--record <id>", "the latest version's record id")
      .requiredOption("--file <file>", "the corrected FHIR R4 resource as JSON"),
  ).action(
    action<KeepOptions & { record: string; file: string }>(async (ctx, o) => {
      const previous = parseBytes32(o.record, "--record");
      const resource = await readFhirFile(o.file);
      const { signer, contracts, url } = await prepare(ctx, o);
      await preflight(
        signer,
        "amend the record",
        await contracts.records.amendRecord.populateTransaction(previous, hexlify(randomBytes(32)), SAMPLE_POINTER),
      );
      const k = await keepers(ctx, signer, contracts, o, url);
      const client = new (load.provider().ProviderClient)(contracts, signer, ctx.store());
      ctx.out.progress(`Encrypting ${o.file} and storing the ciphertext in ${ctx.options.store}…`);
      const { result } = await sendAndWait(ctx, "Anchoring the new version", client.amend(previous, resource));
      const keptAt = await keep(ctx, [result], k);
      ctx.out.result(recordJson(result, keptAt), () =>
        fields([
          ["record id", result.recordId],
          ["amends", result.previousRecordId],
          ["version", String(result.version)],
          ["patient", result.patient],
          ["transaction", result.transactionHash],
          ["data key", keptAt],
        ]),
      );
    }),
  );
}

/** provider publish-batch: a folder of records under one Merkle root. */
function registerPublishBatchCommand(provider: Command): void {
  keepOptions(
    provider
      .command("publish-batch")
      .description("publish a folder of FHIR JSON files under one Merkle root (one transaction)")
      .requiredOption("--dir <folder>", "the folder of FHIR JSON files")
      .option(
        "--manifest <file>",
        "CSV (header file,patient,class) or JSON [{file, patient, class}]; default <dir>/manifest.json|csv, else file names <patient>.<CLASS>[.<label>].json",
      ),
  )
    .addHelpText(
      "after",
      "\nExamples:\n  consent-ledger provider publish-batch --dir exports/   # files named 0xPATIENT.LAB_RESULT.json\n  consent-ledger provider publish-batch --dir exports/ --manifest exports/batch.csv\n",
    )
    .action(
      action<KeepOptions & { dir: string; manifest?: string }>(async (ctx, o) => {
        if (o.manifest !== undefined && !(await exists(o.manifest)))
          throw new CliError(`--manifest ${o.manifest} does not exist: check the path`);
        const entries = await batchEntries(o.dir, o.manifest);
        const inputs = [];
        for (const entry of entries)
          inputs.push({ patient: entry.patient, dataClass: entry.dataClass, payload: await readFhirFile(entry.file) });
        const { signer, contracts, url } = await prepare(ctx, o);
        await preflight(
          signer,
          "anchor the batch",
          await contracts.records.anchorBatch.populateTransaction(
            hexlify(randomBytes(32)),
            inputs.length,
            SAMPLE_POINTER,
          ),
        );
        const k = await keepers(ctx, signer, contracts, o, url);
        const client = new (load.provider().ProviderClient)(contracts, signer, ctx.store());
        ctx.out.progress(`Encrypting ${inputs.length} records and storing the ciphertext in ${ctx.options.store}…`);
        const { result, hash } = await sendAndWait(
          ctx,
          `Anchoring ${inputs.length} records under one root`,
          client.publishBatch(inputs),
        );
        const keptAt = await keep(ctx, result.records, k);
        ctx.out.result(
          {
            root: result.root,
            manifestCid: result.manifestCid,
            transactionHash: hash,
            records: result.records.map((r) => recordJson(r, keptAt)),
          },
          () =>
            [
              fields([
                ["root", result.root],
                ["manifest", `${result.manifestCid} (in ${ctx.options.store})`],
                ["transaction", hash],
                ["data keys", keptAt],
              ]),
              "",
              table(
                ["file", "record id", "patient", "class"],
                result.records.map((record, index) => [
                  path.basename(entries[index].file),
                  record.recordId,
                  shortAddress(record.patient),
                  dataClassNames(1 << record.dataClass)[0] ?? "",
                ]),
              ),
            ].join("\n"),
        );
      }),
    );
}

/** provider deposit: hand a record's data key to a custodian gateway. */
function registerDepositCommand(provider: Command): void {
  provider
    .command("deposit")
    .description("deposit data keys from your local key file at a custodian gateway")
    .addOption(new Option("--gateway <url>", "the custodian gateway").env(GATEWAY_ENV))
    .option("--record <ids>", "only these record ids, comma-separated (default: every record in the key file)")
    .option("--key-file <file>", "the local key file (default .consent-ledger/keys/<chainId>-<provider>.json)")
    .action(
      action<{ gateway?: string; record?: string; keyFile?: string }>(async (ctx, o) => {
        const url = gatewayUrl(o.gateway, true) as string;
        const ids = o.record?.split(",").map((id) => parseBytes32(id, "--record"));
        const { signer, contracts } = await ctx.signerContracts();
        const k = await keepers(ctx, signer, contracts, o, url);
        const records = await unwrapKeys(k.contents, k.keyPair, ids);
        if (records.length === 0) throw new CliError(`${k.keyFile} holds no keys: publish first`);
        for (const record of records) {
          ctx.out.progress(`Depositing the key of ${record.recordId}…`);
          await (k.gateway as GatewayClient).depositKey(record);
        }
        ctx.out.result({ gateway: url, deposited: records.map((record) => record.recordId) }, () =>
          fields([
            ["gateway", url],
            ["deposited", records.map((record) => record.recordId).join("\n" + " ".repeat(11))],
          ]),
        );
      }),
    );
}

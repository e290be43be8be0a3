/**
 * Reading the files a user names, with errors that name the file, and writing output files atomically:
 * to a temp file in the same folder, flushed, then renamed over the target, so a reader (or a crash)
 * sees the old file or the whole new one, never half of it.
 */
import { randomBytes } from "node:crypto";
import { access, mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises";
import path from "node:path";

import { CliError, describeError } from "./errors";
import { load } from "./sdk";

function describeFsError(error: unknown, file: string, action: string): CliError {
  const code = (error as NodeJS.ErrnoException)?.code;
  const reasons: Record<string, string> = {
    ENOENT: `${file} does not exist: check the path`,
    EACCES: `permission denied on ${file}: check its permissions`,
    EISDIR: `${file} is a folder, not a file`,
    ENOTDIR: `a part of ${file} is not a folder: check the path`,
    ENOSPC: `the disk is full: free space, then try again`,
    EROFS: `${file} is on a read-only file system: choose another place`,
  };
  return new CliError(
    code && reasons[code] ? reasons[code] : `cannot ${action} ${file}: ${(error as Error)?.message ?? String(error)}`,
    1,
    {
      cause: error,
    },
  );
}

export async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (error) {
    throw describeFsError(error, file, "read");
  }
}

export async function readText(file: string): Promise<string> {
  return Buffer.from(await readBytes(file)).toString("utf8");
}

/** Parses a JSON file; `what` describes what it should be ("a signed consent"). */
export async function readJsonFile(file: string, what: string): Promise<unknown> {
  const text = await readText(file);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CliError(`${file} is not JSON (${(error as Error).message}): pass ${what}`, 1, { cause: error });
  }
}

/**
 * A FHIR R4 resource from a JSON file: an object whose resourceType names a FHIR type. Checked the way the
 * SDK checks a payload (assertFhirResource), with an error naming the file.
 */
export async function readFhirFile(file: string): Promise<Record<string, unknown> & { resourceType: string }> {
  const text = await readText(file);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CliError(
      `${file} is not FHIR JSON: it is not JSON at all; pass a FHIR R4 resource such as {"resourceType": "Observation", ...}`,
    );
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new CliError(
      `${file} is not FHIR JSON: expected one resource object; pass a FHIR R4 resource such as {"resourceType": "Observation", ...}`,
    );
  }
  const resourceType = (value as { resourceType?: unknown }).resourceType;
  if (resourceType === undefined) {
    throw new CliError(
      `${file} is not FHIR JSON: resourceType missing; a FHIR resource names its type, e.g. "resourceType": "Observation"`,
    );
  }
  if (typeof resourceType !== "string" || !/^[A-Z][A-Za-z]{1,63}$/.test(resourceType)) {
    throw new CliError(
      `${file} is not FHIR JSON: resourceType ${JSON.stringify(resourceType)} is not a FHIR resource type such as "Observation"`,
    );
  }
  try {
    const assertFhirResource: (value: unknown) => asserts value is object = load.fhir().assertFhirResource;
    assertFhirResource(value); // the SDK's own rule, so the CLI never accepts what publish would refuse
  } catch (error) {
    throw new CliError(`${file} is not FHIR JSON: ${describeError(error)}`, 1, { cause: error });
  }
  return value as Record<string, unknown> & { resourceType: string };
}

export async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks, before anything is sent, that `file` can be written: its folder exists (or can be created) and,
 * unless `overwrite`, no file is there yet.
 */
export async function checkWritable(file: string, option: string, overwrite: boolean): Promise<void> {
  if (!overwrite && (await exists(file))) {
    throw new CliError(`${option} ${file} exists already: choose another file, or add --force to replace it`);
  }
  const folder = path.dirname(path.resolve(file));
  try {
    const info = await stat(folder);
    if (!info.isDirectory()) throw new CliError(`${option} ${file}: ${folder} is not a folder`);
  } catch (error) {
    if (error instanceof CliError) throw error;
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw describeFsError(error, folder, "open");
    // A missing folder is created when the file is written.
  }
}

/** Writes `data` to `file` atomically (temp file in the same folder, fsync, rename). */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: { mode?: number; overwrite?: boolean } = {},
): Promise<void> {
  const target = path.resolve(file);
  const folder = path.dirname(target);
  try {
    await mkdir(folder, { recursive: true });
  } catch (error) {
    throw describeFsError(error, folder, "create");
  }
  if (options.overwrite === false && (await exists(target))) {
    throw new CliError(`${file} exists already: choose another file, or add --force to replace it`);
  }
  const temp = path.join(folder, `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    const handle = await open(temp, "wx", options.mode ?? 0o644);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw describeFsError(error, file, "write");
  }
}

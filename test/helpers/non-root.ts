/**
 * Some checks mean nothing as root (root ignores file permissions), and CI runs as root. runAsNonRoot
 * runs such a check as the current user when it is not root, and otherwise in a child process as
 * `nobody` (util-linux setpriv, in every Debian image), so the check runs everywhere instead of pending.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Calls `exportName` of the module at `modulePath` (an async function of no arguments returning
 * JSON-safe data) without root privileges; returns its result and the uid it ran as.
 */
export async function runAsNonRoot<T>(modulePath: string, exportName: string): Promise<{ uid: number; result: T }> {
  if (process.getuid?.() !== 0) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fn = require(modulePath)[exportName] as () => Promise<T>;
    return { uid: process.getuid?.() ?? -1, result: await fn() };
  }
  const script =
    `require(${JSON.stringify(modulePath)})[${JSON.stringify(exportName)}]()` +
    `.then((result) => process.stdout.write(JSON.stringify({ uid: process.getuid(), result })))`;
  const args = ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", process.execPath, "-r", "ts-node/register/transpile-only", "-e", script];
  let stdout: string;
  try {
    ({ stdout } = await run("setpriv", args, { cwd: process.cwd(), env: { ...process.env, HOME: "/tmp" } }));
  } catch (error) {
    throw new Error(
      `Could not run a check as nobody (setpriv ${args.slice(0, 3).join(" ")}): ${(error as Error).message}. ` +
        "As root, the check needs util-linux's setpriv; run the tests as a non-root user otherwise.",
      { cause: error },
    );
  }
  return JSON.parse(stdout) as { uid: number; result: T };
}

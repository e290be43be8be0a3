/**
 * A real `anvil` (Foundry) child process on loopback, started like scripts/lib/local-node.ts starts
 * `hardhat node`: same mnemonic and chain id (31337), automining, killed by its id (its process group)
 * on stop() and at this process's exit. The native binary of @foundry-rs/anvil is run directly (not its
 * Node wrapper), so the child's id is anvil's own: its CPU counters in /proc are anvil's.
 */
import { spawn } from "node:child_process";
import path from "node:path";

import { awaitNode, freePort, type LocalNode } from "./local-node";

const REPO_ROOT = path.resolve(__dirname, "..", "..");

/** The path of the anvil binary shipped by @foundry-rs/anvil for this platform. */
export function anvilBinary(): string {
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  const platformPackage = `@foundry-rs/anvil-${process.platform}-${arch}`;
  let packageJson: string;
  try {
    packageJson = require.resolve(`${platformPackage}/package.json`, { paths: [REPO_ROOT] });
  } catch {
    throw new Error(`anvil is not installed for ${process.platform}-${arch} (${platformPackage}): run npm install`);
  }
  return path.join(path.dirname(packageJson), "bin", process.platform === "win32" ? "anvil.exe" : "anvil");
}

/**
 * Starts anvil on 127.0.0.1 (a free port) and waits until it answers. `args` are passed on after the
 * defaults (e.g. `--disable-code-size-limit`).
 */
export async function startAnvilNode(
  options: { port?: number; timeoutMs?: number; args?: readonly string[] } = {},
): Promise<LocalNode> {
  const port = options.port || (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    anvilBinary(),
    ["--host", "127.0.0.1", "--port", String(port), "--chain-id", "31337", "--silent", ...(options.args ?? [])],
    { cwd: REPO_ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  return awaitNode(child, { name: "anvil", url, port, timeoutMs: options.timeoutMs ?? 30_000, pollMs: 100 });
}

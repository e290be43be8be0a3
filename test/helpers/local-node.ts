/**
 * A real `hardhat node` child process on a free loopback port, for the gateway tests and the load test.
 *
 * The node runs in its own process group and is killed by its id (the group), on stop(), and on this
 * process's exit as a safety net, so a failing test never leaves a node behind. Its per-request console
 * logging is switched off (hardhat_setLoggingEnabled) so a busy test does not pay for it.
 *
 * `sharedLocalNode()` starts one node per test process and stops it in mocha's root `after` hook, so
 * several test files share one start-up (each deploys its own contracts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";

export interface LocalNode {
  url: string;
  port: number;
  child: ChildProcess;
  /** The last lines the node printed (for diagnosing a failure). */
  output(): string;
  stop(): Promise<void>;
}

const REPO_ROOT = path.resolve(__dirname, "..", "..");
const HARDHAT_CLI = require.resolve("hardhat/internal/cli/cli.js", { paths: [REPO_ROOT] });

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** One JSON-RPC call over fetch (no provider), with a timeout. */
export async function rpc<T = unknown>(
  url: string,
  method: string,
  params: unknown[] = [],
  timeoutMs = 5000,
): Promise<T> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await response.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

/** Kills a detached child's whole process group by its id; ignores one that is gone. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

const children = new Set<ChildProcess>();
let handlersInstalled = false;

/**
 * Kills `child` (by its process group) when this process exits or is interrupted, unless it has exited
 * by then; returns a function that stops watching it.
 */
export function killOnExit(child: ChildProcess): () => void {
  children.add(child);
  child.once("exit", () => children.delete(child));
  if (!handlersInstalled) {
    handlersInstalled = true;
    process.on("exit", () => {
      for (const running of children) killGroup(running);
    });
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.once(signal, () => {
        for (const running of children) killGroup(running);
        process.exit(signal === "SIGINT" ? 130 : 143);
      });
    }
  }
  return () => children.delete(child);
}

/** Resolves when `child` has exited (at once if it has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Starts `hardhat node` on a free port and waits (up to `timeoutMs`) until it answers. */
export async function startLocalNode(options: { timeoutMs?: number } = {}): Promise<LocalNode> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = { ...process.env };
  delete env.HARDHAT_NETWORK;
  const child = spawn(process.execPath, [HARDHAT_CLI, "node", "--hostname", "127.0.0.1", "--port", String(port)], {
    cwd: REPO_ROOT,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString("utf8").split("\n"));
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const unwatch = killOnExit(child);

  const node: LocalNode = {
    url,
    port,
    child,
    output: () => lines.join("\n"),
    async stop() {
      unwatch();
      killGroup(child);
      await exited(child);
    },
  };

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      unwatch();
      throw new Error(
        `hardhat node exited (${child.exitCode ?? child.signalCode}) before answering:\n${node.output()}`,
      );
    }
    try {
      await rpc(url, "eth_chainId", [], 1000);
      break;
    } catch {
      if (Date.now() > deadline) {
        await node.stop();
        throw new Error(
          `hardhat node did not answer on ${url} within ${options.timeoutMs ?? 60_000} ms:\n${node.output()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  await rpc(url, "hardhat_setLoggingEnabled", [false]).catch(() => undefined);
  return node;
}

let shared: Promise<LocalNode> | undefined;

/** One node for the whole test process, stopped after the last test (mocha root hook) or at exit. */
export function sharedLocalNode(): Promise<LocalNode> {
  if (!shared) {
    shared = startLocalNode();
    shared.catch(() => {
      shared = undefined;
    });
  }
  return shared;
}

/** Stops the shared node, if one was started. */
export async function stopSharedLocalNode(): Promise<void> {
  const current = shared;
  shared = undefined;
  if (current) await (await current.catch(() => undefined))?.stop();
}

// Under mocha (hardhat test), stop the shared node after every test file has run.
declare const after: ((fn: () => Promise<void>) => void) | undefined;
if (typeof after === "function") after(stopSharedLocalNode);

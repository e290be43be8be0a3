/**
 * A real `hardhat node` child process on loopback: for `npm run dapp`, the gateway load test, and the
 * tests (test/helpers/local-node.ts adds one node shared by a whole test run).
 *
 * The node runs in its own process group and is killed by its id (the group), on stop(), and on this
 * process's exit or interruption as a safety net, so a failing run never leaves a node behind. Its
 * per-request console logging is switched off (hardhat_setLoggingEnabled) so a busy run does not pay
 * for it.
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

/** Whether something already listens on 127.0.0.1:`port`. */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(true));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(false)));
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

/**
 * Watches a node process just spawned (detached, its output piped) until it answers eth_chainId at
 * `url`: keeps its last 200 lines of output for error messages, kills its process group on stop() and
 * at this process's exit, and fails with that output when it exits first or does not answer within
 * `timeoutMs`. Shared by the hardhat and anvil starters.
 */
export async function awaitNode(
  child: ChildProcess,
  options: { name: string; url: string; port: number; timeoutMs: number; pollMs: number },
): Promise<LocalNode> {
  const { name, url, port, timeoutMs, pollMs } = options;
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
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      unwatch();
      throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before answering:\n${node.output()}`);
    }
    try {
      await rpc(url, "eth_chainId", [], 1000);
      return node;
    } catch {
      if (Date.now() > deadline) {
        await node.stop();
        throw new Error(`${name} did not answer on ${url} within ${timeoutMs} ms:\n${node.output()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }
}

/**
 * Starts `hardhat node` on 127.0.0.1:`port` (a free port when none is given) and waits (up to
 * `timeoutMs`) until it answers. A given port that is taken is refused with what to do instead.
 */
export async function startLocalNode(options: { port?: number; timeoutMs?: number } = {}): Promise<LocalNode> {
  if (options.port && (await portInUse(options.port))) {
    throw new Error(
      `port ${options.port} is taken (a node already running?): pass --rpc http://127.0.0.1:${options.port} ` +
        "to use it, or --node-port <n>",
    );
  }
  const port = options.port || (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const env = { ...process.env };
  delete env.HARDHAT_NETWORK;
  const cli = require.resolve("hardhat/internal/cli/cli.js", { paths: [REPO_ROOT] });
  const child = spawn(process.execPath, [cli, "node", "--hostname", "127.0.0.1", "--port", String(port)], {
    cwd: REPO_ROOT,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const node = await awaitNode(child, {
    name: "hardhat node",
    url,
    port,
    timeoutMs: options.timeoutMs ?? 60_000,
    pollMs: 200,
  });
  await rpc(url, "hardhat_setLoggingEnabled", [false]).catch(() => undefined);
  return node;
}

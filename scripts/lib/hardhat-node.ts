/**
 * A real `hardhat node` as a child process on loopback, for `npm run dapp` and its browser test. The node
 * runs in its own process group; stop() (and, as a safety net, this process's exit) kills that group by
 * its id, so nothing is left behind when a run fails.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";

const REPO_ROOT = path.resolve(__dirname, "..", "..");

export interface HardhatNodeProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** The last lines the node printed. */
  output(): string;
  stop(): Promise<void>;
}

/** A port free on 127.0.0.1 right now. */
export function freeLoopbackPort(): Promise<number> {
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

async function chainIdAt(url: string, timeoutMs: number): Promise<string> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await response.json()) as { result?: string };
  if (!body.result) throw new Error("no chain id");
  return body.result;
}

/** Starts `hardhat node` on 127.0.0.1:`port` (0: a free port) and waits until it answers. */
export async function startHardhatNodeProcess(options: { port?: number; timeoutMs?: number } = {}): Promise<HardhatNodeProcess> {
  const port = options.port || (await freeLoopbackPort());
  if (options.port && (await portInUse(port))) {
    throw new Error(`port ${port} is taken (a node already running?): pass --rpc http://127.0.0.1:${port} to use it, or --node-port <n>`);
  }
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
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString("utf8").split("\n"));
    if (lines.length > 100) lines.splice(0, lines.length - 100);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const kill = () => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
  };
  process.on("exit", kill);
  const node: HardhatNodeProcess = {
    url,
    port,
    child,
    output: () => lines.join("\n"),
    async stop() {
      process.removeListener("exit", kill);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once("exit", resolve));
      kill();
      await gone;
    },
  };
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      process.removeListener("exit", kill);
      throw new Error(`hardhat node exited before answering:\n${node.output()}`);
    }
    try {
      await chainIdAt(url, 1000);
      break;
    } catch {
      if (Date.now() > deadline) {
        await node.stop();
        throw new Error(`hardhat node did not answer on ${url}:\n${node.output()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  // Its per-request console log is of no use here, and costs time.
  await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "hardhat_setLoggingEnabled", params: [false] }),
  }).catch(() => undefined);
  return node;
}

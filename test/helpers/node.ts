import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A real `hardhat node` JSON-RPC server on loopback, for tests of what users run against a node. */
export interface HardhatNode {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startHardhatNode(timeoutMs = 60_000): Promise<HardhatNode> {
  const port = await freePort();
  const child = spawn("npx", ["hardhat", "node", "--hostname", "127.0.0.1", "--port", String(port)], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hardhat node did not start in ${timeoutMs} ms:\n${output}`)), timeoutMs);
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Started HTTP and WebSocket JSON-RPC server")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`hardhat node exited with ${code}:\n${output}`));
    });
  });
  child.stdout?.resume();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    process: child,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      try {
        process.kill(-(child.pid as number), "SIGTERM");
      } catch {
        child.kill("SIGTERM");
      }
      await exited;
    },
  };
}

/**
 * The patient dashboard's local server (dapp/): the page, built by Vite (or Vite's dev server with hot
 * reload), and three small things a page cannot do alone on a development chain:
 *
 *   GET  /api/config                 where the node is, the development accounts and their demo names
 *   GET  /deployments/<chainId>.json the suite's addresses on that chain (the page finds them by chain id)
 *   POST /api/relay                  submits a patient's SignedConsent with a funded development account
 *                                    (relaySignedConsent): the gasless path, for local use only
 *   GET  /gateway/manifests/<cid>    the custodian gateway's release manifests (public), proxied: the
 *                                    gateway sends no CORS headers, and the audit trail needs them
 *   GET  /studies/<studyId>.json     the label a researcher published for a study (studyLabelOf checks
 *                                    it against the on-chain id in the page; the server vouches for nothing)
 *   GET  /relayer/relay,             the consent relayer (gateway/relayer.ts) that pseudonyms act through,
 *   POST /relayer/relay/consent      proxied like the gateway: the relayer sends no CORS headers
 *
 * Loopback only. Nothing here decides anything about consent: the relay submits what the patient signed,
 * and the ledger checks it.
 */
import { createReadStream } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import path from "node:path";

import type { Signer } from "ethers";

import { connect, parseDeployment, type Deployment } from "../../sdk/chain/connect";
import { relaySignedConsent, parseSignedConsent } from "../../sdk/clients/patient";
import { ConsentLedgerError, ContractRevertError } from "../../sdk/errors";
import type { DappConfig } from "../../dapp/src/config-types";

export const DAPP_DIR = path.resolve(__dirname, "..", "..", "dapp");
export const DAPP_VITE_CONFIG = path.join(DAPP_DIR, "vite.config.mts");

export interface DappServerOptions {
  host?: string;
  port?: number;
  /** The built page (Vite's outDir), or "vite" for Vite's dev server over dapp/. */
  page: { dir: string } | "vite";
  config: Omit<DappConfig, "gateway" | "relay" | "relayer" | "chains">;
  /** Where deployments/<chainId>.json files are read from. */
  deploymentsDir: string;
  /** Where researchers' study labels, <studyId>.json, are read from; absent: none served. */
  studiesDir?: string;
  /** The custodian gateway to proxy manifests from. */
  gatewayUrl?: string;
  /** A funded account that relays signed consents; without one, /api/relay is off. */
  relayer?: Signer;
  /** The consent relayer to proxy at /relayer (gateway/relayer.ts), for the pseudonyms' actions. */
  consentRelayerUrl?: string;
}

export interface RunningDappServer {
  url: string;
  close(): Promise<void>;
}

type Next = (error?: unknown) => void;
type Handler = (request: IncomingMessage, response: ServerResponse, next: Next) => void;

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".map": "application/json",
};

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  response.end(text);
}

async function readBody(request: IncomingMessage, limit = 64 * 1024): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error(`the body is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

async function listDeployments(directory: string): Promise<number[]> {
  try {
    return (await readdir(directory))
      .filter((name) => /^\d+\.json$/.test(name))
      .map((name) => Number(name.slice(0, -5)))
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
}

async function deploymentFor(directory: string, chainId: number): Promise<Deployment | undefined> {
  try {
    return parseDeployment(JSON.parse(await readFile(path.join(directory, `${chainId}.json`), "utf8")));
  } catch {
    return undefined;
  }
}

/** The API as connect-style middleware, so the same code runs in the static server and in Vite's. */
export function dappApi(options: DappServerOptions): Handler {
  return (request, response, next) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const route = url.pathname;
    const handle = async () => {
      if (request.method === "GET" && route === "/api/config") {
        const config: DappConfig = {
          ...options.config,
          chains: await listDeployments(options.deploymentsDir),
          gateway: options.gatewayUrl ? "/gateway" : undefined,
          relay: options.relayer ? "/api/relay" : undefined,
          relayer: options.consentRelayerUrl ? "/relayer" : undefined,
        };
        return sendJson(response, 200, config);
      }
      const deploymentMatch = /^\/deployments\/(\d{1,12})\.json$/.exec(route);
      if (request.method === "GET" && deploymentMatch) {
        const deployment = await deploymentFor(options.deploymentsDir, Number(deploymentMatch[1]));
        if (!deployment) return sendJson(response, 404, { error: `no deployment for chain ${deploymentMatch[1]}` });
        return sendJson(response, 200, deployment);
      }
      if (request.method === "POST" && route === "/api/relay") return relay(request, response);
      const studyMatch = /^\/studies\/(0x[0-9a-f]{64})\.json$/.exec(route);
      if (request.method === "GET" && studyMatch) {
        const text = options.studiesDir
          ? await readFile(path.join(options.studiesDir, `${studyMatch[1]}.json`), "utf8").catch(() => undefined)
          : undefined;
        if (text === undefined || text.length > 4096)
          return sendJson(response, 404, { error: `no label published for study ${studyMatch[1]}` });
        response.writeHead(200, { "content-type": "application/json", "x-content-type-options": "nosniff" });
        response.end(text);
        return;
      }
      const relayerMatch = /^\/relayer\/(relay|relay\/consent)$/.exec(route);
      if (relayerMatch && (request.method === "GET" || request.method === "POST")) {
        if (!options.consentRelayerUrl) return sendJson(response, 404, { error: "no relayer" });
        const body = request.method === "POST" ? await readBody(request, 16 * 1024) : undefined;
        const upstream = await fetch(`${options.consentRelayerUrl}/${relayerMatch[1]}`, {
          method: request.method,
          headers: body === undefined ? undefined : { "content-type": "application/json" },
          body,
          signal: AbortSignal.timeout(30_000),
        });
        const headers: Record<string, string> = {
          "content-type": upstream.headers.get("content-type") ?? "application/json",
        };
        const retryAfter = upstream.headers.get("retry-after");
        if (retryAfter) headers["retry-after"] = retryAfter;
        response.writeHead(upstream.status, headers);
        response.end(Buffer.from(await upstream.arrayBuffer()));
        return;
      }
      const manifestMatch = /^\/gateway\/(manifests\/[A-Za-z0-9]{1,200}|health)$/.exec(route);
      if (request.method === "GET" && manifestMatch) {
        if (!options.gatewayUrl) return sendJson(response, 404, { error: "no gateway" });
        const upstream = await fetch(`${options.gatewayUrl}/${manifestMatch[1]}`, {
          signal: AbortSignal.timeout(10_000),
        });
        response.writeHead(upstream.status, {
          "content-type": upstream.headers.get("content-type") ?? "application/octet-stream",
        });
        response.end(Buffer.from(await upstream.arrayBuffer()));
        return;
      }
      next();
    };
    handle().catch((error: unknown) => {
      if (!response.headersSent) sendJson(response, 500, { error: (error as Error)?.message ?? String(error) });
      else response.end();
    });
  };

  async function relay(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (!options.relayer) return sendJson(response, 404, { error: "this server has no relayer" });
    try {
      const signed = parseSignedConsent(JSON.parse(await readBody(request)));
      const deployment = await deploymentFor(options.deploymentsDir, signed.chainId);
      if (!deployment) {
        return sendJson(response, 400, {
          error: `This relayer has no deployment on chain ${signed.chainId}`,
          hint: "Sign on the chain the page shows.",
        });
      }
      const contracts = await connect(options.relayer, deployment);
      const pending = await relaySignedConsent(contracts, options.relayer, signed);
      await pending.wait();
      return sendJson(response, 200, { transactionHash: pending.hash, kind: signed.kind });
    } catch (error) {
      if (error instanceof SyntaxError) return sendJson(response, 400, { error: "The body is not JSON" });
      if (error instanceof ConsentLedgerError) {
        return sendJson(response, 400, {
          error: error.shortMessage,
          hint: error.hint,
          errorName: error instanceof ContractRevertError ? error.errorName : error.name,
        });
      }
      throw error;
    }
  }
}

/** Serves the built page: files from `dir`, index.html for everything else that is not a file. */
function staticPage(dir: string): Handler {
  const root = path.resolve(dir);
  return (request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    let relative: string;
    try {
      relative = decodeURIComponent(url.pathname);
    } catch {
      relative = "/";
    }
    const candidate = path.resolve(root, "." + relative);
    const serve = async () => {
      let file = candidate.startsWith(root + path.sep) ? candidate : path.join(root, "index.html");
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) file = path.join(root, "index.html");
      const type = CONTENT_TYPES[path.extname(file)] ?? "application/octet-stream";
      response.writeHead(200, {
        "content-type": type,
        "cache-control": file.includes(`${path.sep}assets${path.sep}`)
          ? "public, max-age=31536000, immutable"
          : "no-cache",
      });
      createReadStream(file).pipe(response);
    };
    serve().catch(() => sendJson(response, 404, { error: "not found" }));
  };
}

/** Starts the server on loopback. */
export async function startDappServer(options: DappServerOptions): Promise<RunningDappServer> {
  const host = options.host ?? "127.0.0.1";
  const api = dappApi(options);
  if (options.page === "vite") {
    const { createServer: createViteServer } = await import("vite");
    const vite = await createViteServer({
      configFile: DAPP_VITE_CONFIG,
      server: { host, port: options.port ?? 5173, strictPort: true },
      plugins: [{ name: "consent-dapp-api", configureServer: (server) => void server.middlewares.use(api) }],
    });
    await vite.listen();
    const address = vite.httpServer?.address();
    const port = typeof address === "object" && address ? address.port : options.port;
    return { url: `http://${host}:${port}`, close: () => vite.close() };
  }
  const page = staticPage(options.page.dir);
  const server: Server = createServer((request, response) => {
    api(request, response, (error) => {
      if (error) return sendJson(response, 500, { error: String(error) });
      if (request.method !== "GET" && request.method !== "HEAD")
        return sendJson(response, 405, { error: "method not allowed" });
      page(request, response, () => undefined);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Builds the page with Vite into `outDir` (dapp/vite.config.mts). */
export async function buildDapp(
  outDir: string,
  options: { logLevel?: "info" | "warn" | "silent" } = {},
): Promise<void> {
  const { build } = await import("vite");
  await build({
    configFile: DAPP_VITE_CONFIG,
    logLevel: options.logLevel ?? "warn",
    build: { outDir, emptyOutDir: true },
  });
}

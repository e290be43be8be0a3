/**
 * Wires a gateway from its configuration and starts it: reaches the node, finds the deployment, checks
 * the custodian is an accredited CUSTODIAN (refusing to start otherwise), opens the data directory
 * (refusing one that belongs to another chain, deployment, custodian or master key), starts the access
 * log writer (which first settles whatever a previous run left) and listens. Every failure to start is a
 * StartupError with a one-line message.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";

import type { FastifyInstance, FastifyServerOptions } from "fastify";
import { FetchRequest, JsonRpcProvider, Network, Wallet } from "ethers";

import {
  connect,
  ConsentLedgerError,
  type Deployment,
  type LedgerContracts,
  parseDeployment,
  Role,
} from "../sdk/index";
import { FsBlobStore, loadDeployment } from "../sdk/node";
import { AccessLogWriter, type FaultPoint, type WriterLogger } from "./access-log-writer";
import { Authenticator } from "./auth";
import { DEFAULTS, type GatewayConfig } from "./config";
import { DataDirectoryLockedError, lockDataDirectory } from "./data-lock";
import { KeyVault, WrongMasterKeyError } from "./key-vault";
import { interopPlugin } from "./interop";
import { buildGatewayApp } from "./server";
import { resyncFromPeers, type ResyncReport } from "./resync";
import { sharePlugin } from "./share-routes";
import { deriveEncryptionKeyPair } from "../sdk/index";
import { GatewayStore, StoreIdentityError } from "./store";

/** The gateway cannot start; the message is one line for the operator. */
export class StartupError extends Error {
  override name = "StartupError";
}

export interface RunningGateway {
  app: FastifyInstance;
  /** Where it listens, e.g. http://127.0.0.1:8787. */
  url: string;
  /** The origin signed into login challenges. */
  publicUrl: string;
  custodian: string;
  contracts: LedgerContracts;
  store: GatewayStore;
  writer: AccessLogWriter;
  /** With config.resyncFrom: the re-sync from peers started once listening (it never rejects: failures are in the report or logged). */
  resynced?: Promise<ResyncReport | undefined>;
  /** Stops listening, lets the writer finish (and with `flush`, log what is pending), closes the database. */
  close(options?: { flush?: boolean; flushTimeoutMs?: number }): Promise<void>;
}

export interface StartOptions {
  /** Fastify/pino logger options; by default pino at config.logLevel. */
  logger?: FastifyServerOptions["logger"];
  now?: () => number;
  /** Test only: see AccessLogWriter. */
  faultPoint?: FaultPoint;
  /** How long the writer waits for a receipt before reconciling later (ms). */
  receiptTimeoutMs?: number;
}

function oneLine(error: unknown): string {
  if (error instanceof ConsentLedgerError) return [error.shortMessage, error.hint].filter(Boolean).join(". ");
  return ((error as Error)?.message ?? String(error)).split("\n")[0];
}

/** eth_chainId with a timeout, so an unreachable node fails fast and says so. */
async function probeChainId(rpcUrl: string, timeoutMs = 10_000): Promise<number> {
  let response: Response;
  try {
    response = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (cause) {
    const reason = (cause as { cause?: { code?: string } }).cause?.code ?? (cause as Error).message;
    throw new StartupError(
      `cannot reach the node at ${rpcUrl} (${reason}): start it, or fix --rpc / CONSENT_GATEWAY_RPC`,
    );
  }
  let body: { result?: string; error?: { message?: string } };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    throw new StartupError(
      `${rpcUrl} answered HTTP ${response.status} with something that is not JSON-RPC: is --rpc a node's URL?`,
    );
  }
  if (!body.result)
    throw new StartupError(`${rpcUrl} refused eth_chainId: ${body.error?.message ?? `HTTP ${response.status}`}`);
  return Number(BigInt(body.result));
}

async function deploymentFor(config: GatewayConfig, chainId: number): Promise<Deployment> {
  if (config.deploymentFile) {
    try {
      return parseDeployment(JSON.parse(readFileSync(config.deploymentFile, "utf8")));
    } catch (cause) {
      throw new StartupError(`--deployment ${config.deploymentFile} is not a valid deployment file: ${oneLine(cause)}`);
    }
  }
  try {
    return await loadDeployment(chainId);
  } catch (cause) {
    throw new StartupError(`${oneLine(cause)} (or pass --deployment <file>)`);
  }
}

/** Starts a gateway as configured; see the module comment. */
export async function startGateway(config: GatewayConfig, options: StartOptions = {}): Promise<RunningGateway> {
  const chainId = await probeChainId(config.rpcUrl);
  const network = Network.from(chainId);
  // cacheTimeout -1: ethers would otherwise answer a repeated request (the latest block!) from a 250 ms
  // cache, and a revocation mined within that time would not be seen. Every decision reads the chain.
  // batchStallTime 0: calls made in one turn still go out as one batch, without ethers' default 10 ms wait.
  // One pool of kept-alive connections to the node, with Nagle off: every release makes a round trip.
  const agent = new (config.rpcUrl.startsWith("https:") ? https.Agent : http.Agent)({ keepAlive: true });
  const request = new FetchRequest(config.rpcUrl);
  request.getUrlFunc = FetchRequest.createGetUrlFunc({ agent });
  const provider = new JsonRpcProvider(request, network, {
    staticNetwork: network,
    pollingInterval: 500,
    cacheTimeout: -1,
    batchStallTime: 0,
  });
  const destroyProvider = provider.destroy.bind(provider);
  provider.destroy = () => {
    destroyProvider();
    agent.destroy();
  };
  const deployment = await deploymentFor(config, chainId);

  let contracts: LedgerContracts;
  try {
    contracts = await connect(provider, deployment);
  } catch (cause) {
    provider.destroy();
    throw new StartupError(oneLine(cause));
  }
  const wallet = new Wallet(config.privateKey, provider);
  const custodian = wallet.address;

  let accredited: boolean;
  let party: Awaited<ReturnType<LedgerContracts["ledger"]["partyOf"]>>;
  try {
    [accredited, party] = await Promise.all([
      contracts.ledger.isAccredited(custodian, Role.CUSTODIAN),
      contracts.ledger.partyOf(custodian),
    ]);
  } catch (cause) {
    provider.destroy();
    throw new StartupError(`cannot read the custodian's accreditation: ${oneLine(cause)}`);
  }
  if (!accredited) {
    provider.destroy();
    const state =
      (Number(party.roles) & Role.CUSTODIAN) === 0
        ? "does not hold the CUSTODIAN role"
        : party.suspended
          ? "is suspended"
          : `lapsed at ${new Date(Number(party.accreditedUntil) * 1000).toISOString()}`;
    throw new StartupError(
      `refusing to start: ${custodian} (CONSENT_GATEWAY_PRIVATE_KEY) is not an accredited CUSTODIAN on ledger ${deployment.ledger} ` +
        `(chain ${chainId}): it ${state}; ask the administrator to accredit it`,
    );
  }
  const genesis = await provider.getBlock(0);

  let unlock: () => void;
  try {
    unlock = lockDataDirectory(config.dataDir, "a consent gateway");
  } catch (cause) {
    provider.destroy();
    throw new StartupError(
      cause instanceof DataDirectoryLockedError
        ? `refusing to start: ${cause.message}`
        : `cannot lock the data directory ${config.dataDir}: ${oneLine(cause)}`,
    );
  }
  // From here on, whatever fails (a refusal, or anything unforeseen) closes what was opened, in reverse,
  // and gives the lock back, so a failed start leaves nothing held.
  const opened: { store?: GatewayStore; app?: FastifyInstance } = {};
  try {
    return await startHoldingLock(config, options, {
      provider,
      contracts,
      deployment,
      custodian,
      wallet,
      chainId,
      genesis,
      unlock,
      opened,
    });
  } catch (error) {
    await opened.app?.close().catch(() => undefined);
    opened.store?.close();
    unlock();
    provider.destroy();
    throw error;
  }
}

interface LockedContext {
  provider: JsonRpcProvider;
  contracts: LedgerContracts;
  deployment: Deployment;
  custodian: string;
  wallet: Wallet;
  chainId: number;
  genesis: Awaited<ReturnType<JsonRpcProvider["getBlock"]>>;
  unlock: () => void;
  opened: { store?: GatewayStore; app?: FastifyInstance };
}

async function startHoldingLock(
  config: GatewayConfig,
  options: StartOptions,
  { provider, contracts, deployment, custodian, wallet, chainId, genesis, unlock, opened }: LockedContext,
): Promise<RunningGateway> {
  let store: GatewayStore;
  try {
    store = GatewayStore.open(path.join(config.dataDir, "gateway.sqlite"));
  } catch (cause) {
    throw new StartupError(`cannot open the data directory ${config.dataDir}: ${oneLine(cause)}`);
  }
  opened.store = store;
  const fail = (message: string): never => {
    throw new StartupError(message);
  };
  try {
    store.bindIdentity({
      chainId,
      genesisHash: genesis?.hash ?? "unknown",
      ledger: deployment.ledger,
      records: deployment.records,
      accessLog: deployment.accessLog,
      keys: deployment.keys,
      custodian,
    });
  } catch (cause) {
    if (cause instanceof StoreIdentityError) fail(`${config.dataDir}: ${cause.message}`);
    throw cause;
  }
  const vault = new KeyVault(config.masterKey);
  const check = store.getMeta("masterKeyCheck");
  if (check) {
    try {
      await vault.verifyCheckValue(check);
    } catch (cause) {
      if (cause instanceof WrongMasterKeyError) fail(`${config.dataDir}: ${cause.message}`);
      throw cause;
    }
  } else {
    store.setMeta("masterKeyCheck", await vault.checkValue());
  }
  let blobs: FsBlobStore;
  try {
    blobs = await FsBlobStore.open(path.join(config.dataDir, "blobs"));
  } catch (cause) {
    return fail(`cannot open the blob store in ${config.dataDir}: ${oneLine(cause)}`);
  }

  let app: FastifyInstance | undefined;
  const log: WriterLogger = {
    info: (details, message) => app?.log.info(details, message),
    warn: (details, message) => app?.log.warn(details, message),
    error: (details, message) => app?.log.error(details, message),
  };
  const authenticator = new Authenticator({
    store,
    provider,
    chainId,
    ledger: deployment.ledger,
    challengeTtlSeconds: config.challengeTtlSeconds,
    sessionTtlSeconds: config.sessionTtlSeconds,
    maxOpenChallenges: config.maxOpenChallenges,
    now: options.now,
  });
  const writer = new AccessLogWriter({
    store,
    contracts,
    signer: wallet,
    custodian,
    blobs,
    batchSize: config.logBatchSize,
    intervalMs: config.logIntervalMs,
    logger: log,
    now: options.now,
    faultPoint: options.faultPoint,
    receiptTimeoutMs: options.receiptTimeoutMs,
    confirmations: config.confirmations,
  });
  let publicUrl = config.publicUrl ?? "";
  app = buildGatewayApp({
    contracts,
    custodian,
    store,
    blobs,
    vault,
    authenticator,
    writer,
    publicUrl: () => publicUrl,
    providers: [custodian, ...config.providers],
    rateLimitPerMinute: config.rateLimitPerMinute,
    confirmations: config.confirmations,
    timeouts: config.timeouts,
    challengesPerMinute: config.challengesPerMinute,
    maxRecordBytes: config.maxRecordBytes,
    logger: options.logger ?? {
      level: config.logLevel,
      base: { service: "consent-gateway" },
      redact: ["req.headers.authorization"],
    },
    now: options.now,
  });
  opened.app = app;
  // The custodian's X25519 key, derived from its account key (a Wallet signs deterministically): shares
  // are wrapped to it, as registered in KeyDirectory (npm run custodians registers it).
  const keyPair = await deriveEncryptionKeyPair(wallet);
  await app.register(sharePlugin, {
    contracts,
    custodian,
    keyPair,
    store,
    blobs,
    vault,
    authenticator,
    writer,
    providers: [custodian, ...config.providers],
    confirmations: config.confirmations,
    rateLimitPerMinute: config.rateLimitPerMinute,
    now: options.now,
  });
  await app.register(interopPlugin, {
    contracts,
    authenticator,
    vault,
    dataDir: config.dataDir,
    publicUrl: () => publicUrl,
    rateLimitPerMinute: config.rateLimitPerMinute,
    now: options.now,
  });

  let address: string;
  try {
    address = await app.listen({ host: config.host, port: config.port });
  } catch (cause) {
    return fail(`cannot listen on ${config.host}:${config.port}: ${oneLine(cause)}`);
  }
  const url = new URL(address).origin;
  if (!publicUrl) publicUrl = url;
  app.log.info(
    {
      url,
      publicUrl,
      chainId,
      ledger: deployment.ledger,
      custodian,
      dataDir: config.dataDir,
      batchSize: config.logBatchSize,
      intervalMs: config.logIntervalMs,
      confirmations: config.confirmations ?? DEFAULTS.confirmations,
    },
    "custodian gateway listening",
  );
  writer.start();

  let closingDown = false;
  const resynced =
    config.resyncFrom && config.resyncFrom.length > 0
      ? resyncFromPeers({
          contracts,
          custodian,
          signer: wallet,
          store,
          blobs,
          providers: [custodian, ...config.providers],
          peers: config.resyncFrom,
          log: {
            info: (details, message) => app?.log.info(details, message),
            warn: (details, message) => app?.log.warn(details, message),
          },
          stopped: () => closingDown,
        }).catch((error: unknown) => {
          if (!closingDown) app?.log.error({ reason: oneLine(error) }, "re-sync from peers failed");
          return undefined;
        })
      : undefined;

  const purge = setInterval(() => {
    if (store.isOpen) store.purgeExpired(Date.now());
  }, 60_000);
  purge.unref();

  let closing: Promise<void> | undefined;
  return {
    app,
    url,
    publicUrl,
    custodian,
    contracts,
    store,
    writer,
    resynced,
    close(closeOptions = {}) {
      closing ??= (async () => {
        clearInterval(purge);
        closingDown = true;
        await resynced;
        try {
          await (app as FastifyInstance).close();
          await writer.stop({ flush: closeOptions.flush, timeoutMs: closeOptions.flushTimeoutMs });
        } finally {
          // Whatever the above threw, the directory is given back and the keys leave memory.
          store.close();
          vault.destroy();
          keyPair.secretKey.fill(0);
          unlock();
          provider.destroy();
        }
      })();
      return closing;
    },
  };
}

/**
 * The consent relayer: submits the signed consent messages the ledger accepts (grant, revoke, approve,
 * deny: ISignedConsents) from its own funded account, so a patient's pseudonyms never hold ether and no
 * funding flow links them. It checks each message before spending gas, in order of cost:
 *
 *   per-IP rate limit -> shape (parseSignedConsent) -> chain and ledger -> deadline (chain time) ->
 *   signature recovers to the named signer -> per-signer rate limit -> nonce unused (nonceBitmap) and not
 *   in flight -> the call succeeds (eth_estimateGas) -> gas under the per-message cap -> daily budget -> send
 *
 * Every refusal is `{ error, reason }` with a stable code (GatewayHttpError) and sends nothing. The
 * per-signer limit counts only messages with a valid signature, so nobody can use up a patient's
 * allowance by naming them. The relayer sees every message it relays (which pseudonyms, when, from which
 * IP): see docs/pseudonyms.md for what that means and how to limit it.
 *
 * A Fastify plugin (`relayerPlugin`) any Fastify app can register, and `startRelayer` (npm run relayer)
 * which runs it on its own.
 */
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from "fastify";
import { JsonRpcProvider, Network, Wallet, type Signer } from "ethers";

import {
  ConsentLedgerError,
  connect,
  decodeRevert,
  parseDeployment,
  parseSignedConsent,
  populateSignedConsent,
  recoverSignedConsentSigner,
  signedRequestIdOf,
  type LedgerContracts,
  type SignedConsent,
} from "../sdk/index";
import { badRequest, conflict, GatewayHttpError, rateLimited, unavailable, unprocessable } from "./http-error";
import { AccountRateLimiter } from "./rate-limit";

export interface RelayerLimits {
  /** Valid messages per signer per minute (token bucket). */
  perSignerPerMinute: number;
  /** Requests per client IP per minute (token bucket), valid or not. */
  perIpPerMinute: number;
  /** Largest request body, bytes. */
  bodyLimitBytes: number;
  /** Most gas one message may need (eth_estimateGas); above, it is refused. */
  maxGasPerMessage: bigint;
  /** Most gas the relayer reserves per UTC day, all messages together. */
  dailyGasBudget: bigint;
}

export const DEFAULT_RELAYER_LIMITS: RelayerLimits = {
  perSignerPerMinute: 10,
  perIpPerMinute: 60,
  bodyLimitBytes: 16 * 1024,
  // grantBySig costs about 55-72k gas beyond the 21k base (bench/gas.json); approve somewhat more.
  maxGasPerMessage: 300_000n,
  dailyGasBudget: 50_000_000n,
};

export interface RelayerPluginOptions {
  /** The deployment, read through any provider. */
  contracts: LedgerContracts;
  /** The relayer's funded account, connected to the same chain. */
  wallet: Signer;
  limits?: Partial<RelayerLimits>;
  /** Wall clock in ms (tests); the budget's day is the UTC day of this clock. */
  now?: () => number;
}

const DAY_MS = 86_400_000;

/** POST /relay/consent (a SignedConsent as JSON), GET /relay (the relayer's account, chain, ledger, limits). */
export const relayerPlugin: FastifyPluginAsync<RelayerPluginOptions> = async (app, options) => {
  const limits: RelayerLimits = { ...DEFAULT_RELAYER_LIMITS, ...options.limits };
  const { contracts, wallet } = options;
  const now = options.now ?? Date.now;
  const relayer = await wallet.getAddress();
  const ledger = await contracts.ledger.getAddress();
  const bySigner = new AccountRateLimiter(limits.perSignerPerMinute);
  const byIp = new AccountRateLimiter(limits.perIpPerMinute);
  const inFlight = new Set<string>();
  let budget = { day: Math.floor(now() / DAY_MS), spent: 0n };
  let queue: Promise<unknown> = Promise.resolve();
  // The account's next nonce, counted here (a provider may cache "pending" counts); re-read after a failure.
  let nextNonce: number | undefined;

  const spentToday = () => {
    const day = Math.floor(now() / DAY_MS);
    if (day !== budget.day) budget = { day, spent: 0n };
    return budget;
  };

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof GatewayHttpError)
      return reply.status(error.status).headers(error.headers).send(error.toJSON());
    const status = (error as { statusCode?: number }).statusCode;
    if (status === 413)
      return reply
        .status(413)
        .send({ error: "PayloadTooLarge", reason: `A message is at most ${limits.bodyLimitBytes} bytes.` });
    if (status && status >= 400 && status < 500)
      return reply.status(status).send({ error: "InvalidRequest", reason: (error as Error).message });
    request.log.error({ err: error }, "relay failed");
    return reply
      .status(502)
      .send({
        error: "RelayFailed",
        reason: "The relayer could not send the transaction; nothing was charged. Try again later.",
      });
  });

  app.get("/relay", async () => ({
    relayer,
    chainId: Number(contracts.chainId),
    ledger,
    limits: {
      ...limits,
      maxGasPerMessage: limits.maxGasPerMessage.toString(),
      dailyGasBudget: limits.dailyGasBudget.toString(),
    },
    gasLeftToday: (limits.dailyGasBudget - spentToday().spent).toString(),
  }));

  app.post("/relay/consent", { bodyLimit: limits.bodyLimitBytes }, async (request, reply) => {
    const ip = byIp.take(request.ip);
    if (!ip.allowed)
      throw rateLimited(
        `Too many requests from this address; at most ${limits.perIpPerMinute} a minute.`,
        ip.retryAfterSeconds,
      );

    let signed: SignedConsent;
    try {
      signed = parseSignedConsent(request.body);
    } catch (error) {
      throw badRequest(error instanceof ConsentLedgerError ? error.shortMessage : "Not a signed consent.");
    }
    if (BigInt(signed.chainId) !== contracts.chainId)
      throw new GatewayHttpError(
        400,
        "WrongChain",
        `Signed for chain ${signed.chainId}; this relayer submits on chain ${contracts.chainId}.`,
      );
    if (signed.ledger !== ledger)
      throw new GatewayHttpError(
        400,
        "WrongLedger",
        `Signed for ledger ${signed.ledger}; this relayer submits to ${ledger}.`,
      );

    const latest = await contracts.provider.getBlock("latest");
    const chainTime = latest?.timestamp ?? Math.floor(now() / 1000);
    // The ledger refuses when block.timestamp > deadline; the next block is at least a second later.
    if (signed.deadline <= chainTime)
      throw unprocessable(
        "SignatureExpired",
        `The signature's deadline ${signed.deadline} has passed (chain time ${chainTime}). Sign again.`,
      );

    const requestId = signed.kind === "approve" || signed.kind === "deny" ? signedRequestIdOf(signed) : undefined;
    const recovered = recoverSignedConsentSigner(signed, requestId);
    if (recovered !== signed.signer) {
      // A contract wallet (ERC-1271) signs in its own way: the ledger's check, in eth_estimateGas, judges it.
      const code = await contracts.provider.getCode(signed.signer);
      if (code === "0x")
        throw new GatewayHttpError(
          401,
          "InvalidSignature",
          `The signature does not recover to the signer ${signed.signer}; it was altered or signed by another key.`,
        );
    }

    const signerBudget = bySigner.take(signed.signer);
    if (!signerBudget.allowed)
      throw rateLimited(
        `Too many messages from ${signed.signer}; at most ${limits.perSignerPerMinute} a minute.`,
        signerBudget.retryAfterSeconds,
      );

    const nonce = BigInt(signed.nonce);
    const key = `${signed.signer}:${nonce}`;
    // One message at a time from here: checks and send see the same state, and the account's nonces stay in order.
    const run = queue.then(async () => {
      if (inFlight.has(key))
        throw conflict("NonceAlreadyUsed", `Nonce ${nonce} of ${signed.signer} is in a transaction not yet mined.`);
      const bitmap = await contracts.ledger.nonceBitmap(signed.signer, nonce >> 8n);
      if ((bitmap >> (nonce & 0xffn)) & 1n)
        throw conflict(
          "NonceAlreadyUsed",
          `Nonce ${nonce} of ${signed.signer} is used or cancelled; sign again with a fresh one.`,
        );
      const transaction = await populateSignedConsent(contracts, signed);
      let estimate: bigint;
      try {
        estimate = await contracts.provider.estimateGas({ ...transaction, from: relayer });
      } catch (error) {
        const revert = decodeRevert(error);
        throw unprocessable(
          "WouldRevert",
          revert
            ? `The ledger would refuse it: ${revert.name}(${revert.args.map(String).join(", ")}).`
            : "The ledger would refuse it (the call reverts).",
        );
      }
      if (estimate > limits.maxGasPerMessage)
        throw unprocessable(
          "GasLimitExceeded",
          `The message needs ${estimate} gas; this relayer pays at most ${limits.maxGasPerMessage} per message.`,
        );
      const gasLimit =
        estimate + estimate / 5n < limits.maxGasPerMessage ? estimate + estimate / 5n : limits.maxGasPerMessage;
      const today = spentToday();
      if (today.spent + gasLimit > limits.dailyGasBudget)
        throw unavailable(
          "DailyGasBudgetExhausted",
          `The relayer's gas budget for today is spent (${today.spent} of ${limits.dailyGasBudget}). Try again tomorrow (UTC).`,
        );
      nextNonce ??= await wallet.getNonce("pending");
      let response;
      try {
        response = await wallet.sendTransaction({ ...transaction, gasLimit, nonce: nextNonce });
      } catch (error) {
        nextNonce = undefined;
        throw error;
      }
      nextNonce += 1;
      today.spent += gasLimit;
      inFlight.add(key);
      // Give back what the transaction did not use, and forget the nonce once mined.
      void response
        .wait()
        .then((receipt) => {
          if (receipt && budget === today) today.spent -= gasLimit - receipt.gasUsed;
        })
        .catch((error: unknown) => request.log.warn({ err: error, hash: response.hash }, "relayed transaction failed"))
        .finally(() => inFlight.delete(key));
      return { transactionHash: response.hash, relayer, gasLimit: gasLimit.toString() };
    });
    queue = run.catch(() => undefined);
    return reply.status(202).send(await run);
  });
};

export interface RelayerConfig {
  rpcUrl: string;
  /** The relayer account's private key (it pays the gas: fund it, and only it). */
  privateKey: string;
  /** The deployment (chainId, ledger, ...), as scripts/deploy.ts writes it. */
  deployment: unknown;
  host?: string;
  port?: number;
  limits?: Partial<RelayerLimits>;
  /** Behind a reverse proxy: take the client IP from X-Forwarded-For (for the per-IP limit). */
  trustProxy?: boolean;
  logger?: boolean;
}

export interface RunningRelayer {
  app: FastifyInstance;
  url: string;
  relayer: string;
  close(): Promise<void>;
}

/** A Fastify app serving only the relayer (request logs carry no bodies). */
export async function buildRelayerApp(
  options: RelayerPluginOptions & { trustProxy?: boolean; logger?: boolean },
): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false, trustProxy: options.trustProxy ?? false });
  await app.register(relayerPlugin, options);
  return app;
}

/** Starts a relayer on its own: connects to the node, checks the chain, listens. */
export async function startRelayer(config: RelayerConfig): Promise<RunningRelayer> {
  const deployment = parseDeployment(config.deployment);
  const network = Network.from(deployment.chainId);
  const provider = new JsonRpcProvider(config.rpcUrl, network, { staticNetwork: network, pollingInterval: 250 });
  const actual = (await provider.getNetwork()).chainId;
  if (actual !== BigInt(deployment.chainId))
    throw new Error(`The node at ${config.rpcUrl} is on chain ${actual}, the deployment on ${deployment.chainId}`);
  const wallet = new Wallet(config.privateKey, provider);
  const contracts = await connect(provider, deployment);
  const app = await buildRelayerApp({
    contracts,
    wallet,
    limits: config.limits,
    trustProxy: config.trustProxy,
    logger: config.logger,
  });
  const url = await app.listen({ host: config.host ?? "127.0.0.1", port: config.port ?? 0 });
  return {
    app,
    url,
    relayer: wallet.address,
    async close() {
      await app.close();
      provider.destroy();
    },
  };
}

/**
 * The consent relayer: submits the signed messages the ledger accepts (grant, revoke, approve, deny, and
 * through actBySig the patient's settings: policy, delegates, emergency opt-out, nonce cancellation;
 * ISignedConsents) and KeyDirectory's signed messages (key registration, withdrawal, nonce cancellation),
 * from its own funded account, so a patient's pseudonyms never hold ether and no
 * funding flow links them. It checks each message before spending gas, in order of cost:
 *
 *   per-client rate limit (IPv6 by /64) and revert record -> shape (parseSignedConsent) -> chain and
 *   ledger -> at most maxPending in hand -> deadline and grant end at least minSecondsAhead past chain
 *   time -> signature recovers to the named signer -> signer's revert record -> nonce unused
 *   (nonceBitmap) -> nothing in flight for the signer, the consent or the request -> the call succeeds
 *   (eth_estimateGas) -> gas under the per-message cap -> [serial from here, each waiting at most
 *   sendTimeoutMs for its turn] per-signer rate limit -> daily budget -> send
 *
 * The checks before the serial part run concurrently and time out (checkTimeoutMs). Sending, fee bumping
 * and watching what was sent live in gateway/relayer-sender.ts; in-flight sends, revert records and the
 * day's budget in gateway/relayer-store.ts (a SQLite file, so a restart resumes them).
 * Every refusal is `{ error, reason }` with a stable code (GatewayHttpError) and sends nothing. The
 * per-signer limit counts only messages about to be sent (signed, unused, would succeed), so nobody can
 * use up a patient's allowance by naming them or replaying their used messages. The relayer sees every
 * message it relays (which pseudonyms, when, from which IP): see docs/pseudonyms.md for what that means
 * and how to limit it.
 *
 * A Fastify plugin (`relayerPlugin`) any Fastify app can register, and `startRelayer` (npm run relayer)
 * which runs it on its own.
 */
import { isIPv6 } from "node:net";

import Fastify, { type FastifyInstance, type FastifyPluginAsync } from "fastify";
import {
  JsonRpcProvider,
  Network,
  Wallet,
  type Signer,
  type TransactionReceipt,
  type TransactionRequest,
} from "ethers";

import {
  ConsentLedgerError,
  connect,
  decodeRevert,
  isKeyDirectoryKind,
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
import { DEFAULT_FEE_OPTIONS, loggableError, RelayerSender, type FeeOptions } from "./relayer-sender";
import { RelayerStore, type SendRow } from "./relayer-store";

export { loggableError, DEFAULT_FEE_OPTIONS, type FeeOptions } from "./relayer-sender";

export interface RelayerLimits {
  /** Messages sent per signer per minute (token bucket); only messages about to be sent are counted. */
  perSignerPerMinute: number;
  /** Requests per client per minute (token bucket), valid or not; an IPv6 client is its /64. */
  perIpPerMinute: number;
  /** Largest request body, bytes. */
  bodyLimitBytes: number;
  /** Most gas one message may need (eth_estimateGas); above, it is refused. */
  maxGasPerMessage: bigint;
  /** Most gas the relayer reserves per UTC day, all messages together (reverted ones count what they used). */
  dailyGasBudget: bigint;
  /**
   * Percent of dailyGasBudget kept for protective actions, those that only take access away (revoke,
   * deny, cancelling signatures, opting out of emergency access, clearing the policy, removing a
   * delegate): others are refused once the rest is spent, so a patient can still revoke after someone
   * used up the general budget.
   */
  protectiveGasPercent: number;
  /**
   * Most gas one client (an IPv4 address, an IPv6 /64) may have charged per UTC day, counted apart for
   * protective actions and for the rest (each message counts its gas limit).
   */
  perClientDailyGas: bigint;
  /**
   * A message's deadline, and a grant's validUntil, must be at least this many seconds past chain time:
   * one that ends sooner would pass eth_estimateGas now and revert when mined, at the relayer's cost.
   */
  minSecondsAhead: number;
  /** Reverted sends a signer, or a client, may cause per `revertWindowSeconds` before being refused. */
  maxRevertsPerWindow: number;
  /** How long reverts are remembered (and a repeat offender refused), seconds. */
  revertWindowSeconds: number;
  /** Requests being checked or waiting to be sent at once; beyond, 503 Busy. */
  maxPending: number;
  /** Milliseconds the read-only checks of one message may take before it is refused (503 Timeout). */
  checkTimeoutMs: number;
  /**
   * Milliseconds a checked message may wait for its turn to be sent (sends are one at a time) before it
   * is refused, unsent (503 SendTimeout).
   */
  sendTimeoutMs: number;
}

export const DEFAULT_RELAYER_LIMITS: RelayerLimits = {
  perSignerPerMinute: 10,
  perIpPerMinute: 60,
  bodyLimitBytes: 16 * 1024,
  // grantBySig costs about 55-72k gas beyond the 21k base (bench/gas.json); approve somewhat more.
  maxGasPerMessage: 300_000n,
  dailyGasBudget: 50_000_000n,
  protectiveGasPercent: 20,
  // About 30 messages of each class a day per client address.
  perClientDailyGas: 3_000_000n,
  minSecondsAhead: 120,
  maxRevertsPerWindow: 3,
  revertWindowSeconds: 3600,
  maxPending: 64,
  checkTimeoutMs: 15_000,
  sendTimeoutMs: 30_000,
};

export interface RelayerPluginOptions {
  /** The deployment, read through any provider. */
  contracts: LedgerContracts;
  /** The relayer's funded account, connected to the same chain. */
  wallet: Signer;
  limits?: Partial<RelayerLimits>;
  /** Fee bumping: when a sent transaction is replaced, by how much, up to what ceiling. */
  fees?: Partial<FeeOptions>;
  /**
   * Where in-flight sends, revert records and the day's budget live (gateway/relayer-store.ts); the
   * plugin closes it when the app closes. Default: an in-memory store, forgotten on restart.
   */
  store?: RelayerStore;
  /** Wall clock in ms (tests); the budget's day is the UTC day of this clock. */
  now?: () => number;
}

const DAY_MS = 86_400_000;

/**
 * The key the per-client limits use: an IPv4 address as is, an IPv6 address by its /64 (one subscriber
 * usually holds a whole /64, so keying on the full address would give them 2^64 allowances).
 */
export function clientKey(ip: string): string {
  const bare = ip.replace(/%.*$/, "");
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(bare);
  if (mapped) return mapped[1];
  if (!isIPv6(bare)) return bare;
  const [head, tail = ""] = bare.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = bare.includes("::") && tail ? tail.split(":") : [];
  const groups = bare.includes("::") ? [...left, ...Array(8 - left.length - right.length).fill("0"), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((group) => parseInt(group, 16).toString(16))
    .join(":")}::/64`;
}

/**
 * POST /relay/consent (a SignedConsent as JSON), GET /relay (the relayer's account, chain, ledger,
 * limits), GET /relay/tx/:hash (every hash sent for a relayed message, after fee bumps, and which was mined).
 */
export const relayerPlugin: FastifyPluginAsync<RelayerPluginOptions> = async (app, options) => {
  const limits: RelayerLimits = { ...DEFAULT_RELAYER_LIMITS, ...options.limits };
  if (!(limits.protectiveGasPercent >= 0 && limits.protectiveGasPercent <= 100))
    throw new RangeError(`protectiveGasPercent must be between 0 and 100, got ${limits.protectiveGasPercent}`);
  if (limits.perClientDailyGas <= 0n) throw new RangeError("perClientDailyGas must be positive");
  const generalBudget =
    limits.dailyGasBudget - (limits.dailyGasBudget * BigInt(Math.round(limits.protectiveGasPercent * 100))) / 10_000n;
  const { contracts, wallet } = options;
  const now = options.now ?? Date.now;
  const relayer = await wallet.getAddress();
  const ledger = await contracts.ledger.getAddress();
  const keyDirectory = await contracts.keys.getAddress();
  const fees: FeeOptions = { ...DEFAULT_FEE_OPTIONS, ...options.fees };
  const store = options.store ?? RelayerStore.open(":memory:", { relayer, chainId: contracts.chainId, ledger });
  const bySigner = new AccountRateLimiter(limits.perSignerPerMinute);
  const byIp = new AccountRateLimiter(limits.perIpPerMinute);
  // Status lookups are cheap and a waiting client polls them: a looser limit of their own.
  const statusByIp = new AccountRateLimiter(limits.perIpPerMinute * 10);
  // What is in flight, by signer, by (patient, grantee) and by request id: the first hash once sent, ""
  // while checked. Sends the store holds from before a restart hold their keys again.
  const inFlight = new Map<string, string>();
  for (const row of store.sends()) for (const key of row.keys) inFlight.set(key, row.firstHash);
  let pending = 0;
  // Only nonce assignment and sending are serial: the account's nonces stay in order.
  let sendQueue: Promise<unknown> = Promise.resolve();

  // The UTC day's gas charged, kept in the store so a restart does not refill the budget.
  const spentToday = () => {
    const day = Math.floor(now() / DAY_MS);
    return { day, spent: store.budget(day) };
  };
  const charge = (day: number, gas: bigint) => {
    if (day === Math.floor(now() / DAY_MS)) store.setBudget(day, store.budget(day) + gas);
  };

  // Reverted sends, by "signer:" and "ip:" key, within the window (in the store: a restart keeps them).
  const revertsOf = (key: string) => {
    const held = store.reverts(key);
    if (held && now() - held.since >= limits.revertWindowSeconds * 1000) {
      store.setReverts(key, undefined);
      return undefined;
    }
    return held;
  };
  const refuseOffender = (key: string, who: string) => {
    const held = revertsOf(key);
    if (held && held.count >= limits.maxRevertsPerWindow) {
      const seconds = Math.max(1, Math.ceil((held.since + limits.revertWindowSeconds * 1000 - now()) / 1000));
      throw new GatewayHttpError(
        429,
        "TooManyReverts",
        `${held.count} messages from ${who} reverted when mined, at this relayer's cost; refused for ${seconds} s.`,
        { "retry-after": String(seconds) },
      );
    }
  };
  const countRevert = (key: string) => {
    const held = revertsOf(key);
    store.setReverts(key, held ? { ...held, count: held.count + 1 } : { count: 1, since: now() });
  };

  /**
   * Whether a reverted send is its signer's fault. Not when the message's nonce is used as of the block
   * that mined it (the revert undid the relayer's own use, so another transaction used it: a mempool
   * watcher that copied the call and landed it first, and the action happened), and not when the deadline
   * passed while the relayer held the send back (fee bumps, or waiting at the fee ceiling).
   */
  const signerToBlame = async (row: SendRow, receipt: TransactionReceipt): Promise<boolean> => {
    const message = row.message;
    // A send recorded before the store kept its message: as before, the signer is held to it.
    if (!message) return true;
    const nonces = message.target === "keys" ? contracts.keys : contracts.ledger;
    const nonce = BigInt(message.nonce);
    const bitmap: bigint = await nonces.nonceBitmap(row.signer, nonce >> 8n, { blockTag: receipt.blockNumber });
    if ((bitmap >> (nonce & 0xffn)) & 1n) return false;
    if (row.delayed) {
      const block = await contracts.provider.getBlock(receipt.blockNumber);
      if (block && block.timestamp > message.deadline) return false;
    }
    return true;
  };

  const sender = new RelayerSender({
    provider: contracts.provider,
    wallet,
    store,
    fees,
    log: app.log,
    now,
    // Gives back what the transaction did not use (a reverted one keeps what it used) and frees its keys;
    // a revert the signer is to blame for counts against its signer and client. Its nonce used by another
    // transaction: stays charged.
    async onSettled(row, receipt) {
      if (receipt) charge(row.day, receipt.gasUsed - row.gasLimit);
      for (const key of row.keys) if (inFlight.get(key) === row.firstHash) inFlight.delete(key);
      if (!receipt || receipt.status === 1) return;
      const blame = await signerToBlame(row, receipt).catch((error: unknown) => {
        app.log.warn(
          { hash: receipt.hash, err: loggableError(error) },
          "could not tell why a relayed transaction reverted",
        );
        return false;
      });
      if (blame) {
        countRevert(`signer:${row.signer}`);
        countRevert(`ip:${row.client}`);
      }
      app.log.warn(
        { hash: receipt.hash, gasUsed: receipt.gasUsed.toString(), counted: blame },
        "relayed transaction reverted",
      );
    },
  });
  sender.start();
  app.addHook("onClose", async () => {
    await sender.close();
    if (!options.store) store.close();
  });

  /** Reserves every key, or refuses: one message at a time per signer and per consent or request. */
  const reserve = async (keys: string[]) => {
    // A key held by a transaction already mined is free: the relayer's own watch may not have seen it yet.
    await Promise.all(
      keys.map(async (key) => {
        const hash = inFlight.get(key);
        if (hash && (await sender.settledNow(hash)) && inFlight.get(key) === hash) inFlight.delete(key);
      }),
    );
    const busy = keys.find((key) => inFlight.has(key));
    if (busy !== undefined)
      throw conflict(
        "InFlight",
        `Another message for ${busy.slice(busy.indexOf(":") + 1)} is being relayed and not yet mined; wait for it, then send again.`,
      );
    for (const key of keys) inFlight.set(key, "");
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
    // ethers errors carry the call's data (signer, patient, grantee): only name, code and short message are logged.
    request.log.error({ err: loggableError(error) }, "relay failed");
    return reply.status(502).send({
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
      perClientDailyGas: limits.perClientDailyGas.toString(),
    },
    fees: {
      ...fees,
      maxFeePerGasCeiling: fees.maxFeePerGasCeiling.toString(),
    },
    gasLeftToday: (limits.dailyGasBudget - spentToday().spent).toString(),
    // What other than protective actions may still use today.
    generalGasLeftToday: (generalBudget > spentToday().spent ? generalBudget - spentToday().spent : 0n).toString(),
  }));

  app.get<{ Params: { hash: string } }>("/relay/tx/:hash", async (request) => {
    const allowed = statusByIp.take(clientKey(request.ip));
    if (!allowed.allowed)
      throw rateLimited(
        `Too many status requests from this address; at most ${limits.perIpPerMinute * 10} a minute.`,
        allowed.retryAfterSeconds,
      );
    const { hash } = request.params;
    if (!/^0x[0-9a-fA-F]{64}$/.test(hash)) throw badRequest("Not a transaction hash.");
    const status = sender.status(hash);
    if (!status)
      throw new GatewayHttpError(
        404,
        "UnknownTransaction",
        `This relayer holds no transaction ${hash} (or forgot it: a day after it settled).`,
      );
    return status;
  });

  app.post("/relay/consent", { bodyLimit: limits.bodyLimitBytes }, async (request, reply) => {
    const address = clientKey(request.ip);
    const ip = byIp.take(address);
    // The store keeps a keyed hash of the client, never its address.
    const client = store.clientTag(address);
    if (!ip.allowed)
      throw rateLimited(
        `Too many requests from this address; at most ${limits.perIpPerMinute} a minute.`,
        ip.retryAfterSeconds,
      );
    refuseOffender(`ip:${client}`, "this address");

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
    if (isKeyDirectoryKind(signed.kind) && signed.keyDirectory !== keyDirectory)
      throw new GatewayHttpError(
        400,
        "WrongKeyDirectory",
        `Signed for KeyDirectory ${signed.keyDirectory}; this relayer submits to ${keyDirectory}.`,
      );
    if (pending >= limits.maxPending)
      throw new GatewayHttpError(
        503,
        "Busy",
        `The relayer has ${pending} messages in hand, its most; nothing was sent. Try again in a few seconds.`,
        { "retry-after": "5" },
      );
    pending += 1;
    try {
      return reply.status(202).send(await relay(signed, client));
    } finally {
      pending -= 1;
    }
  });

  async function relay(signed: SignedConsent, client: string) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(unavailable("Timeout", "The relayer's checks of this message took too long; try again later.")),
        limits.checkTimeoutMs,
      );
    });
    let keys: string[] = [];
    const release = () => {
      for (const key of keys) if (inFlight.get(key) === "") inFlight.delete(key);
    };
    const checking = check(signed, (reserved) => (keys = reserved));
    let checked: Awaited<ReturnType<typeof check>>;
    try {
      checked = await Promise.race([checking, timeout]);
    } catch (error) {
      release();
      // Timed out: the checks may still reserve the keys when they finish; free them then too.
      checking.then(release, release);
      throw error;
    } finally {
      clearTimeout(timer);
    }
    // Waiting for its turn is bounded; once its turn came it is sent (or refused by the node) whatever the time.
    let turn = false;
    let abandoned = false;
    const run = sendQueue.then(() => {
      if (abandoned) throw new Error("abandoned");
      turn = true;
      return send(signed, client, keys, checked);
    });
    sendQueue = run.catch(() => undefined);
    let queueTimer: NodeJS.Timeout | undefined;
    const waited = new Promise<never>((_, reject) => {
      queueTimer = setTimeout(() => {
        if (turn) return;
        abandoned = true;
        const seconds = Math.max(1, Math.ceil(limits.sendTimeoutMs / 1000));
        reject(
          new GatewayHttpError(
            503,
            "SendTimeout",
            `The message waited ${limits.sendTimeoutMs} ms for its turn to be sent (the node is slow or the relayer busy); it was not sent. Try again later.`,
            { "retry-after": String(seconds) },
          ),
        );
      }, limits.sendTimeoutMs);
    });
    try {
      return await Promise.race([run, waited]);
    } catch (error) {
      release();
      throw error;
    } finally {
      clearTimeout(queueTimer);
    }
  }

  /** The read-only checks, run concurrently with other messages' checks. */
  async function check(signed: SignedConsent, reserved: (keys: string[]) => void) {
    const latest = await contracts.provider.getBlock("latest");
    const chainTime = latest?.timestamp ?? Math.floor(now() / 1000);
    // The ledger refuses when block.timestamp > deadline; the next block is at least a second later.
    if (signed.deadline <= chainTime)
      throw unprocessable(
        "SignatureExpired",
        `The signature's deadline ${signed.deadline} has passed (chain time ${chainTime}). Sign again.`,
      );
    if (signed.deadline < chainTime + limits.minSecondsAhead)
      throw unprocessable(
        "DeadlineTooSoon",
        `The signature's deadline ${signed.deadline} is less than ${limits.minSecondsAhead} s after chain time ${chainTime}: ` +
          "it could pass when checked and fail when mined. Sign again with a later deadline.",
      );
    if (signed.grant && signed.grant.validUntil < chainTime + limits.minSecondsAhead)
      throw unprocessable(
        "ValidityTooShort",
        `The consent ends at ${signed.grant.validUntil}, less than ${limits.minSecondsAhead} s after chain time ${chainTime}: ` +
          "it could pass when checked and fail when mined.",
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
    refuseOffender(`signer:${signed.signer}`, signed.signer);

    const nonce = BigInt(signed.nonce);
    const patient = signed.patient ?? signed.request?.terms.patient ?? signed.signer;
    const signerKey = `signer:${signed.signer}`;
    // The patient's settings and a key registration touch only the signer's own account: its key suffices.
    const others: string[] = [];
    if (requestId !== undefined) others.push(`request:${requestId}`);
    else if (signed.kind === "grant" || signed.kind === "revoke")
      others.push(`consent:${patient}->${signed.grant?.grantee ?? signed.grantee ?? ""}`);
    // KeyDirectory's messages spend a nonce of its bitmap, every other message one of the ledger's.
    const nonces = isKeyDirectoryKind(signed.kind) ? contracts.keys : contracts.ledger;
    const [bitmap, transaction] = await Promise.all([
      nonces.nonceBitmap(signed.signer, nonce >> 8n),
      populateSignedConsent(contracts, signed),
    ]);
    if ((bitmap >> (nonce & 0xffn)) & 1n)
      throw conflict(
        "NonceAlreadyUsed",
        `Nonce ${nonce} of ${signed.signer} is used or cancelled; sign again with a fresh one.`,
      );
    // After the nonce check: replaying a used message must not hold the signer's slot. Only the signer's
    // slot before the estimate: a message naming someone else's consent or request (anyone can sign one
    // with a fresh key) must not hold theirs while the node judges it.
    await reserve([signerKey]);
    reserved([signerKey]);
    let estimate: bigint;
    try {
      // Capped: an ERC-1271 signer's isValidSignature could otherwise burn the node's gas cap per call.
      estimate = await contracts.provider.estimateGas({
        ...transaction,
        from: relayer,
        gasLimit: limits.maxGasPerMessage,
      });
    } catch (error) {
      const revert = decodeRevert(error);
      // The ledger refuses with custom errors: a failure with no revert data ran out of the capped gas
      // (or is a contract signer reverting without a reason).
      if (!revert && (error as { code?: unknown })?.code === "CALL_EXCEPTION")
        throw unprocessable(
          "GasLimitExceeded",
          `The message fails within ${limits.maxGasPerMessage} gas, the most this relayer pays per message ` +
            "(it needs more, or reverts without a reason).",
        );
      throw unprocessable(
        "WouldRevert",
        revert
          ? `The ledger would refuse it: ${revert.name}(${revert.args.map(String).join(", ")}).`
          : "The ledger would refuse it (the call reverts).",
      );
    }
    const keys = [signerKey, ...others];
    await reserve(others);
    reserved(keys);
    if (estimate > limits.maxGasPerMessage)
      throw unprocessable(
        "GasLimitExceeded",
        `The message needs ${estimate} gas; this relayer pays at most ${limits.maxGasPerMessage} per message.`,
      );
    const gasLimit =
      estimate + estimate / 5n < limits.maxGasPerMessage ? estimate + estimate / 5n : limits.maxGasPerMessage;
    return { transaction, gasLimit };
  }

  /** Charges the signer and the day's budget, then sends (gateway/relayer-sender.ts): one message at a time. */
  async function send(
    signed: SignedConsent,
    client: string,
    keys: string[],
    { transaction, gasLimit }: { transaction: TransactionRequest; gasLimit: bigint },
  ) {
    // Charged only for a message about to be sent: a replay of a used message, or a contract signer's
    // message that fails the ledger's check, must not use up the signer's allowance.
    const signerBudget = bySigner.take(signed.signer);
    if (!signerBudget.allowed)
      throw rateLimited(
        `Too many messages from ${signed.signer}; at most ${limits.perSignerPerMinute} a minute.`,
        signerBudget.retryAfterSeconds,
      );
    const today = spentToday();
    const protective = isProtective(signed);
    const clientGasKey = `${protective ? "protective" : "general"}:${client}`;
    const clientSpent = store.clientGas(clientGasKey, today.day);
    if (clientSpent + gasLimit > limits.perClientDailyGas) {
      const seconds = Math.max(1, Math.ceil(((today.day + 1) * DAY_MS - now()) / 1000));
      throw new GatewayHttpError(
        429,
        "ClientGasQuotaExhausted",
        `This address has used its gas for today (${clientSpent} of ${limits.perClientDailyGas}` +
          `${protective ? " for protective actions" : ""}). Try again tomorrow (UTC).`,
        { "retry-after": String(seconds) },
      );
    }
    const ceiling = protective ? limits.dailyGasBudget : generalBudget;
    if (today.spent + gasLimit > ceiling)
      throw unavailable(
        "DailyGasBudgetExhausted",
        protective
          ? `The relayer's gas budget for today is spent (${today.spent} of ${limits.dailyGasBudget}). Try again tomorrow (UTC).`
          : `The relayer's gas budget for today is spent (${today.spent} of ${limits.dailyGasBudget}, of which ` +
              `${limits.dailyGasBudget - generalBudget} is kept for revoking, denying and other actions that take access away). Try again tomorrow (UTC).`,
      );
    store.chargeClientGas(clientGasKey, today.day, gasLimit);
    // Charged before the send is recorded: a crash in between over-counts, never under-counts.
    charge(today.day, gasLimit);
    let hash: string;
    try {
      ({ hash } = await sender.send(transaction, gasLimit, {
        signer: signed.signer,
        client,
        keys,
        day: today.day,
        message: {
          nonce: BigInt(signed.nonce).toString(),
          target: isKeyDirectoryKind(signed.kind) ? "keys" : "ledger",
          deadline: signed.deadline,
        },
      }));
    } catch (error) {
      charge(today.day, -gasLimit);
      store.chargeClientGas(clientGasKey, today.day, -gasLimit);
      throw error;
    }
    for (const key of keys) inFlight.set(key, hash);
    return { transactionHash: hash, relayer, gasLimit: gasLimit.toString() };
  }
};

/**
 * Whether a message only takes access away (or cancels a signature): these may use the share of the daily
 * budget kept for them. Opting out of emergency access is protective, opting back in is not.
 */
export function isProtective(signed: SignedConsent): boolean {
  switch (signed.kind) {
    case "revoke":
    case "deny":
    case "invalidateNonces":
    case "clearPolicy":
    case "removeDelegate":
      return true;
    case "setEmergencyOptOut":
      return signed.fields?.optedOut === true;
    default:
      return false;
  }
}

export interface RelayerConfig {
  rpcUrl: string;
  /** The relayer account's private key (it pays the gas: fund it, and only it). */
  privateKey: string;
  /** The deployment (chainId, ledger, ...), as scripts/deploy.ts writes it. */
  deployment: unknown;
  host?: string;
  port?: number;
  limits?: Partial<RelayerLimits>;
  /**
   * Behind reverse proxies, for the per-client limit: the number of proxy hops in front of the relayer,
   * or the proxies' addresses (or CIDR ranges). The client is then the address the outermost trusted
   * proxy saw; entries of X-Forwarded-For beyond it, which the client itself can write, are ignored.
   * Default: trust none (the TCP peer is the client).
   */
  trustProxy?: TrustProxy;
  /** Milliseconds a client has to send its whole request (slow senders are cut off); default 10 s. */
  requestTimeoutMs?: number;
  /** Fee bumping (DEFAULT_FEE_OPTIONS for what is not given). */
  fees?: Partial<FeeOptions>;
  /**
   * The relayer's store file (SQLite; created if missing): in-flight sends, revert records and the day's
   * budget survive a restart. One file per account, chain and ledger. Default ":memory:" (lost on exit).
   */
  storePath?: string;
  /** Fastify's logger: true, false, or pino options (a `stream` to capture it). */
  logger?: RelayerLogger;
}

/** Fastify's logger setting: on, off, or pino options. */
export type RelayerLogger = boolean | { level?: string; stream?: { write(line: string): void } };

export interface RunningRelayer {
  app: FastifyInstance;
  url: string;
  relayer: string;
  close(): Promise<void>;
}

/** Which proxies to believe about the client's address: a hop count, or their addresses or CIDR ranges. */
export type TrustProxy = number | readonly string[];

function trustProxyOption(
  trust: TrustProxy | undefined,
): ((address: string, hop: number) => boolean) | string[] | false {
  if (trust === undefined) return false;
  if (typeof trust === "number") {
    if (!Number.isSafeInteger(trust) || trust < 0)
      throw new RangeError(`trustProxy must be a whole number of proxy hops, got ${trust}`);
    // Hop 0 is the TCP peer: it and the `trust` - 1 addresses it reports are proxies.
    return trust === 0 ? false : (_address: string, hop: number) => hop < trust;
  }
  if (!Array.isArray(trust) || trust.some((entry) => typeof entry !== "string" || entry.length === 0))
    // `true` would believe every X-Forwarded-For entry, which the client writes itself.
    throw new TypeError("trustProxy must be a number of proxy hops or a list of proxy addresses, not true");
  return [...trust];
}

/**
 * The logger with a request serializer that writes the route pattern (`/relay/tx/:hash`), never the raw
 * URL: a status lookup's URL holds the relayed transaction's hash, which next to the client's address
 * would tie that address to the pseudonym the transaction names.
 */
function relayerLogger(logger: RelayerLogger | undefined) {
  if (!logger) return false;
  const serializers = {
    req: (request: { method?: string; routeOptions?: { url?: string }; ip?: string }) => ({
      method: request.method,
      url: request.routeOptions?.url ?? "(no route)",
      remoteAddress: request.ip,
    }),
  };
  return { ...(logger === true ? {} : logger), serializers };
}

/** A Fastify app serving only the relayer (request logs carry no bodies, and no URLs: see relayerLogger). */
export async function buildRelayerApp(
  options: RelayerPluginOptions & { trustProxy?: TrustProxy; requestTimeoutMs?: number; logger?: RelayerLogger },
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: relayerLogger(options.logger),
    trustProxy: trustProxyOption(options.trustProxy),
    requestTimeout: options.requestTimeoutMs ?? 10_000,
  });
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
  const store = RelayerStore.open(config.storePath ?? ":memory:", {
    relayer: wallet.address,
    chainId: contracts.chainId,
    ledger: await contracts.ledger.getAddress(),
  });
  let app: FastifyInstance;
  try {
    app = await buildRelayerApp({
      contracts,
      wallet,
      store,
      fees: config.fees,
      limits: config.limits,
      trustProxy: config.trustProxy,
      requestTimeoutMs: config.requestTimeoutMs,
      logger: config.logger,
    });
  } catch (error) {
    store.close();
    provider.destroy();
    throw error;
  }
  const url = await app.listen({ host: config.host ?? "127.0.0.1", port: config.port ?? 0 });
  return {
    app,
    url,
    relayer: wallet.address,
    async close() {
      await app.close();
      store.close();
      provider.destroy();
    },
  };
}

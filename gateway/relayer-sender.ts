/**
 * The relayer's sending layer: assigns the account's nonces, signs and broadcasts, and watches every
 * transaction it sent until the chain settles it, replacing one that is not mined within `bumpAfterMs`
 * (fees rose past it, or the node dropped it) by the same transaction at the same nonce with both fees
 * raised by `feeBumpPercent` (nodes require at least 10% to replace), never past `maxFeePerGasCeiling`.
 *
 * Every send is written to the store (gateway/relayer-store.ts) before it is broadcast, and every
 * replacement before it is broadcast, so after a crash or restart the watch resumes where it was and a
 * nonce that may be on the wire is never given to another message.
 *
 * Settled = one of its hashes mined (successful or reverted), or its nonce used by a transaction the
 * relayer did not send (another process with the same key). `onSettled` then frees what the message held.
 * Logs carry hashes, nonces and fees only, never calldata or signed bytes (`loggableError`).
 */
import { Transaction, type Provider, type Signer, type TransactionReceipt, type TransactionRequest } from "ethers";

import { GatewayHttpError } from "./http-error";
import type { RelayerStore, SendRow } from "./relayer-store";

export interface FeeOptions {
  /** Milliseconds a sent transaction may stay unmined before it is replaced with higher fees. */
  bumpAfterMs: number;
  /** How much each replacement raises both maxFeePerGas and maxPriorityFeePerGas, percent (at least 10). */
  feeBumpPercent: number;
  /** The most maxFeePerGas the relayer ever offers, wei: its cost per message is at most gas limit x this. */
  maxFeePerGasCeiling: bigint;
  /** Milliseconds between two looks at the transactions in flight. */
  watchIntervalMs: number;
  /** Milliseconds the node has to acknowledge a broadcast; after it the relayer keeps the send and retries. */
  broadcastTimeoutMs: number;
}

export const DEFAULT_FEE_OPTIONS: FeeOptions = {
  bumpAfterMs: 60_000,
  feeBumpPercent: 12.5,
  maxFeePerGasCeiling: 500_000_000_000n, // 500 gwei
  watchIntervalMs: 2_000,
  broadcastTimeoutMs: 10_000,
};

/** A logger with pino's shape (Fastify's). */
export interface SenderLog {
  info(object: Record<string, unknown>, message: string): void;
  warn(object: Record<string, unknown>, message: string): void;
}

/** What may be logged of an error: its name, code and short message, never ethers' transaction or call data. */
export function loggableError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: typeof error };
  const { shortMessage, code } = error as { shortMessage?: unknown; code?: unknown };
  const message = typeof shortMessage === "string" ? shortMessage : error.message.split(" (")[0];
  // A node's own message may quote the transaction: no hex longer than a hash survives.
  const scrubbed = message.replace(/0x[0-9a-fA-F]{65,}/g, "0x…").slice(0, 200);
  return { name: error.name, code: typeof code === "string" ? code : undefined, message: scrubbed };
}

/** What a client may learn of a send: its hashes (public: same account, same nonce) and what became of it. */
export interface SendStatus {
  state: "pending" | "mined" | "reverted" | "superseded";
  /** Every hash sent for it, the first (the one the client was given) first. */
  hashes: string[];
  /** The hash that was mined, once one was. */
  minedHash: string | null;
}

export interface SenderOptions {
  provider: Provider;
  wallet: Signer;
  store: RelayerStore;
  fees: FeeOptions;
  log: SenderLog;
  now: () => number;
  /**
   * Called once per send when the chain settles it: the receipt if one of its hashes was mined. The send
   * is marked settled once what it returns resolves (so a status lookup sees it settled only after).
   */
  onSettled: (row: SendRow, receipt: TransactionReceipt | null) => void | Promise<void>;
}

export class RelayerSender {
  private nonce: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private closed = false;
  private readonly bump: bigint;

  constructor(private readonly options: SenderOptions) {
    const percent = options.fees.feeBumpPercent;
    if (!(percent >= 10) || !Number.isFinite(percent))
      throw new RangeError(`feeBumpPercent must be at least 10 (nodes refuse smaller replacements), got ${percent}`);
    if (options.fees.maxFeePerGasCeiling <= 0n) throw new RangeError("maxFeePerGasCeiling must be positive");
    this.bump = BigInt(Math.round(percent * 100));
  }

  /** Starts watching (resuming whatever the store holds in flight). */
  start(): void {
    const loop = () => {
      if (this.closed) return;
      this.timer = setTimeout(() => {
        this.ticking = this.tick().finally(loop);
      }, this.options.fees.watchIntervalMs);
      // The watch alone does not keep a process alive (the HTTP server does, until closed).
      this.timer.unref();
    };
    loop();
  }

  /** Stops watching; what is in flight stays in the store for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.ticking?.catch(() => undefined);
  }

  /** The sends not yet settled (the store's rows). */
  inFlight(): SendRow[] {
    return this.options.store.sends();
  }

  status(hash: string): SendStatus | undefined {
    const held = this.options.store.status(hash);
    if (!held) return undefined;
    return {
      state: held.nonce !== undefined ? "pending" : held.outcome,
      hashes: held.hashes,
      minedHash: held.finalHash,
    };
  }

  /** Whether the send first named `firstHash` is settled, asking the chain if the watch has not seen it yet. */
  async settledNow(firstHash: string): Promise<boolean> {
    const held = this.options.store.status(firstHash);
    if (!held) return true;
    if (held.nonce === undefined) return true;
    for (const hash of held.hashes) if (await this.receiptNow(hash)) return true;
    return false;
  }

  /**
   * Fees for a new send: the node's suggestion, with maxFeePerGas capped at the ceiling. Refuses (503
   * FeeCeiling, nothing sent) when the base fee alone is above the ceiling: the transaction could not be mined.
   */
  private async initialFees(): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
    const { provider, fees } = this.options;
    const [data, block] = await Promise.all([provider.getFeeData(), provider.getBlock("latest")]);
    const baseFee = block?.baseFeePerGas;
    if (baseFee === null || baseFee === undefined || data.maxFeePerGas === null)
      throw new Error(
        "The chain does not report EIP-1559 fees (no base fee): this relayer sends type-2 transactions only",
      );
    if (baseFee >= fees.maxFeePerGasCeiling)
      throw new GatewayHttpError(
        503,
        "FeeCeiling",
        `The chain's base fee (${baseFee} wei) is at or above this relayer's fee ceiling (${fees.maxFeePerGasCeiling} wei); nothing was sent. Try again later.`,
        { "retry-after": "60" },
      );
    let maxFeePerGas = data.maxFeePerGas;
    if (maxFeePerGas > fees.maxFeePerGasCeiling) maxFeePerGas = fees.maxFeePerGasCeiling;
    let maxPriorityFeePerGas = data.maxPriorityFeePerGas ?? 1_000_000_000n;
    if (maxPriorityFeePerGas > maxFeePerGas - baseFee) maxPriorityFeePerGas = maxFeePerGas - baseFee;
    return { maxFeePerGas, maxPriorityFeePerGas };
  }

  /**
   * Signs `transaction` at the account's next nonce, records it, then broadcasts it. Resolves with its
   * hash once the node took it, or once the broadcast timed out (the watch broadcasts it again). A node
   * that refuses it outright (and does not know it) frees the nonce, and the error is thrown.
   */
  async send(
    transaction: TransactionRequest,
    gasLimit: bigint,
    holder: Pick<SendRow, "signer" | "client" | "keys" | "day" | "message">,
  ): Promise<{ hash: string; nonce: number }> {
    const { provider, wallet, store, now } = this.options;
    const fees = await this.initialFees();
    if (this.nonce === undefined) {
      // Never below a nonce the store holds: the node may have dropped it, the watch will send it again.
      const [pending, held] = [await wallet.getNonce("pending"), store.highestNonce()];
      this.nonce = held === undefined || pending > held ? pending : held + 1;
    }
    const nonce = this.nonce;
    const request = await wallet.populateTransaction({
      to: transaction.to,
      data: transaction.data,
      value: transaction.value ?? 0n,
      gasLimit,
      nonce,
      type: 2,
      ...fees,
    });
    const raw = await wallet.signTransaction(request);
    const hash = Transaction.from(raw).hash as string;
    store.addSend({
      nonce,
      firstHash: hash,
      hashes: [hash],
      rawTx: raw,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
      gasLimit,
      attempts: 1,
      lastSentAt: now(),
      ...holder,
    });
    this.nonce = nonce + 1;
    const sent = await this.broadcast(raw);
    if (sent.state === "refused") {
      // The node does not have it: the nonce was not used. Unless the node took it after all.
      const known = await provider.getTransaction(hash).catch(() => undefined);
      if (known === null) {
        store.dropSend(nonce);
        this.nonce = undefined;
        throw sent.error;
      }
    }
    return { hash, nonce };
  }

  /** Broadcasts signed bytes, bounded in time: "sent", "timeout" (may or may not have arrived), or "refused". */
  // The error is returned, not kept on the instance: send() and the watch's replace() broadcast concurrently.
  private async broadcast(raw: string): Promise<{ state: "sent" | "timeout" } | { state: "refused"; error: unknown }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<{ state: "timeout" }>((resolve) => {
      timer = setTimeout(() => resolve({ state: "timeout" }), this.options.fees.broadcastTimeoutMs);
    });
    try {
      return await Promise.race([
        this.options.provider.broadcastTransaction(raw).then(() => ({ state: "sent" as const })),
        timeout,
      ]);
    } catch (error) {
      return { state: "refused", error };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Straight from the node (ethers keeps an identical request's answer for 250 ms). */
  private async receiptNow(hash: string): Promise<TransactionReceipt | null> {
    const provider = this.options.provider as Provider & {
      send?: (method: string, params: unknown[]) => Promise<unknown>;
    };
    if (typeof provider.send === "function" && (await provider.send("eth_getTransactionReceipt", [hash])) === null)
      return null;
    return provider.getTransactionReceipt(hash);
  }

  private async minedOf(row: SendRow): Promise<TransactionReceipt | null> {
    for (const hash of [...row.hashes].reverse()) {
      const receipt = await this.receiptNow(hash);
      if (receipt) return receipt;
    }
    return null;
  }

  /** One look at every send in flight: settle, replace or broadcast again. */
  async tick(): Promise<void> {
    const { store, provider, wallet, log, now } = this.options;
    if (!store.open) return;
    store.pruneSettled(now() - 86_400_000);
    const rows = store.sends();
    if (rows.length === 0) return;
    let used: number | undefined;
    for (const row of rows) {
      if (this.closed) return;
      try {
        const receipt = await this.minedOf(row);
        if (receipt) {
          await this.settle(row, receipt);
          continue;
        }
        used ??= await provider.getTransactionCount(await wallet.getAddress(), "latest");
        if (used > row.nonce) {
          // Mined between the two reads, or used by a transaction this relayer did not send.
          const late = await this.minedOf(row);
          if (late) await this.settle(row, late);
          else {
            log.warn(
              { nonce: row.nonce, hashes: row.hashes },
              "relayed transaction's nonce used by another transaction",
            );
            await this.options.onSettled(row, null);
            store.settleSend(row.nonce, null, "superseded", now());
          }
          continue;
        }
        if (now() - row.lastSentAt >= this.options.fees.bumpAfterMs) await this.replace(row);
      } catch (error) {
        log.warn({ nonce: row.nonce, err: loggableError(error) }, "could not check a relayed transaction");
      }
    }
  }

  private async settle(row: SendRow, receipt: TransactionReceipt): Promise<void> {
    const { store, log, now } = this.options;
    await this.options.onSettled(row, receipt);
    store.settleSend(row.nonce, receipt.hash, receipt.status === 1 ? "mined" : "reverted", now());
    if (row.hashes.length > 1)
      log.info(
        { nonce: row.nonce, hash: receipt.hash, replaced: row.hashes.length - 1 },
        "relayed transaction mined after fee bumps",
      );
  }

  private raise(value: bigint): bigint {
    return value + (value * this.bump + 9_999n) / 10_000n;
  }

  /**
   * Replaces a transaction not mined in time: same nonce, same call, both fees raised by at least the
   * bump (and to at least what the node now suggests), capped at the ceiling. At the ceiling it cannot be
   * replaced: the same bytes are broadcast again (in case the node dropped them) and it waits.
   */
  private async replace(row: SendRow): Promise<void> {
    const { provider, wallet, store, fees, log, now } = this.options;
    const [data, block] = await Promise.all([provider.getFeeData(), provider.getBlock("latest")]);
    const baseFee = block?.baseFeePerGas ?? 0n;
    const minPriority = this.raise(row.maxPriorityFeePerGas);
    const minMax = this.raise(row.maxFeePerGas);
    const suggested = data.maxPriorityFeePerGas ?? 0n;
    let priority = suggested > minPriority ? suggested : minPriority;
    let maxFee = baseFee * 2n + priority > minMax ? baseFee * 2n + priority : minMax;
    if (maxFee > fees.maxFeePerGasCeiling) maxFee = fees.maxFeePerGasCeiling;
    if (priority > maxFee) priority = maxFee;
    if (maxFee < minMax || priority < minPriority) {
      log.warn(
        { nonce: row.nonce, hash: row.hashes[row.hashes.length - 1], maxFeePerGas: row.maxFeePerGas.toString() },
        "relayed transaction not mined and its fees are at the ceiling; broadcasting it again unchanged",
      );
      store.touchSend(row.nonce, now());
      const again = await this.broadcast(row.rawTx);
      if (again.state === "refused")
        log.warn({ nonce: row.nonce, err: loggableError(again.error) }, "broadcast again failed");
      return;
    }
    const previous = Transaction.from(row.rawTx);
    const raw = await wallet.signTransaction({
      type: 2,
      chainId: previous.chainId,
      nonce: previous.nonce,
      to: previous.to,
      data: previous.data,
      value: previous.value,
      gasLimit: previous.gasLimit,
      accessList: previous.accessList ?? [],
      maxFeePerGas: maxFee,
      maxPriorityFeePerGas: priority,
    });
    const hash = Transaction.from(raw).hash as string;
    store.replaceSend(row.nonce, { hash, rawTx: raw, maxFeePerGas: maxFee, maxPriorityFeePerGas: priority, at: now() });
    log.info(
      {
        nonce: row.nonce,
        replaces: row.hashes[row.hashes.length - 1],
        hash,
        maxFeePerGas: maxFee.toString(),
        maxPriorityFeePerGas: priority.toString(),
      },
      "relayed transaction not mined in time; replaced with higher fees",
    );
    const sent = await this.broadcast(raw);
    if (sent.state === "refused")
      log.warn({ nonce: row.nonce, hash, err: loggableError(sent.error) }, "replacement refused by the node");
  }
}

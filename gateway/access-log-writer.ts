/**
 * Puts the release journal on chain through AccessLog, exactly once per release, across crashes.
 *
 * Releases wait in the journal (store.ts) until `batchSize` of them are pending or the oldest has waited
 * `intervalMs`. Then they form one log batch, in one SQLite transaction: a single release is logged with
 * logRelease(recordId, grantee, purpose, basis); several with logReleaseBatch(root, count, utf8(cid)) of
 * their Merkle tree, whose manifest goes to the blob store (served at /manifests/:cid) first.
 *
 * A batch's transaction is signed locally and recorded (hash, nonce, raw bytes, latest block) before it
 * is broadcast. So after a crash at any point, a batch is in one of three states:
 *   - pending: never broadcast: sign and send it;
 *   - sent: maybe broadcast. Reconcile before anything else: read the account's nonce, then the receipt.
 *     A receipt settles it (success: logged; revert: back to pending). No receipt, nonce not yet used: if
 *     the node holds the transaction, wait; else broadcast the very same signed bytes again (one nonce:
 *     it can be mined once at most). No receipt and the nonce used by another transaction: look for the
 *     batch's event (KeyReleaseBatchLogged by its indexed root, or KeyReleased(recordId, grantee,
 *     custodian) with its purpose and basis, after the block recorded, in a transaction no other batch
 *     claims), for a node that lost the receipt; found: logged; not found: it can never be mined, so sign
 *     it afresh;
 *   - logged: done.
 * On a chain that can reorganise (`confirmations` n > 0), a receipt or event counts only once n blocks
 * follow it; a transaction dropped before that is handled as above.
 * Batches go out one at a time, in order; a failing one is retried with exponential backoff (up to a
 * minute) and never dropped, and the releases behind it wait in the journal.
 */
import { Transaction, toUtf8Bytes, type Provider, type Signer, type TransactionReceipt } from "ethers";

import { type BlobStore, cidOf, type LedgerContracts } from "../sdk/index";
import { buildReleaseBatch } from "./release-batch";
import type { GatewayStore, LogBatchRow } from "./store";

/** The points at which a test may have the process kill itself (CONSENT_GATEWAY_FAULT): crash testing only. */
export const FAULT_POINTS = ["after-batch-formed", "after-sent-persisted", "after-broadcast", "after-logged"] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export interface WriterLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface AccessLogWriterOptions {
  store: GatewayStore;
  contracts: LedgerContracts;
  /** The custodian's signer: it signs transactions locally (a Wallet). */
  signer: Signer;
  custodian: string;
  blobs: BlobStore;
  batchSize: number;
  intervalMs: number;
  /** Most releases in one batch (default 500). */
  maxBatchSize?: number;
  /** How long to wait for a receipt before leaving the batch to the next reconciliation (default 60 s). */
  receiptTimeoutMs?: number;
  /** Receipt polling interval (default 200 ms). */
  pollIntervalMs?: number;
  /**
   * Blocks that must follow a log transaction's before its batch counts as logged (default 0). Until
   * then the batch stays sent, so a reorganisation that drops the transaction is reconciled like a
   * crash: the same signed bytes go out again.
   */
  confirmations?: number;
  logger: WriterLogger;
  now?: () => number;
  /** Test only: SIGKILL this process when the writer reaches this point. */
  faultPoint?: FaultPoint;
}

const MAX_BACKOFF_MS = 60_000;
const MAX_STEPS_PER_RUN = 100;

function messageOf(error: unknown): string {
  return (error as { shortMessage?: string })?.shortMessage ?? (error as Error)?.message ?? String(error);
}

export class AccessLogWriter {
  private readonly now: () => number;
  private readonly provider: Provider;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private rerun = false;
  /** A flushNow() arrived while a run was going: the next pass must ignore the releases' age. */
  private forceRequested = false;
  private stopped = false;
  private faultArmed: boolean;

  constructor(private readonly options: AccessLogWriterOptions) {
    this.now = options.now ?? Date.now;
    this.provider = options.contracts.provider;
    this.faultArmed = options.faultPoint !== undefined;
  }

  /**
   * Starts the schedule, beginning at once with whatever a previous run left (batches sent but not
   * confirmed, pending releases). Returns without waiting for that first run.
   */
  start(): void {
    const period = Math.max(25, Math.min(Math.floor(this.options.intervalMs / 4), 1000));
    this.timer = setInterval(() => void this.kick(), period);
    this.timer.unref();
    void this.kick();
  }

  /** Called after each journaled release: flushes at once when a batch is full. */
  notifyRelease(): void {
    if (this.options.store.pendingReleaseStats().count >= this.options.batchSize) void this.kick();
  }

  /** Runs the writer now (or once more after the current run); resolves when that run ends. */
  kick(force = false): Promise<void> {
    if (this.stopped && !force) return Promise.resolve();
    // Remembered apart from the running pass, which may have started unforced: a flush that joins a
    // timer's run must still send the young releases.
    if (force) this.forceRequested = true;
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.rerun = false;
          const forced = this.forceRequested;
          this.forceRequested = false;
          await this.work(forced);
        } while (this.rerun && (!this.stopped || this.forceRequested));
      } catch (error) {
        this.forceRequested = false; // the next scheduled pass must not run forced in its stead
        this.options.logger.error({ err: messageOf(error) }, "access log writer failed; retrying on the next tick");
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** Sends everything pending now, whatever its age; resolves when nothing more can be done right now. */
  flushNow(): Promise<void> {
    return this.kick(true);
  }

  /** Stops the schedule; with `flush`, first tries (for up to `timeoutMs`) to log what is pending. */
  async stop(options: { flush?: boolean; timeoutMs?: number } = {}): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.stopped = true;
    if (this.running) await this.running;
    if (options.flush && this.options.store.unloggedReleaseCount() > 0) {
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([
        this.kick(true),
        new Promise<void>((resolve) => {
          timeout = setTimeout(resolve, options.timeoutMs ?? 10_000);
        }),
      ]);
      clearTimeout(timeout);
    }
  }

  private async work(force: boolean): Promise<void> {
    for (let step = 0; step < MAX_STEPS_PER_RUN; step++) {
      if (!this.options.store.isOpen) return;
      if (!(await this.step(force))) return;
    }
  }

  /** One unit of work; false when there is nothing to do until later. */
  private async step(force: boolean): Promise<boolean> {
    const { store } = this.options;
    const [sent] = store.batchesIn("sent");
    if (sent) return this.reconcile(sent);

    const pending = store.batchesIn("pending");
    if (pending.length > 0) {
      const [head] = pending;
      if (head.nextAttemptAt > this.now() && !force) return false;
      return this.send(head);
    }

    const stats = store.pendingReleaseStats();
    if (stats.count === 0) return false;
    const due =
      force ||
      stats.count >= this.options.batchSize ||
      this.now() - (stats.oldestRequestedAt ?? this.now()) >= this.options.intervalMs;
    if (!due) return false;
    const batch = await this.formBatch();
    this.fault("after-batch-formed");
    return this.send(batch);
  }

  /** Takes the oldest pending releases into a new batch (state pending), with its manifest for several. */
  private async formBatch(): Promise<LogBatchRow> {
    const { store, contracts } = this.options;
    const releases = store.pendingReleases(this.options.maxBatchSize ?? 500);
    if (releases.length === 1) {
      return store.createBatch([releases[0].id], { kind: "single" }, this.now());
    }
    const { root, text } = buildReleaseBatch(releases, {
      chainId: Number(contracts.chainId),
      accessLog: contracts.deployment.accessLog,
      custodian: this.options.custodian,
    });
    const manifestCid = await cidOf(toUtf8Bytes(text));
    return store.createBatch(
      releases.map((release) => release.id),
      { kind: "merkle", root, manifestCid, manifest: text },
      this.now(),
    );
  }

  /** Signs, records, broadcasts, and waits for the receipt of a pending batch. */
  private async send(batch: LogBatchRow): Promise<boolean> {
    const { store, contracts, signer, logger } = this.options;
    let raw: string;
    try {
      let data: string;
      if (batch.kind === "merkle") {
        await this.options.blobs.put(toUtf8Bytes(batch.manifest as string)); // idempotent: the manifest is public before its root is
        data = contracts.accessLog.interface.encodeFunctionData("logReleaseBatch", [
          batch.root as string,
          batch.releaseCount,
          toUtf8Bytes(batch.manifestCid as string),
        ]);
      } else {
        const [release] = store.releasesOfBatch(batch.id);
        data = contracts.accessLog.interface.encodeFunctionData("logRelease", [
          release.recordId,
          release.grantee,
          release.purpose,
          release.basis,
        ]);
      }
      const request = await signer.populateTransaction({ to: contracts.deployment.accessLog, data });
      raw = await signer.signTransaction(request);
      const signed = Transaction.from(raw);
      const createdAtBlock = await this.provider.getBlockNumber();
      store.markSent(
        batch.id,
        { txHash: signed.hash as string, txNonce: signed.nonce, rawTx: raw, createdAtBlock },
        this.now(),
      );
    } catch (error) {
      const delay = this.backoff(batch.attempts);
      store.recordBatchError(batch.id, messageOf(error), this.now() + delay, this.now());
      logger.warn(
        { batch: batch.id, releases: batch.releaseCount, err: messageOf(error), retryInMs: delay },
        "could not send an access log entry; will retry",
      );
      return false;
    }
    this.fault("after-sent-persisted");
    try {
      await this.provider.broadcastTransaction(raw);
    } catch (error) {
      logger.warn({ batch: batch.id, err: messageOf(error) }, "broadcast failed; reconciling with the chain");
      return this.reconcile(store.getBatch(batch.id) as LogBatchRow);
    }
    this.fault("after-broadcast");
    return this.awaitReceipt(store.getBatch(batch.id) as LogBatchRow);
  }

  /** Polls for a sent batch's receipt; leaves it sent (for the next reconciliation) on timeout. */
  private async awaitReceipt(batch: LogBatchRow): Promise<boolean> {
    const deadline = this.now() + (this.options.receiptTimeoutMs ?? 60_000);
    for (;;) {
      const receipt = await this.provider.getTransactionReceipt(batch.txHash as string);
      if (receipt && (await this.deepEnough(receipt.blockNumber))) return this.settle(batch, receipt);
      if (this.now() >= deadline || this.stopped) return false;
      await new Promise((resolve) => setTimeout(resolve, this.options.pollIntervalMs ?? 200));
    }
  }

  private settle(batch: LogBatchRow, receipt: TransactionReceipt): boolean {
    const { store, logger } = this.options;
    if (receipt.status === 1) {
      store.markLogged(batch.id, { block: receipt.blockNumber, txHash: receipt.hash }, this.now());
      logger.info(
        {
          batch: batch.id,
          kind: batch.kind,
          releases: batch.releaseCount,
          root: batch.root,
          tx: receipt.hash,
          block: receipt.blockNumber,
        },
        "access log entry on chain",
      );
      this.fault("after-logged");
      return true;
    }
    const delay = this.backoff(batch.attempts);
    store.markUnsent(batch.id, `transaction ${receipt.hash} reverted`, this.now() + delay, this.now());
    logger.warn(
      { batch: batch.id, tx: receipt.hash, retryInMs: delay },
      "access log transaction reverted; will sign it again",
    );
    return false;
  }

  /** Settles a batch in state sent against the chain (see the module comment). */
  private async reconcile(batch: LogBatchRow): Promise<boolean> {
    const { store, logger, custodian } = this.options;
    const txHash = batch.txHash as string;
    // The nonce first: if it has moved past ours by now, a receipt of ours would already show below.
    // With confirmations, only a nonce used n blocks deep is taken for good: a shallower transaction,
    // ours included, may yet be dropped, and signing ours afresh then could log the batch twice.
    const confirmations = this.options.confirmations ?? 0;
    const nonceTag =
      confirmations === 0 ? "latest" : Math.max(0, (await this.provider.getBlockNumber()) - confirmations);
    const nonce = await this.provider.getTransactionCount(custodian, nonceTag);
    const receipt = await this.provider.getTransactionReceipt(txHash);
    if (receipt)
      return (await this.deepEnough(receipt.blockNumber)) ? this.settle(batch, receipt) : this.awaitReceipt(batch);
    if (nonce <= (batch.txNonce as number)) {
      if (await this.provider.getTransaction(txHash)) return this.awaitReceipt(batch); // in the node's pool
      logger.warn(
        { batch: batch.id, tx: txHash },
        "the node does not know this access log transaction; broadcasting the same signed bytes again",
      );
      try {
        await this.provider.broadcastTransaction(batch.rawTx as string);
      } catch (error) {
        logger.warn({ batch: batch.id, err: messageOf(error) }, "rebroadcast failed; will reconcile again");
        return false;
      }
      return this.awaitReceipt(batch);
    }
    const found = await this.findLoggedEvent(batch);
    if (found && !(await this.deepEnough(found.block))) return false; // found; settled once deep enough
    if (found) {
      store.markLogged(batch.id, found, this.now());
      logger.info(
        { batch: batch.id, tx: found.txHash, block: found.block },
        "access log entry found on chain by its event",
      );
      return true;
    }
    store.markUnsent(batch.id, `nonce ${batch.txNonce} was used by another transaction`, this.now(), this.now());
    logger.warn(
      { batch: batch.id, tx: txHash },
      "access log transaction can never be mined (its nonce was taken); signing it again",
    );
    return true;
  }

  /** The event that logged `batch`, if the chain has it, in a transaction no other batch claims. */
  private async findLoggedEvent(batch: LogBatchRow): Promise<{ block: number; txHash: string } | undefined> {
    const { store, contracts, custodian } = this.options;
    const fromBlock = batch.createdAtBlock ?? contracts.deployment.deployedAtBlock ?? 0;
    const claimed = store.loggedTxHashes();
    const { accessLog } = contracts;
    if (batch.kind === "merkle") {
      const events = await accessLog.queryFilter(
        accessLog.filters.KeyReleaseBatchLogged(batch.root as string, custodian),
        fromBlock,
      );
      const manifest = toUtf8Bytes(batch.manifestCid as string);
      const match = events.find(
        (event) =>
          !claimed.has(event.transactionHash.toLowerCase()) &&
          Number(event.args.releaseCount) === batch.releaseCount &&
          event.args.manifest.toLowerCase() === `0x${Buffer.from(manifest).toString("hex")}`,
      );
      return match ? { block: match.blockNumber, txHash: match.transactionHash } : undefined;
    }
    const [release] = store.releasesOfBatch(batch.id);
    const events = await accessLog.queryFilter(
      accessLog.filters.KeyReleased(release.recordId, release.grantee, custodian),
      fromBlock,
    );
    const match = events.find(
      (event) =>
        !claimed.has(event.transactionHash.toLowerCase()) &&
        Number(event.args.purpose) === release.purpose &&
        Number(event.args.basis) === release.basis,
    );
    return match ? { block: match.blockNumber, txHash: match.transactionHash } : undefined;
  }

  /** Whether a transaction mined in `blockNumber` has `confirmations` blocks after it. */
  private async deepEnough(blockNumber: number): Promise<boolean> {
    const confirmations = this.options.confirmations ?? 0;
    return confirmations === 0 || (await this.provider.getBlockNumber()) - blockNumber >= confirmations;
  }

  private backoff(attempts: number): number {
    return Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(attempts, 16));
  }

  private fault(point: FaultPoint): void {
    if (this.faultArmed && this.options.faultPoint === point) {
      this.faultArmed = false;
      this.options.logger.warn({ point }, "CONSENT_GATEWAY_FAULT reached: killing this process (crash test)");
      process.kill(process.pid, "SIGKILL");
    }
  }
}

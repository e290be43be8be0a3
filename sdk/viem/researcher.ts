/**
 * The ethers entry's ResearcherClient for a viem WalletClient, its request flow: open a request, wait
 * for the patient's decision, withdraw it. Encryption keys and fetching records are in the ethers entry
 * only so far.
 */
import { parseEventLogs, type WalletClient } from "viem";

import { consentLedgerAbi } from "../chain/abis";
import type { PendingTransaction } from "../chain/transactions";
import {
  requestFromArgs,
  requestIdOf,
  toAbiRequest,
  toRequestTerms,
  type RequestOpenedArgs,
} from "../clients/request-rules";
import type { AccessRequest, RequestInput, RequestView } from "../clients/types";
import type { TransactionOverrides } from "../core/overrides";
import { ConsentLedgerError } from "../errors";
import type { ViemLedgerContracts } from "./connect";
import { requestById, requestStatusOf } from "./requests";
import { requireWallet, send } from "./send";

export class ResearcherClient {
  readonly wallet: WalletClient;

  constructor(
    readonly contracts: ViemLedgerContracts,
    wallet: WalletClient,
  ) {
    this.wallet = requireWallet(wallet);
  }

  /** Opens a request; resolves to its id, whether a standing policy approved it at once, and the request. */
  async requestAccess(
    input: RequestInput,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ requestId: string; approved: boolean; request: AccessRequest }>> {
    const terms = toRequestTerms(input);
    const call = {
      address: this.contracts.deployment.ledger,
      abi: consentLedgerAbi,
      functionName: "requestAccess",
      args: [terms],
    };
    return send(this.contracts, this.wallet, "request access", call, overrides, (receipt) => {
      const logs = parseEventLogs({
        abi: consentLedgerAbi,
        logs: receipt.logs,
        eventName: ["RequestOpened", "RequestApproved"],
      });
      const opened = logs.find((log) => log.eventName === "RequestOpened");
      if (!opened) throw new ConsentLedgerError("The transaction opened no request");
      const { requestId } = opened.args as { requestId: string };
      return {
        requestId,
        request: requestFromArgs(opened.args as unknown as RequestOpenedArgs),
        approved: logs.some((log) => log.eventName === "RequestApproved"),
      };
    });
  }

  /**
   * Waits until a request is no longer pending (approved, denied, cancelled or expired), polling the
   * ledger; throws after `timeoutMs`.
   */
  async waitForDecision(
    requestId: string,
    options: { timeoutMs?: number; pollIntervalMs?: number } = {},
  ): Promise<RequestView["status"]> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    const pollIntervalMs = options.pollIntervalMs ?? 1_000;
    const started = Date.now();
    for (;;) {
      const { status } = await requestStatusOf(this.contracts, requestId);
      if (status === "None") throw new ConsentLedgerError(`No request ${requestId} on this ledger`);
      if (status !== "Pending") return status;
      if (Date.now() - started >= timeoutMs) {
        throw new ConsentLedgerError(`Request ${requestId} is still pending after ${timeoutMs} ms`, {
          hint: "The patient has not decided yet; wait longer or ask again later.",
        });
      }
      await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
    }
  }

  /** Withdraws a pending request (given as its id or the full request). */
  async cancel(
    request: AccessRequest | string,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ requestId: string }>> {
    const full = typeof request === "string" ? await requestById(this.contracts, request) : request;
    const call = {
      address: this.contracts.deployment.ledger,
      abi: consentLedgerAbi,
      functionName: "cancelRequest",
      args: [toAbiRequest(full)],
    };
    return send(this.contracts, this.wallet, "cancel the request", call, overrides, () => ({
      requestId: typeof request === "string" ? requestIdOf(full) : "",
    }));
  }
}

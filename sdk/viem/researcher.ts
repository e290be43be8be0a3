/**
 * The ethers entry's ResearcherClient for a viem WalletClient: publish an encryption key, ask patients
 * for access, follow the decisions, list the consents in force, and open the records a custodian
 * releases, verified against the chain. The shared methods and rules are the ethers client's
 * (ResearcherClientBase in sdk/clients/researcher-rules.ts, sdk/clients/record-rules.ts,
 * sdk/clients/request-rules.ts); this file holds only the viem reads and writes.
 */
import { parseEventLogs, type WalletClient } from "viem";

import { consentLedgerAbi, keyDirectoryAbi } from "../chain/abis";
import type { PendingTransaction } from "../chain/transactions";
import {
  requestFromArgs,
  requestIdOf,
  toAbiRequest,
  toRequestTerms,
  type RequestOpenedArgs,
} from "../clients/request-rules";
import type { RecordChain } from "../clients/record-rules";
import { ResearcherClientBase, type StoredConsent } from "../clients/researcher-rules";
import type { AccessRequest, RequestInput, RequestView } from "../clients/types";
import { getAddress } from "../core/hex";
import type { TransactionOverrides } from "../core/overrides";
import { messageSignerOf, publicKeyToBytes32, type EncryptionKeyPair, type MessageSigner } from "../crypto/keys";
import { ConsentLedgerError } from "../errors";
import type { ViemLedgerContracts } from "./connect";
import { latestTime } from "./reads";
import { recordChainOf } from "./records";
import { requestById, requestStatusOf, requestsOf } from "./requests";
import { addressOf, requireWallet, send } from "./send";

const at = (value: string) => value as `0x${string}`;

export class ResearcherClient extends ResearcherClientBase {
  readonly wallet: WalletClient;

  constructor(
    readonly contracts: ViemLedgerContracts,
    wallet: WalletClient,
  ) {
    super();
    this.wallet = requireWallet(wallet);
  }

  protected async account(): Promise<string> {
    return getAddress(await addressOf(this.wallet));
  }

  protected messageSigner(): MessageSigner {
    return messageSignerOf(this.wallet as never);
  }

  protected async keyDirectory(): Promise<{ chainId: bigint; address: string }> {
    return { chainId: this.contracts.chainId, address: this.contracts.keys.address };
  }

  protected registeredKeyOf(account: string): Promise<string> {
    return this.contracts.keys.read.keyOf([at(account)]);
  }

  protected requestStatus(requestId: string): Promise<{ status: RequestView["status"] }> {
    return requestStatusOf(this.contracts, requestId);
  }

  protected async grantedBy(grantee: string): Promise<string[]> {
    const events = await this.contracts.ledger.getEvents.ConsentGranted(
      { grantee: at(grantee) },
      { fromBlock: BigInt(this.contracts.deployment.deployedAtBlock ?? 0) },
    );
    return events.map((event) => (event.args as { patient: string }).patient);
  }

  protected storedConsent(patient: string, grantee: string): Promise<StoredConsent> {
    return this.contracts.ledger.read.consentOf([at(patient), at(grantee)]);
  }

  protected latestTime(): Promise<number> {
    return latestTime(this.contracts);
  }

  protected async recordChain(): Promise<RecordChain> {
    return recordChainOf(this.contracts);
  }

  /** Publishes (or rotates) the public key that custodians wrap data keys to. */
  async registerEncryptionKey(
    keyPair: Pick<EncryptionKeyPair, "publicKey">,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ publicKey: string }>> {
    const publicKey = publicKeyToBytes32(keyPair.publicKey);
    const call = {
      address: this.contracts.deployment.keys,
      abi: keyDirectoryAbi,
      functionName: "registerKey",
      args: [publicKey],
    };
    return send(this.contracts, this.wallet, "register the encryption key", call, overrides, () => ({ publicKey }));
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

  /** The researcher's requests with their live status, oldest first. */
  async requests(): Promise<RequestView[]> {
    return requestsOf(this.contracts, { researcher: await this.account() }, { all: true });
  }
}

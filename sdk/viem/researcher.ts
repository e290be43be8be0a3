/**
 * The ethers entry's ResearcherClient for a viem WalletClient: publish an encryption key, ask patients
 * for access, follow the decisions, list the consents in force, and open the records a custodian
 * releases, verified against the chain. The rules are the ethers client's (sdk/clients/researcher-rules.ts,
 * sdk/clients/record-rules.ts, sdk/clients/request-rules.ts); this file holds only the viem reads and writes.
 */
import { keyDirectoryAbi } from "../chain/abis";
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
import {
  openAnchoredRecord,
  type OpenedRecord,
  type OpenWithKeyInput,
  type OpenWrappedInput,
} from "../clients/record-rules";
import { deriveResearcherKey, grantsInForce, keyScopeOf, waitForDecision } from "../clients/researcher-rules";
import type { AccessRequest, Consent, RequestInput, RequestView } from "../clients/types";
import type { TransactionOverrides } from "../core/overrides";
import {
  messageSignerOf,
  publicKeyToBytes32,
  type DeriveKeyOptions,
  type EncryptionKeyPair,
  type KeyScope,
  type MessageSigner,
} from "../crypto/keys";
import { getAddress } from "../core/hex";
import { ConsentLedgerError } from "../errors";
import type { ViemLedgerContracts } from "./connect";
import { latestTime } from "./reads";
import { recordChainOf } from "./records";
import { requestById, requestStatusOf, requestsOf } from "./requests";
import { addressOf, requireWallet, send } from "./send";

export class ResearcherClient {
  readonly wallet: WalletClient;

  constructor(
    readonly contracts: ViemLedgerContracts,
    wallet: WalletClient,
  ) {
    this.wallet = requireWallet(wallet);
  }

  /** The wallet as a signer of personal messages (the key derivation's). */
  private get messageSigner(): MessageSigner {
    return messageSignerOf(this.wallet as never);
  }

  /**
   * The researcher's X25519 key pair, derived from a wallet signature (nothing new to back up). With
   * `options.scope`, from that scoped v2 message; with `legacy: true`, from the unscoped v1 message.
   * By default the scoped v2 message (scope: `domain`, else the page's host in a browser, else
   * DEFAULT_KEY_DOMAIN; this chain; this KeyDirectory), unless KeyDirectory holds this account's key
   * derived under v1: then that v1 key, so what was wrapped to it keeps opening (move to v2 with
   * migrateEncryptionKey, then register the v2 key). Refuses a wallet whose signatures vary
   * (NonDeterministicSignerError).
   */
  async deriveEncryptionKey(
    options: DeriveKeyOptions & { legacy?: boolean; domain?: string } = {},
  ): Promise<EncryptionKeyPair> {
    return deriveResearcherKey(this.messageSigner, options, {
      keyScope: (domain) => this.keyScope(domain),
      registeredKeyOf: (account) => this.contracts.keys.read.keyOf([account as `0x${string}`]),
    });
  }

  /** The v2 key scope of this client: `domain` (or the browser page's host, or DEFAULT_KEY_DOMAIN), this chain and KeyDirectory. */
  async keyScope(domain?: string): Promise<KeyScope> {
    return keyScopeOf(domain, this.contracts.chainId, this.contracts.keys.address);
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

  /**
   * Waits until a request is no longer pending (approved, denied, cancelled or expired), polling the
   * ledger; throws after `timeoutMs`.
   */
  async waitForDecision(
    requestId: string,
    options: { timeoutMs?: number; pollIntervalMs?: number } = {},
  ): Promise<RequestView["status"]> {
    return waitForDecision((id) => requestStatusOf(this.contracts, id), requestId, options);
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
    return requestsOf(this.contracts, { researcher: getAddress(await addressOf(this.wallet)) }, { all: true });
  }

  /** Consents given to the researcher that are in force now. */
  async grants(): Promise<Consent[]> {
    const me = getAddress(await addressOf(this.wallet));
    const events = await this.contracts.ledger.getEvents.ConsentGranted(
      { grantee: me as `0x${string}` },
      { fromBlock: BigInt(this.contracts.deployment.deployedAtBlock ?? 0) },
    );
    return grantsInForce(
      me,
      events.map((event) => (event.args as { patient: string }).patient),
      (patient) => this.contracts.ledger.read.consentOf([patient as `0x${string}`, me as `0x${string}`]),
      await latestTime(this.contracts),
    );
  }

  /**
   * Opens a record given its envelope and the data key wrapped to this researcher: checks the envelope
   * against the chain first (hash anchored, header fields and version link as anchored), then unwraps and
   * decrypts. Tampering fails with IntegrityError or DecryptionError; a key wrapped to someone else with
   * WrongRecipientKeyError.
   */
  async openRecord(input: OpenWrappedInput): Promise<OpenedRecord> {
    return openAnchoredRecord(recordChainOf(this.contracts), input);
  }

  /**
   * As openRecord, with the data key itself (a key rebuilt from custodians' shares): verifies the
   * envelope against the chain, then decrypts; a v2 record refuses any key but the one it commits to.
   */
  async openRecordWithKey(input: OpenWithKeyInput): Promise<OpenedRecord> {
    return openAnchoredRecord(recordChainOf(this.contracts), input);
  }
}

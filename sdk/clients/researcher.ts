import type { EventLog, Signer } from "ethers";

import type { LedgerContracts } from "../chain/connect";
import { toSigner, withOverrides, type SignerInput, type TransactionOverrides } from "../chain/runner";
import { send, type PendingTransaction } from "../chain/transactions";
import { publicKeyToBytes32, type EncryptionKeyPair, type MessageSigner } from "../crypto/keys";
import type { RecordChain } from "./record-rules";
import { recordChainOf } from "./records";
import { findRequest, openedRequestIn, requestStatusOf, requestViews, toAbiRequest, toRequestTerms } from "./requests";
import { ResearcherClientBase, type StoredConsent } from "./researcher-rules";
import type { AccessRequest, RequestInput, RequestView } from "./types";

export { DEFAULT_KEY_DOMAIN } from "./researcher-rules";
export type { OpenedRecord } from "./record-rules";

/**
 * What a researcher does: publish an encryption key, ask patients for access, follow the decisions,
 * and open the records a custodian releases.
 */
export class ResearcherClient extends ResearcherClientBase {
  /** The ethers signer the client writes with (a viem WalletClient is wrapped as one). */
  readonly signer: Signer;

  constructor(
    readonly contracts: LedgerContracts,
    signer: SignerInput,
  ) {
    super();
    this.signer = toSigner(signer);
  }

  protected account(): Promise<string> {
    return this.signer.getAddress();
  }

  protected messageSigner(): MessageSigner {
    return this.signer;
  }

  protected async keyDirectory(): Promise<{ chainId: bigint; address: string }> {
    return { chainId: this.contracts.chainId, address: await this.contracts.keys.getAddress() };
  }

  protected registeredKeyOf(account: string): Promise<string> {
    return this.contracts.keys.keyOf(account);
  }

  protected requestStatus(requestId: string): Promise<{ status: RequestView["status"] }> {
    return requestStatusOf(this.contracts, requestId);
  }

  protected async grantedBy(grantee: string): Promise<string[]> {
    const events = (await this.contracts.ledger.queryFilter(
      this.contracts.ledger.filters.ConsentGranted(undefined, grantee),
      this.contracts.deployment.deployedAtBlock ?? 0,
    )) as unknown as EventLog[];
    return events.map((event) => event.args.patient as string);
  }

  protected storedConsent(patient: string, grantee: string): Promise<StoredConsent> {
    return this.contracts.ledger.consentOf(patient, grantee);
  }

  protected async latestTime(): Promise<number> {
    return Number((await this.contracts.provider.getBlock("latest"))?.timestamp ?? 0);
  }

  protected recordChain(): Promise<RecordChain> {
    return recordChainOf(this.contracts);
  }

  /** Publishes (or rotates) the public key that custodians wrap data keys to. */
  async registerEncryptionKey(
    keyPair: Pick<EncryptionKeyPair, "publicKey">,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ publicKey: string }>> {
    const publicKey = publicKeyToBytes32(keyPair.publicKey);
    return send(
      "register the encryption key",
      () => this.contracts.keys.connect(withOverrides(this.signer, overrides)).registerKey(publicKey),
      () => ({ publicKey }),
    );
  }

  /** Opens a request; resolves to its id, whether a standing policy approved it at once, and the request. */
  async requestAccess(
    input: RequestInput,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ requestId: string; approved: boolean; request: AccessRequest }>> {
    const terms = toRequestTerms(input);
    return send(
      "request access",
      () => this.contracts.ledger.connect(withOverrides(this.signer, overrides)).requestAccess(terms),
      (receipt) => {
        const opened = openedRequestIn(this.contracts, receipt.logs);
        const approved = receipt.logs.some(
          (log) => this.contracts.ledger.interface.parseLog(log)?.name === "RequestApproved",
        );
        return { ...opened, approved };
      },
    );
  }

  /** Withdraws a pending request. */
  async cancel(
    request: AccessRequest | string,
    overrides?: TransactionOverrides,
  ): Promise<PendingTransaction<{ requestId: string }>> {
    const view = typeof request === "string" ? await findRequest(this.contracts, request) : undefined;
    const full = view?.request ?? (request as AccessRequest);
    return send(
      "cancel the request",
      () => this.contracts.ledger.connect(withOverrides(this.signer, overrides)).cancelRequest(toAbiRequest(full)),
      () => ({ requestId: view?.requestId ?? "" }),
    );
  }

  /** The researcher's requests with their live status. */
  async requests(): Promise<RequestView[]> {
    const me = await this.signer.getAddress();
    const events = await this.contracts.ledger.queryFilter(
      this.contracts.ledger.filters.RequestOpened(undefined, undefined, me),
      this.contracts.deployment.deployedAtBlock ?? 0,
    );
    return requestViews(this.contracts, events as unknown as EventLog[]);
  }
}

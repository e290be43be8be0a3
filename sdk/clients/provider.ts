/**
 * The ethers entry's ProviderClient: the provider's rules (sdk/clients/provider-rules.ts, shared with the
 * viem entry's sdk/viem/provider.ts) over the typechain contracts and an ethers signer (a viem
 * WalletClient is wrapped as one).
 */
import type { Signer } from "ethers";

import type { LedgerContracts } from "../chain/connect";
import { toSigner, withOverrides, type SignerInput, type TransactionOverrides } from "../chain/runner";
import { send, type PendingTransaction } from "../chain/transactions";
import type { BlobStore } from "../storage/blob-store";
import { verifyPairingLink, type PairingLink, type VerifyPairingOptions } from "./pairing";
import { ProviderClientBase, type KeyCustodian, type RegistryWrite } from "./provider-rules";
import type { StoredRecord } from "./record-rules";

export { BATCH_LEAF_TYPES } from "./provider-rules";
export type {
  BatchManifest,
  KeyCustodian,
  PairedPatient,
  PublishInput,
  PublishOptions,
  PublishedBatch,
  PublishedRecord,
  SealedRecord,
} from "./provider-rules";

/**
 * What a provider does: encrypt a record client-side, store the ciphertext, anchor its hash; amend a
 * record into its next version; publish many records under one Merkle root.
 */
export class ProviderClient extends ProviderClientBase {
  /** The ethers signer the client writes with (a viem WalletClient is wrapped as one). */
  readonly signer: Signer;

  constructor(
    readonly contracts: LedgerContracts,
    signer: SignerInput,
    store: BlobStore,
    custodian?: KeyCustodian,
  ) {
    super(store, custodian);
    this.signer = toSigner(signer);
  }

  protected account(): Promise<string> {
    return this.signer.getAddress();
  }

  protected async suite(): Promise<{ chainId: bigint; ledger: string; registry: string }> {
    return {
      chainId: this.contracts.chainId,
      ledger: await this.contracts.ledger.getAddress(),
      registry: await this.contracts.records.getAddress(),
    };
  }

  protected async storedRecord(recordId: string): Promise<StoredRecord> {
    const stored = await this.contracts.records.recordOf(recordId);
    return {
      patient: stored.patient,
      providerIndex: Number(stored.providerIndex),
      version: Number(stored.version),
      dataClass: Number(stored.dataClass),
      superseded: stored.superseded,
    };
  }

  protected async accessBasisOf(patient: string, grantee: string, dataClass: number, purpose: number): Promise<number> {
    return Number(await this.contracts.ledger.accessBasis(patient, grantee, dataClass, purpose));
  }

  protected registeredKeyOf(account: string): Promise<string> {
    return this.contracts.keys.keyOf(account);
  }

  protected async verifyPairing(payload: string, options: VerifyPairingOptions): Promise<PairingLink> {
    return verifyPairingLink(payload, options);
  }

  protected sendToRegistry<T>(
    action: string,
    call: RegistryWrite,
    overrides: TransactionOverrides | undefined,
    decode: (mined: { transactionHash: string; blockNumber: number }) => Promise<T>,
  ): Promise<PendingTransaction<T>> {
    return send(
      action,
      () => {
        const records = this.contracts.records.connect(withOverrides(this.signer, overrides));
        switch (call.functionName) {
          case "anchorRecord":
            return records.anchorRecord(...call.args);
          case "amendRecord":
            return records.amendRecord(...call.args);
          case "anchorBatch":
            return records.anchorBatch(...call.args);
        }
      },
      (receipt) => decode({ transactionHash: receipt.hash, blockNumber: receipt.blockNumber }),
    );
  }
}

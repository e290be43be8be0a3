/**
 * The ethers entry's ProviderClient for a viem WalletClient: the same methods and results, on the same
 * rules (sdk/clients/provider-rules.ts); this file holds only the viem reads and writes.
 */
import type { WalletClient } from "viem";

import { recordRegistryAbi } from "../chain/abis";
import type { PendingTransaction } from "../chain/transactions";
import { verifyPairingLink, type PairingLink, type VerifyPairingOptions } from "../clients/pairing";
import { ProviderClientBase, type KeyCustodian, type RegistryWrite } from "../clients/provider-rules";
import type { StoredRecord } from "../clients/record-rules";
import { getAddress } from "../core/hex";
import type { TransactionOverrides } from "../core/overrides";
import { bytesToHex } from "../crypto/bytes";
import type { BlobStore } from "../storage/blob-store";
import type { ViemLedgerContracts } from "./connect";
import { addressOf, requireWallet, send } from "./send";

const at = (value: string) => value as `0x${string}`;

/**
 * What a provider does: encrypt a record client-side, store the ciphertext, anchor its hash; amend a
 * record into its next version; publish many records under one Merkle root.
 */
export class ProviderClient extends ProviderClientBase {
  readonly wallet: WalletClient;

  constructor(
    readonly contracts: ViemLedgerContracts,
    wallet: WalletClient,
    store: BlobStore,
    custodian?: KeyCustodian,
  ) {
    super(store, custodian);
    this.wallet = requireWallet(wallet);
  }

  protected async account(): Promise<string> {
    return getAddress(await addressOf(this.wallet));
  }

  protected async suite(): Promise<{ chainId: bigint; ledger: string; registry: string }> {
    return {
      chainId: this.contracts.chainId,
      ledger: this.contracts.ledger.address,
      registry: this.contracts.records.address,
    };
  }

  protected async storedRecord(recordId: string): Promise<StoredRecord> {
    const { patient, providerIndex, version, dataClass, superseded } = await this.contracts.records.read.recordOf([
      at(recordId),
    ]);
    return { patient, providerIndex, version, dataClass, superseded };
  }

  protected async accessBasisOf(patient: string, grantee: string, dataClass: number, purpose: number): Promise<number> {
    return Number(await this.contracts.ledger.read.accessBasis([at(patient), at(grantee), dataClass, purpose]));
  }

  protected registeredKeyOf(account: string): Promise<string> {
    return this.contracts.keys.read.keyOf([at(account)]);
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
    const args = call.args.map((arg) => (arg instanceof Uint8Array ? bytesToHex(arg) : arg));
    return send(
      this.contracts,
      this.wallet,
      action,
      { address: this.contracts.records.address, abi: recordRegistryAbi, functionName: call.functionName, args },
      overrides,
      (receipt) => decode({ transactionHash: receipt.transactionHash, blockNumber: Number(receipt.blockNumber) }),
    );
  }
}

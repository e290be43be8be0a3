/**
 * One way in for ethers and viem dApps: every client takes an ethers Signer/Provider or a viem
 * WalletClient/PublicClient. A viem client is recognised by its shape (no import of viem here, so an
 * ethers dApp bundles no viem) and wrapped once as an ethers runner: reads go through the viem client's
 * own transport (EIP-1193 `request`), transactions and signatures through the viem client's account, so
 * a local account (privateKeyToAccount) and a browser wallet both work. The SDK's contract layer stays
 * ethers (its typechain bindings), so results and errors are the same whichever library the dApp uses.
 */
import {
  AbstractSigner,
  BrowserProvider,
  type ContractRunner,
  type Eip1193Provider,
  type Provider,
  type Signer,
  type TransactionLike,
  type TransactionRequest,
  type TransactionResponse,
  type TypedDataDomain,
  type TypedDataField,
} from "ethers";

import { checkedOverrides, type TransactionOverrides } from "../core/overrides";
import {
  isViemClient,
  isViemWalletClient,
  publicClientCannotSign,
  viemAccountAddress,
  type ViemClientLike,
  type ViemWalletClientLike,
} from "../core/viem-client";
import { ConsentLedgerError } from "../errors";

/** What a client accepts to sign and send: an ethers Signer or a viem WalletClient. */
export type SignerInput = Signer | ViemWalletClientLike;
/** What `connect` accepts: any ethers runner, or a viem WalletClient or PublicClient. */
export type RunnerInput = ContractRunner | ViemClientLike;

// One ethers wrapper per viem client, so every client built on it shares one provider (one poller).
const providers = new WeakMap<object, Provider>();
const signers = new WeakMap<object, Signer>();

/** An ethers Provider reading through the viem client's own transport. */
export function viemProvider(client: ViemClientLike): Provider {
  let provider = providers.get(client);
  if (!provider) {
    const eip1193: Eip1193Provider = {
      request: async (args) => {
        try {
          return await client.request(args as { method: string; params?: unknown });
        } catch (error) {
          throw rpcErrorOf(error);
        }
      },
    };
    provider = new BrowserProvider(eip1193, client.chain?.id, { cacheTimeout: -1 });
    providers.set(client, provider);
  }
  return provider;
}

/** An ethers Signer that sends and signs through a viem WalletClient (its account, local or JSON-RPC). */
export class ViemSigner extends AbstractSigner {
  constructor(
    readonly client: ViemWalletClientLike,
    provider: Provider = viemProvider(client),
  ) {
    super(provider);
  }

  override connect(provider: Provider | null): Signer {
    if (!provider) throw new ConsentLedgerError("A viem signer needs a provider");
    return new ViemSigner(this.client, provider);
  }

  getAddress(): Promise<string> {
    return viemAccountAddress(this.client);
  }

  async signTransaction(): Promise<string> {
    throw new ConsentLedgerError(
      "A viem wallet sends its own transactions; signing one without sending is not supported",
      {
        hint: "Use the SDK's write methods, which send through the wallet client.",
      },
    );
  }

  /**
   * Fills the transaction through ethers first (gas estimate, nonce, fees), so a revert is found and
   * decoded exactly as for an ethers signer, then hands it to the viem wallet to sign and send.
   */
  override async sendTransaction(request: TransactionRequest): Promise<TransactionResponse> {
    const tx: TransactionLike<string> = await this.populateTransaction(request);
    const account = await this.getAddress();
    const hash = await this.client.sendTransaction({
      account: this.client.account ?? account,
      chain: this.client.chain ?? null,
      to: tx.to ?? undefined,
      data: tx.data ?? undefined,
      value: tx.value ?? undefined,
      gas: tx.gasLimit ?? undefined,
      nonce: tx.nonce ?? undefined,
      ...(tx.maxFeePerGas != null
        ? { maxFeePerGas: tx.maxFeePerGas, maxPriorityFeePerGas: tx.maxPriorityFeePerGas ?? undefined }
        : { gasPrice: tx.gasPrice ?? undefined }),
    } as never);
    const provider = this.provider as Provider;
    // A node may not index a transaction the moment it accepts it: ask again for a short while.
    for (let attempt = 0; attempt < 50; attempt++) {
      const response = await provider.getTransaction(hash);
      if (response) return response;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new ConsentLedgerError(`The node does not know transaction ${hash} the wallet sent`, { details: hash });
  }

  async signMessage(message: string | Uint8Array): Promise<string> {
    const account = this.client.account ?? (await this.getAddress());
    const payload = typeof message === "string" ? message : { raw: message };
    return this.client.signMessage({ account, message: payload } as never);
  }

  async signTypedData(
    domain: TypedDataDomain,
    types: Record<string, TypedDataField[]>,
    value: Record<string, unknown>,
  ): Promise<string> {
    const primaryType = Object.keys(types).find(
      (name) => !Object.values(types).some((fields) => fields.some((f) => baseType(f.type) === name)),
    );
    const domainFields: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(domain))
      if (field !== null && field !== undefined) domainFields[key] = field;
    if (typeof domainFields.chainId === "bigint") domainFields.chainId = Number(domainFields.chainId);
    return this.client.signTypedData({
      account: this.client.account ?? (await this.getAddress()),
      domain: domainFields,
      types,
      primaryType,
      message: value,
    } as never);
  }
}

/**
 * The node's own error under viem's wrappers (viem puts it in `cause`), as ethers reads an EIP-1193 error:
 * `code`, `message` and the revert `data`, so a revert decodes the same as through an ethers provider.
 */
function rpcErrorOf(error: unknown): unknown {
  let revertData: string | undefined;
  let code: number | undefined;
  let message: string | undefined;
  for (let current = error as { cause?: unknown } | undefined, depth = 0; current && depth < 10; depth++) {
    const fields = current as { code?: unknown; data?: unknown; message?: unknown; details?: unknown };
    const data =
      typeof fields.data === "object" && fields.data !== null ? (fields.data as { data?: unknown }).data : fields.data;
    if (revertData === undefined && typeof data === "string" && /^0x[0-9a-fA-F]*$/.test(data)) revertData = data;
    if (typeof fields.code === "number" && fields.code !== -1) code = fields.code;
    if (typeof fields.details === "string") message = fields.details;
    else if (typeof fields.message === "string") message = fields.message;
    current = current.cause as { cause?: unknown } | undefined;
  }
  if (revertData === undefined) return error;
  return Object.assign(new Error(message ?? "execution reverted"), { code: code ?? 3, data: revertData, cause: error });
}

function baseType(type: string): string {
  return type.replace(/\[\d*\]$/, "");
}

/** An ethers Signer for an ethers Signer (itself) or a viem WalletClient (wrapped once). */
export function toSigner(input: SignerInput): Signer {
  if (isViemWalletClient(input)) {
    let signer = signers.get(input);
    if (!signer) {
      signer = new ViemSigner(input);
      signers.set(input, signer);
    }
    return signer;
  }
  if (isViemClient(input)) throw publicClientCannotSign();
  return input as Signer;
}

/** An ethers runner for an ethers runner (itself), a viem WalletClient (a signer) or PublicClient (a provider). */
export function toRunner(input: RunnerInput): ContractRunner {
  if (isViemWalletClient(input)) return toSigner(input);
  if (isViemClient(input)) return viemProvider(input);
  return input as ContractRunner;
}

export type { TransactionOverrides } from "../core/overrides";
export { isViemClient };
export type { ViemClientLike, ViemWalletClientLike };

/** A signer that sends every transaction with `overrides` applied; the others' calls go to `inner`. */
class OverridingSigner extends AbstractSigner {
  constructor(
    private readonly inner: Signer,
    private readonly overrides: TransactionOverrides,
  ) {
    super(inner.provider);
  }
  override connect(provider: Provider | null): Signer {
    return new OverridingSigner(this.inner.connect(provider), this.overrides);
  }
  getAddress(): Promise<string> {
    return this.inner.getAddress();
  }
  signTransaction(tx: TransactionRequest): Promise<string> {
    return this.inner.signTransaction({ ...tx, ...this.overrides });
  }
  signMessage(message: string | Uint8Array): Promise<string> {
    return this.inner.signMessage(message);
  }
  signTypedData(
    domain: TypedDataDomain,
    types: Record<string, TypedDataField[]>,
    value: Record<string, unknown>,
  ): Promise<string> {
    return this.inner.signTypedData(domain, types, value);
  }
  override sendTransaction(tx: TransactionRequest): Promise<TransactionResponse> {
    return this.inner.sendTransaction({ ...tx, ...this.overrides });
  }
}

/** `signer` itself without overrides, or a signer that applies them to what it sends. */
export function withOverrides(signer: Signer, overrides?: TransactionOverrides): Signer {
  if (overrides === undefined || Object.keys(overrides).length === 0) return signer;
  return new OverridingSigner(signer, checkedOverrides(overrides));
}

/**
 * viem clients recognised by their shape, with neither viem nor ethers imported: an ethers dApp bundles
 * no viem, a viem dApp no ethers, and both entries tell a viem client from an ethers signer the same way.
 */
import { ConsentLedgerError } from "../errors";
import { getAddress } from "./hex";

/** The part of a viem Client the SDK uses: its EIP-1193 `request` and its chain. */
export interface ViemClientLike {
  readonly type: string;
  readonly uid: string;
  request(args: { method: string; params?: unknown }): Promise<unknown>;
  readonly chain?: { id: number } | undefined;
}

/** The part of a viem WalletClient the SDK uses (an account, sending, signing). */
export interface ViemWalletClientLike extends ViemClientLike {
  readonly account?: { address: `0x${string}`; type: string } | undefined;
  getAddresses(): Promise<readonly `0x${string}`[]>;
  // Typed loosely on purpose: viem's own parameter types are generic over the chain and account.
  sendTransaction(args: never): Promise<`0x${string}`>;
  signTypedData(args: never): Promise<`0x${string}`>;
  signMessage(args: never): Promise<`0x${string}`>;
}

/** Whether `value` is a viem Client (it has viem's `uid`, `transport` and an EIP-1193 `request`). */
export function isViemClient(value: unknown): value is ViemClientLike {
  const client = value as (Partial<ViemClientLike> & { transport?: unknown }) | null;
  return (
    typeof client === "object" &&
    client !== null &&
    typeof client.request === "function" &&
    typeof client.uid === "string" &&
    typeof client.type === "string" &&
    typeof client.transport === "object"
  );
}

/** Whether `value` is a viem WalletClient (a Client that sends transactions). */
export function isViemWalletClient(value: unknown): value is ViemWalletClientLike {
  return isViemClient(value) && typeof (value as Partial<ViemWalletClientLike>).sendTransaction === "function";
}

/** The checksummed address of a viem wallet client's account: its own, or the first its wallet offers. */
export async function viemAccountAddress(client: ViemWalletClientLike): Promise<string> {
  if (client.account) return getAddress(client.account.address);
  const [first] = await client.getAddresses();
  if (!first) {
    throw new ConsentLedgerError("The viem wallet client has no account", {
      hint: "Create the WalletClient with an account, or connect the wallet first (eth_requestAccounts).",
    });
  }
  return getAddress(first);
}

/** The error for a viem PublicClient given where a signature is needed. */
export function publicClientCannotSign(): ConsentLedgerError {
  return new ConsentLedgerError("A viem PublicClient cannot sign", {
    hint: "Pass a viem WalletClient (with an account) to the clients that write or sign.",
  });
}

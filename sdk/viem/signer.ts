/**
 * A viem WalletClient (or LocalAccount) as the SDK's library-free TypedDataSigner: what the gateway
 * login, pairing links and the custodian clients ask of a wallet, in ethers' argument order.
 */
import type { LocalAccount, WalletClient } from "viem";

import type { TypedDataSigner } from "../clients/gateway-core";
import { ConsentLedgerError } from "../errors";
import { accountOf, addressOf } from "./send";

/** The one type of `types` that no other type uses: what ethers calls the primary type. */
export function primaryTypeOf(types: Record<string, readonly { type: string }[]>): string {
  const names = Object.keys(types).filter((name) => name !== "EIP712Domain");
  const used = new Set(names.flatMap((name) => types[name].map((field) => field.type.replace(/(\[\d*\])+$/, ""))));
  const roots = names.filter((name) => !used.has(name));
  if (roots.length !== 1)
    throw new ConsentLedgerError(`EIP-712 types with ${roots.length} primary types (${roots.join(", ")})`);
  return roots[0];
}

/** Signs typed data with `wallet`'s account (a WalletClient) or as `wallet` (a LocalAccount). */
export function viemTypedDataSigner(wallet: WalletClient | LocalAccount): TypedDataSigner {
  const local = (wallet as LocalAccount).type === "local" ? (wallet as LocalAccount) : undefined;
  return {
    getAddress: async () => (local ? local.address : addressOf(wallet as WalletClient)),
    async signTypedData(domain, types, message) {
      const request = {
        // ethers' domain may hold nulls and a chain id of any integer type; viem takes neither.
        domain: Object.fromEntries(
          Object.entries(domain)
            .filter(([, value]) => value !== null && value !== undefined)
            .map(([key, value]) => [key, key === "chainId" ? BigInt(value as bigint) : value]),
        ),
        types,
        primaryType: primaryTypeOf(types),
        message,
      };
      if (local) return local.signTypedData(request as never);
      const client = wallet as WalletClient;
      return client.signTypedData({ ...request, account: await accountOf(client) } as never);
    },
  };
}

/**
 * An observer with full chain access, as the privacy test (test/gateway/pseudonym-privacy.test.ts) and
 * the demo's closing chapter (scripts/demo.ts) play it: it reads every block from a starting one, every
 * transaction's from, to, value and calldata and every log's topics and data, and looks for the 20 bytes
 * of any watched account anywhere in them. Two watched accounts in one transaction are a link; ether sent
 * to, or held by, an account that should never hold any is a funding trail. SDK-free: it needs only a
 * provider.
 */
import type { Provider } from "ethers";

/** One transaction in which watched accounts appear. */
export interface Sighting {
  hash: string;
  block: number;
  /** The transaction's sender. */
  from: string;
  /** The watched accounts found in it, as given. */
  accounts: string[];
  /** Where each was found: "<account> in from|to|calldata|log <i> topics|log <i> data". */
  where: string[];
}

export interface Observation {
  /** Blocks and transactions read. */
  blocks: number;
  transactions: number;
  sightings: Sighting[];
  /** Ether an account of `penniless` received, or held at some block. */
  funded: string[];
  /** Transactions in which two or more watched accounts appear together: a link. */
  links: Sighting[];
}

type ChainReader = Pick<Provider, "getBlockNumber" | "getBlock" | "getTransactionReceipt" | "getBalance">;

/**
 * Reads every block from `fromBlock` to the latest, looking for `watched` accounts; also reports any
 * ether an account of `penniless` (pseudonyms) ever received or held at any of those blocks.
 */
export async function observeChain(
  provider: ChainReader,
  fromBlock: number,
  watched: readonly string[],
  penniless: readonly string[],
): Promise<Observation> {
  const needles = watched.map((address) => address.toLowerCase().slice(2));
  const sightings: Sighting[] = [];
  const funded: string[] = [];
  let transactions = 0;
  const latest = await provider.getBlockNumber();
  for (let number = fromBlock; number <= latest; number++) {
    const block = await provider.getBlock(number, true);
    for (const tx of block!.prefetchedTransactions) {
      transactions++;
      const receipt = await provider.getTransactionReceipt(tx.hash);
      const fields: [string, string][] = [
        ["from", tx.from.toLowerCase()],
        ["to", (tx.to ?? "").toLowerCase()],
        ["calldata", tx.data.toLowerCase()],
        ...receipt!.logs.flatMap((log, i): [string, string][] => [
          [`log ${i} topics`, log.topics.join("").toLowerCase()],
          [`log ${i} data`, log.data.toLowerCase()],
        ]),
      ];
      const accounts = new Set<string>();
      const where: string[] = [];
      needles.forEach((needle, i) => {
        for (const [name, value] of fields) {
          if (value.includes(needle)) {
            accounts.add(watched[i]);
            where.push(`${watched[i]} in ${name}`);
          }
        }
        if (tx.value > 0n && penniless.includes(watched[i]) && tx.to?.toLowerCase().slice(2) === needle)
          funded.push(`${watched[i]} received ${tx.value} wei from ${tx.from} in ${tx.hash}`);
      });
      if (accounts.size > 0)
        sightings.push({ hash: tx.hash, block: number, from: tx.from, accounts: [...accounts], where });
    }
    for (const address of penniless) {
      const balance = await provider.getBalance(address, number);
      if (balance > 0n) funded.push(`${address} held ${balance} wei at block ${number}`);
    }
  }
  return {
    blocks: Math.max(0, latest - fromBlock + 1),
    transactions,
    sightings,
    funded,
    links: sightings.filter((sighting) => sighting.accounts.length > 1),
  };
}

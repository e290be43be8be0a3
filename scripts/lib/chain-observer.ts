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

/** What ties groups of accounts (each group one pseudonym and what acts only for it) to each other. */
export interface GroupLinks {
  /** Transactions in which accounts of two or more groups appear together. */
  together: { hash: string; block: number; groups: number[] }[];
  /**
   * A value (an address, a hash, a precise time) found in transactions of two or more groups: a common
   * field. Low-entropy values are left out, being shared by everyone: words of at most 4 non-zero bytes
   * (flags, masks, codes, nonces, a signature's padded v) except times to the second, and whole UTC days
   * (a date anyone may pick); so is `ignore` (the contracts, the relayer, as addresses; the EIP-712
   * typehashes, as 32-byte words). A time to the second (a deadline, an expiry computed from "now") is
   * kept: it is a fingerprint.
   */
  shared: { value: string; groups: number[]; where: string[] }[];
  /** Blocks holding transactions of two or more groups: a timing link. */
  sameBlock: { block: number; groups: number[] }[];
}

/**
 * Reads every block from `fromBlock`, and looks for what links `groups` of accounts to each other: a
 * transaction naming two groups, a value common to two groups' transactions, two groups in one block.
 * Each transaction is assigned to the group(s) whose accounts appear in it (from, to, calldata, logs).
 */
export async function linkGroups(
  provider: Pick<Provider, "getBlockNumber" | "getBlock" | "getTransactionReceipt">,
  fromBlock: number,
  groups: readonly (readonly string[])[],
  ignore: readonly string[] = [],
): Promise<GroupLinks> {
  const needles = groups.map((group) => group.map((address) => address.toLowerCase().slice(2)));
  const ignored = new Set(
    [...ignore, ...groups.flat()].map((value) => "0x" + value.toLowerCase().slice(2).padStart(64, "0")),
  );
  const together: GroupLinks["together"] = [];
  const values = new Map<string, { groups: Set<number>; where: string[] }>();
  const blocks = new Map<number, Set<number>>();
  const latest = await provider.getBlockNumber();
  for (let number = fromBlock; number <= latest; number++) {
    const block = await provider.getBlock(number, true);
    for (const tx of block!.prefetchedTransactions) {
      const receipt = await provider.getTransactionReceipt(tx.hash);
      const logs = receipt!.logs;
      const haystack = [tx.from, tx.to ?? "", tx.data, ...logs.flatMap((log) => [...log.topics, log.data])]
        .join("")
        .toLowerCase();
      const present = needles.flatMap((group, i) => (group.some((needle) => haystack.includes(needle)) ? [i] : []));
      if (present.length === 0) continue;
      if (present.length > 1) together.push({ hash: tx.hash, block: number, groups: present });
      const inBlock = blocks.get(number) ?? new Set<number>();
      present.forEach((group) => inBlock.add(group));
      blocks.set(number, inBlock);
      const words = [
        ...wordsOf(tx.data.slice(10)).map((word) => [word, "calldata"] as const),
        ...logs.flatMap((log, i) => [
          ...log.topics.slice(1).map((word) => [word.toLowerCase(), `log ${i} topic`] as const),
          ...wordsOf(log.data.slice(2)).map((word) => [word, `log ${i} data`] as const),
        ]),
      ];
      for (const [word, where] of words) {
        if (ignored.has(word) || lowEntropy(word)) continue;
        const seen = values.get(word) ?? { groups: new Set<number>(), where: [] };
        present.forEach((group) => seen.groups.add(group));
        seen.where.push(`${where} of ${tx.hash} (block ${number})`);
        values.set(word, seen);
      }
    }
  }
  return {
    together,
    shared: [...values.entries()]
      .filter(([, seen]) => seen.groups.size > 1)
      .map(([value, seen]) => ({ value, groups: [...seen.groups].sort(), where: seen.where })),
    sameBlock: [...blocks.entries()]
      .filter(([, seen]) => seen.size > 1)
      .map(([block, seen]) => ({ block, groups: [...seen].sort() })),
  };
}

function wordsOf(hex: string): string[] {
  const words: string[] = [];
  for (let at = 0; at + 64 <= hex.length; at += 64) words.push("0x" + hex.slice(at, at + 64).toLowerCase());
  return words;
}

function lowEntropy(word: string): boolean {
  const value = BigInt(word);
  // A time to the second is a fingerprint; a whole UTC day is a date many people pick.
  if (value >= 1_000_000_000n && value < 2n ** 40n) return value % 86_400n === 0n;
  // Otherwise, a word of at most 4 non-zero bytes (a flag, mask, code, nonce, a signature's v padded)
  // is shared by everyone.
  let nonZero = 0;
  for (let at = 2; at < word.length; at += 2) if (word.slice(at, at + 2) !== "00") nonZero++;
  return nonZero <= 4;
}

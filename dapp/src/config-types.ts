/**
 * What the dashboard's server tells the page (GET /api/config): written by scripts/lib/dapp-server.ts,
 * read by dapp/src/config.ts. One definition for both sides; it imports nothing, so the server (Node)
 * and the page (browser) can both compile it.
 */
export interface DappConfig {
  /** The node's JSON-RPC URL, for the development-account mode (the node's accounts are unlocked). */
  rpcUrl?: string;
  /** The chains this server has a deployment for. */
  chains: number[];
  /** The node's development accounts the page offers, with the demo's names. */
  devAccounts: { index: number; address: string; name: string }[];
  /** The development account the page opens as when no wallet is chosen. */
  defaultAccount?: number;
  /** Lower-case address → a name to show (the demo's cast). */
  labels: Record<string, string>;
  /** Study names the page can recognise by their hash (studyIdOf). */
  studies: string[];
  /** Where the custodian gateway's manifests are (proxied), or absent. */
  gateway?: string;
  /** Where to post a SignedConsent for relaying, or absent (no relayer). */
  relay?: string;
  /** The consent relayer (gateway/relayer.ts, RelayerClient's base URL) pseudonyms act through, or absent. */
  relayer?: string;
}

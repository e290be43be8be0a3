/**
 * The custodian gateway's release manifests as a read-only BlobStore, for AuditClient: batched key
 * releases are listed there, and AuditClient checks every entry against the Merkle root logged on chain.
 * This store also checks each manifest hashes to its CID, so the server in between cannot swap one.
 */
import { BlobNotFoundError, cidOf, StorageError, type BlobStore } from "consent-ledger";

export class GatewayManifestStore implements BlobStore {
  constructor(private readonly baseUrl: string) {}

  async get(cid: string): Promise<Uint8Array> {
    const response = await fetch(`${this.baseUrl}/manifests/${encodeURIComponent(cid)}`);
    if (response.status === 404) throw new BlobNotFoundError(cid);
    if (!response.ok) throw new StorageError(`The gateway answered HTTP ${response.status} for manifest ${cid}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    if ((await cidOf(bytes)) !== cid) throw new StorageError(`The manifest served for ${cid} does not hash to it`);
    return bytes;
  }

  async has(cid: string): Promise<boolean> {
    return this.get(cid).then(
      () => true,
      () => false,
    );
  }

  async put(): Promise<string> {
    throw new StorageError("The gateway's manifests are read-only here");
  }
}

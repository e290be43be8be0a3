/** Consent Ledger SDK, Node-only entry point: file-system storage, deployment files, node:crypto fast paths. */
export { FsBlobStore } from "./storage/fs-blob-store";
export { deploymentsDirectory, loadDeployment, saveDeployment } from "./deployments";
export { nodeX25519, wrapDataKeyNative } from "./crypto/x25519-node";
export { nodeSegmentCrypto } from "./crypto/node/segment-crypto";
export {
  openRecordRange,
  openRecordStream,
  recordIdOfV2,
  sealRecordStream,
  sealRecordV2,
  segmentIndexOf,
  toNodeReadable,
} from "./crypto/node/envelope";

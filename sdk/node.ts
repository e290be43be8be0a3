/** Consent Ledger SDK, Node-only entry point: file-system storage, deployment files, node:crypto fast paths. */
export { FsBlobStore } from "./storage/fs-blob-store";
export { deploymentsDirectory, loadDeployment, saveDeployment } from "./deployments";
export { nodeAesGcmEncrypt, nodeX25519, wrapDataKeyNative } from "./crypto/node/key-wrap";
export { nodeSegmentCrypto } from "./crypto/node/segment-crypto";
export {
  openRecordRange,
  openRecordStream,
  recordIdOfV2,
  sealRecordStream,
  sealRecordV2,
  segmentIndexOf,
  toNodeReadable,
  verifyRecordStream,
} from "./crypto/node/envelope";
